"""Translate: an uploaded photo in the other domain, with a CycleGAN (a2b, b2a) or DTN (a2b) run.

The upload is prepared exactly as ``ganforge translate`` prepares its inputs (``ganforge.translate``'s
``Translator.prepare``: the run's data-set crop, size and channels), in the upload pool; the
translation is one generator pass, answered directly as a PNG (no job). ``.../translate/input.png``
answers the prepared upload, so the page shows what the model was given beside what it made.
Any other family gets a one-line 400.
"""

from __future__ import annotations

import numpy as np
from flask import Blueprint, abort, render_template, request

from ganforge.errors import GanforgeError
from ganforge.translate import DIRECTIONS, Translator
from ganforge.web.generators import get_translator, png_response, run_config
from ganforge.web.openapi import PNG, api, string
from ganforge.web.security import read_image
from ganforge.web.shared import PHOTO, run_summary

bp = Blueprint("translate", __name__)

DIRECTION = string("a2b: domain A (the data set's first) to B; b2a: back (cyclegan only)", enum=list(DIRECTIONS),
                   default="a2b")


@bp.get("/runs/<name>/translate")
def page(name: str):
    translator = get_translator(name)  # 400 before anything is drawn for a run that is not a translator
    return render_template("translate.html", run=run_summary(name), directions=translator.directions,
                           domains=_domain_names(name))


@bp.post("/api/runs/<name>/translate/input.png")
@api("An uploaded photo as a translator run sees it (cropped and resized as its data set was)",
     form={"image": PHOTO}, form_required=("image",), responses={200: PNG}, errors=(415, 503))
def api_input(name: str):
    return png_response(_prepared_upload(get_translator(name)))


@bp.post("/api/runs/<name>/translate")
@api("An uploaded photo translated to the other domain (cyclegan, dtn; 400 for other families)",
     description="The photo is prepared exactly as 'ganforge translate' prepares its inputs; the answer is the "
                 "translation at the run's resolution.",
     form={"image": PHOTO, "direction": DIRECTION}, form_required=("image",), responses={200: PNG},
     errors=(415, 503))
def api_translate(name: str):
    translator = get_translator(name)
    direction = request.form.get("direction", "a2b")
    if direction not in translator.directions:
        abort(400, description=f"direction must be {' or '.join(translator.directions)} for this "
                               f"{translator.cfg.family} run, not {direction!r}")
    image = _prepared_upload(translator)
    return png_response(translator(image[None], direction)[0], download_name=f"translated-{direction}.png")


def _prepared_upload(translator: Translator) -> np.ndarray:
    """The ``image`` upload as ``translator`` sees it, uint8 (R, R, C); a 400 when it cannot be used."""
    try:  # decoded, cropped and resized in the upload pool; as decoded, so transparency is handled as in translate
        return read_image("image", mode=None, prepare=translator.prepare)
    except GanforgeError as e:
        abort(400, description=str(e))


def _domain_names(name: str) -> list[str]:
    """The names of the run's two domains (A, B) from its config, else ["A", "B"]."""
    domains = run_config(name).get("data", {}).get("domains") or []
    names = [d.get("name") or d.get("key") for d in domains if isinstance(d, dict)]
    return names if len(names) == 2 and all(names) else ["A", "B"]
