"""Reference features of a data set, computed once per (content hash, extractor, protocol, count).

The cache file (``$GANFORGE_CACHE/reference/*.npz``) holds the real images' features; FID's
mean and covariance, KID and precision/recall are all derived from them. The key hashes
the data set's SHA-256, the extractor's identity (its weights file's SHA-256), the input protocol,
the number of images and the seed that picked them, so changing any of these can never
reuse stale statistics.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from ganforge.paths import cache_dir
from ganforge.utils import atomic_path


def reference_indices(count: int, n: int | None, seed: int = 0) -> np.ndarray:
    """Sorted indices of the ``n`` reference images (all when n is None or >= count); a fixed
    random subset, because data sets are often ordered by class."""
    if n is None or n >= count:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, n, replace=False))


def reference_key(data_sha256: str, extractor, n: int, seed: int) -> dict:
    return {"data_sha256": data_sha256, "extractor": extractor.identity, "protocol": extractor.protocol,
            "count": int(n), "seed": seed}


def reference_features(dataset, extractor, n: int | None = None, seed: int = 0, log=None) -> np.ndarray:
    """Features (n, F) of the data set's reference images, from the cache or computed and cached."""
    idx = reference_indices(len(dataset), n, seed)
    key = reference_key(dataset.sha256, extractor, len(idx), seed)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    path = cache_dir("reference") / f"{extractor.name}-{dataset.sha256[:12]}-n{len(idx)}-{digest}.npz"
    if path.is_file():
        try:
            with np.load(path) as f:
                if json.loads(str(f["key"])) == key:
                    return f["features"]
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache file is recomputed
    if log:
        print(f"ganforge: computing {extractor.name} features of {len(idx)} reference images (cached for next time)",
              file=log, flush=True)
    features, _ = extractor.extract(dataset.images[idx], log=log)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, features=features, key=json.dumps(key, sort_keys=True))
    return features
