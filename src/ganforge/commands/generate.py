"""``ganforge generate``: images from a trained run, reproducible by seed."""

from __future__ import annotations

import argparse

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
    from ganforge.api import generate, save_images

    if args.n < 1:
        raise GanforgeError("--n must be at least 1")
    if not 0 <= args.psi <= 2:
        raise GanforgeError(f"--psi must be in [0, 2], not {args.psi}")
    seeds = list(range(args.seed, args.seed + args.n))
    images = generate(args.run, seeds, class_=args.class_, device=args.device, ema=not args.no_ema, psi=args.psi)
    out = save_images(images, args.out, seeds=seeds, separate=args.separate)
    print(f"wrote {len(seeds)} images to {out}/" if args.separate else f"wrote a grid of {len(seeds)} images to {out}")
    return 0
