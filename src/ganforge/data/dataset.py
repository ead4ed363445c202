"""The data-set file: one zip of PNGs plus ``dataset.json``, written atomically.

Layout inside the zip::

    dataset.json            {"format": "ganforge-dataset", "version": 1, "resolution": 32,
                             "channels": 1, "count": N, "classes": [...] | null,
                             "source": "...", "params": {...}, "items": [{"file": ..., "source": ..., "label": ...}]}
    images/000000.png ...   square, resolution × resolution, L, RGB or RGBA (foreground sets)

Reading decodes all PNGs once into a uint8 array (N, H, W, C) and caches it as a
``.npy`` keyed by the file's SHA-256, memory-mapped afterwards: training then only
indexes an array, which is far faster than any model step.
"""

from __future__ import annotations

import io
import json
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ganforge.errors import DataError
from ganforge.paths import cache_dir
from ganforge.utils import atomic_path, sha256_file

FORMAT = "ganforge-dataset"
VERSION = 1


class DatasetWriter:
    """Collects processed images and writes the data-set file atomically on ``close()``.

    Use as a context manager: an exception inside the block discards everything and
    leaves any previous file at ``path`` untouched.
    """

    def __init__(self, path: str | Path, *, resolution: int, channels: int, source: str, params: dict):
        self.path = Path(path)
        self.meta = {
            "format": FORMAT,
            "version": VERSION,
            "resolution": resolution,
            "channels": channels,
            "count": 0,
            "classes": None,
            "source": source,
            "params": params,
            "items": [],
        }
        self._atomic = atomic_path(self.path)
        self._tmp = self._atomic.__enter__()
        self._zip = zipfile.ZipFile(self._tmp, "w", compression=zipfile.ZIP_STORED)  # PNGs are compressed already

    def add(self, png: bytes, *, source: str, label: str | None = None, extra: dict | None = None) -> None:
        index = self.meta["count"]
        name = f"images/{index:06d}.png"
        self._zip.writestr(name, png)
        record = {"file": name, "source": source}
        if label is not None:
            record["label"] = label
        if extra:
            record.update(extra)
        self.meta["items"].append(record)
        self.meta["count"] += 1

    def __enter__(self) -> "DatasetWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            labels = sorted({r["label"] for r in self.meta["items"] if "label" in r})
            if labels:
                self.meta["classes"] = labels
                for r in self.meta["items"]:
                    r["label_id"] = labels.index(r["label"]) if "label" in r else -1
            self._zip.writestr("dataset.json", json.dumps(self.meta, indent=1))
        self._zip.close()
        self._atomic.__exit__(exc_type, exc, tb)


@dataclass
class Dataset:
    """A loaded data set: ``images`` uint8 (N, H, W, C), ``labels`` int64 (N,) or None."""

    path: Path
    info: dict
    images: np.ndarray
    labels: np.ndarray | None
    sha256: str

    @property
    def resolution(self) -> int:
        return int(self.info["resolution"])

    @property
    def channels(self) -> int:
        return int(self.info["channels"])

    @property
    def classes(self) -> list[str] | None:
        return self.info.get("classes")

    def __len__(self) -> int:
        return len(self.images)


def read_info(path: str | Path) -> dict:
    """``dataset.json`` of a data-set file, checked for format and version."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no data set at {path} (make one with: ganforge data prepare SRC --out {path})")
    try:
        with zipfile.ZipFile(path) as zf:
            info = json.loads(zf.read("dataset.json"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, OSError):
        raise DataError(f"{path} is not a ganforge data set (make one with: ganforge data prepare)") from None
    if info.get("format") != FORMAT:
        raise DataError(f"{path} is not a ganforge data set")
    if info.get("version", 0) > VERSION:
        raise DataError(f"{path} was written by a newer ganforge (data-set version {info['version']}); upgrade ganforge")
    return info


def load_dataset(path: str | Path, use_cache: bool = True) -> Dataset:
    path = Path(path)
    info = read_info(path)
    digest = sha256_file(path)
    labels = None
    if info.get("classes"):
        labels = np.array([r.get("label_id", -1) for r in info["items"]], dtype=np.int64)
    cache = cache_dir("datasets") / f"{digest}.npy"
    if use_cache and cache.is_file():
        try:
            images = np.load(cache, mmap_mode="r")
            if images.shape[0] == info["count"]:
                return Dataset(path, info, images, labels, digest)
        except (OSError, ValueError):
            pass  # a damaged cache is rebuilt below
    images = _decode_all(path, info)
    if use_cache:
        with atomic_path(cache) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, images)
        images = np.load(cache, mmap_mode="r")
    return Dataset(path, info, images, labels, digest)


def _decode_all(path: Path, info: dict) -> np.ndarray:
    r, c = int(info["resolution"]), int(info["channels"])
    n = int(info["count"])
    out = np.empty((n, r, r, c), dtype=np.uint8)
    mode = {1: "L", 3: "RGB", 4: "RGBA"}.get(c)
    if mode is None:
        raise DataError(f"{path} has {c} channels; ganforge reads 1 (grey), 3 (RGB) or 4 (RGBA)")
    with zipfile.ZipFile(path) as zf:
        blobs = [zf.read(rec["file"]) for rec in info["items"]]

    def decode(i: int) -> None:
        img = Image.open(io.BytesIO(blobs[i]))
        if img.size != (r, r) or img.mode != mode:
            raise DataError(f"{path}: {info['items'][i]['file']} is {img.size} {img.mode}, expected {r}x{r} {mode}")
        out[i] = np.asarray(img).reshape(r, r, c)

    # zlib releases the GIL, so threads speed up PNG decoding.
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(decode, range(n), chunksize=256))
    return out
