"""Images per second of ``ganforge data prepare`` (512×512 JPEG -> 64×64) against a bare Pillow loop, and of the loader.

Prints one JSON object:

- ``bare_decode_img_s``: ``Image.open(...).load()`` of each JPEG at full size, one process —
  what any pipeline that decodes full images pays.
- ``bare_decode_resize_img_s``: the same plus a Lanczos resize to 64×64, one process.
- ``bare_draft_decode_img_s``: ``Image.draft`` + ``load()`` at the reduced scale prepare itself
  decodes at (libjpeg's DCT scaling, the cheapest decode that keeps enough pixels), one
  process; ``prepare_vs_bare_draft_decode_1_worker`` is then the share of prepare's time
  that is decoding.
- ``bare_draft_decode_resize_img_s``: the same plus the Lanczos resize to 64×64: the least
  any pipeline of prepare's quality must do per image; ``prepare_vs_bare_draft_decode_resize_1_worker``
  is the share of prepare's time spent on it (the rest: PNG encoding, hashing, writing).
- ``prepare_img_s_1_worker`` / ``prepare_img_s_N_workers``: the whole prepare (read, decode
  with JPEG draft mode, center crop, resize, PNG encode, exact-duplicate hash, write the
  data-set file), one worker and all cores.
- ``loader_img_s_64``: ``BatchLoader`` batches of 256 (or all, if fewer) at 64×64 as float tensors in [-1, 1].

Each figure is the best of ``--repeat`` rounds in which the loops take turns.

    python benchmarks/data_prepare.py [--n 800] [--workers 0] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ganforge.data.dataset import load_dataset  # noqa: E402
from ganforge.data.loader import BatchLoader  # noqa: E402
from ganforge.data.prepare import PrepareOptions, decode_need, prepare  # noqa: E402

LANCZOS = Image.Resampling.LANCZOS


def make_jpegs(folder: Path, n: int) -> None:
    """``n`` 512×512 photo-like JPEGs (smooth gradients + noise, quality 90: realistic decode cost)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:512, 0:512].astype(np.float32)
    for i in range(n):
        base = np.stack([np.sin(x / (20 + i % 7)) * 60, np.cos(y / (15 + i % 5)) * 60, (x + y) / 8], -1) + 128
        img = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(folder / f"{i:05d}.jpg", quality=90)


def rate(n: int, seconds: float) -> float:
    return round(n / seconds, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=800, help="JPEGs to prepare")
    ap.add_argument("--workers", type=int, default=0, help="workers for the parallel run (0: all cores)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds; each figure is the best round")
    ap.add_argument("--loader-seconds", type=float, default=5.0)
    args = ap.parse_args()
    workers = args.workers or os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ.setdefault("GANFORGE_CACHE", str(tmp / "cache"))
        make_jpegs(tmp / "jpegs", args.n)
        files = sorted((tmp / "jpegs").iterdir())
        blobs = [f.read_bytes() for f in files]  # from memory: measure decoding, not the disk

        need = decode_need(64, "center", 1.0)

        def draft_decode(b: bytes) -> Image.Image:
            img = Image.open(io.BytesIO(b))
            img.draft(None, (need, need))
            img.load()
            return img

        loops = {
            "bare_decode": lambda: [Image.open(io.BytesIO(b)).load() for b in blobs],
            "bare_decode_resize": lambda: [Image.open(io.BytesIO(b)).resize((64, 64), LANCZOS) for b in blobs],
            "bare_draft_decode": lambda: [draft_decode(b) for b in blobs],
            "bare_draft_decode_resize": lambda: [draft_decode(b).resize((64, 64), LANCZOS) for b in blobs],
        }
        for w in sorted({1, workers}):
            loops[f"prepare_{w}"] = lambda w=w: prepare(str(tmp / "jpegs"), tmp / f"ds{w}.zip",
                                                        PrepareOptions(resolution=64, workers=w), progress=False)
        # Best of --repeat rounds, the loops taking turns: a busy moment slows one round, not one loop.
        best = dict.fromkeys(loops, float("inf"))
        for _ in range(args.repeat):
            for name, loop in loops.items():
                t = time.perf_counter()
                loop()
                best[name] = min(best[name], time.perf_counter() - t)
        bare, bare_draft, floor = best["bare_decode"], best["bare_draft_decode"], best["bare_draft_decode_resize"]
        results = {w: best[f"prepare_{w}"] for w in sorted({1, workers})}

        ds = load_dataset(tmp / "ds1.zip")
        loader = BatchLoader(ds, min(256, len(ds)), seed=0, flip=True)
        next(loader)
        n_img, t = 0, time.perf_counter()
        while time.perf_counter() - t < args.loader_seconds:
            x, _ = next(loader)
            n_img += x.shape[0]
        loader_s = time.perf_counter() - t

    print(json.dumps({
        "images": args.n,
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "repeat": args.repeat,
        "bare_decode_img_s": rate(args.n, bare),
        "bare_decode_resize_img_s": rate(args.n, best["bare_decode_resize"]),
        "prepare_img_s_1_worker": rate(args.n, results[1]),
        f"prepare_img_s_{workers}_workers": rate(args.n, results[workers]),
        "bare_draft_decode_img_s": rate(args.n, bare_draft),
        "bare_draft_decode_resize_img_s": rate(args.n, floor),
        "prepare_vs_bare_decode_1_worker": round(bare / results[1], 2),
        "prepare_vs_bare_draft_decode_1_worker": round(bare_draft / results[1], 2),
        "prepare_vs_bare_draft_decode_resize_1_worker": round(floor / results[1], 2),
        "loader_img_s_64": rate(n_img, loader_s),
    }, indent=1))


if __name__ == "__main__":
    main()
