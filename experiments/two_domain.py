#!/usr/bin/env python3
"""Recipe: the two-domain experiments of docs/two-domain.md (issue 16 point 6), on CPU budgets.

    python experiments/two_domain.py cyclegan --out runs/two-domain     # 22 minutes of training
    python experiments/two_domain.py cogan    --out runs/two-domain     # 10
    python experiments/two_domain.py dtn      --out runs/two-domain     # 12

cyclegan, cogan  cats <-> dogs at 64 px from ../shared/data/cats-dogs-160.zip (2,000 + 2,000 photos,
                 prepared with --labels subfolders --as-domains: A = cats, B = dogs)
dtn              faces -> emoji at 32 px: A = the 400 Olivetti faces (../shared/data/olivetti-faces.zip,
                 grey, written as RGB), B = the built-in ``emoji:faces`` source (Noto Color Emoji)

Each step is one ganforge command, printed before it runs; the data sets, runs and the extractor
(a SmallCNN fitted on the two domains, so FID/KID need no downloaded weights and its class
probabilities give the "looks like the target domain" rate) go under --out, never into the repository.
The extractor is fitted on every image of both domains (10 % held out) for as many epochs as it needs
to tell the domains apart clearly (its held-out accuracy is printed and saved in the file).
Extra arguments after ``--`` go to ``ganforge train``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GANFORGE_SHARED_DATA", REPO.parent / "shared" / "data"))
GANFORGE = [sys.executable, "-m", "ganforge"]

CATS_DOGS = ("cats-dogs-64", ["{shared}/cats-dogs-160.zip", "--labels", "subfolders", "--as-domains", "--size", "64"])
FACES_EMOJI = ("faces-emoji-32", ["--domains", "faces={shared}/olivetti-faces.zip,emoji=emoji:faces", "--size", "32",
                                  "--channels", "3"])
# extractor epochs: 2 epochs on 1,500 cats and dogs (the first recipe) left it at chance (0.51 held out)
EXTRACTOR_EPOCHS = {"cats-dogs-64": 6, "faces-emoji-32": 10}

# family -> (data set, train options chosen for a CPU budget, default minutes)
EXPERIMENTS = {
    "cyclegan": (CATS_DOGS, ["--width", "16", "--batch-size", "1", "--sample-every", "200", "--flip"], 22),
    "cogan": (CATS_DOGS, ["--width", "32", "--batch-size", "32", "--sample-every", "100", "--flip"], 10),
    # L_TID 15x the paper's and DiffAugment before D: with the paper's weights D (127 emoji to remember)
    # wins outright within ~100 steps and its gradients turn G's outputs into noise (docs/two-domain.md)
    "dtn": (FACES_EMOJI, ["--width", "32", "--batch-size", "32", "--encoder-steps", "300", "--sample-every", "100",
                          "--tid-weight", "15", "--augment", "color,translation,cutout"], 12),
}


def step(args: list[str]) -> None:
    print("$ ganforge " + " ".join(shlex.quote(a) for a in args), flush=True)
    subprocess.run(GANFORGE + args, check=True, env={**os.environ, "PYTHONPATH": str(REPO / "src")})


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("family", choices=sorted(EXPERIMENTS))
    p.add_argument("--out", default="runs/two-domain", help="folder for data sets, runs and the extractor")
    p.add_argument("--minutes", type=float, help="training budget (default: the family's, see above)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--n", type=int, default=500, help="images per direction for the evaluation")
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    a = p.parse_args(argv[:cut])
    extra = argv[cut + 1 :]  # after --: more 'ganforge train' options
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (name, prepare), train, minutes = EXPERIMENTS[a.family]
    data = out / f"{name}.zip"
    if not data.is_file():
        step(["data", "prepare", *[x.format(shared=SHARED) for x in prepare], "--out", str(data)])
        step(["data", "show", str(data), "--n", "32"])
    extractor = out / f"{name}-domains-cnn.pt"
    if not extractor.is_file():
        step(["features", "fit", "--data", str(data), "--out", str(extractor), "--epochs", str(EXTRACTOR_EPOCHS[name]),
              "--device", a.device])
    run = out / f"{a.family}-{name}"
    step(["train", "--model", a.family, "--data", str(data), "--out", str(run), "--minutes", str(a.minutes or minutes),
          "--device", a.device, "--seed", "0", *train, *extra]
         + (["--resume"] if (run / "checkpoints").is_dir() else []))
    step(["evaluate", str(run), "--metrics", "fid,kid", "--features", str(extractor), "--n", str(a.n),
          "--device", a.device])
    return 0


if __name__ == "__main__":
    sys.exit(main())
