"""Mix: the style-mixing grid of a style-based run (stylegan2), re-rendered as the seeds, the layers
and the truncation change. ``/api/runs/<name>/mix.png?rows=1,2&cols=3,4&layers=coarse&psi=1`` is
``ganforge mix``'s grid (``ganforge.latent.mix``)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from ganforge.errors import GanforgeError
from ganforge.latent.mix import layer_range, mix_grid
from ganforge.web.generators import get_generator, png_response
from ganforge.web.params import float_arg
from ganforge.web.shared import run_summary

bp = Blueprint("mix", __name__)

MAX_SEEDS = 8  # per row or column


def _seeds(key: str, default: str) -> list[int]:
    text = request.args.get(key, default)
    seeds = [s.strip() for s in text.split(",") if s.strip()]
    if not seeds or len(seeds) > MAX_SEEDS or not all(s.isdigit() and int(s) < 2**31 for s in seeds):
        abort(400, description=f"{key} takes 1 to {MAX_SEEDS} comma-separated seeds, not {text!r}")
    return [int(s) for s in seeds]


@bp.get("/runs/<name>/mix")
def page(name: str):
    summary = run_summary(name)
    if not summary["has_checkpoint"]:
        abort(404, description=f"run {name!r} has no checkpoint yet")
    return render_template("mix.html", run=summary)


@bp.get("/api/runs/<name>/mix.png")
def api_mix(name: str):
    rows, cols = _seeds("rows", "1,2,3"), _seeds("cols", "4,5,6")
    psi = float_arg("psi", 1.0, 0.0, 2.0)
    G, _ = get_generator(name)
    try:
        layers = layer_range(G, request.args.get("layers", "coarse"))
    except GanforgeError as e:
        abort(400, description=str(e))
    return png_response(mix_grid(G, rows, cols, layers, psi))
