"""Inpaint: fill the region of an uploaded or generated image that the user painted over.

The page sends the image (already at the model's resolution: a generated image, or the
upload as ``/api/runs/<name>/photo.png`` prepared it) and the drawn mask (white = fill,
any size: resized to the model's resolution); the fill runs as a job: latent optimisation (a style-based
run, stylegan2, optimises in W by default: ``space``, see ``shared.space_arg``), or for an inpainter run
(``--model inpainter``) one forward pass of its generator."""

from __future__ import annotations

from urllib.parse import quote

import numpy as np
from flask import Blueprint, abort, render_template, request, url_for
from PIL import Image

from ganforge import models
from ganforge.latent import inpaint, inpaint_once
from ganforge.web.generators import get_discriminator, get_generator, png_bytes, png_response, store_latent
from ganforge.web.openapi import JOB_ACCEPTED, PNG, Config, api, integer
from ganforge.web.params import int_arg
from ganforge.web.pool import submit
from ganforge.web.security import read_image
from ganforge.web.shared import PHOTO, SPACE_PARAM, prepared_photo, run_summary, space_arg, space_view, steps_arg

bp = Blueprint("inpaint", __name__)


@bp.get("/runs/<name>/inpaint")
def page(name: str):
    return render_template("inpaint.html", run=run_summary(name))


@bp.post("/api/runs/<name>/photo.png")
@api("An uploaded photo cropped and resized as the model sees it", form={"image": PHOTO}, form_required=("image",),
     responses={200: PNG}, errors=(415, 503))
def api_photo(name: str):
    """An uploaded photo cropped and resized exactly as the model sees it (for drawing masks on)."""
    return png_response(prepared_photo(name))


@bp.post("/api/runs/<name>/inpaint")
@api("Fill the masked region of an image (a job; data: latent, generated_url, masked_pixels; file: the result)",
     form={"image": PHOTO, "mask": {**PHOTO, "description": "white = fill; any size, resized to the model's"},
           "steps": integer(1, Config("MAX_PROJECT_STEPS"), Config("PROJECT_STEPS")), "restarts": integer(1, 8, 2),
           "space": SPACE_PARAM},
     form_required=("image", "mask"), responses=JOB_ACCEPTED, errors=(415, 503))
def api_inpaint(name: str):
    """Multipart ``image`` and ``mask`` (+ ``steps``, ``restarts``) -> 202 and a job whose file is the filled image."""
    G, cfg = get_generator(name)
    image = prepared_photo(name)
    drawn = read_image("mask", "L", prepare=lambda m: m.resize((cfg.resolution, cfg.resolution), Image.Resampling.BOX))
    mask = np.asarray(drawn) > 127  # a pixel is missing when more than half of it was painted
    if not mask.any():
        abort(400, description="the mask marks no pixels to fill (paint over the part to replace)")
    if mask.all():
        abort(400, description="the mask covers the whole image: nothing is known to fill from")
    if models.is_inpainter(cfg.family):  # an inpainter run fills the hole in one forward pass: no latent, no steps
        return submit("inpaint", lambda job: ({"masked_pixels": int(mask.sum())},
                                              (png_bytes(inpaint_once(G, image, mask)), "image/png", "inpainted.png")))
    steps = steps_arg(request.form)
    restarts = int_arg("restarts", 2, 1, 8, source=request.form)
    space = space_arg(name, source=request.form)
    S = space_view(name, space)  # G itself in z
    D = get_discriminator(name)
    image_url = url_for("explore.api_image", name=name)  # jobs run outside the request

    def job_fn(job):
        result = inpaint(S, image, mask, steps=steps, restarts=restarts, D=D, progress=job.report,
                         reg_weight=0.01 if space == "z" else 0.0)  # the shell prior is z's (as 'ganforge inpaint')
        key = "latent:" + store_latent(name, result.latent, label=result.label, source="inpaint", space=space)
        return ({"latent": key, "space": space, "generated_url": f"{image_url}?key={quote(key)}&space={quote(space)}",
                 "masked_pixels": int(mask.sum())},
                (png_bytes(result.image), "image/png", "inpainted.png"))

    return submit("inpaint", job_fn)
