"""Fashion-MNIST (Xiao et al. 2017): 70,000 28×28 grey garments in 10 classes.

Looked for, in order: ``$GANFORGE_FASHION_MNIST`` (a folder of the four IDX .gz
files), Debian's ``dataset-fashion-mnist`` package (/usr/share/datasets/fashion-mnist),
ganforge's cache, and finally the official download. The gzip files differ between
Debian (recompressed) and upstream, so besides the upstream MD5s of the downloads we
check the SHA-256 of the *decompressed* IDX payload, which is the same in both.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ganforge.data import idx

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


def _spec() -> idx.IdxSet:
    """Read at each call, so tests can point the module's constants elsewhere."""
    shapes = {"train-images": (60000, 28, 28), "train-labels": (60000,), "t10k-images": (10000, 28, 28),
              "t10k-labels": (10000,)}
    files: dict[str, tuple[str, str | None, tuple[int, ...]]] = {
        name: (md5, sha, shapes[name.split("-idx")[0]]) for name, (md5, sha) in FILES.items()}
    return idx.IdxSet("Fashion-MNIST", "fashion-mnist", "GANFORGE_FASHION_MNIST", DEBIAN_DIR, "dataset-fashion-mnist",
                      (BASE_URL,), files)


def find_files(allow_download: bool = True) -> Path:
    """Folder holding the four .gz files; downloads them into the cache if nowhere else."""
    return idx.find_files(_spec(), allow_download)


def _read_idx(path: Path, expected_sha256: str) -> np.ndarray:
    return idx.read_idx(path, expected_sha256, (), "Fashion-MNIST")


def load(split: str = "all", allow_download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) int64 of ``train``, ``test`` or ``all`` (train then test)."""
    return idx.load(_spec(), split, allow_download)
