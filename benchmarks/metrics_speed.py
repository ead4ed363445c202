"""Speed of evaluation: feature extraction images/second and the time to evaluate 10,000 images.

Prints one JSON object with, per device (cpu, and cuda when available):

- ``inception_img_per_s``: FID Inception-v3 features of 32×32 RGB uint8 images (the resize to
  299 included), random weights (the speed does not depend on them), batch 50.
- ``domain_img_per_s``: a domain extractor (SmallCNN, width 32) on 32×32 RGB images, batch 256.
- ``eval_domain_s``: evaluating ``--n`` (10,000) images of a 32×32 DCGAN (width 64, random
  weights) with fid, kid and pr on domain features, reference features already cached, split
  into generate / features / fid / kid / pr seconds.
- ``eval_inception_s``: the same with Inception features. On CPU the feature part is
  extrapolated from ``inception_img_per_s`` (a full run takes most of an hour on two cores;
  ``--full-cpu`` measures it), and marked ``"features_estimated": true``.

    python benchmarks/metrics_speed.py [--device cpu|cuda|all] [--n 10000] [--seconds 10] [--full-cpu]
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

from ganforge.config import ModelConfig  # noqa: E402
from ganforge.metrics import inception  # noqa: E402
from ganforge.metrics.domain import SmallCNN  # noqa: E402
from ganforge.metrics.evaluate import generate_images  # noqa: E402
from ganforge.metrics.features import DomainExtractor, InceptionExtractor  # noqa: E402
from ganforge.metrics.fid import fid_from_features  # noqa: E402
from ganforge.metrics.kid import kernel_inception_distance  # noqa: E402
from ganforge.metrics.precision_recall import precision_recall  # noqa: E402
from ganforge.models import build_generator, init_dcgan_weights  # noqa: E402


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def images_per_second(extractor, seconds: float, batch: int) -> float:
    x = np.random.default_rng(0).integers(0, 256, (batch, 32, 32, 3), dtype=np.uint8)
    extractor.extract(x)  # warm-up: allocations, cuDNN autotuning
    sync(extractor.device)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        extractor.extract(x)
        n += batch
    sync(extractor.device)
    return n / (time.perf_counter() - t0)


def inception_extractor(device: torch.device) -> InceptionExtractor:
    net = inception.FIDInceptionV3().to(device).eval().requires_grad_(False)
    return InceptionExtractor("inception", "random", inception.PROTOCOL, net, device, 50)


def domain_extractor(device: torch.device) -> DomainExtractor:
    net = SmallCNN(3, 10, 32).to(device).eval().requires_grad_(False)
    return DomainExtractor("bench-cnn", "random", "native", net, device, 256, 32, 3)


def evaluate_timing(extractor, G, cfg, n: int, device: torch.device, features_rate: float | None = None) -> dict:
    """Seconds to generate n images, extract their features and compute fid, kid and pr against
    n reference features (precomputed: the cache holds them after the first evaluation)."""
    out: dict = {}
    t = time.perf_counter()
    fake = generate_images(G, cfg, n, batch_size=256)
    sync(device)
    out["generate"] = time.perf_counter() - t
    if features_rate:  # extrapolated
        out["features"] = n / features_rate
        out["features_estimated"] = True
        dim = 2048 if isinstance(extractor, InceptionExtractor) else extractor.net.head.in_features
        rng = np.random.default_rng(0)
        fake_f, real_f = np.abs(rng.standard_normal((n, dim))), np.abs(rng.standard_normal((n, dim)))
    else:
        t = time.perf_counter()
        fake_f = extractor.extract(fake)[0]
        sync(device)
        out["features"] = time.perf_counter() - t
        real_f = fake_f[::-1].copy() + 0.01
    for name, fn in (("fid", lambda: fid_from_features(real_f, fake_f)),
                     ("kid", lambda: kernel_inception_distance(real_f, fake_f, device=device)),
                     ("pr", lambda: precision_recall(real_f, fake_f, device=device))):
        t = time.perf_counter()
        fn()
        sync(device)
        out[name] = time.perf_counter() - t
    out["total"] = sum(v for k, v in out.items() if k != "features_estimated")
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in out.items()}


def bench(device: torch.device, n: int, seconds: float, full_cpu: bool) -> dict:
    torch.manual_seed(0)
    cfg = ModelConfig(family="dcgan", resolution=32, channels=3, width=64)
    G = build_generator(cfg)
    init_dcgan_weights(G)
    G.to(device).eval()
    inc, dom = inception_extractor(device), domain_extractor(device)
    result = {"inception_img_per_s": round(images_per_second(inc, seconds, 50), 1),
              "domain_img_per_s": round(images_per_second(dom, seconds, 256), 1)}
    result["eval_domain_s"] = evaluate_timing(dom, G, cfg, n, device)
    estimate = device.type == "cpu" and not full_cpu
    result["eval_inception_s"] = evaluate_timing(inc, G, cfg, n, device,
                                                 result["inception_img_per_s"] if estimate else None)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="all", help="cpu, cuda or all (cpu, and cuda when available)")
    ap.add_argument("--n", type=int, default=10_000, help="generated images to evaluate")
    ap.add_argument("--seconds", type=float, default=10, help="seconds per throughput measurement")
    ap.add_argument("--full-cpu", action="store_true", help="measure Inception features of all n images on CPU")
    args = ap.parse_args()
    os.environ.setdefault("GANFORGE_CACHE", tempfile.mkdtemp(prefix="ganforge-bench-"))
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    devices = [d for d in devices if d != "cuda" or torch.cuda.is_available()]
    report = {
        "benchmark": "metrics_speed",
        "n": args.n,
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    for d in devices:
        report[d] = bench(torch.device(d), args.n, args.seconds, args.full_cpu)
        print(json.dumps({d: report[d]}), file=sys.stderr, flush=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
