"""Run lookup confined to the runs directory, and per-app caches: generators, data sets, latents.

Everything expensive is loaded once per app and kept: a run's generator (reloaded when
its checkpoint file changes), its real images for the game, its editing directions, and
latents made by embedding (an LRU store keyed by unguessable ids).
"""

from __future__ import annotations

import io
import re
import secrets
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from flask import Flask, abort, current_app, request, send_file

from ganforge import models
from ganforge.artifacts import load_generator
from ganforge.data.dataset import Dataset, load_dataset
from ganforge.errors import ConfigError, DataError
from ganforge.latent import load_discriminator
from ganforge.runs import RunDir, find_runs
from ganforge.sampling import to_pil
from ganforge.translate import Translator, load_translator

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MAX_LATENTS = 512  # embedded/derived latents kept per app (oldest forgotten first)


def init_app(app: Flask) -> None:
    app.extensions["ganforge.generators"] = {}
    app.extensions["ganforge.lock"] = threading.Lock()
    app.extensions["ganforge.datasets"] = {}
    app.extensions["ganforge.directions"] = {}
    app.extensions["ganforge.discriminators"] = {}
    app.extensions["ganforge.latents"] = OrderedDict()
    app.extensions["ganforge.translators"] = {}


def run_names() -> list[str]:
    only = current_app.config["ONLY_RUN"]
    root = current_app.config["RUNS_ROOT"]
    if only:
        return [only]
    return [p.name for p in find_runs(root) if p != root]


def run_dir(name: str) -> RunDir:
    """The run directory called ``name``, or 404: names never leave the runs directory."""
    if not _NAME.match(name) or name not in run_names():
        abort(404, description=f"no run named {name!r}")
    root: Path = current_app.config["RUNS_ROOT"]
    path = (root / name).resolve()
    if path.parent != root.resolve():
        abort(404, description=f"no run named {name!r}")
    return RunDir(path)


def run_config(name: str) -> dict:
    """The run's config.json, or {} when it cannot be read (the pages show what they can)."""
    try:
        return run_dir(name).read_config()
    except ConfigError:
        return {}


def get_generator(name: str):
    """(G, model config) of run ``name``, loaded on first use and cached; reloaded when its checkpoint changes."""
    hit = _per_checkpoint(name, "ganforge.generators",
                          lambda ckpt: load_generator(ckpt, device="cpu")[:2])  # weights_only=True inside
    if models.is_translator(hit[2].family):  # its G takes images, not latents: the latent pages cannot use it
        abort(400, description=f"run {name!r} is a {hit[2].family} translator: it maps images to images, not "
                               "latents; use 'ganforge translate'")
    if models.is_inpainter(hit[2].family) and request.blueprint != "inpaint":  # only the Inpaint page can use it
        abort(400, description=f"run {name!r} is an inpainter: it fills holes in photos, it does not draw images "
                               "from latents; use its Inpaint page with a photo")
    return hit[1], hit[2]


def get_translator(name: str) -> Translator:
    """The translator of run ``name`` (cyclegan, dtn), cached like G; 400 for any other family."""
    family = run_config(name).get("model", {}).get("family")
    if family not in models.MODELS or not models.is_translator(family):
        abort(400, description=f"run {name!r} is a {family} run, not a translator: the Translate page needs a "
                               "cyclegan or dtn run")
    # With the run's data-set parameters, which load_translator reads from the run directory.
    return _per_checkpoint(name, "ganforge.translators", lambda _: (load_translator(run_dir(name).root),))[1]


def _per_checkpoint(name: str, cache: str, load) -> tuple:
    """(checkpoint mtime, *load(checkpoint path)) of run ``name``, kept in ``app.extensions[cache]`` until the
    run's checkpoint changes; 404 while it has none."""
    ckpt = run_dir(name).latest_checkpoint
    if not ckpt.is_file():
        abort(404, description=f"run {name!r} has no checkpoint yet")
    mtime = ckpt.stat().st_mtime_ns
    entries = current_app.extensions[cache]
    with current_app.extensions["ganforge.lock"]:
        hit = entries.get(name)
        if hit is None or hit[0] != mtime:
            hit = entries[name] = (mtime, *load(ckpt))
    return hit


def get_discriminator(name: str):
    """The run's discriminator (feature and realism losses of projection/inpainting), cached like G."""
    version = generator_version(name)
    cache = current_app.extensions["ganforge.discriminators"]
    with current_app.extensions["ganforge.lock"]:
        hit = cache.get(name)
        if hit is None or hit[0] != version:
            hit = cache[name] = (version, load_discriminator(run_dir(name).latest_checkpoint))
    return hit[1]


def generator_version(name: str) -> int:
    """Changes whenever the run's checkpoint changes (keys caches derived from G)."""
    get_generator(name)
    return current_app.extensions["ganforge.generators"][name][0]


def get_real_images(name: str) -> np.ndarray:
    """The run's training images, uint8 (N, H, W, C), loaded once; 409 when the data set is gone."""
    return get_dataset(name).images


def get_dataset(name: str) -> Dataset:
    """The run's data set (images, labels, a two-domain set's domains), loaded once; 409 when it is gone."""
    path = run_config(name).get("data", {}).get("path")
    cache = current_app.extensions["ganforge.datasets"]
    with current_app.extensions["ganforge.lock"]:
        if name not in cache:
            if not path:
                abort(409, description=f"run {name!r} does not record its data set")
            try:
                cache[name] = load_dataset(path)
            except DataError as e:
                abort(409, description=f"the data set of run {name!r} is not available: {e}")
    return cache[name]


def store_latent(run: str, z: torch.Tensor, **info) -> str:
    """Keep latent ``z`` (latent_dim,) of ``run``; returns its id."""
    store: OrderedDict = current_app.extensions["ganforge.latents"]
    key = secrets.token_urlsafe(9)
    with current_app.extensions["ganforge.lock"]:
        store[key] = {"run": run, "z": z.detach().float().cpu().reshape(-1), **info}
        while len(store) > MAX_LATENTS:
            store.popitem(last=False)
    return key


def get_latent(run: str, key: str) -> torch.Tensor:
    """The stored latent ``key`` of ``run`` (latent_dim,), or 404."""
    entry = current_app.extensions["ganforge.latents"].get(key)
    if entry is None or entry["run"] != run:
        abort(404, description=f"no latent {key!r} for run {run!r} (latents are kept while the server runs)")
    return entry["z"]


def png_response(image, download_name: str | None = None):
    """A PIL image (or uint8 (H, W, C) array) as a PNG response."""
    return send_file(io.BytesIO(png_bytes(image)), mimetype="image/png", max_age=0, download_name=download_name)


def png_bytes(image, compress_level: int = 6) -> bytes:
    """A PIL image (or uint8 (H, W, C) array) as PNG bytes; ``compress_level`` 0-9 (zlib; 6 is Pillow's default)."""
    if isinstance(image, np.ndarray):
        image = to_pil(image)
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()
