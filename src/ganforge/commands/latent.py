"""Latent-space commands: ``interpolate``, ``midpoint``, ``project``, ``directions``, ``edit``, ``inpaint``.

Each parses its options, loads the run, and calls a plain function in ``ganforge.latent``.
A latent is named by a seed (``42``) or an ``.npz`` file written by ``project``/``midpoint``.
For a style-based run (stylegan2) the tools work in ``--space w`` by default (or ``w+``, or ``z``):
a seed's latent is then its mapped w, and ``.npz`` files record their space.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from ganforge.commands import add_command
from ganforge.errors import GanforgeError
from ganforge.runs import RunDir

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
                                "and Poisson blending; the other pixels stay as they are.")
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


class _Loaded:
    """A run's generator, config and class names, loaded once per command."""

    def __init__(self, args: argparse.Namespace):
        from ganforge.artifacts import load_generator
        from ganforge.device import resolve_device
        from ganforge.latent import mean_latent, resolve_class
        from ganforge.latent.spaces import in_space, space_of

        self.args = args
        self.device = resolve_device(args.device)
        G, _, self.state = load_generator(args.run, device=self.device, ema=not args.no_ema)
        self.G = in_space(G, getattr(args, "space", None))  # z: G itself; w, w+: a view whose latents are there
        self.space = space_of(self.G)
        self.cfg = self.G.cfg  # latent_dim is the space's
        self.classes = (self.state.get("dataset") or {}).get("classes")
        self.num_classes = int(self.cfg.num_classes or 0)
        self.class_id = resolve_class(args.class_, self.classes, self.num_classes) if self.num_classes else None
        if args.class_ is not None and not self.num_classes:
            raise GanforgeError("--class needs a conditional model; this run is unconditional")
        self.psi = getattr(args, "psi", 1.0)
        self.mean = mean_latent(self.G) if self.psi != 1.0 and self.space == "z" else None

    def latent(self, spec: str):
        """(z (1, D), labels (1,) or None) of a seed or .npz; --class overrides a saved class."""
        import torch

        from ganforge.latent import labels_for_seeds, resolve_latent
        from ganforge.latent.sample import latent_space

        if spec.endswith(".npz") and latent_space(spec) != self.space:
            raise GanforgeError(f"{spec} holds a latent in {latent_space(spec)}, but this command works in "
                                f"{self.space}; add --space {latent_space(spec)}")
        if self.space != "z" and not spec.endswith(".npz"):  # a seed: its z, mapped (and truncated) into W
            z, labels = resolve_latent(spec, self.G.G.cfg.latent_dim)
            z = self.G.from_z(z, self.psi)
        else:
            z, labels = resolve_latent(spec, self.cfg.latent_dim, psi=self.psi, mean=self.mean)
        if self.num_classes:
            if self.class_id is not None:
                labels = torch.tensor([self.class_id])
            elif labels is None:
                seed = int(spec[5:] if spec.startswith("seed:") else spec) if not spec.endswith(".npz") else 0
                labels = labels_for_seeds([seed], self.num_classes)
        else:
            labels = None
        return z, labels

    def discriminator(self):
        from ganforge.latent import load_discriminator

        if self.args.no_discriminator:
            return None
        return load_discriminator(self.args.run, self.device, state=self.state)

    def labels_tensor(self):
        import torch

        return None if self.class_id is None else torch.tensor([self.class_id])

    def photo(self, path: str):
        from ganforge.latent import data_params, load_photo

        return load_photo(path, self.cfg.resolution, self.cfg.channels, data_params(self.args.run))


def _progress(name: str):
    """progress(step, total, loss): a redrawn line on a terminal, a line every 10 s otherwise."""
    tty = sys.stderr.isatty()
    last = [0.0]

    def show(step: int, total: int, loss: float) -> None:
        now = time.time()
        if step == total or now - last[0] > (0.2 if tty else 10.0):
            last[0] = now
            line = f"{name}: step {step}/{total}, loss {loss:.5f}"
            print(("\r" + line) if tty else line, end="\n" if (step == total or not tty) else "", file=sys.stderr,
                  flush=True)

    return show


def _sibling(path: Path, suffix: str) -> Path:
    return path.with_name(path.stem + suffix)


def run_interpolate(args: argparse.Namespace) -> int:
    import torch

    from ganforge.latent import grid_frames, interpolate, render, write_video
    from ganforge.latent.video import video_kind

    video_kind(args.out)  # reject an unusable --out before any work
    if args.frames < 2:
        raise GanforgeError("--frames must be at least 2")
    m = _Loaded(args)
    videos = []
    for group in args.seeds:
        specs = [s.strip() for s in group.split(",") if s.strip()]
        if len(specs) < 2:
            raise GanforgeError(f"--seeds {group!r}: give at least two keyframes, separated by commas")
        keys = [m.latent(s) for s in specs]
        z = torch.cat([k[0] for k in keys])
        path = interpolate(z, args.frames, mode=args.mode, loop=args.loop)
        labels = None
        if m.num_classes:
            # The class cannot morph continuously; each frame takes the class of its nearer keyframe.
            lab = torch.cat([k[1] for k in keys])
            idx = _nearest_key(len(specs), args.frames, args.loop)
            labels = lab[idx]
        videos.append(render(m.G, path, labels))
    frames = videos[0] if len(videos) == 1 else grid_frames(videos)
    out = write_video(frames, args.out, fps=args.fps)
    print(f"wrote {len(frames)} frames ({args.mode}{', loop' if args.loop else ''}) to {out}")
    return 0


def _nearest_key(k: int, frames: int, loop: bool):
    import torch

    segments = k if loop else k - 1
    pos = torch.arange(frames, dtype=torch.float64) * segments / (frames if loop else frames - 1)
    return pos.round().long() % k


def run_midpoint(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from ganforge.latent import midpoint, render, save_latents
    from ganforge.latent.figures import save_png, strip

    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise GanforgeError("--out must be a .png file")
    m = _Loaded(args)
    (za, la), (zb, lb) = m.latent(args.a), m.latent(args.b)
    mid = midpoint(za, zb, mode=args.mode)
    lab = la
    if la is not None and lb is not None and int(la) != int(lb) and m.class_id is None:
        raise GanforgeError("A and B have different classes; choose the midpoint's with --class")
    images = render(m.G, torch.cat([za, mid, zb]), None if lab is None else lab.expand(3))
    save_png(images[1], out)
    save_latents(_sibling(out, "").with_suffix(".npz"), mid, lab, image=images[1], space=np.array(m.space))
    save_png(strip(images), _sibling(out, "-strip.png"))
    print(f"wrote {out}, {out.with_suffix('.npz')} and {_sibling(out, '-strip.png')}")
    return 0


def run_project(args: argparse.Namespace) -> int:
    import numpy as np

    from ganforge.latent import project, save_latents
    from ganforge.latent.figures import plot_curve, save_png, strip

    out = Path(args.out)
    if out.suffix != ".npz":
        raise GanforgeError("--out must be a .npz file")
    m = _Loaded(args)
    target = m.photo(args.photo)
    if m.space == "z":
        res = project(m.G, target, steps=args.steps, restarts=args.restarts, D=m.discriminator(),
                      feature_weight=args.feature_weight, reg_weight=args.reg_weight, labels=m.labels_tensor(),
                      lr=args.lr or 0.05, seed=args.seed, progress=_progress("project"))
    else:  # StyleGAN2's projector: from the mean w, with the noise maps (one start: --restarts does not apply)
        from ganforge.latent.project import project_w

        res = project_w(m.G, target, steps=args.steps, D=m.discriminator(), feature_weight=args.feature_weight,
                        lr=args.lr or 0.1, seed=args.seed, progress=_progress("project"))
    save_latents(out, res.latent, None if res.label is None else np.array([res.label]), image=res.image,
                 target=target, losses=np.asarray(res.losses), space=np.array(m.space))
    save_png(res.image, _sibling(out, ".png"))
    save_png(strip([target, res.image]), _sibling(out, "-compare.png"), scale=max(1, 256 // m.cfg.resolution))
    curves = {f"restart {i}": res.restart_losses[:, i] for i in range(res.restart_losses.shape[1])}
    plot_curve(curves, _sibling(out, "-curve.png"), title=f"projection loss (final pixel MSE {res.error:.4f})")
    print(f"wrote {out} (pixel MSE {res.error:.5f}, PSNR {res.psnr:.1f} dB), {_sibling(out, '.png')}, "
          f"{_sibling(out, '-compare.png')}, {_sibling(out, '-curve.png')}")
    return 0


def run_directions(args: argparse.Namespace) -> int:
    import torch

    from ganforge.latent import (
        class_directions,
        feature_classifier,
        find_directions,
        load_discriminator,
    )
    from ganforge.latent.figures import save_png
    from ganforge.sampling import image_grid

    m = _Loaded(args)
    out = Path(args.out) if args.out else RunDir.of(args.run).directions
    if out.suffix != ".npz":
        raise GanforgeError("--out must be a .npz file")
    if args.classes:
        from ganforge.data.dataset import load_dataset

        if m.num_classes:
            # A conditional model takes its class from the label, not from a region of the latent space.
            raise GanforgeError(f"--classes finds latent directions toward classes of an unconditional model; this "
                                f"{m.cfg.family} run takes the class as an input: choose it with --class instead")
        data_path = (m.state.get("dataset") or {}).get("path")
        if not m.classes or not data_path or not Path(data_path).is_file():
            raise GanforgeError("--classes needs the run's labelled data set (prepared with --labels subfolders)")
        data = load_dataset(data_path)
        images, labels = _labelled(data)
        classify = feature_classifier(load_discriminator(args.run, m.device, state=m.state), images, labels)
        dirs = class_directions(m.G, classify, m.classes, n_samples=args.samples)
    elif m.space != "z":
        from ganforge.latent.spaces import w_directions

        dirs = w_directions(m.G, args.k, args.samples)
    else:
        dirs = find_directions(m.G, args.k, args.samples, args.method, layer=args.layer, labels=m.class_id)
    dirs.save(out)
    z, labels = m.latent("0")  # the preview's seed 0, in the class seed 0 draws (or --class)
    rows = [_edit(m, z[0], dirs, i, torch.linspace(-2, 2, 7).tolist(), labels, None) for i in range(len(dirs))]
    preview = _sibling(out, ".png")
    save_png(_as_array(image_grid(torch.cat([torch.from_numpy(r) for r in rows]).numpy(), ncols=7)), preview)
    what = "accuracy" if dirs.method == "class" else "explained variance"
    shown = "" if labels is None else f", class {m.classes[int(labels[0])] if m.classes else int(labels[0])}"
    print(f"wrote {len(dirs)} directions to {out}, preview (seed 0{shown}, -2..2 sd per row) {preview}")
    names = dirs.names or [f"{dirs.method} {i}" for i in range(len(dirs))]
    for i, (name, v) in enumerate(zip(names, dirs.explained_variance.tolist())):
        print(f"  {i}: {name} ({what} {v:.3f})")
    inert = [i for i, r in enumerate(rows) if (r == r[:1]).all()]  # -2..2 sd leaves every pixel as it is
    if len(inert) == len(rows):
        print("ganforge: warning: no direction changes the image of seed 0: the generator looks collapsed (its "
              "images do not depend on the latent), so these directions mean nothing", file=sys.stderr)
    elif inert:
        print(f"ganforge: warning: direction(s) {', '.join(map(str, inert))} do not change the image of seed 0 "
              f"(zero vectors: for --classes, no sampled image fell into that class)", file=sys.stderr)
    return 0


def _labelled(data):
    import numpy as np

    keep = np.nonzero(data.labels >= 0)[0]
    if len(keep) > 5000:  # a linear classifier on D's features needs no more
        keep = np.sort(np.random.default_rng(0).choice(keep, 5000, replace=False))
    return np.asarray(data.images[keep]), data.labels[keep]


def _as_array(img):
    import numpy as np

    a = np.asarray(img)
    return a if a.ndim == 3 else a[..., None]


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
    from ganforge.latent import Directions
    from ganforge.latent.figures import save_png, strip

    amounts = parse_amounts(args.amount, args.steps)
    m = _Loaded(args)
    dirs = Directions.load(args.directions or RunDir.of(args.run).directions)
    if not 0 <= args.direction < len(dirs):
        raise GanforgeError(f"--direction must be in 0..{len(dirs) - 1} (the file holds {len(dirs)})")
    in_w = dirs.method == "pca-w"
    if in_w != (m.space != "z"):
        raise GanforgeError(f"the direction file holds directions in {'W' if in_w else 'z'}, but this command "
                            f"works in {m.space}; add --space {'w' if in_w else 'z'}")
    if not in_w and dirs.vectors.shape[1] != m.cfg.latent_dim:
        raise GanforgeError("the direction file was made for a model with another latent size")
    if args.layers and not in_w:
        raise GanforgeError("--layers needs directions in W (a stylegan2 run's 'ganforge directions')")
    layers = None
    if args.layers:
        from ganforge.latent.mix import layer_range

        layers = layer_range(m.G.G, args.layers)
    z, labels = m.latent(args.latent)
    images = _edit(m, z[0], dirs, args.direction, amounts, labels, layers)
    save_png(strip(images), args.out)
    print(f"wrote {len(images)} images ({amounts[0]:+g} .. {amounts[-1]:+g} sd along direction "
          f"{args.direction}) to {args.out}")
    return 0


def _edit(m: _Loaded, latent, dirs, i: int, amounts: list[float], labels, layers):
    """The strip of direction ``i``: in z along the unit vector, in W by the direction's standard
    deviation (and only in ``layers`` when given)."""
    from ganforge.latent import edit

    if dirs.method != "pca-w":
        return edit(m.G, latent, dirs.vectors[i], amounts, labels)
    from ganforge.latent.spaces import edit_layers

    scale = 1.0 if dirs.scales is None else float(dirs.scales[i])
    return edit_layers(m.G, latent, dirs.vectors[i], amounts, layers, scale=scale)


def run_inpaint(args: argparse.Namespace) -> int:
    import numpy as np

    from ganforge.latent import data_params, inpaint, load_mask, load_photo, pixel_error
    from ganforge.latent.figures import save_png, strip

    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise GanforgeError("--out must be a .png file")
    m = _Loaded(args)
    params = data_params(args.run)
    image, note = load_photo(args.photo, m.cfg.resolution, m.cfg.channels, params, with_note=True)
    mask = load_mask(args.mask, m.cfg.resolution, params, note)
    res = inpaint(m.G, image, mask, steps=args.steps, restarts=args.restarts, D=m.discriminator(),
                  context_radius=args.context_radius, prior_weight=args.prior_weight, blend=args.blend,
                  labels=m.labels_tensor(), lr=args.lr or 0.05, seed=args.seed, progress=_progress("inpaint"),
                  reg_weight=0.0 if m.space != "z" else 0.01)  # the shell prior is z's
    save_png(res.image, out)
    shown = np.where(mask[..., None], np.uint8(128), image)
    save_png(strip([shown, res.generated, res.image]), _sibling(out, "-compare.png"),
             scale=max(1, 256 // m.cfg.resolution))
    print(f"wrote {out} and {_sibling(out, '-compare.png')} (masked {mask.mean():.0%} of the pixels; "
          f"MSE against the photo inside the mask {pixel_error(res.image, image, mask):.5f})")
    return 0
