"""MNIST (LeCun et al. 1998): 70,000 28×28 grey handwritten digits in 10 classes, the cats thesis's data.

Looked for, in order: ``$GANFORGE_MNIST`` (a folder of the four IDX .gz files),
/usr/share/datasets/mnist (where a Debian package would put them, beside
``dataset-fashion-mnist``; Debian's index on this machine has no MNIST package, so this is
a place to put them, not a promise), ganforge's cache, and finally the official files
(the MD5s every MNIST loader checks), from the mirror PyTorch uses and then Google's.
A local copy is checked on its IDX header (60,000 or 10,000 items of 28×28): the SHA-256
of the decompressed payloads is not written in anything ganforge holds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ganforge.data import idx

CLASSES = [str(d) for d in range(10)]
DEBIAN_DIR = Path("/usr/share/datasets/mnist")
BASE_URLS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/")

# file -> (md5 of the official .gz, sha256 of the decompressed IDX (unknown: None), shape)
FILES: dict[str, tuple[str, str | None, tuple[int, ...]]] = {
    "train-images-idx3-ubyte.gz": ("f68b3c2dcbeaaa9fbdd348bbdeb94873", None, (60000, 28, 28)),
    "train-labels-idx1-ubyte.gz": ("d53e105ee54ea40749a09fcbcd1e9432", None, (60000,)),
    "t10k-images-idx3-ubyte.gz": ("9fb629c4189551a2d022fa330f9573f3", None, (10000, 28, 28)),
    "t10k-labels-idx1-ubyte.gz": ("ec29112dd5afa0611ce80d1b7f02629c", None, (10000,)),
}


def spec() -> idx.IdxSet:
    """Read at each call, so tests can point the module's constants elsewhere."""
    return idx.IdxSet("MNIST", "mnist", "GANFORGE_MNIST", DEBIAN_DIR, None, BASE_URLS, FILES)


def find_files(allow_download: bool = True) -> Path:
    return idx.find_files(spec(), allow_download)


def load(split: str = "all", allow_download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) int64 of ``train``, ``test`` or ``all`` (train then test)."""
    return idx.load(spec(), split, allow_download)
