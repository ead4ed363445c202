"""Turn a file's bytes into a PIL image, or a short reason why not.

Never raises for bad input: every failure becomes an ``UnusableImage`` whose text the
prepare report lists. Pixel-count limits guard against decompression bombs, and JPEGs
far larger than needed are decoded at 1/2, 1/4 or 1/8 scale by libjpeg itself (draft
mode), so a 100-megapixel photo costs the memory of a small one.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

MAX_PIXELS = 50_000_000  # larger decoded images are refused (decompression-bomb guard); ~7000×7000
# A JPEG's header may claim up to this many pixels if draft mode can shrink it below MAX_PIXELS.
MAX_JPEG_PIXELS = 64 * MAX_PIXELS


class UnusableImage(Exception):
    """Raised inside the pipeline for a file that cannot be used; the message is the report's reason."""


def decode_image(data: bytes, max_pixels: int = MAX_PIXELS, *, need: int | None = None,
                 min_side: int = 0) -> Image.Image:
    """Decode ``data`` to a loaded PIL image (first frame, EXIF orientation applied).

    ``need``: the smallest short side the caller can use; JPEGs are decoded at the
    largest libjpeg reduction that keeps both sides at least ``need``. ``min_side``:
    refuse images whose short side (in the file, before any reduction) is smaller.
    Raises ``UnusableImage`` with a one-line reason for empty, non-image, truncated,
    oversized or otherwise undecodable files; never anything else, except MemoryError.
    """
    if not data:
        raise UnusableImage("empty file")
    # Our own limits below replace Pillow's global one (which would refuse a 100-megapixel
    # JPEG that draft mode decodes at 1/8 scale without trouble).
    Image.MAX_IMAGE_PIXELS = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img: Image.Image = Image.open(io.BytesIO(data))
            w, h = img.size
            if w < 1 or h < 1:
                raise UnusableImage("image has no pixels")
            if min(w, h) < min_side:
                raise UnusableImage(f"too small ({w}x{h} < {min_side} px)")
            if img.format in ("JPEG", "MPO") and need:
                # Both sides stay >= need (draft picks a scale that keeps the requested size).
                img.draft(None, (min(need, w), min(need, h)))
            limit = MAX_JPEG_PIXELS if img.format in ("JPEG", "MPO") else max_pixels
            if w * h > limit or img.width * img.height > max_pixels:
                raise UnusableImage(f"too large ({w}x{h} pixels > {max_pixels})")
            if getattr(img, "n_frames", 1) > 1:
                img.seek(0)  # animated GIF/WebP/PNG: first frame
            img.load()
            img = ImageOps.exif_transpose(img)
    except UnusableImage:
        raise
    except MemoryError:
        raise
    except UnidentifiedImageError:
        raise UnusableImage("not an image") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise UnusableImage(f"decompression bomb ({e})") from None
    except Exception as e:  # noqa: BLE001 - untrusted bytes: any decoder failure means "unusable", with its reason
        raise UnusableImage(f"cannot decode: {_describe(e)}") from None
    return img


def _describe(e: Exception) -> str:
    msg = str(e).splitlines()[0] if str(e) else ""
    if "truncated" in msg or isinstance(e, EOFError):
        return f"truncated file ({msg or type(e).__name__})"
    if isinstance(e, (OSError, SyntaxError, ValueError)) and msg:
        return msg
    return f"{type(e).__name__}: {msg}".rstrip(": ")


# Truncated files are refused, not padded with grey: a half-grey face is worse than one face fewer.
ImageFile.LOAD_TRUNCATED_IMAGES = False
