"""Embed: project an uploaded photo into the generator's latent space (a job with live progress),
then edit the embedded latent with the direction sliders, and make the "child" of two latents."""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, abort, jsonify, render_template, request, url_for

from ganforge.latent import midpoint, project
from ganforge.web.generators import get_discriminator, get_generator, png_bytes, store_latent
from ganforge.web.openapi import JOB_ACCEPTED, LATENT_KEY, Config, api, integer, json_content, obj, string
from ganforge.web.params import int_arg, json_body
from ganforge.web.pool import submit
from ganforge.web.shared import PHOTO, prepared_photo, resolve_key, run_summary, steps_arg

bp = Blueprint("embed", __name__)


@bp.get("/runs/<name>/embed")
def page(name: str):
    return render_template("embed.html", run=run_summary(name))


@bp.post("/api/runs/<name>/embed")
@api("Project an uploaded photo into the latent space (a job; data: latent, psnr, losses; file: the reconstruction)",
     form={"image": PHOTO, "steps": integer(1, Config("MAX_PROJECT_STEPS"), Config("PROJECT_STEPS")),
           "restarts": integer(1, 8, 2)}, form_required=("image",),
     responses=JOB_ACCEPTED, errors=(415, 503))
def api_embed(name: str):
    """Multipart ``image`` (+ ``steps``, ``restarts``) -> 202 and a job; its data hold ``latent``
    (a key for the other endpoints), ``psnr`` and the loss curve; its file the reconstruction."""
    target = prepared_photo(name)
    steps = steps_arg(request.form)
    restarts = int_arg("restarts", 2, 1, 8, source=request.form)
    G, cfg = get_generator(name)
    D = get_discriminator(name)
    image_url = url_for("explore.api_image", name=name)  # jobs run outside the request

    def job_fn(job):
        result = project(G, target, steps=steps, restarts=restarts, D=D, progress=job.report)
        key = "latent:" + store_latent(name, result.latent, label=result.label, source="embed")
        losses = result.losses[:: max(1, len(result.losses) // 200)]
        return ({"latent": key, "psnr": result.psnr, "error": result.error, "losses": losses,
                 "image_url": f"{image_url}?key={quote(key)}"},
                (png_bytes(result.image), "image/png", "reconstruction.png"))

    return submit("embed", job_fn)


@bp.post("/api/runs/<name>/child")
@api("The child of two latents (their spherical midpoint) as a new latent key",
     body=obj({"a": LATENT_KEY, "b": LATENT_KEY}, ("a", "b")),
     responses={201: json_content(obj({"latent": string("latent:ID"), "image_url": string()},
                                      ("latent", "image_url")))})
def api_child(name: str):
    """JSON ``{"a": KEY, "b": KEY}`` -> the spherical midpoint of the two latents as a new key."""
    body = json_body()
    for field in ("a", "b"):
        if not isinstance(body.get(field), (str, int)) or isinstance(body.get(field), bool):
            abort(400, description=f"missing field {field!r} (a latent key: seed:N or latent:ID)")
    (za, la), (zb, _) = resolve_key(name, body["a"]), resolve_key(name, body["b"])
    key = "latent:" + store_latent(name, midpoint(za, zb), label=la, source="child")
    return jsonify(latent=key, image_url=url_for("explore.api_image", name=name, key=key)), 201
