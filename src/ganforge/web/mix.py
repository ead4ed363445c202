"""Mix: the style-mixing grid of a style-based run (stylegan2), re-rendered as the seeds, the layers
and the truncation change. ``/api/runs/<name>/mix.png?rows=1,2&cols=3,4&layers=coarse&psi=1`` is
``ganforge mix``'s grid (``ganforge.latent.mix``)."""

from __future__ import annotations

import re

from flask import Blueprint, abort, render_template, request

from ganforge.errors import GanforgeError
from ganforge.latent.mix import layer_range, mix_grid
from ganforge.web.generators import get_generator, png_response
from ganforge.web.openapi import PNG, api, number, string
from ganforge.web.params import float_arg
from ganforge.web.shared import run_summary

bp = Blueprint("mix", __name__)

MAX_SEEDS = 8  # per row or column
# What ``layer_range`` reads, checked here first so that a non-ASCII digit is a 400, not int()'s ValueError.
LAYERS = r"^(coarse|middle|fine|[0-9]+-[0-9]+)$"


def _seeds_param(default: str) -> dict:
    return string(f"1 to {MAX_SEEDS} comma-separated seeds, each 0 <= N < 2^31", default=default,
                  pattern=rf"^ *[0-9]{{1,10}} *(, *[0-9]{{1,10}} *){{0,{MAX_SEEDS - 1}}}$")


def _seeds(key: str, default: str) -> list[int]:
    text = request.args.get(key, default)
    seeds = [s.strip() for s in text.split(",") if s.strip()]
    if not seeds or len(seeds) > MAX_SEEDS or not all(s.isascii() and s.isdigit() and int(s) < 2**31 for s in seeds):
        abort(400, description=f"{key} takes 1 to {MAX_SEEDS} comma-separated seeds, not {text!r}")
    return [int(s) for s in seeds]


@bp.get("/runs/<name>/mix")
def page(name: str):
    summary = run_summary(name)
    if not summary["has_checkpoint"]:
        abort(404, description=f"run {name!r} has no checkpoint yet")
    return render_template("mix.html", run=summary)


@bp.get("/api/runs/<name>/mix.png")
@api("The style-mixing grid of a style-based run (stylegan2; 400 for other families)",
     description="Row seed r and column seed c give the cell whose ws are r's except the chosen layers, taken "
                 "from c; the first row shows the column seeds' images, the first column the row seeds'.",
     query={"rows": _seeds_param("1,2,3"), "cols": _seeds_param("4,5,6"),
            "layers": string("the ws taken from the column seeds: coarse, middle, fine (the family's groups) or A-B "
                             "(ws A to B inclusive)", default="coarse", pattern=LAYERS),
            "psi": number(0.0, 2.0, 1.0, "truncation")},
     responses={200: PNG})
def api_mix(name: str):
    rows, cols = _seeds("rows", "1,2,3"), _seeds("cols", "4,5,6")
    psi = float_arg("psi", 1.0, 0.0, 2.0)
    spec = request.args.get("layers", "coarse")
    if not re.fullmatch(LAYERS, spec, re.ASCII):
        abort(400, description=f"layers is coarse, middle, fine or A-B (e.g. 0-3), not {spec!r}")
    G, _ = get_generator(name)
    try:
        layers = layer_range(G, spec)
    except GanforgeError as e:
        abort(400, description=str(e))
    return png_response(mix_grid(G, rows, cols, layers, psi))
