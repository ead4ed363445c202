"""Crop, composite, resize and convert: PIL image in, square image(s) of the target size out."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from ganforge.data.decode import UnusableImage

CROPS = ("center", "none", "face", "alpha")


def parse_color(text: str) -> tuple[int, int, int]:
    """'white', 'black', 'gray', '#rrggbb' or 'r,g,b' -> RGB tuple."""
    named = {"white": (255, 255, 255), "black": (0, 0, 0), "gray": (128, 128, 128), "grey": (128, 128, 128)}
    t = text.strip().lower()
    if t in named:
        return named[t]
    if t.startswith("#") and len(t) == 7:
        try:
            return tuple(int(t[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]
        except ValueError:
            pass
    parts = t.split(",")
    if len(parts) == 3 and all(p.strip().isdigit() and int(p) < 256 for p in parts):
        return tuple(int(p) for p in parts)  # type: ignore[return-value]
    raise ValueError(f"not a colour: {text!r} (use white, black, gray, #rrggbb or r,g,b)")


def high_depth_to_l(img: Image.Image) -> Image.Image:
    """16-bit, 32-bit integer and float grey images -> 8-bit L, keeping their meaning.

    Pillow's own convert clips (I;16 65535 -> 255 saturates almost everything), and a
    min-max stretch would turn a dark 16-bit scan bright. So: I;16 is 0..65535, float
    images in 0..1 are 0..1, values that already fit 0..255 stay, and only images
    whose range fits none of these are stretched to their own min..max.
    """
    a = np.asarray(img, dtype=np.float64)
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if not np.isfinite(lo) or not np.isfinite(hi):
        a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
        lo, hi = float(a.min()), float(a.max())
    if img.mode.startswith("I;16"):
        a = a / 257.0
    elif img.mode == "F" and lo >= 0 and hi <= 1:
        a = a * 255.0
    elif lo >= 0 and hi <= 255:
        pass
    elif img.mode == "I" and lo >= 0 and hi <= 65535:
        a = a / 257.0  # 16-bit PNGs open as mode I
    else:
        a = np.zeros_like(a) if hi <= lo else (a - lo) * (255.0 / (hi - lo))
    return Image.fromarray(np.clip(a.round(), 0, 255).astype(np.uint8), "L")


def has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (img.mode == "P" and "transparency" in img.info)


def to_rgba(img: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGBA (opaque where the image has no alpha)."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        img = high_depth_to_l(img)
    if img.mode in ("RGBa", "La"):  # premultiplied alpha: undo it
        img = img.convert("RGBA") if img.mode == "RGBa" else img.convert("LA")
    if img.mode == "RGBA":
        return img
    if has_alpha(img):
        return img.convert("RGBA")
    return img.convert("RGB").convert("RGBA")  # 1, L, P, CMYK, YCbCr, LAB, HSV, RGB


def to_rgb_on_background(img: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    """Any Pillow mode -> RGB, with transparent pixels composited on ``background``."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        img = high_depth_to_l(img)
    if has_alpha(img):
        rgba = to_rgba(img)
        canvas = Image.new("RGBA", rgba.size, background + (255,))
        canvas.alpha_composite(rgba)
        return canvas.convert("RGB")
    return img.convert("RGB")


def center_crop(img: Image.Image, fraction: float) -> Image.Image:
    """The centred square whose side is ``fraction`` of the image's short side."""
    side = max(1, round(min(img.size) * fraction))
    left = (img.width - side) // 2
    top = (img.height - side) // 2
    return img.crop((left, top, left + side, top + side))


def pad_to_square(img: Image.Image, color: tuple[int, int, int] | tuple[int, int, int, int]) -> Image.Image:
    side = max(img.size)
    fill: int | tuple[int, ...] = color if img.mode in ("RGB", "RGBA") else color[0]
    if img.mode == "RGBA" and len(color) == 3:
        fill = tuple(color) + (0,)
    canvas = Image.new(img.mode, (side, side), fill)
    canvas.paste(img, ((side - img.width) // 2, (side - img.height) // 2))
    return canvas


def square_around(img: Image.Image, box: tuple[float, float, float, float], margin: float, fill) -> Image.Image:
    """The square of side ``(1 + 2 * margin) * max(box side)`` centred on ``box``, padded with ``fill`` outside the
    image.

    Always centred (never shifted back inside the image) so every face sits at the same
    place in its crop: a GAN learns alignment from the data, and a shifted face teaches
    it that faces wander.
    """
    x0, y0, x1, y1 = box
    side = max(1, round(max(x1 - x0, y1 - y0) * (1 + 2 * margin)))
    left, top = round((x0 + x1 - side) / 2), round((y0 + y1 - side) / 2)
    if 0 <= left and 0 <= top and left + side <= img.width and top + side <= img.height:
        return img.crop((left, top, left + side, top + side))
    canvas = Image.new(img.mode, (side, side), fill)
    canvas.paste(img, (-left, -top))
    return canvas


def alpha_box(img: Image.Image, threshold: int = 8) -> tuple[int, int, int, int] | None:
    """Bounding box of the pixels with alpha above ``threshold`` of an RGBA image, or None if none."""
    alpha = np.asarray(img.getchannel("A"))
    ys, xs = np.nonzero(alpha > threshold)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def resize_square(img: Image.Image, resolution: int) -> Image.Image:
    if img.size == (resolution, resolution):
        return img
    if img.mode == "RGBA":
        # Resample premultiplied so transparent pixels' colours do not bleed into the edges.
        return img.convert("RGBa").resize((resolution, resolution), Image.Resampling.LANCZOS,
                                          reducing_gap=3.0).convert("RGBA")
    return img.resize((resolution, resolution), Image.Resampling.LANCZOS, reducing_gap=3.0)


def finish(img: Image.Image, *, resolution: int, channels: int, background: tuple[int, int, int],
           blur: float = 0.0) -> Image.Image:
    """Square image (any mode) -> ``resolution`` px with ``channels`` channels (1 L, 3 RGB, 4 RGBA)."""
    if channels == 4:
        img = to_rgba(img)
    elif img.mode != "RGB":
        img = to_rgb_on_background(img, background)
    img = resize_square(img, resolution)
    if blur > 0:
        # Blur in output pixels, so --blur means the same at every size.
        img = img.filter(ImageFilter.GaussianBlur(blur))
    if channels == 1:
        return img.convert("L")
    return img


def process_image(
    img: Image.Image,
    *,
    resolution: int,
    channels: int,
    crop: str = "center",
    crop_fraction: float = 1.0,
    background: tuple[int, int, int] = (255, 255, 255),
    min_size: int = 0,
    blur: float = 0.0,
    face_margin: float = 0.4,
    faces: str = "largest",
) -> list[tuple[Image.Image, dict]]:
    """Decoded image -> square ``resolution`` px images with ``channels`` channels, each with a note.

    ``crop``: ``center`` (square of ``crop_fraction`` of the short side), ``none``
    (pad to square with ``background``), ``face`` (a square around each detected face,
    ``face_margin`` of the face's side added on every side; ``faces`` = largest | all)
    or ``alpha`` (the square around the opaque pixels of an image with transparency,
    for foreground sets). Resizing uses Lanczos, which antialiases when downscaling.
    The note (a dict, usually empty) records what was chosen, e.g. the face's box, and
    ``upscaled_from`` (the square's side) when the square was smaller than ``resolution``.
    """
    if min(img.size) < min_size:
        raise UnusableImage(f"too small ({img.width}x{img.height} < {min_size} px)")
    if crop == "center":
        squares: list[tuple[Image.Image, dict]] = [(center_crop(img, crop_fraction), {})]
    elif crop == "none":
        base = to_rgba(img) if channels == 4 else to_rgb_on_background(img, background)
        squares = [(pad_to_square(base, background), {})]
    elif crop == "alpha":
        if not has_alpha(img):
            raise UnusableImage("no transparency (a foreground set needs images with an alpha channel)")
        rgba = to_rgba(img)
        box = alpha_box(rgba)
        if box is None:
            raise UnusableImage("fully transparent")
        if box == (0, 0, rgba.width, rgba.height) and np.asarray(rgba.getchannel("A")).min() > 8:
            raise UnusableImage("no transparent pixels (a foreground set needs a cut-out)")
        squares = [(pad_to_square(rgba.crop(box), background + (0,)), {"box": list(box)})]
    elif crop == "face":
        from ganforge.data.faces import detect_faces

        rgb = to_rgb_on_background(img, background)
        boxes = detect_faces(rgb)
        if not boxes:
            raise UnusableImage("no face found")
        if faces == "largest":
            boxes = boxes[:1]
        squares = [(square_around(rgb, b, face_margin, background), {"face": [round(v) for v in b]}) for b in boxes]
    else:
        raise ValueError(f"unknown crop {crop!r}")
    return [(finish(square, resolution=resolution, channels=channels, background=background, blur=blur),
             {**note, "upscaled_from": square.width} if square.width < resolution else note)
            for square, note in squares]
