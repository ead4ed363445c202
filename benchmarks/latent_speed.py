"""Generation speed on CPU for latent tools: batch-1 latency and batched throughput of 64×64 images,
and the time of one projection / inpainting step.

Prints one JSON object. The generator is DCGAN-64 at the paper's width (512-256-128-64,
z of 100), random weights (speed does not depend on training), or a run's with --run:

    python benchmarks/latent_speed.py [--run RUN] [--device cpu] [--seconds 5] [--threads N]

"latency_ms": median (and 90th percentile) of single-image G(z) -> uint8 calls, float32
eager and with bf16 autocast + channels_last; "images_per_s": batch-64 throughput;
"project_step_ms"/"inpaint_step_ms": one optimiser step with 4 restarts and D features/prior.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import ganforge.latent as L  # noqa: E402
from ganforge.config import ModelConfig  # noqa: E402
from ganforge.models import build_discriminator, build_generator  # noqa: E402
from ganforge.sampling import to_uint8  # noqa: E402


def timed(fn, seconds: float, min_calls: int = 20, sync=lambda: None) -> list[float]:
    for _ in range(3):  # warm-up: allocator, oneDNN kernel choice
        fn()
    sync()
    times, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < min_calls:
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", help="benchmark this run's generator instead of a random DCGAN-64")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seconds", type=float, default=5.0, help="timed seconds per measurement")
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice, one per core)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    if args.run:
        from ganforge.artifacts import load_generator

        G, cfg, state = load_generator(args.run, device=device)
        D = L.load_discriminator(args.run, device, state=state)
    else:
        cfg = ModelConfig(family="dcgan", resolution=64, channels=3, latent_dim=100, width=64).validate()
        torch.manual_seed(0)
        G, D = build_generator(cfg).to(device).eval(), build_discriminator(cfg).to(device).eval()
    G.requires_grad_(False)
    results: dict = {"machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
                     "load_average": round(os.getloadavg()[0], 2), "torch": torch.__version__,
                     "device": str(device), "model": f"{cfg.family} {cfg.resolution}px width {cfg.width}",
                     "g_params": sum(p.numel() for p in G.parameters())}
    z1 = torch.randn(1, cfg.latent_dim, device=device)
    z64 = torch.randn(64, cfg.latent_dim, device=device)
    amp = torch.bfloat16 if device.type == "cpu" else torch.float16

    variants = {"fp32": (G, None)}
    G_fast = build_generator(cfg).to(device).eval().requires_grad_(False)
    G_fast.load_state_dict(G.state_dict())
    G_fast = G_fast.to(memory_format=torch.channels_last)
    variants["bf16_channels_last" if device.type == "cpu" else "fp16_channels_last"] = (G_fast, amp)
    for name, (g, dtype) in variants.items():
        def one(g=g, dtype=dtype, z=z1):
            with torch.inference_mode(), torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                return to_uint8(g(z))

        def batch(g=g, dtype=dtype):
            return one(g, dtype, z64)

        lat = np.array(timed(one, args.seconds, sync=sync)) * 1000
        thr = timed(batch, args.seconds, min_calls=5, sync=sync)
        results[f"latency_ms_{name}"] = {"median": round(float(np.median(lat)), 2),
                                         "p90": round(float(np.percentile(lat, 90)), 2), "calls": len(lat)}
        results[f"images_per_s_{name}_batch64"] = round(64 / float(np.median(thr)), 1)
        print(json.dumps({name: results[f"latency_ms_{name}"]}), file=sys.stderr)

    target = L.render(G, torch.randn(1, cfg.latent_dim))[0]
    mask = L.rectangle_mask(cfg.resolution, cfg.resolution // 4, cfg.resolution // 4, cfg.resolution // 2,
                            cfg.resolution // 2)
    # The lambdas read `steps` when called: it is set to 5, then 25, before each timing (late binding on purpose).
    for name, fn in (("project", lambda: L.project(G, target, steps=steps, restarts=4, D=D, pool=1)),  # noqa: B023
                     ("inpaint", lambda: L.inpaint(G, target, mask, steps=steps, restarts=4, D=D, pool=1))):  # noqa: B023
        steps = 5
        short = float(np.median(timed(fn, 0.0, min_calls=3, sync=sync)))
        steps = 25
        long = float(np.median(timed(fn, 0.0, min_calls=3, sync=sync)))
        results[f"{name}_step_ms"] = round(1000 * (long - short) / 20, 2)  # per step, set-up cost removed
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
