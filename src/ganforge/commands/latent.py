"""Latent-space commands: ``interpolate``, ``midpoint``, ``project``, ``directions``, ``edit``, ``inpaint``.

Each parses its options and calls a function of ``ganforge.api`` (``ganforge.latent_tools``).
A latent is named by a seed (``42``) or an ``.npz`` file written by ``project``/``midpoint``.
For a style-based run (stylegan2) the tools work in ``--space w`` by default (or ``w+``, or ``z``):
a seed's latent is then its mapped w, and ``.npz`` files record their space.
"""

from __future__ import annotations

import argparse
import re
import sys

from ganforge.commands import add_command
from ganforge.errors import GanforgeError

LATENT_HELP = "a seed (e.g. 42) or a latent .npz file from 'ganforge project' or 'ganforge midpoint'"


def register(sub) -> None:
    p = add_command(sub, "interpolate", run_interpolate, help="morph video through seeds or saved latents",
                    description="Render a morph through two or more latents (seeds or .npz files) as a GIF, an MP4 "
                                "or a folder of PNG frames. Give --seeds several times for a grid video of paths.")
    _common(p)
    p.add_argument("--seeds", action="append", required=True, metavar="A,B,...",
                   help="comma-separated keyframes, each " + LATENT_HELP + "; repeat for a grid of paths")
    p.add_argument("--frames", type=int, default=60, help="frames in the video")
    p.add_argument("--mode", choices=("linear", "slerp", "sine"), default="sine",
                   help="linear, slerp (great circle), or sine (linear, eased in and out at each keyframe)")
    p.add_argument("--loop", action="store_true", help="return to the first keyframe (a seamless loop)")
    p.add_argument("--fps", type=float, default=24.0, help="frames per second")
    p.add_argument("--out", required=True, help="morph.gif, morph.mp4, or a folder (frames/) for PNG frames")

    p = add_command(sub, "midpoint", run_midpoint, help="the latent halfway between two latents, and its image",
                    description="The latent halfway between A and B (seeds or embedded photos), its image, and a "
                                "strip A | midpoint | B.")
    _common(p)
    p.add_argument("a", metavar="A", help=LATENT_HELP)
    p.add_argument("b", metavar="B", help=LATENT_HELP)
    p.add_argument("--mode", choices=("slerp", "linear"), default="slerp",
                   help="slerp keeps the midpoint at the typical latent norm; linear averages")
    p.add_argument("--out", required=True, help="PNG of the midpoint's image; the latent goes beside it as .npz "
                                                "and the strip as -strip.png")

    p = add_command(sub, "project", run_project, help="embed a photo: find the latent whose image matches it",
                    description="Find the latent whose image best matches a photo (cropped and resized like the run's "
                                "data set). Writes the latent (.npz), its image, a side-by-side and the error curve.")
    _common(p)
    p.add_argument("photo", help="image file")
    p.add_argument("--out", required=True, help="latent .npz; beside it: NAME.png, NAME-compare.png, NAME-curve.png")
    _optimiser_options(p)
    p.add_argument("--feature-weight", type=float, default=0.1, help="weight of the discriminator-feature distance")
    p.add_argument("--reg-weight", type=float, default=0.01, help="weight of the latent-norm regulariser")

    p = add_command(sub, "directions", run_directions, help="find editing directions (GANSpace PCA, or per class)",
                    description="Principal directions of the latent space (GANSpace, Härkönen et al. 2020), or with "
                                "--classes one direction per class of a labelled data set (InterFaceGAN-style).")
    _common(p, psi=False)
    p.add_argument("--k", type=int, default=10, help="number of directions")
    p.add_argument("--samples", type=int, default=5000, help="latents sampled for the PCA")
    p.add_argument("--method", choices=("pca-activations", "pca-latent"), default="pca-activations",
                   help="PCA of the first layer's activations (carried back to z), or of the latents")
    p.add_argument("--layer", help="generator layer for pca-activations (a name from G.named_modules())")
    # in W (stylegan2) the method is GANSpace's PCA of w; --method and --layer apply in z
    p.add_argument("--classes", action="store_true",
                   help="directions between the data set's classes, from a classifier on D's features")
    p.add_argument("--out", help="direction file (default: RUN/directions.npz; a preview PNG goes beside it)")

    p = add_command(sub, "edit", run_edit, help="render a strip of edits along a direction",
                    description="Move a latent along a saved direction and render the images as a strip.")
    _common(p)
    p.add_argument("--latent", required=True, help=LATENT_HELP)
    p.add_argument("--direction", type=int, required=True, help="index of the direction in the direction file")
    p.add_argument("--directions", help="direction file (default: RUN/directions.npz)")
    p.add_argument("--amount", default="-2..2",
                   help="A..B (with --steps images) or a list a,b,c; in standard deviations")
    p.add_argument("--steps", type=int, default=9, help="images in the strip for an A..B range")
    p.add_argument("--layers", help="W directions (stylegan2): apply the edit to these ws only: coarse, middle, "
                                    "fine or A-B (default: all), as GANSpace's layer-wise edits")
    p.add_argument("--out", required=True, help="PNG strip")
    # Let "--amount -2..2" through: argparse would take "-2..2" for an option.
    p._negative_number_matcher = re.compile(r"^-\d+$|^-\d*\.\d+$|^-[\d.]+\.\.-?[\d.]+$|^-[\d.,-]+$")

    p = add_command(sub, "inpaint", run_inpaint, help="fill the masked part of a photo (semantic inpainting)",
                    description="Fill the white part of --mask in a photo by latent optimisation (Yeh et al. 2017) "
                                "and Poisson blending; the other pixels stay as they are. On an inpainter run "
                                "(--model inpainter) its generator fills the hole in one forward pass instead "
                                "(the optimisation options do not apply).")
    _common(p)
    p.add_argument("photo", help="image file")
    p.add_argument("--mask", required=True, help="mask image, same size as the photo: white = fill, black = keep")
    p.add_argument("--out", required=True, help="PNG of the filled image; NAME-compare.png goes beside it")
    _optimiser_options(p)
    p.add_argument("--context-radius", type=int, default=3, help="pixels around the hole that weigh most")
    p.add_argument("--prior-weight", type=float, default=0.003, help="weight of the discriminator realism prior")
    p.add_argument("--blend", choices=("poisson", "paste"), default="poisson", help="how the fill meets the photo")


def _common(p: argparse.ArgumentParser, psi: bool = True) -> None:
    p.add_argument("run", metavar="RUN", help="run directory or checkpoint file")
    p.add_argument("--class", dest="class_", metavar="CLASS", help="class id or name (conditional models)")
    if psi:
        p.add_argument("--psi", type=float, default=1.0, help="truncation of seed latents toward the mean (1: none)")
    p.add_argument("--space", choices=("z", "w", "w+"),
                   help="latent space: z, or for style-based runs (stylegan2) w or w+ (default: w there, z elsewhere)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator weights even if EMA weights exist")


def _optimiser_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--steps", type=int, default=300, help="optimisation steps")
    p.add_argument("--restarts", type=int, default=4, help="random restarts, optimised side by side")
    p.add_argument("--lr", type=float, help="Adam learning rate on the latent (default: 0.05; 0.1 for projection in W)")
    p.add_argument("--seed", type=int, default=0, help="seed of the restarts")
    p.add_argument("--no-discriminator", action="store_true", help="pixel loss only (no D features / prior)")


def _model_options(args: argparse.Namespace) -> dict:
    """The options every latent tool shares: class, truncation, latent space, device, EMA weights."""
    return dict(class_=args.class_, space=args.space, device=args.device, ema=not args.no_ema,
                **({"psi": args.psi} if hasattr(args, "psi") else {}))


def run_interpolate(args: argparse.Namespace) -> int:
    from ganforge.api import interpolate_video

    keyframes = [[s.strip() for s in group.split(",") if s.strip()] for group in args.seeds]
    out = interpolate_video(args.run, keyframes, args.out, frames=args.frames, mode=args.mode, loop=args.loop,
                            fps=args.fps, **_model_options(args))
    print(f"wrote {args.frames} frames ({args.mode}{', loop' if args.loop else ''}) to {out}")
    return 0


def run_midpoint(args: argparse.Namespace) -> int:
    from ganforge.api import midpoint_image

    w = midpoint_image(args.run, args.a, args.b, args.out, mode=args.mode, **_model_options(args))
    print(f"wrote {', '.join(map(str, w.files[:-1]))} and {w.files[-1]}")
    return 0


def run_project(args: argparse.Namespace) -> int:
    from ganforge.api import project_photo

    w = project_photo(args.run, args.photo, args.out, steps=args.steps, restarts=args.restarts, lr=args.lr,
                      seed=args.seed, use_discriminator=not args.no_discriminator,
                      feature_weight=args.feature_weight, reg_weight=args.reg_weight, **_model_options(args))
    print(f"wrote {w.files[0]} (pixel MSE {w.values['error']:.5f}, PSNR {w.values['psnr']:.1f} dB), "
          f"{', '.join(map(str, w.files[1:]))}")
    return 0


def run_directions(args: argparse.Namespace) -> int:
    from ganforge.api import find_edit_directions

    w = find_edit_directions(args.run, args.out, k=args.k, samples=args.samples, method=args.method,
                             layer=args.layer, classes=args.classes, **_model_options(args))
    v = w.values
    print(f"wrote {v['count']} directions to {w.files[0]}, preview (seed 0{v['shown']}, -2..2 sd per row) "
          f"{w.files[1]}")
    for i, (name, score) in enumerate(zip(v["names"], v["scores"])):
        print(f"  {i}: {name} ({v['what']} {score:.3f})")
    if len(v["inert"]) == v["count"]:
        print("ganforge: warning: no direction changes the image of seed 0: the generator looks collapsed (its "
              "images do not depend on the latent), so these directions mean nothing", file=sys.stderr)
    elif v["inert"]:
        print(f"ganforge: warning: direction(s) {', '.join(map(str, v['inert']))} do not change the image of seed 0 "
              f"(zero vectors: for --classes, no sampled image fell into that class)", file=sys.stderr)
    return 0


def parse_amounts(text: str, steps: int) -> list[float]:
    """'A..B' -> ``steps`` evenly spaced values; 'a,b,c' -> those values."""
    try:
        if ".." in text:
            a, b = (float(x) for x in text.split(".."))
            if steps < 1:
                raise GanforgeError("--steps must be at least 1")
            return [a] if steps == 1 else [a + (b - a) * i / (steps - 1) for i in range(steps)]
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise GanforgeError(f"--amount {text!r}: use A..B (e.g. -2..2) or a list like -1,0,1") from None


def run_edit(args: argparse.Namespace) -> int:
    from ganforge.api import edit_strip

    amounts = parse_amounts(args.amount, args.steps)
    w = edit_strip(args.run, args.latent, args.direction, amounts, args.out, directions=args.directions,
                   layers=args.layers, **_model_options(args))
    print(f"wrote {w.values['count']} images ({amounts[0]:+g} .. {amounts[-1]:+g} sd along direction "
          f"{args.direction}) to {args.out}")
    return 0


def run_inpaint(args: argparse.Namespace) -> int:
    from ganforge.api import inpaint_photo

    w = inpaint_photo(args.run, args.photo, args.mask, args.out, steps=args.steps, restarts=args.restarts,
                      lr=args.lr, seed=args.seed, use_discriminator=not args.no_discriminator,
                      context_radius=args.context_radius, prior_weight=args.prior_weight, blend=args.blend,
                      **_model_options(args))
    how = f"; one forward pass, {w.values['seconds'] * 1000:.0f} ms" if "seconds" in w.values else ""
    print(f"wrote {w.files[0]} and {w.files[1]} (masked {w.values['masked']:.0%} of the pixels; "
          f"MSE against the photo inside the mask {w.values['mse']:.5f}{how})")
    return 0
