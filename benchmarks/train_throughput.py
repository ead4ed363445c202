"""Images per second of full DCGAN training steps (one D and one G update) and of data loading.

Prints one JSON object. Each configuration runs the real ``Trainer.train_step`` on a
synthetic data set, after warm-up steps, for ``--seconds`` seconds:

    python benchmarks/train_throughput.py [--device cpu] [--seconds 20]

"speedup_64" is the sped-up DCGAN-64 step over the plain float32 eager step, same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ganforge.config import ModelConfig, TrainConfig  # noqa: E402
from ganforge.data.dataset import DatasetWriter, encode_png, load_dataset  # noqa: E402
from ganforge.data.loader import BatchLoader  # noqa: E402
from ganforge.train import Trainer  # noqa: E402


def make_dataset(path: Path, resolution: int, n: int = 2048) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    with DatasetWriter(path, resolution=resolution, channels=3, source="synthetic", params={}) as w:
        for _ in range(n):
            w.add(encode_png(Image.fromarray(rng.integers(0, 256, (resolution, resolution, 3), dtype=np.uint8))),
                  source="random")
    return path


def time_steps(data: Path, out: Path, resolution: int, precision: str, channels_last: str, device: str,
               seconds: float, warmup: int = 3) -> dict:
    cfg = TrainConfig(data=str(data), out=str(out), batch_size=64, device=device, precision=precision,
                      channels_last=channels_last)
    trainer = Trainer(cfg, ModelConfig(family="dcgan", width=64))
    for _ in range(warmup):
        trainer.train_step()
    sync = torch.cuda.synchronize if trainer.runtime.device.type == "cuda" else (lambda: None)
    sync()
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or steps < 3:
        trainer.train_step()
        steps += 1
    sync()
    elapsed = time.perf_counter() - start
    return {"resolution": resolution, "runtime": trainer.runtime.describe(), "steps": steps,
            "step_ms": round(1000 * elapsed / steps, 1), "images_per_s": round(steps * 64 / elapsed, 1)}


def loading_rate(data: Path, seconds: float = 3.0) -> float:
    ds = load_dataset(data)
    loader = BatchLoader(ds, 64, flip=True)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        x, _ = next(loader)
        n += len(x)
    return round(n / (time.perf_counter() - start), 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seconds", type=float, default=20.0, help="timed seconds per configuration")
    args = ap.parse_args()
    os.environ.setdefault("GANFORGE_CACHE", tempfile.mkdtemp(prefix="ganforge-bench-cache-"))
    results: dict = {"machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
                     "torch": torch.__version__, "configs": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for res in (32, 64):
            data = make_dataset(tmp / f"synthetic-{res}.zip", res)
            results[f"loading_images_per_s_{res}"] = loading_rate(data)
            for precision, cl, name in (("fp32", "off", "plain"), ("auto", "auto", "fast")):
                r = time_steps(data, tmp / f"run-{res}-{name}", res, precision, cl, args.device, args.seconds)
                r["variant"] = name
                results["configs"].append(r)
                print(json.dumps(r), file=sys.stderr)
    by = {(c["resolution"], c["variant"]): c["images_per_s"] for c in results["configs"]}
    for res in (32, 64):
        results[f"speedup_{res}"] = round(by[(res, "fast")] / by[(res, "plain")], 2)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
