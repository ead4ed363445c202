"""Crop, composite, resize and convert: PIL image in, square image of the target size out."""

from __future__ import annotations

import numpy as np
from PIL import Image

from ganforge.data.decode import UnusableImage


def parse_color(text: str) -> tuple[int, int, int]:
    """'white', 'black', 'gray', '#rrggbb' or 'r,g,b' -> RGB tuple."""
    named = {"white": (255, 255, 255), "black": (0, 0, 0), "gray": (128, 128, 128), "grey": (128, 128, 128)}
    t = text.strip().lower()
    if t in named:
        return named[t]
    if t.startswith("#") and len(t) == 7:
        return tuple(int(t[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]
    parts = t.split(",")
    if len(parts) == 3 and all(p.strip().isdigit() and int(p) < 256 for p in parts):
        return tuple(int(p) for p in parts)  # type: ignore[return-value]
    raise ValueError(f"not a colour: {text!r} (use white, black, gray, #rrggbb or r,g,b)")


def to_rgb_on_background(img: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    """Any Pillow mode -> RGB, with transparent pixels composited on ``background``."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # High-bit-depth grey: scale the actual range to 0..255 rather than clipping.
        a = np.asarray(img, dtype=np.float64)
        lo, hi = float(a.min()), float(a.max())
        a = np.zeros_like(a) if hi <= lo else (a - lo) * (255.0 / (hi - lo))
        img = Image.fromarray(a.round().astype(np.uint8), "L")
    has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
    if img.mode == "P" and not has_alpha:
        img = img.convert("RGB")
    if has_alpha or img.mode == "RGBa":
        rgba = img.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, background + (255,))
        canvas.alpha_composite(rgba)
        return canvas.convert("RGB")
    return img.convert("RGB")  # 1, L, CMYK, YCbCr, LAB, HSV, RGB


def center_crop(img: Image.Image, fraction: float) -> Image.Image:
    """The centred square whose side is ``fraction`` of the image's short side."""
    side = max(1, round(min(img.size) * fraction))
    left = (img.width - side) // 2
    top = (img.height - side) // 2
    return img.crop((left, top, left + side, top + side))


def pad_to_square(img: Image.Image, color: tuple[int, int, int]) -> Image.Image:
    side = max(img.size)
    canvas = Image.new(img.mode, (side, side), color if img.mode == "RGB" else color[0])
    canvas.paste(img, ((side - img.width) // 2, (side - img.height) // 2))
    return canvas


def process_image(
    img: Image.Image,
    *,
    resolution: int,
    channels: int,
    crop: str = "center",
    crop_fraction: float = 1.0,
    background: tuple[int, int, int] = (255, 255, 255),
    min_size: int = 0,
) -> Image.Image:
    """Decoded image -> square ``resolution`` px image with ``channels`` channels.

    ``crop``: ``center`` (square of ``crop_fraction`` of the short side) or ``none``
    (pad to square with ``background``). Resizing uses Lanczos, which antialiases
    when downscaling.
    """
    if min(img.size) < min_size:
        raise UnusableImage(f"too small ({img.width}x{img.height} < {min_size} px)")
    img = to_rgb_on_background(img, background)
    if crop == "center":
        img = center_crop(img, crop_fraction)
    elif crop == "none":
        img = pad_to_square(img, background)
    else:
        raise ValueError(f"unknown crop {crop!r}")
    if img.size != (resolution, resolution):
        img = img.resize((resolution, resolution), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return img.convert("L") if channels == 1 else img
