"""Foreground and background sets, and composites of the two, for layered GANs (MITLGAN).

A layered GAN learns a foreground (with its mask) and a background separately and
pastes one onto the other. It trains on three sets this module makes:

- ``make_foreground_set``: cut-outs from images with transparency (sprites, emoji),
  each cropped to its opaque pixels, centred, padded to square; RGBA by default (the
  alpha is the mask), or RGB on a flat colour.
- ``make_background_set``: any images, center-cropped, optionally blurred (the MITLGAN
  thesis blurred its backgrounds so the generator does not spend capacity on detail
  that the foreground covers anyway).
- ``composite_sets``: foregrounds pasted onto backgrounds at random scales and places;
  each combined image records which foreground and background it is made of and the
  foreground's box, so a model (or a test) can check what it separated.

All three write ordinary data-set files; the first two are ``prepare`` runs with
fitting options, so they have the same report of what was left out and why.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ganforge.data.dataset import DatasetWriter, load_dataset
from ganforge.data.png import encode_png
from ganforge.data.prepare import PrepareOptions, prepare
from ganforge.data.transforms import parse_color
from ganforge.errors import DataError


def make_foreground_set(src: str, out: str | Path, *, resolution: int = 64, keep_alpha: bool = True,
                        background: str = "white", workers: int = 0, limit: int | None = None,
                        progress: bool = True, **options) -> dict:
    """Cut-outs of the images with transparency in ``src`` -> data set at ``out`` (RGBA, or RGB on ``background``).

    Images without transparent pixels are skipped with the reason "no transparency".
    ``options``: more ``PrepareOptions`` fields (dedup, augment, labels, ...). Returns the report.
    """
    opts = PrepareOptions(resolution=resolution, channels=4 if keep_alpha else 3, crop="alpha", background=background,
                          workers=workers, limit=limit, **options)
    return prepare(src, out, opts, progress=progress)


def make_background_set(src: str, out: str | Path, *, resolution: int = 64, blur: float = 0.0,
                        crop_fraction: float = 1.0,
                        workers: int = 0, limit: int | None = None, progress: bool = True, **options) -> dict:
    """Any images in ``src`` -> RGB background set at ``out``, center-cropped, blurred by ``blur`` output pixels."""
    opts = PrepareOptions(resolution=resolution, channels=3, crop="center", crop_fraction=crop_fraction, blur=blur,
                          workers=workers, limit=limit, **options)
    return prepare(src, out, opts, progress=progress)


def foreground_rgba(images: np.ndarray, channels: int, key_colour: tuple[int, int, int] | None) -> np.ndarray:
    """Foreground images (N, R, R, C) -> RGBA (N, R, R, 4); RGB ones get alpha from ``key_colour``.

    A foreground set written as RGB on a flat colour has lost its alpha; pixels within a
    small tolerance of that colour are taken as transparent.
    """
    if channels == 4:
        return np.asarray(images)
    rgb = np.repeat(np.asarray(images), 3, axis=-1) if channels == 1 else np.asarray(images)
    if key_colour is None:
        raise DataError("the foreground set has no alpha channel; prepare it with --channels 4 or give its "
                        "background colour")
    distance = np.abs(rgb.astype(np.int16) - np.array(key_colour, np.int16)).max(axis=-1)
    alpha = np.where(distance <= 12, 0, 255).astype(np.uint8)
    return np.concatenate([rgb, alpha[..., None]], axis=-1)


def composite_sets(foreground: str | Path, background: str | Path, out: str | Path, *, count: int | None = None,
                   scale: tuple[float, float] = (0.6, 0.9), seed: int = 0, key_colour: str | None = None) -> dict:
    """Paste foregrounds onto backgrounds -> data set at ``out``; every item records its parts.

    Output resolution and channels (RGB) are the background set's; each foreground is
    scaled so its side is a uniform fraction in ``scale`` of that resolution and placed
    uniformly where it fits entirely. Item records: ``foreground`` and ``background``
    (file names in their sets), ``box`` [x0, y0, x1, y1] in output pixels, ``scale``.
    ``count`` defaults to the larger of the two sets. Returns a small report.
    """
    fg, bg = load_dataset(foreground), load_dataset(background)
    if bg.channels != 3:
        raise DataError(f"{background} has {bg.channels} channels; a background set is RGB (3)")
    if not 0 < scale[0] <= scale[1] <= 1:
        raise DataError(f"--scale must be two fractions 0 < low <= high <= 1, not {scale[0]} {scale[1]}")
    if count is not None and count < 1:
        raise DataError(f"--count must be at least 1, not {count}")
    try:
        key = parse_color(key_colour) if key_colour else (parse_color(fg.info["params"].get("background", "white"))
                                                            if fg.channels != 4 else None)
    except ValueError as e:
        raise DataError(str(e)) from None
    fg_rgba = foreground_rgba(fg.images, fg.channels, key)
    r = bg.resolution
    count = count or max(len(fg), len(bg))
    rng = np.random.default_rng(seed)
    fg_items, bg_items = fg.info["items"], bg.info["items"]
    with DatasetWriter(out, resolution=r, channels=3, source=f"composite:{foreground}+{background}",
                       params={"foreground": str(foreground), "background": str(background), "count": count,
                               "scale": list(scale), "seed": seed,
                               "foreground_sha256": fg.sha256, "background_sha256": bg.sha256}) as writer:
        for _ in range(count):
            i, j = int(rng.integers(len(fg))), int(rng.integers(len(bg)))
            s = float(rng.uniform(*scale))
            side = max(1, round(s * r))
            x, y = int(rng.integers(0, r - side + 1)), int(rng.integers(0, r - side + 1))
            canvas = Image.fromarray(np.asarray(bg.images[j]), "RGB").convert("RGBA")
            sprite = Image.fromarray(fg_rgba[i], "RGBA")
            if sprite.size != (side, side):
                sprite = sprite.convert("RGBa").resize((side, side), Image.Resampling.LANCZOS).convert("RGBA")
            canvas.alpha_composite(sprite, (x, y))
            label = fg_items[i].get("label")
            writer.add(encode_png(canvas.convert("RGB")), source=f"{fg_items[i]['file']}+{bg_items[j]['file']}",
                       label=label,
                       extra={"foreground": fg_items[i]["file"], "background": bg_items[j]["file"],
                              "box": [x, y, x + side, y + side], "scale": round(s, 4)})
    return {"output": str(out), "written": count, "resolution": r, "foregrounds": len(fg), "backgrounds": len(bg)}
