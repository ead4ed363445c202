"""Morph: a path through two or more latents (seeds or embedded photos), previewed in the page,
downloadable as GIF or MP4. Rendering and encoding run as a job in the worker pool. A style-based
run (stylegan2) interpolates in W by default (``space``; see ``shared.space_arg``)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch
from flask import Blueprint, abort, render_template

from ganforge.latent import MODES, interpolate, render, write_video
from ganforge.web.generators import get_generator
from ganforge.web.openapi import JOB_ACCEPTED, LATENT_KEY, api, integer, number, obj, string
from ganforge.web.params import choice_arg, float_arg, int_arg, json_body
from ganforge.web.pool import submit
from ganforge.web.shared import SPACE_PARAM, resolve_key, run_summary, space_arg, space_view

bp = Blueprint("morph", __name__)

MAX_KEYS = 16
MAX_FRAMES = 240
RENDER_BATCH = 16


@bp.get("/runs/<name>/morph")
def page(name: str):
    return render_template("morph.html", run=run_summary(name))


@bp.post("/api/runs/<name>/morph")
@api("Render a path through 2 or more latents as a GIF or MP4 (a job; its file is the video)",
     body=obj({"keys": {"type": "array", "items": LATENT_KEY, "minItems": 2, "maxItems": MAX_KEYS},
               "frames": integer(2, MAX_FRAMES, 48), "mode": string(enum=list(MODES), default="slerp"),
               "format": string(enum=["gif", "mp4"], default="gif"), "fps": number(1.0, 60.0, 24.0),
               "psi": number(0.0, 2.0, 1.0, "truncation"), "loop": {"type": "boolean", "default": False},
               "space": SPACE_PARAM},
              ("keys",)),
     responses=JOB_ACCEPTED, errors=(503,))
def api_morph(name: str):
    """JSON ``{"keys": ["seed:1", "latent:ID", ...], "frames": 48, "mode": "slerp", "loop": false,
    "fps": 24, "format": "gif"|"mp4", "psi": 1, "space": "w"}`` -> 202 and a job whose result is the video."""
    body = json_body()
    keys = body.get("keys")
    if not isinstance(keys, list) or not 2 <= len(keys) <= MAX_KEYS:
        abort(400, description=f"keys must be a list of 2 to {MAX_KEYS} latents (seed:N or latent:ID)")
    frames = int_arg("frames", 48, 2, MAX_FRAMES, source=body)
    mode = choice_arg("mode", MODES, "slerp", source=body)
    fmt = choice_arg("format", ("gif", "mp4"), "gif", source=body)
    fps = float_arg("fps", 24.0, 1.0, 60.0, source=body)
    psi = float_arg("psi", 1.0, 0.0, 2.0, source=body)
    loop = body.get("loop", False)
    if not isinstance(loop, bool):
        abort(400, description="loop must be true or false")
    space = space_arg(name, source=body, keys=keys)
    _, cfg = get_generator(name)
    G = space_view(name, space)
    resolved = [resolve_key(name, k, psi, space) for k in keys]
    latents = torch.stack([z for z, _ in resolved])                     # (K, D)
    path = interpolate(latents, frames, mode, loop)                     # (frames, D)
    labels = None
    if cfg.num_classes:  # a conditional morph keeps the first key's class
        labels = torch.full((frames,), int(resolved[0][1] or 0), dtype=torch.long)

    def job_fn(job):
        out = []
        for i in range(0, frames, RENDER_BATCH):
            job.report(i, frames)
            out.append(render(G, path[i:i + RENDER_BATCH], None if labels is None else labels[i:i + RENDER_BATCH]))
        job.report(frames, frames)
        with tempfile.TemporaryDirectory() as tmp:
            video = write_video(np.concatenate(out), Path(tmp) / f"morph.{fmt}", fps=fps)  # the GIF repeats forever
            data = video.read_bytes()
        return ({"frames": frames, "format": fmt, "bytes": len(data)},
                (data, "image/gif" if fmt == "gif" else "video/mp4", f"{name}-morph.{fmt}"))

    return submit("morph", job_fn)
