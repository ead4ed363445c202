"""Runs: the list of runs, one run's page (samples, loss plot, a grid for any seed), and their JSON."""

from __future__ import annotations

import io
import json

import torch
from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request, send_file, url_for

from ganforge.runs import read_jsonl
from ganforge.web.generators import get_generator, run_names, run_path

bp = Blueprint("runs", __name__)

RUN_FILES = {"samples.png": "samples/latest.png", "loss.png": "loss.png"}


def run_summary(name: str) -> dict:
    path = run_path(name)
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, json.JSONDecodeError):
        config = {}
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
        "has_checkpoint": (path / "checkpoints" / "latest.pt").is_file(),
    }


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


def _int_arg(key: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(key, default)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        abort(400, description=f"{key} must be an integer")
    if not lo <= value <= hi:
        abort(400, description=f"{key} must be between {lo} and {hi}")
    return value


@bp.get("/api/runs/<name>/grid.png")
def api_grid(name: str):
    from ganforge.sampling import generate, image_grid, latents_for_seeds

    seed = _int_arg("seed", 0, 0, 2**31 - 1)
    n = _int_arg("n", 16, 1, current_app.config["MAX_GRID_IMAGES"])
    G, cfg = get_generator(name)
    z = latents_for_seeds(range(seed, seed + n), cfg.latent_dim)
    with torch.inference_mode():
        images = generate(G, z)
    buf = io.BytesIO()
    image_grid(images).save(buf, format="PNG")
    buf.seek(0)
    return send_file(buf, mimetype="image/png", max_age=0)
