"""MNIST-style data sets stored as four gzipped IDX files (LeCun et al.'s format): find, fetch, check, read.

``IdxSet`` says where one such set may be: a folder named by an environment variable, a
Debian package's folder, ganforge's cache, then the official download (each file's MD5
checked). Debian recompresses the gzip files, so a local copy is checked on its
*decompressed* payload: its SHA-256 where we know it, else its IDX header (the expected
number of items and their shape).
"""

from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ganforge.download import download
from ganforge.errors import DataError, DownloadError
from ganforge.paths import cache_dir

SPLITS = {"train": ["train"], "test": ["t10k"], "all": ["train", "t10k"]}


@dataclass(frozen=True)
class IdxSet:
    name: str                    # as messages show it, e.g. "Fashion-MNIST"
    cache: str                   # folder name under ganforge's cache
    env: str                     # environment variable naming a folder with the four files
    debian_dir: Path             # where a Debian package puts them
    debian_package: str | None   # that package's name (None: Debian has none)
    base_urls: tuple[str, ...]   # official locations, tried in order
    # file name -> (md5 of the official .gz, sha256 of the decompressed IDX or None, expected shape)
    files: dict[str, tuple[str, str | None, tuple[int, ...]]]


def find_files(s: IdxSet, allow_download: bool = True) -> Path:
    """Folder holding the four .gz files; downloads them into the cache if nowhere else."""
    candidates = [Path(p) for p in [os.environ.get(s.env)] if p]
    candidates += [s.debian_dir, cache_dir(s.cache)]
    for folder in candidates:
        if all((folder / name).is_file() for name in s.files):
            return folder
    target = cache_dir(s.cache)
    if not allow_download:
        raise DataError(missing_message(s, target))
    errors = []
    for base in s.base_urls:
        try:
            for name, (md5, _, _) in s.files.items():
                download(base + name, target / name, md5=md5, timeout=60)
            return target
        except DownloadError as e:
            errors.append(str(e))
    raise DataError(f"{errors[-1]}. {missing_message(s, target)}")


def missing_message(s: IdxSet, target: Path) -> str:
    package = (f"install Debian's {s.debian_package} package (apt-get install {s.debian_package}), or "
               if s.debian_package else "")
    return (f"{s.name} not found: {package}put {', '.join(s.files)} from {s.base_urls[0]} into {target} "
            f"(or a folder named by {s.env})")


def read_idx(path: Path, expected_sha256: str | None, shape: tuple[int, ...], name: str) -> np.ndarray:
    """The array in one gzipped IDX file, checked against its payload's SHA-256 (or its shape when unknown)."""
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as e:
        raise DataError(f"{path} is not a readable gzip file ({e})") from None
    mismatch = DataError(f"{path} does not hold the official {name} data (checksum mismatch); delete it and retry")
    if expected_sha256 is not None and hashlib.sha256(raw).hexdigest() != expected_sha256:
        raise mismatch
    if len(raw) < 4:
        raise mismatch
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    if expected_sha256 is None and tuple(dims) != tuple(shape):
        raise mismatch
    try:
        return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)
    except ValueError:
        raise mismatch from None


def load(s: IdxSet, split: str = "all", allow_download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) int64 of ``train``, ``test`` or ``all`` (train then test)."""
    folder = find_files(s, allow_download)
    images: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    for p in SPLITS[split]:
        for kind, out in (("images-idx3", images), ("labels-idx1", labels)):
            name = f"{p}-{kind}-ubyte.gz"
            _, sha, shape = s.files[name]
            out.append(read_idx(folder / name, sha, shape, s.name))
    return np.concatenate(images), np.concatenate(labels).astype(np.int64)
