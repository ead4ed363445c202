"""Helpers shared by the blueprints: a run's summary, latent keys, the latent space and class
parameters, an uploaded photo as the model sees it, and the projection steps parameter.

Blueprints import from here (and from ``generators``, ``params``, ``pool``, ``security``), never
from one another.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
from flask import abort, current_app, request

from ganforge import models
from ganforge.errors import GanforgeError
from ganforge.latent import (
    data_params,
    labels_for_seeds,
    load_photo,
    resolve_class,
    sample_latents,
)
from ganforge.latent.spaces import SPACES, convert, default_space, in_space
from ganforge.runs import read_jsonl
from ganforge.sampling import latents_for_seeds
from ganforge.web.generators import get_generator, get_latent, run_config, run_dir
from ganforge.web.openapi import component, integer, obj, string
from ganforge.web.params import int_arg
from ganforge.web.security import read_image

NULLABLE = {"type": ["string", "integer", "null"]}
RUN_SUMMARY = component("RunSummary", obj({
    "name": string(), "model": {"type": ["string", "null"], "description": "the family"},
    "style_based": {"type": "boolean", "description": "whether the family is style-based (a Mix page)"},
    "translator": {"type": "boolean", "description": "whether the run translates images (a Translate page)"},
    "inpainter": {"type": "boolean", "description": "whether the run fills holes in one pass (Inpaint, no latents)"},
    "resolution": {"type": ["integer", "null"]}, "channels": {"type": ["integer", "null"]},
    "num_classes": integer(0), "data": NULLABLE, "images": {"type": ["integer", "null"]}, "step": integer(0),
    "last": {"type": "object", "description": "the last training log record, without its step"},
    "classes": {"type": "array", "items": {"type": "string"}}, "has_checkpoint": {"type": "boolean"},
    "has_samples": {"type": "boolean"}, "has_loss_plot": {"type": "boolean"},
    "metrics": {"type": "object", "description": 'the newest value of every metric: {"fid": {"value", "step"}}'},
    "evaluation": {"type": ["object", "null"],
                   "description": "the metrics of the run's evaluation.json ('ganforge evaluate'), if any"},
}, ("name", "step", "has_checkpoint", "metrics")))
CLASS_PARAM = string("a class id or name (conditional runs only)")
SPACE_PARAM = string("the latent space: z, or for a style-based run (stylegan2) w or w+ (one w per layer). Default: "
                     "w for a style-based run (w+ when a latent:ID given is in w+), z for the others",
                     enum=list(SPACES))
PHOTO = string("an image file: PNG, JPEG, GIF, WebP or BMP", format="binary")


def run_summary(name: str) -> dict:
    """What the pages show about run ``name``: model, data set, last logged step, latest metrics."""
    run = run_dir(name)
    config = run_config(name)
    log = read_jsonl(run.log)
    last = log[-1] if log else {}
    model = config.get("model", {})
    data = config.get("data", {})
    return {
        "name": name,
        "model": model.get("family"),
        "style_based": model.get("family") in models.MODELS and models.is_style_based(model["family"]),  # a Mix page
        "translator": model.get("family") in models.MODELS and models.is_translator(model["family"]),  # Translate
        "inpainter": model.get("family") in models.MODELS and models.is_inpainter(model["family"]),  # no latents
        "resolution": model.get("resolution"),
        "channels": model.get("channels"),
        "num_classes": model.get("num_classes", 0),
        "data": data.get("path"),
        "images": data.get("count"),
        "step": last.get("step", 0),
        "last": {k: v for k, v in last.items() if k != "step"},
        "classes": data.get("classes") or [],
        "has_checkpoint": run.latest_checkpoint.is_file(),
        "has_samples": run.latest_samples.is_file(),
        "has_loss_plot": run.loss_plot.is_file(),
        "metrics": latest_metrics(read_jsonl(run.metrics)),
        "evaluation": evaluation_summary(run.evaluation),
    }


def evaluation_summary(path: Path) -> dict | None:
    """The numbers of a run's ``evaluation.json`` (``ganforge evaluate``): {"metrics": {name: value},
    "step", "n"}; None when there is none or it cannot be read (the page shows the rest of the run)."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("metrics"), dict):
        return None
    numbers = {k: v for k, v in record["metrics"].items()
               if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}
    source: dict = record["source"] if isinstance(record.get("source"), dict) else {}
    return {"metrics": numbers, "step": source.get("step"), "n": record.get("n")}


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


def space_arg(name: str, source=None, keys=()) -> str:
    """The ``space`` parameter of a request on run ``name``: z, w or w+ (400 for w or w+ on a family with
    only z). Absent: the run's default (w for a style-based family, z for the others), or w+ when one of
    ``keys`` is a kept latent in w+ (so an embedded w+ latent works on every page without saying so)."""
    G, _ = get_generator(name)
    raw = (request.args if source is None else source).get("space")
    if raw in (None, ""):
        kept = [_kept(name, k).get("space", "z") for k in keys if str(k).strip().startswith("latent:")]
        return max([default_space(G), *kept], key=SPACES.index)
    if raw not in SPACES:
        abort(400, description=f"space must be one of: {', '.join(SPACES)} (in a query string w+ is written w%2B)")
    if raw != "z" and default_space(G) == "z":
        abort(400, description=f"space {raw} needs a style-based run (stylegan2); this "
                               f"{get_generator(name)[1].family} run has only z")
    return raw


def space_view(name: str, space: str):
    """Run ``name``'s generator seen from ``space`` (``ganforge.latent.spaces.in_space``): G itself in z, a
    fresh view in w or w+ (its own, as projection sets the view's noise maps while it runs)."""
    G, _ = get_generator(name)
    return in_space(G, space)


def seed_latents(name: str, seeds, psi: float = 1.0, space: str = "z") -> torch.Tensor:
    """The latents (N, D) of ``seeds`` in ``space``, truncated by ``psi``: toward the origin in z, as
    ``sample_latents``; in w or w+ a seed's z mapped, toward w_avg (the truncation of ``ganforge generate``)."""
    G, cfg = get_generator(name)
    if space == "z":
        return sample_latents(list(seeds), cfg.latent_dim, psi=psi)
    return space_view(name, space).from_z(latents_for_seeds(list(seeds), cfg.latent_dim), psi)


def _kept(name: str, key) -> dict:
    """The entry of kept latent ``latent:ID`` (its ``z``, ``space``, ``label``...), or 404."""
    text = str(key).strip()
    get_latent(name, text[7:])  # 404 unless it is run name's
    return current_app.extensions["ganforge.latents"][text[7:]]


def resolve_key(name: str, key, psi: float = 1.0, space: str = "z") -> tuple[torch.Tensor, int | None]:
    """A latent key -> (latent (D,) in ``space``, its stored class or None); 400/404 for bad keys.

    ``seed:N`` (or just ``N``) is the seed's latent, ``latent:ID`` one the server keeps
    (embedded photos, children), converted into ``space`` when it was kept in another
    (z into w or w+, w into w+; the other way round is a 400)."""
    _, cfg = get_generator(name)
    text = str(key).strip()
    if text.startswith("latent:"):
        entry = _kept(name, text)
        try:
            z = convert(get_generator(name)[0], entry["z"], entry.get("space", "z"), space)
        except GanforgeError as e:
            abort(400, description=f"{text}: {e}")
        return z, entry.get("label")
    seed = text[5:] if text.startswith("seed:") else text
    if not seed.isdigit() or int(seed) >= 2**31:
        abort(400, description=f"{key!r} is not a latent: give seed:N (0 <= N < 2^31) or latent:ID")
    labels = labels_for_seeds([int(seed)], cfg.num_classes)  # a seed's class is fixed, as in grids
    return seed_latents(name, [int(seed)], psi, space)[0], None if labels is None else int(labels[0])


def class_arg(name: str, source=None) -> int | None:
    """The ``class`` parameter (an id or a class name) of a conditional run; None if absent."""
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
    if value is None or not 0 <= value < cfg.num_classes:
        abort(400, description=f"class must be in 0..{cfg.num_classes - 1}")
    return value


def prepared_photo(name: str, field: str = "image") -> np.ndarray:
    """The uploaded photo in ``field`` as the model sees it: uint8 (R, R, C), cropped like the run's data."""
    _, cfg = get_generator(name)
    params = data_params(run_dir(name).root)
    try:  # cropped and resized in the upload pool, with the decoding
        return read_image(field, prepare=lambda image: np.array(load_photo(image, cfg.resolution, cfg.channels,
                                                                             params)))  # writable
    except GanforgeError as e:
        abort(400, description=str(e))


def steps_arg(source) -> int:
    """The ``steps`` of a projection or inpainting job (default ``PROJECT_STEPS``)."""
    return int_arg("steps", current_app.config["PROJECT_STEPS"], 1, current_app.config["MAX_PROJECT_STEPS"],
                   source=source)
