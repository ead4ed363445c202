"""Translate: an uploaded photo in the other domain, with a CycleGAN (a2b, b2a) or DTN (a2b) run.

The upload is prepared exactly as ``ganforge translate`` prepares its inputs (``ganforge.translate``'s
``Translator.prepare``: the run's data-set crop, size and channels), in the upload pool; the
translation is one generator pass, answered directly as a PNG (no job). ``.../translate/input.png``
answers the prepared upload, so the page shows what the model was given beside what it made.
``.../translate/data.png`` does the same for an image of the run's own data set (already prepared).
Any other family gets a one-line 400.
"""

from __future__ import annotations

import numpy as np
from flask import Blueprint, abort, render_template, request

from ganforge.errors import GanforgeError
from ganforge.translate import DIRECTIONS, Translator
from ganforge.web.generators import get_dataset, get_translator, png_response, run_config
from ganforge.web.openapi import PNG, api, integer, string
from ganforge.web.params import choice_arg, int_arg
from ganforge.web.security import read_image
from ganforge.web.shared import PHOTO, run_summary

bp = Blueprint("translate", __name__)

DIRECTION = string("a2b: domain A (the data set's first) to B; b2a: back (cyclegan only)", enum=list(DIRECTIONS),
                   default="a2b")


@bp.get("/runs/<name>/translate")
def page(name: str):
    translator = get_translator(name)  # 400 before anything is drawn for a run that is not a translator
    return render_template("translate.html", run=run_summary(name), directions=translator.directions,
                           domains=_domains(name))


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
    direction = _direction(translator, request.form)
    image = _prepared_upload(translator)
    return png_response(translator(image[None], direction)[0], download_name=f"translated-{direction}.png")


@bp.get("/api/runs/<name>/translate/data.png")
@api("An image of the run's own data set, from the direction's source domain, or its translation",
     query={"direction": DIRECTION, "index": integer(0, None, 0, "the image's place in its domain (0 first)"),
            "show": string("source: the data-set image; translation: it translated", enum=["source", "translation"],
                           default="translation")},
     errors=(409,), responses={200: PNG})
def api_data(name: str):
    translator = get_translator(name)
    direction = _direction(translator, request.args)
    show = choice_arg("show", ("source", "translation"), "translation")
    dataset = get_dataset(name)
    indices = dataset.domain_indices(0 if direction == "a2b" else 1)  # the source domain's images
    if not len(indices):
        abort(409, description=f"the data set of run {name!r} holds no image of the source domain")
    index = int_arg("index", 0, 0, len(indices) - 1)
    image = np.asarray(dataset.images[indices[index]])  # prepared already, when the set was made
    return png_response(image if show == "source" else translator(image[None], direction)[0],
                        download_name=f"{direction[0]}{index}{'' if show == 'source' else '-' + direction}.png")


def _prepared_upload(translator: Translator) -> np.ndarray:
    """The ``image`` upload as ``translator`` sees it, uint8 (R, R, C); a 400 when it cannot be used."""
    try:  # decoded, cropped and resized in the upload pool; as decoded, so transparency is handled as in translate
        return read_image("image", mode=None, prepare=translator.prepare)
    except GanforgeError as e:
        abort(400, description=str(e))


def _direction(translator: Translator, source) -> str:
    """The ``direction`` parameter (default a2b), one the run's family translates in; else 400."""
    direction = source.get("direction", "a2b")
    if direction not in translator.directions:
        abort(400, description=f"direction must be {' or '.join(translator.directions)} for this "
                               f"{translator.cfg.family} run, not {direction!r}")
    return direction


def _domains(name: str) -> list[dict]:
    """The run's two domains, A then B: {"name", "count"} from its config ("A", "B" and 0 when it has none)."""
    recorded = run_config(name).get("data", {}).get("domains") or []
    domains = [{"name": d.get("name") or d.get("key"), "count": int(d.get("count") or 0)}
               for d in recorded if isinstance(d, dict)]
    if len(domains) != 2 or not all(d["name"] for d in domains):
        return [{"name": "A", "count": 0}, {"name": "B", "count": 0}]
    return domains
