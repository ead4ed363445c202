"""Runs: the list of runs, one run's page (samples, loss plot, latest metrics, a grid for any seed), and their JSON."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, send_file, url_for

from ganforge.runs import read_jsonl
from ganforge.web.generators import run_config, run_names, run_path

bp = Blueprint("runs", __name__)

RUN_FILES = {"samples.png": "samples/latest.png", "loss.png": "loss.png"}


def run_summary(name: str) -> dict:
    path = run_path(name)
    config = run_config(name)
    log = read_jsonl(path / "log.jsonl")
    last = log[-1] if log else {}
    model = config.get("model", {})
    data = config.get("data", {})
    return {
        "name": name,
        "model": model.get("family"),
        "resolution": model.get("resolution"),
        "channels": model.get("channels"),
        "num_classes": model.get("num_classes", 0),
        "data": data.get("path"),
        "images": data.get("count"),
        "step": last.get("step", 0),
        "last": {k: v for k, v in last.items() if k != "step"},
        "classes": data.get("classes") or [],
        "has_checkpoint": (path / "checkpoints" / "latest.pt").is_file(),
        "metrics": latest_metrics(read_jsonl(path / "metrics.jsonl")),
    }


def latest_metrics(records: list[dict]) -> dict:
    """The newest value of every metric in ``metrics.jsonl`` records, with the step it was measured at.

    Metrics may be measured at different steps (e.g. FID every 5k, precision every 10k), so
    each key keeps its own latest record: {"fid[...]": {"value": 31.2, "step": 5000}, ...}.
    """
    out: dict = {}
    for record in records:
        step = record.get("step")
        for key, value in record.items():
            if key != "step" and isinstance(value, (int, float)) and not isinstance(value, bool):
                out[key] = {"value": value, "step": step}
    return out


@bp.get("/")
def index():
    names = run_names()
    if current_app.config["ONLY_RUN"]:
        return redirect(url_for("runs.run_page", name=names[0]))
    return render_template("runs/index.html", runs=[run_summary(n) for n in names])


@bp.get("/runs/<name>")
def run_page(name: str):
    return render_template("runs/run.html", run=run_summary(name))


@bp.get("/runs/<name>/files/<filename>")
def run_file(name: str, filename: str):
    if filename not in RUN_FILES:  # a fixed allow-list: nothing else in the run is served
        abort(404)
    path = run_path(name) / RUN_FILES[filename]
    if not path.is_file():
        abort(404, description=f"{filename} does not exist yet")
    return send_file(path, mimetype="image/png", max_age=0)


@bp.get("/api/runs")
def api_runs():
    return jsonify(runs=[run_summary(n) for n in run_names()])


@bp.get("/api/runs/<name>")
def api_run(name: str):
    return jsonify(run_summary(name))


@bp.get("/api/runs/<name>/grid.png")
def api_grid(name: str):
    from ganforge.web.explore import grid_image

    return grid_image(name)
