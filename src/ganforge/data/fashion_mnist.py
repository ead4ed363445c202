"""Fashion-MNIST (Xiao et al. 2017): 70,000 28×28 grey garments in 10 classes.

Looked for, in order: ``$GANFORGE_FASHION_MNIST`` (a folder of the four IDX .gz
files), Debian's ``dataset-fashion-mnist`` package (/usr/share/datasets/fashion-mnist),
ganforge's cache, and finally the official download. The gzip files differ between
Debian (recompressed) and upstream, so besides the upstream MD5s of the downloads we
check the SHA-256 of the *decompressed* IDX payload, which is the same in both.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from ganforge.download import download
from ganforge.errors import DataError, DownloadError
from ganforge.paths import cache_dir

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
BASE_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"

# file -> (md5 of the official .gz, sha256 of the decompressed IDX bytes)
FILES = {
    "train-images-idx3-ubyte.gz": ("8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                                   "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    "train-labels-idx1-ubyte.gz": ("25c81989df183df01b3e8a0aad5dffbe",
                                   "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    "t10k-images-idx3-ubyte.gz": ("bef4ecab320f06d8554ea6380940ec79",
                                  "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    "t10k-labels-idx1-ubyte.gz": ("bb300cfdad3c16e7a12a480ee83cd310",
                                  "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
}


def find_files(allow_download: bool = True) -> Path:
    """Folder holding the four .gz files; downloads them into the cache if nowhere else."""
    candidates = [Path(p) for p in [os.environ.get("GANFORGE_FASHION_MNIST")] if p]
    candidates += [DEBIAN_DIR, cache_dir("fashion-mnist")]
    for folder in candidates:
        if all((folder / name).is_file() for name in FILES):
            return folder
    target = cache_dir("fashion-mnist")
    if not allow_download:
        raise DataError(_missing_message(target))
    try:
        for name, (md5, _) in FILES.items():
            download(BASE_URL + name, target / name, md5=md5, timeout=60)
    except DownloadError as e:
        raise DataError(f"{e}. {_missing_message(target)}") from None
    return target


def _missing_message(target: Path) -> str:
    return (
        "Fashion-MNIST not found: install Debian's dataset-fashion-mnist package "
        f"(apt-get install dataset-fashion-mnist), or put {', '.join(FILES)} from {BASE_URL} "
        f"into {target} (or a folder named by GANFORGE_FASHION_MNIST)"
    )


def _read_idx(path: Path, expected_sha256: str) -> np.ndarray:
    import hashlib

    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as e:
        raise DataError(f"{path} is not a readable gzip file ({e})") from None
    if hashlib.sha256(raw).hexdigest() != expected_sha256:
        raise DataError(f"{path} does not hold the official Fashion-MNIST data (checksum mismatch); "
                        "delete it and retry")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(split: str = "all", allow_download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) int64 of ``train``, ``test`` or ``all`` (train then test)."""
    folder = find_files(allow_download)
    parts = {"train": ["train"], "test": ["t10k"], "all": ["train", "t10k"]}[split]
    images, labels = [], []
    for p in parts:
        images.append(_read_idx(folder / f"{p}-images-idx3-ubyte.gz", FILES[f"{p}-images-idx3-ubyte.gz"][1]))
        labels.append(_read_idx(folder / f"{p}-labels-idx1-ubyte.gz", FILES[f"{p}-labels-idx1-ubyte.gz"][1]))
    return np.concatenate(images), np.concatenate(labels).astype(np.int64)
