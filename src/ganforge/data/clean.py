"""Cleaning: exact duplicates by content hash, near duplicates by perceptual hash.

Scraped and collected image sets are full of repeats: the same file twice, the same
picture re-encoded, resized or lightly recompressed. Exact duplicates are found by the
SHA-256 of the source bytes (or pixels, for built-in sources); near duplicates by the
Hamming distance between 64-bit DCT perceptual hashes of the *prepared* images, so
what is compared is what the GAN would see. The first occurrence in source order wins.
"""

from __future__ import annotations

import hashlib

import numpy as np
from PIL import Image

DEFAULT_NEAR_THRESHOLD = 6  # bits of 64; re-encodes and small resizes differ by 0-4, distinct photos by ~32


def content_hash(data: bytes | Image.Image) -> str:
    if isinstance(data, Image.Image):
        data = data.mode.encode() + str(data.size).encode() + data.tobytes()
    return hashlib.sha256(data).hexdigest()


def phash(img: Image.Image) -> int:
    """64-bit perceptual hash: signs of the 8×8 lowest DCT frequencies (less the DC term) vs. their median."""
    from scipy.fft import dctn

    grey = np.asarray(img.convert("L").resize((32, 32), Image.Resampling.BOX), dtype=np.float64)
    low = dctn(grey, norm="ortho")[:8, :8].ravel()
    bits = low > np.median(low[1:])
    return int(np.packbits(bits.astype(np.uint8)).view(">u8")[0])


class NearDuplicateIndex:
    """Hashes seen so far; ``match(h)`` is the index of one within ``threshold`` bits, or None."""

    def __init__(self, threshold: int = DEFAULT_NEAR_THRESHOLD):
        self.threshold = threshold
        self._hashes = np.zeros(1024, dtype=np.uint64)
        self._n = 0
        self.owners: list[object] = []
        self.last_owner: object | None = None  # the owner of the last match, for the report

    def match(self, h: int) -> object | None:
        if self._n == 0:
            return None
        x = self._hashes[: self._n] ^ np.uint64(h)
        d = _popcount(x)
        i = int(d.argmin())
        return self.owners[i] if d[i] <= self.threshold else None

    def add(self, h: int, owner: object) -> None:
        if self._n == len(self._hashes):
            self._hashes = np.concatenate([self._hashes, np.zeros_like(self._hashes)])
        self._hashes[self._n] = h
        self._n += 1
        self.owners.append(owner)


def _popcount(x: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):  # numpy >= 2
        return np.bitwise_count(x)
    return np.unpackbits(x.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)
