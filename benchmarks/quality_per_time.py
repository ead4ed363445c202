"""Each model family for the same wall-clock budget on Fashion-MNIST 32 px; prints JSON.

For every family (conditional ones trained with the class labels) this trains a fresh run
for ``--minutes`` of training time with the family's recipe from ganforge.presets (width and
batch size shared), then reports:

- ``steps``: generator updates done; ``d_img_per_s``: real images through D per second
  (batch x critic steps); ``g_img_per_s``: generated images per second of G updates;
- ``proxy_fd_pixels8``: a QUALITY PROXY, not FID: the Fréchet distance between Gaussian fits
  of 8x8 average-pooled images (64-d, pixel values in [-1, 1]) of ``--n-eval`` generated
  images and as many images of the data set. It needs no network, so no discriminator and
  no downloaded weights; it sees layout and brightness, not texture. Lower is better;
  comparable only within one table. Conditional families also get
  ``proxy_fd_pixels8_per_class``: the mean over classes of the same distance between the
  class's generated images and its real ones (does the label pick the garment?).

    python benchmarks/quality_per_time.py --minutes 1                  # all families, CPU or GPU
    python benchmarks/quality_per_time.py --families dcgan,resnet --minutes 5 --device cuda
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from scipy import linalg

from ganforge.checkpoint import load_generator
from ganforge.config import ModelConfig, TrainConfig
from ganforge.data.dataset import load_dataset
from ganforge.presets import PRESETS
from ganforge.sampling import latents_for_seeds
from ganforge.train import train

RECIPES = {  # family -> preset giving its loss, critic steps and optimiser settings
    "mlp": "mnist-dense",
    "dcgan": "mnist-conv",
    "resnet": "sngan-32",
    "cgan": "cgan-projection-32",
    "acgan": "acgan-32",
}


def pooled(images: torch.Tensor) -> np.ndarray:
    """(N, C, 32, 32) in [-1, 1] -> (N, 64*C) float64: 4x4 average pooling to 8x8."""
    return torch.nn.functional.avg_pool2d(images.float(), images.shape[-1] // 8).flatten(1).double().numpy()


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(cov_a @ cov_b)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * covmean.real))


def prepare_data(path: Path) -> Path:
    if not path.is_file():
        from ganforge.data.prepare import PrepareOptions, prepare

        prepare("fashion-mnist:train", path, PrepareOptions(), progress=False)
    return path


@torch.no_grad()
def evaluate(run: Path, real: torch.Tensor, real_labels: np.ndarray | None, n: int) -> dict:
    G, cfg, _ = load_generator(run)
    z = latents_for_seeds(range(10_000_000, 10_000_000 + n), cfg.latent_dim)
    labels = torch.arange(n) % cfg.num_classes if cfg.num_classes else None
    fake = torch.cat([G(z[i:i + 500], None if labels is None else labels[i:i + 500]) for i in range(0, n, 500)])
    out = {"proxy_fd_pixels8": round(frechet(pooled(fake), pooled(real)), 3)}
    if cfg.num_classes and real_labels is not None:
        per_class = [frechet(pooled(fake[labels == k]), pooled(real[torch.from_numpy(real_labels == k)]))
                     for k in range(cfg.num_classes)]
        out["proxy_fd_pixels8_per_class"] = round(float(np.mean(per_class)), 3)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.path.expanduser("~/.cache/ganforge/benchmarks/fashion-mnist-32.zip"),
                   help="prepared Fashion-MNIST 32 px data set (made from fashion-mnist:train if missing)")
    p.add_argument("--families", default=",".join(RECIPES), help="comma list of families")
    p.add_argument("--minutes", type=float, default=1.0, help="training minutes per family")
    p.add_argument("--width", type=int, default=32, help="base width of every family's networks")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto")
    p.add_argument("--n-eval", type=int, default=2000, help="generated and real images for the proxy")
    p.add_argument("--runs", help="keep the runs here (default: a temporary folder)")
    args = p.parse_args()

    data_path = prepare_data(Path(args.data))
    data = load_dataset(data_path)
    rng = np.random.default_rng(0)
    idx = np.sort(rng.choice(len(data), args.n_eval, replace=False))
    real = torch.from_numpy(data.images[idx]).permute(0, 3, 1, 2).float() / 127.5 - 1
    real_labels = data.labels[idx] if data.labels is not None else None

    root = Path(args.runs) if args.runs else Path(tempfile.mkdtemp(prefix="ganforge-bench-"))
    results = []
    for family in args.families.split(","):
        preset = PRESETS[RECIPES[family]]
        model = ModelConfig.from_dict({**preset["model"], "width": args.width, "resolution": 0, "channels": 0})
        cfg = TrainConfig.from_dict({**preset["train"], "data": str(data_path), "out": str(root / family),
                                     "minutes": args.minutes, "batch_size": args.batch_size, "device": args.device,
                                     "precision": args.precision, "sample_every": 10**9, "checkpoint_every": 10**9,
                                     "log_every": 50})
        t0 = time.time()
        result = train(cfg, model, out=open(os.devnull, "w"))
        wall = time.time() - t0
        state = torch.load(root / family / "checkpoints" / "latest.pt", map_location="cpu", weights_only=True)
        seconds = state["elapsed"]
        n_critic = cfg.n_critic or (5 if cfg.loss == "wgan-gp" else 1)
        row = {"family": family, "recipe": RECIPES[family], "loss": cfg.loss, "n_critic": n_critic,
               "steps": result.step, "train_seconds": round(seconds, 1), "wall_seconds": round(wall, 1),
               "d_img_per_s": round(result.step * cfg.batch_size * n_critic / seconds, 1),
               "g_img_per_s": round(result.step * cfg.batch_size / seconds, 1),
               "g_params": sum(v.numel() for v in state["G"].values() if v.is_floating_point()),
               **evaluate(root / family, real, real_labels, args.n_eval)}
        results.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    device = torch.cuda.get_device_name() if torch.cuda.is_available() and args.device != "cpu" else "cpu"
    print(json.dumps({"benchmark": "quality_per_time", "data": str(data_path), "count": len(data),
                      "minutes_per_family": args.minutes, "width": args.width, "batch_size": args.batch_size,
                      "device": device, "torch_threads": torch.get_num_threads(),
                      "quality": "proxy_fd_pixels8 (pixel-space proxy, not FID; lower is better)",
                      "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
