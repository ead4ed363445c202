"""Training: a live view of a running or finished run (latest samples, loss and metric curves).

The page polls ``/api/runs/<name>/training`` every few seconds; the JSON holds the loss
log thinned to at most ``points`` records (every k-th, always keeping the last), every
metrics record, the run's health checks (``RUN/health.json``, ganforge.health: standing
warnings with what they measured and the remedy), and the samples' modification time so the
page reloads the grid only when the trainer wrote a new one. A run counts as "running" while its log changed in
the last minute.
"""

from __future__ import annotations

import time

from flask import Blueprint, jsonify, render_template

from ganforge.health import read_health
from ganforge.runs import read_jsonl
from ganforge.web.generators import run_dir
from ganforge.web.openapi import api as declare
from ganforge.web.openapi import integer, json_content, obj, string
from ganforge.web.params import int_arg
from ganforge.web.shared import run_summary

bp = Blueprint("training", __name__)

RUNNING_WINDOW_S = 60  # a log written to within this many seconds means training is going on
CURVE_KEYS = ("d_loss", "g_loss", "d_real", "d_fake", "d_acc", "img_per_s", "ada_p", "ada_rt")  # ada_*: --augment ada


def thin(records: list[dict], points: int) -> list[dict]:
    """At most ``points`` records, evenly strided, always including the last one."""
    if len(records) <= points:
        return records
    stride = -(-len(records) // points)
    kept = records[::stride]
    if kept[-1] is not records[-1]:
        kept.append(records[-1])
    return kept


def training_state(name: str, points: int = 400) -> dict:
    run = run_dir(name)
    log = read_jsonl(run.log)
    samples = run.latest_samples
    now = time.time()
    return {
        "run": name,
        "step": log[-1].get("step", 0) if log else 0,
        "running": run.log.is_file() and now - run.log.stat().st_mtime < RUNNING_WINDOW_S,
        "log": [{k: r[k] for k in ("step", *CURVE_KEYS) if k in r} for r in thin(log, points)],
        "metrics": read_jsonl(run.metrics),
        "health": read_health(run.root),
        "samples_mtime": samples.stat().st_mtime if samples.is_file() else None,
    }


@bp.get("/runs/<name>/training")
def page(name: str):
    return render_template("training.html", run=run_summary(name))


@bp.get("/api/runs/<name>/training")
@declare("A run's training state: step, whether it is running, the thinned loss log, metrics, samples' time",
     query={"points": integer(10, 5000, 400, "most log records returned")},
     responses={200: json_content(obj({
         "run": string(), "step": integer(), "running": {"type": "boolean"},
         "log": {"type": "array", "items": {"type": "object"}},
         "metrics": {"type": "array", "items": {"type": "object"}},
         "health": {"type": ["object", "null"], "description": "RUN/health.json (ganforge.health): "
                                                             '{"step", "checks": {name: finding}, "warnings"}'},
         "samples_mtime": {"type": ["number", "null"]}}, ("run", "step", "running", "log", "metrics")))})
def api(name: str):
    return jsonify(training_state(name, int_arg("points", 400, 10, 5000)))
