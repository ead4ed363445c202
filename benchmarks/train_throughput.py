"""Images per second of full training steps (one D and one G update) and of data loading.

"families" times other families' default steps the same way (the "fast" runtime): stylegan2 at 32
and 64 px as the ``stylegan2-cpu-32`` preset builds it (its loss with lazy R1 every 16 steps, so a
step's time is averaged over a whole number of R1 intervals only when ``--seconds`` allows).

Prints one JSON object. Each configuration runs the real ``Trainer.train_step`` on a
synthetic data set, after warm-up steps, for about ``--seconds`` seconds, the configurations
taking turns step by step (so load changes hit them alike). The model is DCGAN at width 64
unless ``--model``/``--width`` say otherwise (its family's ``TRAIN_DEFAULTS`` give the loss and
augmentation, as ``ganforge train`` would):

    python benchmarks/train_throughput.py [--device cpu] [--seconds 20] [--augment ada --augment-p 1]
    python benchmarks/train_throughput.py [--device cpu] [--seconds 20] [--model fastgan --width 16]

"speedup_64" is the sped-up DCGAN-64 step over the plain float32 eager step, same run.
"achieved_gflops" is each step's FLOPs (PyTorch's FLOP counter) over its time, and
"matmul_gflops" the rate of a large matrix product per dtype on the same device: no
step can beat its FLOPs at that rate, so "speedup_64_ceiling" (the best matmul rate
over the plain step's achieved rate) bounds what any speed-up of the same step can give.
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

from ganforge import models  # noqa: E402
from ganforge.config import ModelConfig, TrainConfig  # noqa: E402
from ganforge.data.dataset import DatasetWriter, load_dataset  # noqa: E402
from ganforge.data.loader import BatchLoader  # noqa: E402
from ganforge.data.png import encode_png  # noqa: E402
from ganforge.device import resolve_device  # noqa: E402
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


def synchronizer(device: torch.device):
    """What makes a timing wait for the device's queued work (CUDA runs asynchronously)."""
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def time_variants(data: Path, out: Path, resolution: int, device: str, seconds: float, warmup: int = 3,
                  augment: str = "", augment_p: float | None = None, family: str = "dcgan",
                  width: int = 64) -> list[dict]:
    """Every variant's full training step (one D and one G update) of ``family`` at ``width``, batch 64.

    The variants take turns, one step each, so a change in the machine's load during the run
    affects all of them alike and their ratio stays meaningful.
    """
    trainers = {}
    for name, precision, cl, fused in VARIANTS:
        if name == "bf16" and device != "cuda" and resolution != 64:
            continue  # one CPU bf16 figure (64 px) is enough to show it is not the fast choice here
        cfg = TrainConfig.from_dict({**models.train_defaults(family), "data": str(data), "out": str(out / name),
                                     "batch_size": 64, "device": device, "precision": precision,
                                     "channels_last": cl, "fused_adam": fused,
                                     **({"augment": augment, "augment_p": augment_p} if augment else {})})
        trainers[name] = Trainer(cfg, ModelConfig(family=family, width=width))
    first = next(iter(trainers.values()))
    flops = step_flops(first)  # the same for every variant: same model, same batch
    sync = synchronizer(first.runtime.device)
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
    return [{"resolution": resolution, "variant": name, "augment": augment, "augment_p": augment_p,
             "runtime": t.runtime.describe(), "fused_adam": t.runtime.fused_adam,
             "steps": steps, "step_ms": round(1000 * spent[name] / steps, 1),
             "images_per_s": round(steps * 64 / spent[name], 1), "step_gflop": round(flops / 1e9, 1),
             "achieved_gflops": round(flops * steps / spent[name] / 1e9, 1)} for name, t in trainers.items()]


# family -> (ModelConfig, TrainConfig overrides): the preset sizes (stylegan2: its laptop preset)
FAMILIES = {
    "stylegan2": (dict(family="stylegan2", width=32, latent_dim=128, options={"map_layers": 4, "max_width": 256}),
                  dict(loss="stylegan2", batch_size=16, lr_g=0.0025, lr_d=0.0025, beta1=0.0, beta2=0.99,
                       r1_gamma=0.0128, ema_kimg=5.0)),
}


def time_family(family: str, data: Path, out: Path, resolution: int, device: str, seconds: float,
                warmup: int = 2) -> dict:
    """One family's full training step in the "fast" runtime: images/s, GFLOP per step, achieved GFLOP/s."""
    model, train = FAMILIES[family]
    cfg = TrainConfig(data=str(data), out=str(out / family), device=device, **train)
    trainer = Trainer(cfg, ModelConfig(**model))
    trainer.step = 1  # a step without the lazy regularisers: the FLOP counter cannot follow autograd.grad
    flops = step_flops(trainer)
    trainer.step = 0
    sync = synchronizer(trainer.runtime.device)
    for _ in range(warmup):
        trainer.train_step()
        trainer.step += 1  # the step number drives the lazy schedules (R1 every 16)
    spent, steps = 0.0, 0
    while spent < seconds or steps < 3:
        sync()
        t = time.perf_counter()
        trainer.train_step()
        sync()
        spent += time.perf_counter() - t
        steps += 1
        trainer.step += 1
    batch = cfg.batch_size
    return {"family": family, "resolution": resolution, "runtime": trainer.runtime.describe(), "batch": batch,
            "steps": steps, "step_ms": round(1000 * spent / steps, 1), "images_per_s": round(steps * batch / spent, 1),
            "step_gflop": round(flops / 1e9, 2),  # of a step without lazy regularisation
            "achieved_gflops": round(flops * steps / spent / 1e9, 1)}


def step_flops(trainer: Trainer) -> int:
    """Floating-point operations of one full training step (PyTorch's FLOP counter: convolutions, matmuls,
    their backward)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        trainer.train_step()
    return counter.get_total_flops()


def matmul_gflops(device: torch.device, dtype: torch.dtype, n: int = 2048, seconds: float = 1.0) -> float:
    """GFLOP/s of an n×n matrix product: about the most this device's math library gets from its cores."""
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    sync = synchronizer(device)
    a @ b
    sync()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    sync()
    return round(2 * n**3 * count / (time.perf_counter() - start) / 1e9, 1)


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
    ap.add_argument("--augment", default="", help="augmentation before D in every step: a DiffAugment policy or 'ada'")
    ap.add_argument("--augment-p", type=float, help="with --augment ada: its fixed probability (else p starts at 0)")
    ap.add_argument("--families", default=",".join(FAMILIES), help="other families to time (comma list; '' none)")
    ap.add_argument("--families-only", action="store_true", help="skip the DCGAN variants (a quick family figure)")
    ap.add_argument("--model", default="dcgan", choices=[n for n in models.MODELS if not models.is_composite(n)],
                    help="model family (default: dcgan)")
    ap.add_argument("--width", type=int, default=64, help="base width of its networks (default: 64)")
    args = ap.parse_args()
    families = [f for f in args.families.split(",") if f]
    os.environ.setdefault("GANFORGE_CACHE", tempfile.mkdtemp(prefix="ganforge-bench-cache-"))
    results: dict = {"machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
                     "torch": torch.__version__, "model": args.model, "width": args.width, "configs": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for res in (32, 64):
            data = make_dataset(tmp / f"synthetic-{res}.zip", res)
            results[f"loading_images_per_s_{res}"] = loading_rate(data)
            for family in families:
                r = time_family(family, data, tmp / f"runs-{res}", res, args.device, args.seconds)
                results.setdefault("families", []).append(r)
                print(json.dumps(r), file=sys.stderr)
            if args.families_only:
                continue
            for r in time_variants(data, tmp / f"runs-{res}", res, args.device, args.seconds,
                                   augment=args.augment, augment_p=args.augment_p, family=args.model,
                                   width=args.width):
                results["configs"].append(r)
                print(json.dumps(r), file=sys.stderr)
    device = resolve_device(args.device)
    results["matmul_gflops"] = {name: matmul_gflops(device, dtype) for name, dtype in
                                (("fp32", torch.float32), ("bf16", torch.bfloat16), ("fp16", torch.float16))}
    best = max(results["matmul_gflops"].values())
    for r in results.get("families", []):  # the share of the device's best matrix-product rate each step reaches
        r["share_of_matmul"] = round(r["achieved_gflops"] / best, 3)
    if args.families_only:
        print(json.dumps(results, indent=2))
        return
    by = {(c["resolution"], c["variant"]): c for c in results["configs"]}
    for res in (32, 64):
        results[f"speedup_{res}"] = round(by[(res, "fast")]["images_per_s"] / by[(res, "plain")]["images_per_s"], 2)
    # The ceiling: a step can go no faster than its FLOPs at the device's matrix-product rate.
    results["speedup_64_ceiling"] = round(best / by[(64, "plain")]["achieved_gflops"], 2)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
