"""Embed: project an uploaded photo into the generator's latent space (a job with live progress),
then edit the embedded latent with the direction sliders, and make the "child" of two latents.

A style-based run (stylegan2) embeds in W by default, or W+ (``space``): StyleGAN2's projector
(``latent.project.project_w``), whose reconstruction uses the noise maps it optimised; the kept
latent re-renders with the generator's own maps, so fine detail differs a little.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, abort, jsonify, render_template, request, url_for

from ganforge.latent import midpoint, project
from ganforge.latent.project import project_w
from ganforge.web.generators import get_discriminator, png_bytes, store_latent
from ganforge.web.openapi import JOB_ACCEPTED, LATENT_KEY, Config, api, integer, json_content, obj, string
from ganforge.web.params import int_arg, json_body
from ganforge.web.pool import submit
from ganforge.web.shared import (
    PHOTO,
    SPACE_PARAM,
    prepared_photo,
    resolve_key,
    run_summary,
    space_arg,
    space_view,
    steps_arg,
)

bp = Blueprint("embed", __name__)


@bp.get("/runs/<name>/embed")
def page(name: str):
    return render_template("embed.html", run=run_summary(name))


@bp.post("/api/runs/<name>/embed")
@api("Project an uploaded photo into the latent space (a job; data: latent, psnr, losses; file: the reconstruction)",
     form={"image": PHOTO, "steps": integer(1, Config("MAX_PROJECT_STEPS"), Config("PROJECT_STEPS")),
           "restarts": integer(1, 8, 2, "in z only (W's projector starts once, from the mean w)"),
           "space": SPACE_PARAM}, form_required=("image",),
     responses=JOB_ACCEPTED, errors=(415, 503))
def api_embed(name: str):
    """Multipart ``image`` (+ ``steps``, ``restarts``, ``space``) -> 202 and a job; its data hold ``latent``
    (a key for the other endpoints), its ``space``, ``psnr`` and the loss curve; its file the reconstruction."""
    target = prepared_photo(name)
    steps = steps_arg(request.form)
    restarts = int_arg("restarts", 2, 1, 8, source=request.form)
    space = space_arg(name, source=request.form)
    G = space_view(name, space)
    D = get_discriminator(name)
    image_url = url_for("explore.api_image", name=name)  # jobs run outside the request

    def job_fn(job):
        if space == "z":
            result = project(G, target, steps=steps, restarts=restarts, D=D, progress=job.report)
        else:
            result = project_w(G, target, steps=steps, D=D, progress=job.report)
        key = "latent:" + store_latent(name, result.latent, label=result.label, source="embed", space=space)
        losses = result.losses[:: max(1, len(result.losses) // 200)]
        return ({"latent": key, "space": space, "psnr": result.psnr, "error": result.error, "losses": losses,
                 "image_url": f"{image_url}?key={quote(key)}&space={quote(space)}"},
                (png_bytes(result.image), "image/png", "reconstruction.png"))

    return submit("embed", job_fn)


@bp.post("/api/runs/<name>/child")
@api("The child of two latents (their spherical midpoint in z, their mean in W) as a new latent key",
     body=obj({"a": LATENT_KEY, "b": LATENT_KEY, "space": SPACE_PARAM}, ("a", "b")),
     responses={201: json_content(obj({"latent": string("latent:ID"), "image_url": string()},
                                      ("latent", "image_url")))})
def api_child(name: str):
    """JSON ``{"a": KEY, "b": KEY, "space": "w"}`` -> the midpoint of the two latents as a new key: spherical
    in z (where the linear mean is too short to look like a sample), the mean in W (where StyleGAN
    interpolates linearly)."""
    body = json_body()
    for field in ("a", "b"):
        if not isinstance(body.get(field), (str, int)) or isinstance(body.get(field), bool):
            abort(400, description=f"missing field {field!r} (a latent key: seed:N or latent:ID)")
    space = space_arg(name, source=body, keys=[body["a"], body["b"]])
    (za, la), (zb, _) = resolve_key(name, body["a"], space=space), resolve_key(name, body["b"], space=space)
    child = midpoint(za, zb, mode="slerp" if space == "z" else "linear")
    key = "latent:" + store_latent(name, child, label=la, source="child", space=space)
    return jsonify(latent=key, image_url=url_for("explore.api_image", name=name, key=key, space=space)), 201
