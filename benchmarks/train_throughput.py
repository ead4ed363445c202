"""Images per second of full DCGAN training steps (one D and one G update) and of data loading.

Prints one JSON object. Each configuration runs the real ``Trainer.train_step`` on a
synthetic data set, after warm-up steps, for about ``--seconds`` seconds, the configurations
taking turns step by step (so load changes hit them alike):

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


# (name, precision, channels_last, fused_adam): "plain" is the float32 eager step anyone writes first;
# "fast" is what --precision auto etc. pick on this device; the others show where the difference comes from.
VARIANTS = (("plain", "fp32", "off", "off"), ("channels_last", "fp32", "on", "off"),
            ("fast", "auto", "auto", "auto"), ("bf16", "bf16", "on", "auto"))


def time_variants(data: Path, out: Path, resolution: int, device: str, seconds: float, warmup: int = 3) -> list[dict]:
    """Every variant's full training step (one D and one G update), DCGAN width 64, batch 64.

    The variants take turns, one step each, so a change in the machine's load during the run
    affects all of them alike and their ratio stays meaningful.
    """
    trainers = {}
    for name, precision, cl, fused in VARIANTS:
        if name == "bf16" and device != "cuda" and resolution != 64:
            continue  # one CPU bf16 figure (64 px) is enough to show it is not the fast choice here
        cfg = TrainConfig(data=str(data), out=str(out / name), batch_size=64, device=device, precision=precision,
                          channels_last=cl, fused_adam=fused)
        trainers[name] = Trainer(cfg, ModelConfig(family="dcgan", width=64))
    first = next(iter(trainers.values()))
    sync = torch.cuda.synchronize if first.runtime.device.type == "cuda" else (lambda: None)
    for trainer in trainers.values():
        for _ in range(warmup):
            trainer.train_step()
    spent = dict.fromkeys(trainers, 0.0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds * len(trainers) or steps < 3:
        for name, trainer in trainers.items():
            sync()
            t = time.perf_counter()
            trainer.train_step()
            sync()
            spent[name] += time.perf_counter() - t
        steps += 1
    return [{"resolution": resolution, "variant": name, "runtime": t.runtime.describe(), "fused_adam": t.runtime.fused_adam,
             "steps": steps, "step_ms": round(1000 * spent[name] / steps, 1),
             "images_per_s": round(steps * 64 / spent[name], 1)} for name, t in trainers.items()]


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
            for r in time_variants(data, tmp / f"runs-{res}", res, args.device, args.seconds):
                results["configs"].append(r)
                print(json.dumps(r), file=sys.stderr)
    by = {(c["resolution"], c["variant"]): c["images_per_s"] for c in results["configs"]}
    for res in (32, 64):
        results[f"speedup_{res}"] = round(by[(res, "fast")] / by[(res, "plain")], 2)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
