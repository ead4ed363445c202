"""Explore: a grid from a seed with truncation and a class picker; one image with sliders along
the run's top editing directions (GANSpace), re-rendered live.

A latent is named by a *key* (see ``shared.resolve_key``). ``/api/runs/<name>/image.png``
renders a key with truncation ``psi``, an optional ``class`` and ``edits`` (comma-separated
amounts, one per direction, in standard deviations of the prior). The grid itself is the
runs blueprint's ``/api/runs/<name>/grid.png``.
"""

from __future__ import annotations

import torch
from flask import Blueprint, abort, current_app, jsonify, render_template, request

from ganforge.latent import find_directions, render
from ganforge.web.generators import generator_version, get_generator, png_response
from ganforge.web.params import float_arg, float_list, int_arg
from ganforge.web.shared import class_arg, resolve_key, run_summary

bp = Blueprint("explore", __name__)

MAX_DIRECTIONS = 10


def get_directions(name: str):
    """The run's top editing directions (``Directions``), found once per checkpoint and cached."""
    G, cfg = get_generator(name)
    version = generator_version(name)
    cache = current_app.extensions["ganforge.directions"]
    hit = cache.get(name)
    if hit is None or hit[0] != version:
        k = min(MAX_DIRECTIONS, cfg.latent_dim)
        hit = cache[name] = (version, find_directions(G, k=k, n_samples=max(current_app.config["DIRECTION_SAMPLES"], 2 * k)))
    return hit[1]


@bp.get("/runs/<name>/explore")
def page(name: str):
    summary = run_summary(name)
    if not summary["has_checkpoint"]:
        abort(404, description=f"run {name!r} has no checkpoint yet")
    return render_template("explore.html", run=summary)


@bp.get("/api/runs/<name>/directions")
def api_directions(name: str):
    d = get_directions(name)
    return jsonify(method=d.method, k=len(d), explained_variance=[float(v) for v in d.explained_variance],
                   names=d.names or [f"direction {i}" for i in range(len(d))])


@bp.get("/api/runs/<name>/image.png")
def api_image(name: str):
    """One image: ``key`` (seed:N | latent:ID; or ``seed=N``), ``psi``, ``class``, ``edits=a0,a1,...``."""
    key = request.args.get("key") or f"seed:{int_arg('seed', 0, 0, 2**31 - 1)}"
    psi = float_arg("psi", 1.0, 0.0, 2.0)
    edits = float_list("edits", -20.0, 20.0, MAX_DIRECTIONS, default="")
    G, cfg = get_generator(name)
    z, label = resolve_key(name, key, psi)
    if any(edits):
        d = get_directions(name)
        if len(edits) > len(d):
            abort(400, description=f"this run has {len(d)} directions, not {len(edits)}")
        z = z + torch.tensor(edits) @ d.vectors[: len(edits)]  # rows are unit vectors
    chosen = class_arg(name)
    label = chosen if chosen is not None else label
    labels = torch.tensor([label or 0]) if cfg.num_classes else None
    return png_response(render(G, z[None], labels)[0])
