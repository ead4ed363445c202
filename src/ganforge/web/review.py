"""Data-set review: pages of thumbnails, doubtful images first, keep or drop with the mouse or J/K/X.

The set is ``serve --data SET`` (``REVIEW_DATA``) or a run's own data set (``?run=NAME``).
Decisions go to SQLite (``REVIEW_DB``, default the web app's database) one click at a time
through ``ganforge.data.review``; ``ganforge data filter SET --review DB --out NEW`` writes the
cleaned set.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
    send_file,
    url_for,
)

from ganforge.data import review
from ganforge.data.dataset import load_dataset
from ganforge.web.generators import run_config, run_dir
from ganforge.web.openapi import PNG, api, integer, json_content, obj, string
from ganforge.web.params import int_arg, json_body

bp = Blueprint("review", __name__)
PAGE_SIZE = 48
RUN_PARAM = string("review this run's data set instead of the one given to 'serve --data'")


def init_app(app: Flask) -> None:
    app.config.setdefault("REVIEW_DATA", None)
    if not app.config.get("REVIEW_DB"):
        app.config["REVIEW_DB"] = app.config["GAME_DB"]
    review.connect(app.config["REVIEW_DB"]).close()
    app.extensions["ganforge.review"] = {}
    app.extensions["ganforge.review.lock"] = threading.Lock()


def _data_path(body: dict | None = None) -> Path:
    """The set under review: the run's (``?run=`` or the JSON ``body``'s ``run``) or ``serve --data``'s."""
    run = request.args.get("run") or (body or {}).get("run")
    if run:
        run_dir(str(run))
        path = run_config(str(run)).get("data", {}).get("path")
    else:
        path = current_app.config["REVIEW_DATA"]
    if not path or not Path(path).is_file():
        abort(404, description="no data set to review: start 'ganforge serve --data SET' or open a run's review page")
    return Path(path)


def _loaded(path: Path) -> dict:
    """The data set, its SHA-256 and its doubt order, loaded once per set."""
    cache = current_app.extensions["ganforge.review"]
    with current_app.extensions["ganforge.review.lock"]:
        if str(path) not in cache:
            ds = load_dataset(path)
            cache[str(path)] = {"dataset": ds, "order": review.doubt_order(ds.images)}
        return cache[str(path)]


def _decisions(sha: str) -> dict[int, bool]:
    with review.connect(current_app.config["REVIEW_DB"]) as conn:
        return review.decisions(conn, sha)


@bp.get("/review")
def page():
    path = _data_path()
    loaded = _loaded(path)
    ds, order = loaded["dataset"], loaded["order"]
    pages = max(1, -(-len(order) // PAGE_SIZE))
    number = int_arg("page", 1, 1, pages)
    decided = _decisions(ds.sha256)
    run = request.args.get("run")
    items = [{"item": i, "keep": decided.get(i), "url": url_for("review.thumbnail", item=i, run=run)}
             for i in order[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]]
    counts = {"kept": sum(decided.values()), "dropped": sum(not k for k in decided.values()), "total": len(order)}
    return render_template("review.html", items=items, page=number, pages=pages, run=None, run_name=run,
                           data_name=path.name, counts=counts, db=Path(current_app.config["REVIEW_DB"]).name)


@bp.get("/api/review/thumbs/<int:item>.png")
@api("A thumbnail of one image of the data set under review", path={"item": integer(0, description="image index")},
     query={"run": RUN_PARAM}, responses={200: PNG})
def thumbnail(item: int):
    ds = _loaded(_data_path())["dataset"]
    if item >= len(ds):
        abort(404, description="no such image")
    return send_file(io.BytesIO(review.thumbnail_png(ds.images[item])), mimetype="image/png", max_age=3600)


@bp.post("/api/review/decisions")
@api("Keep or drop one image of the data set under review ('ganforge data filter --review' applies it)",
     query={"run": RUN_PARAM},
     body=obj({"item": integer(0, description="image index (below the set's size)"), "keep": {"type": "boolean"},
               "run": RUN_PARAM}, ("item", "keep")),
     responses={200: json_content(obj({"item": integer(0), "keep": {"type": "boolean"}}, ("item", "keep")))},
     errors=(404,))
def decide():
    body = json_body()
    ds = _loaded(_data_path(body))["dataset"]
    item = int_arg("item", None, 0, len(ds) - 1, source=body)
    keep = body.get("keep")
    if not isinstance(keep, bool):
        abort(400, description="keep must be true or false")
    with review.connect(current_app.config["REVIEW_DB"]) as conn:
        review.decide(conn, ds.sha256, item, keep)
    return jsonify(item=item, keep=keep)
