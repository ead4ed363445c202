"""Export parity: largest |export - PyTorch| of ONNX and TorchScript exports, export time and file size.

Generators are built at realistic sizes with perturbed weights and batch-norm statistics (as after
training), saved as checkpoints, exported with ``ganforge.artifacts.export_generator`` and compared on
latents of seeds 0..31 (and labels for conditional families). Prints one JSON object.

    python benchmarks/export_parity.py [--families dcgan,resnet,cgan] [--resolution 64]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ganforge.artifacts import export_generator
from ganforge.checkpoint import save_checkpoint
from ganforge.config import ModelConfig
from ganforge.export import load_exported
from ganforge.models import build_generator
from ganforge.sampling import generate, latents_for_seeds


def perturbed_generator(cfg: ModelConfig) -> torch.nn.Module:
    torch.manual_seed(0)
    G = build_generator(cfg)
    with torch.no_grad():
        for p in G.parameters():
            p.add_(torch.randn_like(p) * 0.02)
        for m in G.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return G.eval()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", default="dcgan,resnet,cgan")
    ap.add_argument("--resolution", type=int, default=64)
    ap.add_argument("--width", type=int, default=64)
    args = ap.parse_args()
    out: dict = {"torch": torch.__version__, "resolution": args.resolution, "width": args.width, "results": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for family in args.families.split(","):
            classes = 10 if family in ("cgan", "acgan") else 0
            cfg = ModelConfig(family=family, resolution=args.resolution, channels=3, width=args.width,
                              num_classes=classes)
            G = perturbed_generator(cfg)
            ckpt = Path(tmp) / f"{family}.pt"
            save_checkpoint(ckpt, {"model_config": cfg.to_dict(), "step": 0, "G": G.state_dict(), "G_ema": None})
            z = latents_for_seeds(range(32), cfg.latent_dim)
            labels = torch.arange(32) % classes if classes else None
            ref_images = generate(G, z, labels)
            with torch.no_grad():
                ref = G(z, labels)
            row = {"parameters": sum(p.numel() for p in G.parameters())}
            for fmt in ("safetensors", "torchscript", "onnx"):
                t = time.perf_counter()
                result = export_generator(ckpt, fmt, Path(tmp) / f"{family}-{fmt}")
                seconds = time.perf_counter() - t
                E, _, _ = load_exported(Path(tmp) / f"{family}-{fmt}")
                with torch.no_grad():
                    err = float((E(z, labels) - ref).abs().max())
                pixels = int(np.abs(generate(E, z, labels).astype(int) - ref_images).max())
                row[fmt] = {"max_abs_error": err, "max_uint8_difference": pixels, "export_seconds": round(seconds, 2),
                            "mb": round(result.path.stat().st_size / 1e6, 2)}
            out["results"][family] = row
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
