"""A run's discriminator, and photos/masks prepared exactly like the run's training data."""

from __future__ import annotations

import inspect
import json
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from ganforge.checkpoint import discriminator_from_checkpoint
from ganforge.errors import GanforgeError
from ganforge.runs import RunDir

# The latent tools' name for it: a run's frozen discriminator, for feature and realism losses.
load_discriminator = discriminator_from_checkpoint


def data_params(run_dir: str | Path | None) -> dict:
    """How the run's data set was prepared (crop, crop_fraction, background, ...).

    Read from ``config.json``'s ``data.params`` when the run recorded them, else from the
    data-set file's ``dataset.json`` if it is still there; {} when neither is found (the
    defaults of ``ganforge data prepare`` then apply).
    """
    if run_dir is None:
        return {}
    cfg_path = RunDir.of(run_dir).config
    if not cfg_path.is_file():
        return {}
    try:
        data = json.loads(cfg_path.read_text()).get("data") or {}
    except (OSError, json.JSONDecodeError):
        return {}
    if isinstance(data.get("params"), dict):
        return data["params"]
    path = Path(data.get("path") or "")
    if path.is_file():
        try:
            with zipfile.ZipFile(path) as zf:
                return json.loads(zf.read("dataset.json")).get("params") or {}
        except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError):
            return {}
    return {}


def _process_kwargs(params: dict, resolution: int, channels: int) -> dict:
    from ganforge.data.transforms import parse_color, process_image

    accepted = set(inspect.signature(process_image).parameters)
    kwargs = {k: v for k, v in params.items() if k in accepted and k not in ("img", "min_size")}
    if isinstance(kwargs.get("background"), str):
        kwargs["background"] = parse_color(kwargs["background"])
    kwargs.update(resolution=resolution, channels=channels)
    return kwargs


def _first(result) -> tuple[Image.Image, dict]:
    """``process_image`` returns [(image, note), ...] (one per face with a face crop); older
    versions returned the image alone. The photo is the first (the largest face)."""
    if isinstance(result, list):
        if not result:
            raise GanforgeError("nothing usable in the image")
        return result[0]
    return result, {}


def load_photo(path_or_image: str | Path | Image.Image, resolution: int, channels: int,
               params: dict | None = None, *, with_note: bool = False):
    """A photo -> uint8 (resolution, resolution, channels), cropped and resized as ``ganforge data
    prepare`` did with ``params`` (a run's ``data_params``; with a face crop, around the largest face).

    ``with_note``: also return the crop's note (e.g. ``{"face": box}``) for ``load_mask``.
    """
    from ganforge.data.decode import UnusableImage, decode_image
    from ganforge.data.transforms import process_image

    img = _open(path_or_image, decode_image, UnusableImage)
    try:
        out, note = _first(process_image(img, **_process_kwargs(params or {}, resolution, channels)))
    except (UnusableImage, ValueError) as e:
        raise GanforgeError(f"cannot use {path_or_image}: {e}") from None
    arr = np.asarray(out)
    arr = arr[..., None] if arr.ndim == 2 else arr
    return (arr, note) if with_note else arr


def load_mask(path_or_image: str | Path | Image.Image, resolution: int, params: dict | None = None,
              note: dict | None = None) -> np.ndarray:
    """A mask image (white = missing, same size as the photo) -> bool (resolution, resolution),
    cropped like the photo (``note``: the photo's crop note from ``load_photo(with_note=True)``,
    needed for face and alpha crops, which a mask cannot be detected on); a resized pixel
    counts as missing if it is more than half white."""
    from ganforge.data import transforms as T
    from ganforge.data.decode import UnusableImage, decode_image

    img = _open(path_or_image, decode_image, UnusableImage).convert("RGB")
    params = {**(params or {}), "background": (0, 0, 0)}
    crop, note = params.get("crop", "center"), note or {}
    try:
        if crop == "face" and "face" in note:
            square = T.square_around(img, tuple(note["face"]), float(params.get("face_margin", 0.4)), (0, 0, 0))
        elif crop == "alpha" and "box" in note:
            square = T.pad_to_square(img.crop(tuple(note["box"])), (0, 0, 0))
        else:
            params["crop"] = crop if crop in ("center", "none") else "center"
            square = None
        if square is not None:
            out = T.finish(square, resolution=resolution, channels=1, background=(0, 0, 0))
        else:
            out, _ = _first(T.process_image(img, **_process_kwargs(params, resolution, 1)))
    except (UnusableImage, ValueError) as e:
        raise GanforgeError(f"cannot use mask {path_or_image}: {e}") from None
    return np.asarray(out.convert("L")) > 127


def _open(path_or_image, decode_image, UnusableImage) -> Image.Image:
    if isinstance(path_or_image, Image.Image):
        return path_or_image
    path = Path(path_or_image)
    if not path.is_file():
        raise GanforgeError(f"no image at {path}")
    try:
        return decode_image(path.read_bytes())
    except UnusableImage as e:
        raise GanforgeError(f"cannot read {path}: {e}") from None
