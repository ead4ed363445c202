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
    p.add_argument("--psi", type=float, default=1.0,
                   help="truncation in [0, 2]: < 1 trades variety for typical images; style-based families "
                        "(stylegan2) truncate w toward the mean w, the others z toward the mean latent")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator weights even if EMA weights exist")
    p.add_argument("--class", dest="class_", metavar="ID_OR_NAME",
                   help="conditional models: the class to draw, by id or name (default: seed S draws class S mod "
                        "the number of classes)")


def run(args: argparse.Namespace) -> int:
    from ganforge.artifacts import load_generator
    from ganforge.device import resolve_device
    from ganforge.sampling import (
        generate,
        image_grid,
        images_for_seeds,
        labels_for_seeds,
        resolve_class,
        to_pil,
        truncates_in_w,
    )
    from ganforge.utils import atomic_path

    if args.n < 1:
        raise GanforgeError("--n must be at least 1")
    if not 0 <= args.psi <= 2:
        raise GanforgeError(f"--psi must be in [0, 2], not {args.psi}")
    G, cfg, state = load_generator(args.run, device=resolve_device(args.device), ema=not args.no_ema)
    seeds = list(range(args.seed, args.seed + args.n))
    classes = (state.get("dataset") or {}).get("classes")
    class_ = resolve_class(args.class_, classes, cfg.num_classes)
    if args.psi != 1 and not truncates_in_w(G):  # z toward the family's mean latent
        from ganforge.latent import mean_latent, sample_latents

        z = sample_latents(seeds, cfg.latent_dim, psi=args.psi, mean_latent=mean_latent(G))
        images = generate(G, z, labels_for_seeds(seeds, cfg.num_classes, class_))
    else:
        images = images_for_seeds(G, seeds, class_=class_, psi=args.psi)
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
