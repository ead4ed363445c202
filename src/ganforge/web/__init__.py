"""The Flask web app: ``create_app(runs_path)`` builds it; ``ganforge serve`` runs it under waitress.

One blueprint per feature (``runs`` so far); generators are loaded once per app and
cached (``generators.py``); every page has a JSON endpoint beside it so the app is
scriptable; files are served only from inside the runs directory.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from ganforge.errors import GanforgeError


def create_app(runs_path: str | Path, test_config: dict | None = None) -> Flask:
    runs_path = Path(runs_path).resolve()
    if not runs_path.is_dir():
        raise GanforgeError(f"no such directory: {runs_path}")
    app = Flask(__name__)
    if (runs_path / "config.json").is_file():  # a single run: show only it
        app.config["RUNS_ROOT"], app.config["ONLY_RUN"] = runs_path.parent, runs_path.name
    else:
        app.config["RUNS_ROOT"], app.config["ONLY_RUN"] = runs_path, None
    app.config["MAX_GRID_IMAGES"] = 64
    if test_config:
        app.config.update(test_config)

    from ganforge.web import generators, runs

    generators.init_app(app)
    app.register_blueprint(runs.bp)

    @app.errorhandler(GanforgeError)
    def user_error(e):
        return jsonify(error=str(e)), 400

    @app.errorhandler(HTTPException)
    def http_error(e):
        if request.path.startswith("/api/"):
            return jsonify(error=e.description), e.code
        return e

    @app.errorhandler(Exception)
    def server_error(e):  # never a traceback page
        app.logger.exception("unhandled error")
        return jsonify(error=f"internal error: {type(e).__name__}"), 500

    return app
