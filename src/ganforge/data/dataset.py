"""The data-set file: one zip of PNGs plus ``dataset.json``, written atomically.

Layout inside the zip::

    dataset.json            {"format": "ganforge-dataset", "version": 1, "resolution": 32,
                             "channels": 1, "count": N, "classes": [...] | null,
                             "source": "...", "params": {...}, "items": [{"file": ..., "source": ..., "label": ...}]}
    images/000000.png ...   square, resolution × resolution, L, RGB or RGBA (foreground sets)

A two-domain set (``ganforge.data.domains``) adds ``"domains": [...]`` and a ``"domain"`` index per
item, and is version 2 (older ganforge refuses it); a one-domain set is still written as version 1.

Reading decodes all PNGs once into a uint8 array (N, H, W, C) and caches it as a
``.npy`` keyed by the file's SHA-256, memory-mapped afterwards: training then only
indexes an array, which is far faster than any model step.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ganforge.data.png import encode_png
from ganforge.errors import DataError
from ganforge.paths import cache_dir
from ganforge.utils import atomic_path, sha256_file

FORMAT = "ganforge-dataset"
VERSION = 2          # the newest version this ganforge reads
ONE_DOMAIN_VERSION = 1
DOMAINS_VERSION = 2  # a two-domain set (its items carry "domain")


class DatasetWriter:
    """Collects processed images and writes the data-set file atomically on ``close()``.

    Use as a context manager: an exception inside the block discards everything and
    leaves any previous file at ``path`` untouched.

    ``channels=None`` lets the images decide: grey ones are added as L PNGs (``grey=True``), others
    as RGB; the set is 1 channel if every image is grey, else 3, and the grey ones are then
    converted to RGB when the file is closed (``settle_channels``).
    """

    def __init__(self, path: str | Path, *, resolution: int, channels: int | None, source: str, params: dict):
        self.path = Path(path)
        self._grey: list[str] = []  # with channels=None: the images added as L PNGs
        self.meta: dict[str, Any] = {
            "format": FORMAT,
            "version": ONE_DOMAIN_VERSION,
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

    def add(self, png: bytes, *, source: str, label: str | None = None, extra: dict | None = None,
            grey: bool = False) -> None:
        index = self.meta["count"]
        name = f"images/{index:06d}.png"
        self._zip.writestr(_entry(name), png)
        if grey:
            self._grey.append(name)
        record = {"file": name, "source": source}
        if label is not None:
            record["label"] = label
        if extra:
            record.update(extra)
        self.meta["items"].append(record)
        self.meta["count"] += 1

    def __enter__(self) -> DatasetWriter:
        return self

    def settle_channels(self) -> int:
        """With ``channels=None``: fix the channel count (1 if every image is grey, else 3, converting
        the grey ones); returns it."""
        if self.meta["channels"] is None:
            self.meta["channels"] = 1 if self._grey and len(self._grey) == self.meta["count"] else 3
            if self.meta["channels"] == 3 and self._grey:
                self._zip.close()
                grey, rgb = set(self._grey), self._tmp.with_name(self._tmp.name + ".rgb")
                try:
                    with zipfile.ZipFile(self._tmp) as old, zipfile.ZipFile(rgb, "w", zipfile.ZIP_STORED) as new:
                        for info in old.infolist():
                            data = old.read(info)
                            if info.filename in grey:
                                data = encode_png(Image.open(io.BytesIO(data)).convert("RGB"))
                            new.writestr(info, data)
                    os.replace(rgb, self._tmp)
                finally:
                    rgb.unlink(missing_ok=True)
                self._zip = zipfile.ZipFile(self._tmp, "a", compression=zipfile.ZIP_STORED)
        return self.meta["channels"]

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self.settle_channels()
                labels = sorted({r["label"] for r in self.meta["items"] if "label" in r})
                if labels:
                    self.meta["classes"] = labels
                    for r in self.meta["items"]:
                        r["label_id"] = labels.index(r["label"]) if "label" in r else -1
                self._zip.writestr(_entry("dataset.json"), json.dumps(self.meta, indent=1))
            self._zip.close()
        except BaseException as e:  # e.g. a full disk or Ctrl-C while finishing: the temporary file goes too
            self._zip.close()
            self._atomic.__exit__(type(e), e, e.__traceback__)
            raise
        self._atomic.__exit__(exc_type, exc, tb)


def _entry(name: str) -> zipfile.ZipInfo:
    """A stored zip entry with a fixed date: the same images give the same file, so its SHA-256 (which
    benchmark results record) names the content, not the moment it was written."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16  # rw-r--r-- when unzipped (a bare ZipInfo would give mode 000)
    return info


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

    @property
    def domains(self) -> list[dict] | None:
        """A two-domain set's domains (A then B: key, name, count, source, ...), else None."""
        return self.info.get("domains")

    def domain_indices(self, d: int) -> np.ndarray:
        """Indices (int64, ascending) of domain ``d``'s images (0 is A, 1 is B)."""
        return np.array([i for i, r in enumerate(self.info["items"]) if r.get("domain") == d], dtype=np.int64)


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
        raise DataError(f"{path} was written by a newer ganforge (data-set version {info['version']}); "
                        "upgrade ganforge")
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
