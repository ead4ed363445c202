"""Explore: a grid from a seed with truncation and a class picker; one image with sliders along
the run's top editing directions (GANSpace), re-rendered live.

A latent is named by a *key*: ``seed:N`` (or just ``N``) for the seed's latent, or
``latent:ID`` for one the server keeps (embedded photos, children). ``/api/runs/<name>/image.png``
renders a key with truncation ``psi``, an optional ``class`` and ``edits`` (comma-separated
amounts, one per direction, in standard deviations of the prior).
"""

from __future__ import annotations

import numpy as np
import torch
from flask import Blueprint, abort, current_app, jsonify, render_template, request

from ganforge.errors import GanforgeError
from ganforge.web.generators import (generator_version, get_generator, get_latent, png_response, run_config,
                                     run_path)
from ganforge.web.params import float_arg, float_list, int_arg
from ganforge.web.runs import run_summary

bp = Blueprint("explore", __name__)

MAX_DIRECTIONS = 10


def resolve_key(name: str, key, psi: float = 1.0) -> tuple[torch.Tensor, int | None]:
    """A latent key -> (latent (D,), its stored class or None); 400/404 for bad keys."""
    from ganforge.latent import labels_for_seeds, sample_latents

    _, cfg = get_generator(name)
    text = str(key).strip()
    if text.startswith("latent:"):
        entry = current_app.extensions["ganforge.latents"].get(text[7:])
        z = get_latent(name, text[7:])
        return z, entry.get("label")
    seed = text[5:] if text.startswith("seed:") else text
    if not seed.isdigit() or int(seed) >= 2**31:
        abort(400, description=f"{key!r} is not a latent: give seed:N (0 <= N < 2^31) or latent:ID")
    labels = labels_for_seeds([int(seed)], cfg.num_classes)  # a seed's class is fixed, as in grids
    return sample_latents([int(seed)], cfg.latent_dim, psi=psi)[0], None if labels is None else int(labels[0])


def class_arg(name: str, source=None) -> int | None:
    """The ``class`` parameter (an id or a class name) of a conditional run; None if absent."""
    from ganforge.latent import resolve_class

    _, cfg = get_generator(name)
    raw = (request.args if source is None else source).get("class")
    if raw in (None, ""):
        return None
    if not cfg.num_classes:
        abort(400, description="this model is unconditional; it takes no class")
    try:
        value = resolve_class(raw, run_config(name).get("data", {}).get("classes"), cfg.num_classes)
    except GanforgeError as e:
        abort(400, description=str(e))
    if not 0 <= value < cfg.num_classes:
        abort(400, description=f"class must be in 0..{cfg.num_classes - 1}")
    return value


def get_directions(name: str):
    """The run's top editing directions (``Directions``), found once per checkpoint and cached."""
    from ganforge.latent import find_directions

    G, cfg = get_generator(name)
    version = generator_version(name)
    cache = current_app.extensions["ganforge.directions"]
    hit = cache.get(name)
    if hit is None or hit[0] != version:
        k = min(MAX_DIRECTIONS, cfg.latent_dim)
        hit = cache[name] = (version, find_directions(G, k=k, n_samples=max(current_app.config["DIRECTION_SAMPLES"], 2 * k)))
    return hit[1]


def grid_image(name: str):
    """``GET /api/runs/<name>/grid.png?seed=&n=&psi=&class=``: images of seeds seed..seed+n-1."""
    from ganforge.latent import labels_for_seeds, render, sample_latents
    from ganforge.sampling import image_grid

    seed = int_arg("seed", 0, 0, 2**31 - 1)
    n = int_arg("n", 16, 1, current_app.config["MAX_GRID_IMAGES"])
    psi = float_arg("psi", 1.0, 0.0, 2.0)
    G, cfg = get_generator(name)
    seeds = range(seed, seed + n)
    labels = labels_for_seeds(seeds, cfg.num_classes, class_arg(name))
    return png_response(image_grid(render(G, sample_latents(seeds, cfg.latent_dim, psi=psi), labels)))


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
    from ganforge.latent import render

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


def prepared_photo(name: str, field: str = "image"):
    """The uploaded photo in ``field`` as the model sees it: uint8 (R, R, C), cropped like the run's data."""
    from ganforge.latent import data_params, load_photo
    from ganforge.web.security import read_image

    _, cfg = get_generator(name)
    image = read_image(field)
    try:
        return np.array(load_photo(image, cfg.resolution, cfg.channels, data_params(run_path(name))))  # writable
    except GanforgeError as e:
        abort(400, description=str(e))


@bp.post("/api/runs/<name>/photo.png")
def api_photo(name: str):
    """An uploaded photo cropped and resized exactly as the model sees it (for drawing masks on)."""
    return png_response(prepared_photo(name))
