"""Explore: a grid from a seed with truncation and a class picker; one image with sliders along
the run's top editing directions (GANSpace), re-rendered live.

A latent is named by a *key* (see ``shared.resolve_key``). ``/api/runs/<name>/image.png``
renders a key with truncation ``psi``, an optional ``class`` and ``edits`` (comma-separated
amounts, one per direction, in standard deviations of the prior). The grid itself is the
runs blueprint's ``/api/runs/<name>/grid.png``.

The directions are searched for once per checkpoint, in a thread of their own (half a
minute or more for a large model on a CPU): ``/api/runs/<name>/directions`` answers 202 with
the search's progress until they are found, and an edited image waits for them.

A style-based run (stylegan2) works in W by default (``space``, see ``shared.space_arg``): a seed
is its mapped w, truncation pulls toward w_avg, and the directions are GANSpace's in W
(``latent.spaces.w_directions``), an edit moving every layer's w.
"""

from __future__ import annotations

import copy
import threading

import torch
from flask import Blueprint, abort, current_app, jsonify, render_template, request

from ganforge.latent import Directions, find_directions, render
from ganforge.latent.spaces import StyleSpace, w_directions
from ganforge.web.generators import generator_version, get_generator, png_response
from ganforge.web.openapi import LATENT_KEY, PNG, api, integer, json_content, number, obj, string
from ganforge.web.params import float_arg, float_list, int_arg
from ganforge.web.shared import CLASS_PARAM, SPACE_PARAM, class_arg, resolve_key, run_summary, space_arg, space_view

bp = Blueprint("explore", __name__)

MAX_DIRECTIONS = 10
DIRECTION_BATCH = 256  # latents per generator pass of the search; its progress counts passes


class DirectionSearch:
    """One search for a checkpoint's editing directions (GANSpace, ``find_directions``), run in
    a thread of its own and shared by every request that asks meanwhile.

    It works on a private copy of G: ``find_directions`` hooks a layer of the generator it is
    given, and the renders other requests make with the shared G must not feed that hook
    (two overlapping searches on one G ended in a 500 from lstsq's mismatched sizes).
    """

    def __init__(self, G, version: int, k: int, n_samples: int, in_w: bool = False):
        self.version = version
        self.total = -(-n_samples // DIRECTION_BATCH)
        self.done = 0
        self.directions: Directions | None = None
        self.error: Exception | None = None
        self.finished = threading.Event()
        own = copy.deepcopy(G)
        (own.mapping_net if in_w else own).register_forward_hook(self._count_pass)  # in W: a pass maps a batch
        threading.Thread(target=self._run, args=(own, k, n_samples, in_w), name="ganforge-directions",
                         daemon=True).start()

    def _count_pass(self, *_) -> None:
        self.done += 1

    def _run(self, G, k: int, n_samples: int, in_w: bool) -> None:
        try:
            if in_w:
                self.directions = w_directions(StyleSpace(G, "w"), k, n_samples, batch_size=DIRECTION_BATCH)
            else:
                self.directions = find_directions(G, k=k, n_samples=n_samples, batch_size=DIRECTION_BATCH)
        except Exception as e:  # raised again in the requests that wait for the result
            self.error = e
        finally:
            self.finished.set()

    def progress(self) -> dict:
        return {"status": "running", "done": min(self.done, self.total), "total": self.total}


def direction_search(name: str, space: str = "z") -> DirectionSearch:
    """The search for run ``name``'s current checkpoint, in z or in W (``space`` w and w+ share W's):
    started by the first request, shared after. A failed search is tried again by the next request."""
    G, cfg = get_generator(name)
    version = generator_version(name)
    in_w = space != "z"
    with current_app.extensions["ganforge.lock"]:
        cache = current_app.extensions["ganforge.directions"]
        search = cache.get((name, in_w))
        if search is None or search.version != version or search.error is not None:
            k = min(MAX_DIRECTIONS, cfg.latent_dim)  # a stylegan2's w is as long as its z
            n = max(current_app.config["DIRECTION_SAMPLES"], 2 * k, 16)
            search = cache[(name, in_w)] = DirectionSearch(G, version, k, n, in_w)
    return search


def get_directions(name: str, space: str = "z"):
    """The run's top editing directions (``Directions``) in ``space``, waiting for the search if it is running."""
    search = direction_search(name, space)
    search.finished.wait()
    if search.error is not None:
        raise search.error
    return search.directions


@bp.get("/runs/<name>/explore")
def page(name: str):
    summary = run_summary(name)
    if not summary["has_checkpoint"]:
        abort(404, description=f"run {name!r} has no checkpoint yet")
    return render_template("explore.html", run=summary)


@bp.get("/api/runs/<name>/directions")
@api("The run's editing directions (found once per checkpoint; 202 with progress meanwhile)",
     query={"space": SPACE_PARAM},
     responses={200: json_content(obj({"method": string(), "k": integer(0),
                                       "explained_variance": {"type": "array", "items": {"type": "number"}},
                                       "names": {"type": "array", "items": {"type": "string"}}},
                                      ("method", "k", "explained_variance", "names"))),
                202: json_content(obj({"status": string(enum=["running"]), "done": integer(0), "total": integer(0)},
                                      ("status", "done", "total")), "The search is running; ask again")})
def api_directions(name: str):
    """The directions (method, k, explained variance, names); 202 and the search's progress
    (``{"status": "running", "done": passes, "total": passes}``) while they are being found.
    ``space``: z, or W's directions (method pca-w) for w and w+."""
    space = space_arg(name)
    search = direction_search(name, space)
    if not search.finished.is_set():
        return jsonify(search.progress()), 202, {"Retry-After": "1"}
    d = get_directions(name, space)
    return jsonify(method=d.method, k=len(d), explained_variance=[float(v) for v in d.explained_variance],
                   names=d.names or [f"direction {i}" for i in range(len(d))])


@bp.get("/api/runs/<name>/image.png")
@api("One image of a latent, optionally moved along the editing directions",
     query={"key": LATENT_KEY, "seed": integer(0, 2**31 - 1, 0, "used when key is absent"),
            "psi": number(0.0, 2.0, 1.0, "truncation (toward w_avg in w and w+)"), "class": CLASS_PARAM,
            "edits": string(f"comma-separated amounts, one per direction (at most {MAX_DIRECTIONS}), "
                            "each in -20..20 standard deviations"), "space": SPACE_PARAM},
     responses={200: PNG})
def api_image(name: str):
    """One image: ``key`` (seed:N | latent:ID; or ``seed=N``), ``psi``, ``class``, ``edits=a0,a1,...``, ``space``."""
    key = request.args.get("key") or f"seed:{int_arg('seed', 0, 0, 2**31 - 1)}"
    psi = float_arg("psi", 1.0, 0.0, 2.0)
    edits = float_list("edits", -20.0, 20.0, MAX_DIRECTIONS, default="")
    space = space_arg(name, keys=[key])
    _, cfg = get_generator(name)
    G = space_view(name, space)
    z, label = resolve_key(name, key, psi, space)
    if any(edits):
        d = get_directions(name, space)
        if len(edits) > len(d):
            abort(400, description=f"this run has {len(d)} directions, not {len(edits)}")
        amounts = torch.tensor(edits)
        if space == "z":
            z = z + amounts @ d.vectors[: len(edits)]  # rows are unit vectors
        else:  # rows are unit vectors in W, amounts in W's standard deviations along each; every layer's w moves
            scales = torch.ones(len(edits)) if d.scales is None else d.scales[: len(edits)]
            step = (amounts * scales) @ d.vectors[: len(edits)]
            z = G.from_ws(G.to_ws(z[None]) + step)[0]
    chosen = class_arg(name)
    label = chosen if chosen is not None else label
    labels = torch.tensor([label or 0]) if cfg.num_classes else None
    return png_response(render(G, z[None], labels)[0])
