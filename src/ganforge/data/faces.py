"""Offline face detection with the Haar cascades that ship inside ``opencv-python-headless`` 4.x.

Nothing is downloaded: the cascade XML files are package data (``cv2.data.haarcascades``;
OpenCV 5 ships none, hence the ``<5`` pin). The frontal-face cascade finds upright
frontal faces; the profile cascade adds side views. Detection runs on a copy whose
long side is at most ``DETECT_SIDE`` pixels, which is fast and loses only faces too
small to be worth cropping anyway.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from ganforge.errors import DataError

DETECT_SIDE = 640          # long side of the image the detector sees (px)
MIN_FACE_FRACTION = 0.08   # faces smaller than this fraction of the short side are ignored

_CASCADES: dict[str, object] = {}  # per process: cv2 objects cannot be pickled to workers


def _cascade(name: str):
    if name not in _CASCADES:
        try:
            import cv2
        except ImportError:
            raise DataError("--crop face needs OpenCV: pip install 'opencv-python-headless<5'") from None
        path = os.path.join(getattr(getattr(cv2, "data", None), "haarcascades", ""), name)
        cascade = cv2.CascadeClassifier(path)
        if cascade.empty():
            raise DataError(f"OpenCV has no face detector at {path} (OpenCV 5 ships none: pip install "
                            "'opencv-python-headless<5')")
        _CASCADES[name] = cascade
    return _CASCADES[name]


def check_available() -> str | None:
    """None if face detection works offline here, else the reason."""
    try:
        _cascade("haarcascade_frontalface_default.xml")
    except DataError as e:
        return str(e)
    return None


def detect_faces(img: Image.Image, min_neighbors: int = 5) -> list[tuple[float, float, float, float]]:
    """Face boxes (x0, y0, x1, y1) in ``img``'s pixels, largest first; [] if none.

    Overlapping detections (frontal and profile finding the same face) are merged.
    Images that are already tight face crops (forehead to chin, like Olivetti) give the
    cascade no context, so when nothing is found the search is repeated on a copy with
    a flat border of a quarter side; boxes are clipped back to the image.
    """
    boxes = _detect(img, min_neighbors)
    if boxes:
        return boxes
    pad = max(img.size) // 4
    grey = img.convert("L")
    canvas = Image.new("L", (img.width + 2 * pad, img.height + 2 * pad), int(np.median(np.asarray(grey))))
    canvas.paste(grey, (pad, pad))
    clipped = []
    for x0, y0, x1, y1 in _detect(canvas, min_neighbors):
        box = (max(0.0, x0 - pad), max(0.0, y0 - pad), min(float(img.width), x1 - pad),
               min(float(img.height), y1 - pad))
        if (box[2] - box[0]) * (box[3] - box[1]) >= 0.5 * (x1 - x0) * (y1 - y0):  # mostly inside the image
            clipped.append(box)
    return clipped


def _detect(img: Image.Image, min_neighbors: int) -> list[tuple[float, float, float, float]]:
    import cv2

    scale = min(1.0, DETECT_SIDE / max(img.size))
    small = img.convert("L")
    if scale < 1:
        small = small.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                             Image.Resampling.BILINEAR)
    grey = cv2.equalizeHist(np.asarray(small))
    min_side = max(20, round(min(small.size) * MIN_FACE_FRACTION))
    boxes: list[tuple[float, float, float, float]] = []
    for name in ("haarcascade_frontalface_default.xml", "haarcascade_profileface.xml"):
        found = _cascade(name).detectMultiScale(grey, scaleFactor=1.1, minNeighbors=min_neighbors,
                                                minSize=(min_side, min_side))
        for x, y, w, h in (found if len(found) else []):
            box = (float(x) / scale, float(y) / scale, float(x + w) / scale, float(y + h) / scale)
            if all(_iou(box, b) < 0.3 for b in boxes):
                boxes.append(box)
        if boxes and name.startswith("haarcascade_frontal"):
            break  # the profile cascade only for images without a frontal face
    boxes.sort(key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))
    return boxes


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
