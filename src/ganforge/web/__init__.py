"""The Flask web app: ``create_app(runs_path)`` builds it; ``ganforge serve`` runs it under waitress.

Blueprints, one per feature, each with its page(s) and a JSON endpoint beside them so the
app is scriptable (``/api/...``):

- ``runs``      the list of runs, a run's page, its files and seed grids
- ``explore``   one image with sliders along the run's editing directions
- ``morph``     a path through latents as a GIF or MP4
- ``embed``     project an uploaded photo into the latent space; the child of two latents
- ``inpaint``   fill a painted-over region of an image
- ``translate`` an uploaded photo in the other domain (CycleGAN and DTN runs)
- ``training``  the live view of a run's losses, metrics and samples
- ``game``      "Real or fake?", the HYPE-∞ human evaluation
- ``jobs``      the status, result and cancellation of long jobs

The shared layer, which blueprints import and which imports no blueprint (as in Flask's
tutorial, no blueprint imports another):

- ``generators.py``  run lookup confined to the runs directory; per-app caches of generators,
  discriminators, real images and stored latents
- ``shared.py``      a run's summary, latent keys, the class parameter, an uploaded photo as
  the model sees it
- ``params.py``      checked request parameters (400 with a one-line message)
- ``pool.py``        the bounded worker pool that runs projection, inpainting and videos
- ``security.py``    the access token, CSRF and upload checks

Files are served only from inside the runs directory.

Scripting a state-changing endpoint: ``GET /api/csrf`` gives ``{"csrf": T}``; send
``X-CSRF-Token: T`` with every POST (plus ``Authorization: Bearer TOKEN`` when the
server was started with an access token).
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from ganforge.errors import GanforgeError
from ganforge.runs import RunDir
from ganforge.web import (
    embed,
    explore,
    game,
    generators,
    inpaint,
    jobs,
    mix,
    morph,
    openapi,
    pool,
    review,
    runs,
    security,
    training,
    translate,
)

DEFAULTS = {
    "MAX_GRID_IMAGES": 64,           # images per grid request
    "MAX_CONTENT_LENGTH": 8 << 20,   # bytes per request (uploads); larger gets 413
    "MAX_UPLOAD_PIXELS": 16_000_000,  # decoded size limit of an uploaded image (16 megapixels)
    "UPLOAD_WORKERS": 1,             # threads decoding and resizing uploaded images (each holds one image)
    "UPLOAD_QUEUE": 2,               # uploads waiting for them; more get 503 + Retry-After
    "ALLOWED_HOSTS": ("localhost", "127.0.0.1", "[::1]"),  # Host header values answered: name or name:port
    "ACCESS_TOKEN": None,            # when set, every request must carry it (cookie, header or ?token=)
    "JOB_WORKERS": 1,                # threads running long jobs (projection, inpainting, videos)
    "JOB_QUEUE": 4,                  # jobs waiting beyond the running ones; more get 503 + Retry-After
    "JOB_TIME_LIMIT": 300.0,         # seconds a job may run before it is stopped
    "PROJECT_STEPS": 300,            # default optimisation steps of embedding / inpainting
    "MAX_PROJECT_STEPS": 2000,
    "DIRECTION_SAMPLES": 2000,       # latents sampled to find the editing directions (once per checkpoint)
    "GAME_DB": None,                 # SQLite file of the real-or-fake game (default RUNS/ganforge-web.sqlite)
    "REVIEW_DATA": None,             # a data set to review page by page (serve --data)
    "REVIEW_DB": None,               # SQLite file of the review decisions (default: GAME_DB)
}


def create_app(runs_path: str | Path, test_config: dict | None = None) -> Flask:
    runs_path = Path(runs_path).resolve()
    if not runs_path.is_dir():
        raise GanforgeError(f"no such directory: {runs_path}")
    app = Flask(__name__)
    if RunDir.is_run(runs_path):  # a single run: show only it
        app.config["RUNS_ROOT"], app.config["ONLY_RUN"] = runs_path.parent, runs_path.name
    else:
        app.config["RUNS_ROOT"], app.config["ONLY_RUN"] = runs_path, None
    app.config.update(DEFAULTS)
    if test_config:
        app.config.update(test_config)
    if not app.config["GAME_DB"]:
        app.config["GAME_DB"] = str(runs_path / "ganforge-web.sqlite")

    security.init_app(app)
    generators.init_app(app)
    pool.init_app(app)
    game.init_app(app)
    openapi.init_app(app)
    review.init_app(app)
    for module in (runs, explore, morph, embed, inpaint, training, game, jobs, mix, review, translate):
        app.register_blueprint(module.bp)

    # Browsers ask for /favicon.ico whatever the pages' <link rel="icon"> says.
    app.add_url_rule("/favicon.ico", "favicon",
                     lambda: app.send_static_file("favicon.svg"))
    app.jinja_env.filters["basename"] = lambda p: Path(p).name if p else ""

    @app.errorhandler(GanforgeError)
    def user_error(e):
        return jsonify(error=security.hide_paths(str(e))), 400

    @app.errorhandler(HTTPException)
    def http_error(e):
        if e.description:
            e.description = security.hide_paths(e.description)
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
