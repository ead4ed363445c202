#!/usr/bin/env python3
"""Recipe: the MITLGAN experiment on Pokémon foregrounds over blurred cat/dog photo backgrounds.

Makes three data sets from the shared zips (the images stay out of the repository), then
runs ``ganforge experiment mitlgan`` on them and prints the exact command it ran:

  foreground  the 721 Pokémon PNGs (alpha recovered from their white border), on white  (part 1)
  background  the 4,000 cats-dogs-160 photos, center-cropped, Gaussian-blurred (part 2)
  combined    each Pokémon pasted (by its own alpha) onto 3 different blurred backgrounds: 2,163 images

Every image is made at --size px with the same placement, so a foreground's pixels in
``combined`` are exactly its pixels in ``foreground``; the random pairing is seeded.

    python experiments/mitlgan_pokemon.py --size 64 --budget 6 --out runs/mitlgan-pokemon-64
    python experiments/mitlgan_pokemon.py --size 128 --budget 3 --device cuda --out runs/mitlgan-pokemon-128

Extra arguments after ``--`` go to ``ganforge experiment mitlgan`` (e.g. ``-- --merge alpha``).
"""

from __future__ import annotations

import argparse
import io
import os
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GANFORGE_SHARED_DATA", REPO.parent / "shared" / "data"))
GANFORGE = [sys.executable, "-m", "ganforge"]


def pokemon_rgba(size: int) -> list[Image.Image]:
    """The 721 Pokémon PNGs as size×size RGBA foregrounds.

    The shared zip's PNGs are plain RGB (colour type 2) whose transparency was flattened
    to exact white, so the alpha is recovered here: background = the exact-white pixels
    connected to the image border (flood fill); white inside a Pokémon stays opaque. The
    88 JPEGs (lossy, no clean background) are left out.
    """
    from scipy import ndimage

    out = []
    with zipfile.ZipFile(SHARED / "pokemon-809.zip") as zf:
        for name in sorted(zf.namelist()):
            if not name.lower().endswith(".png"):
                continue
            img = Image.open(io.BytesIO(zf.read(name))).convert("RGBA")
            a = np.asarray(img).copy()
            white = (a[..., :3] == 255).all(-1)
            labels, _ = ndimage.label(white)
            border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
            a[..., 3] = np.where(np.isin(labels, border[border > 0]), 0, 255)
            # premultiplied resize, so no white fringe around the alpha edge
            img = Image.fromarray(a, "RGBA").convert("RGBa").resize((size, size), Image.LANCZOS).convert("RGBA")
            out.append(img)
    return out


def backgrounds(size: int, blur: float) -> list[Image.Image]:
    """cats-dogs-160 photos: center square crop, resized, Gaussian blur of ``blur`` px at the output size."""
    out = []
    with zipfile.ZipFile(SHARED / "cats-dogs-160.zip") as zf:
        for name in sorted(zf.namelist()):
            if not name.lower().endswith(".jpg"):
                continue
            img = Image.open(io.BytesIO(zf.read(name))).convert("RGB")
            s = min(img.size)
            left, top = (img.width - s) // 2, (img.height - s) // 2
            img = img.crop((left, top, left + s, top + s)).resize((size, size), Image.LANCZOS)
            out.append(img.filter(ImageFilter.GaussianBlur(blur)))
    return out


def write_folder(folder: Path, images: list[Image.Image]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images):
        img.save(folder / f"{i:05d}.png")


def make_sets(work: Path, size: int, per_foreground: int, blur: float, seed: int) -> dict[str, Path]:
    sets = {name: work / f"{name}-{size}.zip" for name in ("foreground", "background", "combined")}
    if all(p.is_file() for p in sets.values()):
        return sets
    fgs = pokemon_rgba(size)
    bgs = backgrounds(size, blur * size / 64)
    rng = np.random.default_rng(seed)
    white = Image.new("RGBA", (size, size), (255, 255, 255, 255))
    combined = []
    for fg in fgs:
        for j in rng.choice(len(bgs), per_foreground, replace=False):
            combined.append(Image.alpha_composite(bgs[j].convert("RGBA"), fg).convert("RGB"))
    folders = {"foreground": [Image.alpha_composite(white, fg).convert("RGB") for fg in fgs],
               "background": bgs, "combined": combined}
    for name, images in folders.items():
        write_folder(work / f"{name}-{size}", images)
        subprocess.run([*GANFORGE, "data", "prepare", str(work / f"{name}-{size}"), "--out", str(sets[name]),
                        "--size", str(size), "--channels", "3"], check=True)
    print(f"foreground {len(fgs)}, background {len(bgs)}, combined {len(combined)} images at {size} px")
    return sets


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=64, help="image size (power of two)")
    p.add_argument("--budget", type=float, default=6, help="training minutes per model")
    p.add_argument("--out", default="runs/mitlgan-pokemon-64", help="experiment directory")
    p.add_argument("--work", default="data/mitlgan-pokemon", help="where the data sets are made")
    p.add_argument("--per-foreground", type=int, default=3, help="backgrounds each Pokémon is pasted on")
    p.add_argument("--blur", type=float, default=1.5, help="Gaussian blur radius at 64 px (scaled with --size)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--width", type=int, default=32, help="width of generators and critic")
    args, extra = p.parse_known_args()
    extra = [a for a in extra if a != "--"]
    sets = make_sets(Path(args.work), args.size, args.per_foreground, args.blur, args.seed)
    cmd = ["ganforge", "experiment", "mitlgan", "--foreground", str(sets["foreground"]),
           "--background", str(sets["background"]), "--combined", str(sets["combined"]),
           "--budget", f"{args.budget:g}", "--out", args.out, "--width", str(args.width),
           "--device", args.device, "--seed", str(args.seed), *extra]
    print("running:", shlex.join(cmd), flush=True)
    return subprocess.run([*GANFORGE, *cmd[1:]]).returncode


if __name__ == "__main__":
    sys.exit(main())
