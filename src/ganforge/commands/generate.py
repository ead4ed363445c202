"""``ganforge generate``: images from a trained run, reproducible by seed."""

from __future__ import annotations

import argparse
from pathlib import Path

from ganforge.commands import add_command
from ganforge.errors import GanforgeError


def register(sub) -> None:
    p = add_command(sub, "generate", run, help="generate images from a trained run",
                    description="Generate images from a run directory or checkpoint. Seed S gives the images of "
                                "seeds S..S+n-1, the same on every run and device.")
    p.add_argument("run", metavar="RUN", help="run directory or checkpoint file")
    p.add_argument("--n", type=int, default=64, help="number of images")
    p.add_argument("--seed", type=int, default=0, help="first seed")
    p.add_argument("--out", required=True, help="PNG grid to write, or a folder with --separate")
    p.add_argument("--separate", action="store_true", help="write one PNG per image into the folder --out")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator weights even if EMA weights exist")
    p.add_argument("--class", dest="class_name", metavar="NAME",
                   help="conditional models: the class to draw (default: seed S draws class S mod the number of classes)")


def class_labels(cfg, state: dict, seeds: list[int], class_name: str | None):
    """Labels (N,) for a conditional model: ``class_name``'s id, or seed mod K; None for unconditional ones."""
    import torch

    if not cfg.num_classes:
        if class_name is not None:
            raise GanforgeError(f"--class needs a conditional model; this run's {cfg.family} model has no classes")
        return None
    if class_name is None:
        return torch.tensor(seeds) % cfg.num_classes
    classes = (state.get("dataset") or {}).get("classes") or [str(i) for i in range(cfg.num_classes)]
    if class_name not in classes:
        raise GanforgeError(f"unknown class {class_name!r}; this model knows: {', '.join(classes)}")
    return torch.full((len(seeds),), classes.index(class_name), dtype=torch.long)


def run(args: argparse.Namespace) -> int:
    from ganforge.checkpoint import load_generator
    from ganforge.device import resolve_device
    from ganforge.sampling import generate, image_grid, latents_for_seeds, to_pil
    from ganforge.utils import atomic_path

    if args.n < 1:
        raise GanforgeError("--n must be at least 1")
    G, cfg, state = load_generator(args.run, device=resolve_device(args.device), ema=not args.no_ema)
    seeds = list(range(args.seed, args.seed + args.n))
    labels = class_labels(cfg, state, seeds, args.class_name)
    images = generate(G, latents_for_seeds(seeds, cfg.latent_dim), labels)
    out = Path(args.out)
    if args.separate:
        out.mkdir(parents=True, exist_ok=True)
        for seed, img in zip(seeds, images):
            with atomic_path(out / f"seed{seed:06d}.png") as tmp:
                to_pil(img).save(tmp, format="PNG")
        print(f"wrote {len(seeds)} images to {out}/")
    else:
        with atomic_path(out) as tmp:
            image_grid(images).save(tmp, format="PNG")
        print(f"wrote a grid of {len(seeds)} images to {out}")
    return 0
