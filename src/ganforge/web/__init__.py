"""The Flask web app: ``create_app(runs_path)`` builds it; ``ganforge serve`` runs it under waitress.

One blueprint per feature (runs, explore, morph, embed, inpaint, training, game, jobs);
generators are loaded once per app and cached (``generators.py``); every page has a
JSON endpoint beside it so the app is scriptable (``/api/...``); files are served only
from inside the runs directory. ``security.py`` holds the access token, CSRF and upload
checks; ``jobs.py`` the bounded worker pool that runs projection, inpainting and videos.

Scripting a state-changing endpoint: ``GET /api/csrf`` gives ``{"csrf": T}``; send
``X-CSRF-Token: T`` with every POST (plus ``Authorization: Bearer TOKEN`` when the
server was started with an access token).
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from ganforge.errors import GanforgeError

DEFAULTS = {
    "MAX_GRID_IMAGES": 64,           # images per grid request
    "MAX_CONTENT_LENGTH": 8 << 20,   # bytes per request (uploads); larger gets 413
    "MAX_UPLOAD_PIXELS": 4096 * 4096,  # decoded size limit of an uploaded image
    "ACCESS_TOKEN": None,            # when set, every request must carry it (cookie, header or ?token=)
    "JOB_WORKERS": 1,                # threads running long jobs (projection, inpainting, videos)
    "JOB_QUEUE": 4,                  # jobs waiting beyond the running ones; more get 503 + Retry-After
    "JOB_TIME_LIMIT": 300.0,         # seconds a job may run before it is stopped
    "PROJECT_STEPS": 300,            # default optimisation steps of embedding / inpainting
    "MAX_PROJECT_STEPS": 2000,
    "DIRECTION_SAMPLES": 2000,       # latents sampled to find the editing directions (once per checkpoint)
    "GAME_DB": None,                 # SQLite file of the real-or-fake game (default RUNS/ganforge-web.sqlite)
}


def create_app(runs_path: str | Path, test_config: dict | None = None) -> Flask:
    runs_path = Path(runs_path).resolve()
    if not runs_path.is_dir():
        raise GanforgeError(f"no such directory: {runs_path}")
    app = Flask(__name__)
    if (runs_path / "config.json").is_file():  # a single run: show only it
        app.config["RUNS_ROOT"], app.config["ONLY_RUN"] = runs_path.parent, runs_path.name
    else:
        app.config["RUNS_ROOT"], app.config["ONLY_RUN"] = runs_path, None
    app.config.update(DEFAULTS)
    if test_config:
        app.config.update(test_config)
    if not app.config["GAME_DB"]:
        app.config["GAME_DB"] = str(runs_path / "ganforge-web.sqlite")

    from ganforge.web import embed, explore, game, generators, inpaint, jobs, morph, runs, security, training

    security.init_app(app)
    generators.init_app(app)
    jobs.init_app(app)
    game.init_app(app)
    for module in (runs, explore, morph, embed, inpaint, training, game, jobs):
        app.register_blueprint(module.bp)

    app.jinja_env.filters["basename"] = lambda p: Path(p).name if p else ""

    @app.errorhandler(GanforgeError)
    def user_error(e):
        return jsonify(error=str(e)), 400

    @app.errorhandler(HTTPException)
    def http_error(e):
        if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
            response = jsonify(error=e.description)
            response.status_code = e.code
            for key, value in e.get_response().headers.items():
                if key in ("Retry-After", "WWW-Authenticate", "Allow"):
                    response.headers[key] = value
            return response
        return e

    @app.errorhandler(Exception)
    def server_error(e):  # never a traceback page
        app.logger.exception("unhandled error")
        return jsonify(error=f"internal error: {type(e).__name__}"), 500

    return app
