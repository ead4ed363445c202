#!/usr/bin/env python3
"""Recipe: the MITLGAN experiment on Pokémon foregrounds over blurred cat/dog photo backgrounds.

Makes the experiment's sets from the shared zips with the data pipeline's layer tools
(``ganforge data foreground / background / composite``; the images stay out of the
repository), then runs ``ganforge experiment mitlgan`` on them and prints the exact command:

  foreground  the 721 Pokémon PNGs, cut out by their alpha, on white                       (part 1)
  background  the 4,000 cats-dogs-160 photos, center-cropped, Gaussian-blurred               (part 2)
  combined    Pokémon pasted (by their alpha) onto random blurred backgrounds: 3 per Pokémon

The composite uses scale 1, so a foreground sits in ``combined`` exactly where it sits in
``foreground``: the foreground part and the combined set agree on placement, as in the thesis.
The one step the pipeline cannot do is the first: the shared ``pokemon-809.zip`` PNGs are plain
RGB with the transparency flattened to white, so the recipe recovers their alpha (below).

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
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GANFORGE_SHARED_DATA", REPO.parent / "shared" / "data"))
GANFORGE = [sys.executable, "-m", "ganforge"]


def recover_pokemon_alpha(folder: Path) -> int:
    """Write the 721 Pokémon PNGs of the shared zip to ``folder`` as RGBA PNGs; returns the count.

    Background = the exact-white pixels connected to the image border (flood fill); white
    inside a Pokémon stays opaque. The 88 JPEGs (lossy, no clean background) are left out.
    """
    from scipy import ndimage

    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    with zipfile.ZipFile(SHARED / "pokemon-809.zip") as zf:
        for name in sorted(zf.namelist()):
            if not name.lower().endswith(".png"):
                continue
            a = np.asarray(Image.open(io.BytesIO(zf.read(name))).convert("RGBA")).copy()
            labels, _ = ndimage.label((a[..., :3] == 255).all(-1))
            border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
            a[..., 3] = np.where(np.isin(labels, border[border > 0]), 0, 255)
            Image.fromarray(a, "RGBA").save(folder / Path(name).name)
            n += 1
    return n


def run(*args: str) -> None:
    print("+ ganforge", shlex.join(args), flush=True)
    subprocess.run([*GANFORGE, *args], check=True)


def make_sets(work: Path, size: int, per_foreground: int, blur: float, seed: int) -> dict[str, Path]:
    sets = {name: work / f"{name}-{size}.zip" for name in ("foreground", "background", "combined")}
    if all(p.is_file() for p in sets.values()):
        return sets
    rgba = work / "pokemon-rgba"
    count = recover_pokemon_alpha(rgba)
    cutouts = work / f"foreground-rgba-{size}.zip"
    run("data", "foreground", str(rgba), "--out", str(cutouts), "--size", str(size))
    run("data", "foreground", str(rgba), "--out", str(sets["foreground"]), "--size", str(size), "--flat",
        "--background", "white")
    run("data", "background", str(SHARED / "cats-dogs-160.zip"), "--out", str(sets["background"]),
        "--size", str(size), "--blur", f"{blur * size / 64:g}")
    run("data", "composite", str(cutouts), str(sets["background"]), "--out", str(sets["combined"]),
        "--count", str(per_foreground * count), "--scale", "1", "1", "--seed", str(seed))
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
