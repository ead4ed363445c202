"""How fast this machine is right now, on a fixed convolutional workload; prints JSON.

A wall-clock benchmark is only as comparable as the machines it ran on, and a shared machine is not
always the same machine: on a cloud host whose neighbours are busy, the same 2 cores ran DCGAN's
training step 1.6x slower than on a quiet day, with this process still getting 100 % of its CPU time
(so neither ``top`` nor the trainer's busy-CPU note can see it). ``quality_per_time.py`` runs this
probe before and after each set-up and keeps the figures with the result; ``quality_report.py``
flags results measured on a slower machine than the rest of their table.

The workload is the forward and backward pass of a fixed DCGAN-shaped network (four 4x4 stride-2
convolutions, 3 -> 64 -> 128 -> 256 -> 512 channels, on a batch of 64 images of 64x64): the kind of
work a GAN step does, written here in plain PyTorch so that the probe measures the machine, not the
ganforge version. Its median step time, after one warm-up pass, over about ``--seconds``.

    python benchmarks/machine_speed.py                 # {"probe_ms": 410.2, ...}
    python benchmarks/machine_speed.py --device cuda
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch
from torch import nn

WORKLOAD = "conv 3-64-128-256-512 (4x4, stride 2), forward+backward, batch 64 at 64x64, float32"


def _network() -> nn.Module:
    layers: list[nn.Module] = []
    for c_in, c_out in ((3, 64), (64, 128), (128, 256), (256, 512)):
        layers += [nn.Conv2d(c_in, c_out, 4, 2, 1), nn.LeakyReLU(0.2)]
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(512 * 4 * 4, 1))


def probe(device: str | torch.device = "cpu", seconds: float = 5.0, min_steps: int = 3) -> dict:
    """The workload's median step time in milliseconds on ``device`` (fixed weights and input: seed 0)."""
    device = torch.device(device)
    gen = torch.Generator().manual_seed(0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = _network().to(device)
    x = torch.randn(64, 3, 64, 64, generator=gen).to(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def step() -> float:
        sync()
        t = time.perf_counter()
        net.zero_grad(set_to_none=True)
        net(x).square().mean().backward()
        sync()
        return time.perf_counter() - t

    step()  # warm-up: allocations, kernel choices
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_steps or time.perf_counter() - start < seconds:
        times.append(step())
    return {"probe_ms": round(1000 * statistics.median(times), 1), "probe_steps": len(times),
            "probe_device": str(device), "probe_threads": torch.get_num_threads(), "probe_workload": WORKLOAD}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--seconds", type=float, default=5.0, help="timed seconds (at least 3 passes)")
    args = p.parse_args()
    print(json.dumps(probe(args.device, args.seconds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
