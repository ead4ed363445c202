"""``ganforge translate RUN IMAGES... --direction a2b|b2a --out DIR``: a translator run on images."""

from __future__ import annotations

import argparse

from ganforge.commands import add_command


def register(sub) -> None:
    p = add_command(sub, "translate", run, help="translate images with a CycleGAN or DTN run",
                    description="Translate images to the other domain with a two-domain translator run (cyclegan: "
                                "both directions; dtn: a2b, its source to its target). Each image is cropped and "
                                "resized exactly as the run's data set was.")
    p.add_argument("run", metavar="RUN", help="run directory or checkpoint file of a cyclegan or dtn run")
    p.add_argument("images", metavar="IMAGES", nargs="+", help="image files, folders or zip archives of images")
    p.add_argument("--direction", choices=("a2b", "b2a"), default="a2b",
                   help="a2b: domain A (the data set's first) to B; b2a: back")
    p.add_argument("--out", required=True, help="folder for the translated PNGs")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator weights even if EMA weights exist")


def run(args: argparse.Namespace) -> int:
    from ganforge.device import resolve_device
    from ganforge.translate import translate_images, write_translations

    results = translate_images(args.run, args.images, args.direction, device=resolve_device(args.device),
                               ema=not args.no_ema)
    written = write_translations(results, args.out)
    print(f"{len(written)} image(s) translated {args.direction} into {args.out}")
    return 0
