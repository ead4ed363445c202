"""Export parity: largest |export - PyTorch| of ONNX and TorchScript exports, export time and file size.

Generators are built at realistic sizes with perturbed weights and batch-norm statistics (as after
training), saved as checkpoints, exported with ``ganforge.artifacts.export_generator`` and compared on
latents of seeds 0..31 (and labels for conditional families). Translators (cyclegan, dtn) are compared
per direction on 32 random images in [-1, 1]. Prints one JSON object.

    python benchmarks/export_parity.py [--families dcgan,resnet,cgan,cyclegan,dtn] [--resolution 64]
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
from ganforge.models import build_generator, family, is_translator
from ganforge.sampling import generate, latents_for_seeds, to_uint8


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


def generator_difference(G, E, cfg: ModelConfig) -> tuple[float, int]:
    """(max |E - G| on seeds 0..31, max uint8 difference of their images)."""
    z = latents_for_seeds(range(32), cfg.latent_dim)
    labels = torch.arange(32) % cfg.num_classes if cfg.num_classes else None
    with torch.no_grad():
        err = float((E(z, labels) - G(z, labels)).abs().max())
    return err, int(np.abs(generate(E, z, labels).astype(int) - generate(G, z, labels)).max())


def translator_difference(G, E, cfg: ModelConfig) -> tuple[float, int]:
    """The same over every direction, on 32 random images: E is a TranslatorExport or (safetensors) a Generator."""
    from ganforge.translate import translate_batch

    x = torch.rand(32, cfg.channels, cfg.resolution, cfg.resolution, generator=torch.Generator().manual_seed(0))
    err, pixels = 0.0, 0
    with torch.no_grad():
        for d in getattr(family(cfg.family), "DIRECTIONS", ("a2b", "b2a")):
            ref, got = family(cfg.family).translate(G, x * 2 - 1, d), translate_batch(E, cfg, x * 2 - 1, d)
            err = max(err, float((got - ref).abs().max()))
            pixels = max(pixels, int(np.abs(to_uint8(got).astype(int) - to_uint8(ref)).max()))
    return err, pixels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", default="dcgan,resnet,cgan")
    ap.add_argument("--resolution", type=int, default=64)
    ap.add_argument("--width", type=int, default=64)
    args = ap.parse_args()
    out: dict = {"torch": torch.__version__, "resolution": args.resolution, "width": args.width, "results": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.families.split(","):
            classes = 10 if name in ("cgan", "acgan") else 0
            cfg = ModelConfig(family=name, resolution=args.resolution, channels=3, width=args.width,
                              num_classes=classes)
            G = perturbed_generator(cfg)
            ckpt = Path(tmp) / f"{name}.pt"
            save_checkpoint(ckpt, {"model_config": cfg.to_dict(), "step": 0, "G": G.state_dict(), "G_ema": None})
            row = {"parameters": sum(p.numel() for p in G.parameters())}
            for fmt in ("safetensors", "torchscript", "onnx"):
                t = time.perf_counter()
                result = export_generator(ckpt, fmt, Path(tmp) / f"{name}-{fmt}")
                seconds = time.perf_counter() - t
                E, _, _ = load_exported(Path(tmp) / f"{name}-{fmt}")
                err, pixels = (translator_difference if is_translator(name) else generator_difference)(G, E, cfg)
                row[fmt] = {"max_abs_error": err, "max_uint8_difference": pixels, "export_seconds": round(seconds, 2),
                            "mb": round(result.path.stat().st_size / 1e6, 2)}
            out["results"][name] = row
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
