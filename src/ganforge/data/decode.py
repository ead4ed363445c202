"""Turn a file's bytes into a PIL image, or a short reason why not.

Never raises for bad input: every failure becomes ``SkipReason`` text that the
prepare report lists. Pixel-count limits guard against decompression bombs.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 50_000_000  # larger images are refused (decompression-bomb guard); ~7000×7000


class UnusableImage(Exception):
    """Raised inside the pipeline for a file that cannot be used; the message is the report's reason."""


def decode_image(data: bytes, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode ``data`` to a loaded PIL image (first frame, EXIF orientation applied).

    Raises ``UnusableImage`` with a one-line reason for empty, non-image, truncated,
    oversized or otherwise undecodable files.
    """
    if not data:
        raise UnusableImage("empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            if w * h > max_pixels:
                raise UnusableImage(f"too large ({w}x{h} pixels > {max_pixels})")
            if getattr(img, "n_frames", 1) > 1:
                img.seek(0)  # animated GIF/WebP/PNG: first frame
            img.load()
            img = ImageOps.exif_transpose(img)
    except UnusableImage:
        raise
    except UnidentifiedImageError:
        raise UnusableImage("not an image") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise UnusableImage(f"decompression bomb ({e})") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise UnusableImage(f"cannot decode: {msg}") from None
    if img.width < 1 or img.height < 1:
        raise UnusableImage("image has no pixels")
    return img
