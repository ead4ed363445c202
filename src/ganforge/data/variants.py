"""Offline augmentation: extra variants of each prepared image, made once at prepare time.

For the small data sets GANs are often trained on (1–5 thousand images), N recorded
variants per image from flips, small rotations, shear and elastic distortion. Rotations
and shears zoom in just enough that no empty corner appears, so the variants need no
fill colour. The random choices come from a generator seeded by the item's key, so the
data set is the same for any number of workers and on every run.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
from PIL import Image

OPS = ("flip", "rotate", "shear", "elastic")
MAX_ROTATION = 10.0   # degrees, either way
MAX_SHEAR = 0.15      # x += shear * y, either way
ELASTIC_SIGMA = 0.12  # smoothness of the displacement field, fraction of the side
ELASTIC_SHIFT = 0.03  # largest displacement, fraction of the side


def rng_for(key: str, index: int) -> np.random.Generator:
    seed = int.from_bytes(hashlib.sha256(f"{key}\0{index}".encode()).digest()[:8], "little")
    return np.random.default_rng(seed)


def parse_ops(text: str) -> tuple[str, ...]:
    ops = tuple(o.strip() for o in text.split(",") if o.strip())
    bad = [o for o in ops if o not in OPS]
    if bad or not ops:
        raise ValueError(f"unknown augmentation {', '.join(bad) or '(none)'} (choose from {', '.join(OPS)})")
    return ops


def _affine(img: Image.Image, matrix: np.ndarray) -> Image.Image:
    """Apply the 2×2 ``matrix`` about the centre, zoomed in until the output has no empty corner."""
    w, h = img.size
    inv = np.linalg.inv(matrix)
    corners = np.array([[-1, -1], [1, -1], [-1, 1], [1, 1]], dtype=np.float64).T
    zoom = float(np.abs(inv @ corners).max())  # how far outside [-1, 1] the corners would reach
    inv = inv / zoom
    # PIL wants the map output (x, y) -> input (x', y') in pixels; ours is in [-1, 1] units.
    sx, sy = w / 2, h / 2
    a, b = inv[0, 0], inv[0, 1] * sx / sy
    d, e = inv[1, 0] * sy / sx, inv[1, 1]
    c = sx - a * sx - b * sy
    f = sy - d * sx - e * sy
    mode = img.mode
    work = img.convert("RGBa") if mode == "RGBA" else img
    out = work.transform(img.size, Image.Transform.AFFINE, (a, b, c, d, e, f), resample=Image.Resampling.BICUBIC)
    return out.convert("RGBA") if mode == "RGBA" else out


def elastic(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    from scipy.ndimage import gaussian_filter, map_coordinates

    a = np.asarray(img)
    h, w = a.shape[:2]
    sigma = ELASTIC_SIGMA * max(h, w)
    fields = []
    for _ in range(2):
        f = gaussian_filter(rng.uniform(-1, 1, (h, w)), sigma, mode="reflect")
        f *= ELASTIC_SHIFT * max(h, w) / max(np.abs(f).max(), 1e-12)
        fields.append(f)
    ys, xs = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    coords = [ys + fields[0], xs + fields[1]]
    if a.ndim == 2:
        out = map_coordinates(a.astype(np.float32), coords, order=1, mode="reflect")
    else:
        out = np.stack([map_coordinates(a[..., c].astype(np.float32), coords, order=1, mode="reflect")
                        for c in range(a.shape[2])], axis=-1)
    return Image.fromarray(np.clip(out.round(), 0, 255).astype(np.uint8), img.mode)


def variant(img: Image.Image, rng: np.random.Generator, ops: tuple[str, ...] = OPS) -> tuple[Image.Image, str]:
    """One augmented copy of ``img`` and a description of what was done, e.g. ``flip+rotate(-4.2)``."""
    done: list[str] = []
    while not done:  # at least one operation, so a variant never equals its original
        if "flip" in ops and rng.random() < 0.5:
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            done.append("flip")
        geometric = [o for o in ops if o != "flip"]
        if geometric and (rng.random() < 0.8 or not done):
            op = geometric[int(rng.integers(len(geometric)))]
            if op == "rotate":
                deg = float(rng.uniform(-MAX_ROTATION, MAX_ROTATION))
                t = math.radians(deg)
                img = _affine(img, np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]]))
                done.append(f"rotate({deg:.1f})")
            elif op == "shear":
                s = float(rng.uniform(-MAX_SHEAR, MAX_SHEAR))
                img = _affine(img, np.array([[1.0, s], [0.0, 1.0]]))
                done.append(f"shear({s:.3f})")
            else:
                img = elastic(img, rng)
                done.append("elastic")
    return img, "+".join(done)
