"""Does a feature extractor judge a data set as a person would? FIDs of known damage, and of runs, under each judge.

    python benchmarks/judge_check.py --data DATA.zip --features NAME[,NAME...] [RUN ...] [--n 2000] [--raw]

A domain FID is only as good as its extractor on the data at hand: one fitted on photos may be blind to
what matters in drawings on white. For each judge (``--features``: names in the cache or paths, as
``ganforge evaluate --features`` takes them) this prints, as JSON, the FID between

- one half of DATA (a fixed random split) and the other: the judge's floor, what "no difference" scores;
- that first half and the other half damaged in a known way: blurred, noised, its patches shuffled within
  each image (every colour kept, every shape lost), its hues squeezed into a narrow band (every shape
  kept, the colours lost). The same images and sample sizes as the floor, so a judge that scores
  shuffled patches near the floor cannot see shape, and one that scores the squeezed palette near it
  cannot see colour;
- the whole of DATA and ``--n`` images (seeds 0..n-1) of each RUN, as ``ganforge evaluate --n N`` scores
  it: its weight-averaged generator, and with ``--raw`` its raw weights too (one row when it has no
  average). Each row says its sample sizes: FID's bias depends on them.

Beside each: the spread of hues (entropy in bits of a 16-bin histogram of the hues of coloured pixels,
saturation and value above a quarter; at most 4), a judge-free check of how much of the data's palette
a generator draws. None for images that are not RGB.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from PIL import Image, ImageFilter

from ganforge import api, artifacts
from ganforge.data.dataset import load_dataset
from ganforge.metrics.features import load_extractor
from ganforge.metrics.fid import fid_from_features

HUE_BINS = 16
COLOURED = 64  # saturation and value (0-255) above which a pixel's hue counts


def to_hsv(images: np.ndarray) -> np.ndarray:
    """uint8 RGB (N, H, W, 3) -> uint8 HSV (N, H, W, 3), each channel 0-255 as PIL makes it."""
    return np.stack([np.asarray(Image.fromarray(i).convert("HSV")) for i in images])


def hue_entropy(images: np.ndarray) -> float | None:
    """Entropy (bits) of the hue histogram of uint8 (N, H, W, 3) images' coloured pixels; None when not RGB."""
    if images.shape[-1] != 3:
        return None
    hsv = to_hsv(images).reshape(-1, 3)
    hue = hsv[(hsv[:, 1] > COLOURED) & (hsv[:, 2] > COLOURED), 0]
    if len(hue) == 0:
        return None
    p = np.bincount(hue.astype(int) * HUE_BINS // 256, minlength=HUE_BINS) / len(hue)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def blur(images: np.ndarray, radius: float) -> np.ndarray:
    return np.stack([np.asarray(Image.fromarray(i.squeeze()).filter(ImageFilter.GaussianBlur(radius)))
                     .reshape(i.shape) for i in images])


def add_noise(images: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    return np.clip(images + rng.normal(0, sigma, images.shape), 0, 255).astype(np.uint8)


def shuffle_patches(images: np.ndarray, patch: int, rng: np.random.Generator) -> np.ndarray:
    """Each image's ``patch``-pixel squares in a random order: the same pixels, no shapes larger than a patch.
    A side that ``patch`` does not divide keeps its last few rows or columns where they are."""
    n, h, w, c = images.shape
    gh, gw = h // patch, w // patch
    out = images.copy()
    grid = out[:, :gh * patch, :gw * patch]
    tiles = grid.reshape(n, gh, patch, gw, patch, c).transpose(0, 1, 3, 2, 4, 5).reshape(n, gh * gw, patch, patch, c)
    tiles = np.stack([t[rng.permutation(gh * gw)] for t in tiles])
    grid[:] = tiles.reshape(n, gh, gw, patch, patch, c).transpose(0, 1, 3, 2, 4, 5).reshape(grid.shape)
    return out


def squeeze_hues(images: np.ndarray, band: float) -> np.ndarray:
    """Every hue mapped into one band ``band`` of the colour wheel wide (from orange on); saturation and value kept."""
    hsv = to_hsv(images).astype(np.float32)
    hsv[..., 0] = 25 + hsv[..., 0] * band
    return np.stack([np.asarray(Image.fromarray(i.astype(np.uint8), "HSV").convert("RGB")) for i in hsv])


def damaged(data: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    side = data.shape[1]
    cases = {"blur 1 px": blur(data, 1), "blur 2 px": blur(data, 2), "noise 20 levels": add_noise(data, 20, rng),
             f"patches of {max(1, side // 4)} px shuffled": shuffle_patches(data, max(1, side // 4), rng),
             f"patches of {max(1, side // 8)} px shuffled": shuffle_patches(data, max(1, side // 8), rng)}
    if data.shape[-1] == 3:
        cases["hues squeezed to 1/4"] = squeeze_hues(data, 0.25)
        cases["hues squeezed to 1/10"] = squeeze_hues(data, 0.1)
    return cases


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="*", help="run directories, checkpoints or exports")
    ap.add_argument("--data", required=True, help="the prepared data set (.zip)")
    ap.add_argument("--features", required=True, help="extractor names or paths, comma-separated")
    ap.add_argument("--n", type=int, default=2000, help="images drawn from each run")
    ap.add_argument("--raw", action="store_true", help="also judge each run's raw (not averaged) weights")
    ap.add_argument("--seed", type=int, default=0, help="the halves' split and the damage's randomness")
    args = ap.parse_args(argv)
    data = load_dataset(args.data).images
    judges = [load_extractor(spec) for spec in args.features.split(",")]

    order = np.random.default_rng(args.seed).permutation(len(data))
    half_a, half_b = data[np.sort(order[:len(data) // 2])], data[np.sort(order[len(data) // 2:])]
    refs = {"data": data, "half": half_a}
    ref_features: dict[str, list[np.ndarray]] = {}  # each reference's features, once, when first needed

    def judged(case: str, kind: str, images: np.ndarray, ref: str, **about) -> dict:
        n_ref = len(refs[ref])
        if ref not in ref_features:
            ref_features[ref] = [judge.extract(refs[ref])[0] for judge in judges]
        features = ref_features[ref]
        fids = {j.name: round(fid_from_features(f, j.extract(images)[0]), 3) for j, f in zip(judges, features)}
        entropy = hue_entropy(images)
        return {"case": case, "kind": kind, **about, "n": len(images), "n_ref": n_ref, "fid": fids,
                "hue_entropy_bits": None if entropy is None else round(entropy, 3)}

    rows = [judged("half of the data against the other half", "floor", half_b, "half")]
    rows += [judged(case, "damaged data", images, "half") for case, images in damaged(half_b, args.seed).items()]
    for run in args.runs:
        G = api.load_generator(run)
        averaged = artifacts.averaged_weights(run, G.info)
        about = {"family": G.config.family, "step": G.info.get("step")}
        rows.append(judged(run, "run", G.generate(range(args.n)), "data",
                           weights="averaged" if averaged else "raw", **about))
        if args.raw and averaged:  # without an average the row above already holds its only weights
            raw = api.load_generator(run, ema=False)
            rows.append(judged(run, "run", raw.generate(range(args.n)), "data", weights="raw", **about))
    print(json.dumps({"data": args.data, "count": len(data), "hue_entropy_bits": hue_entropy(data),
                      "judges": [{"name": j.name, "identity": j.identity} for j in judges], "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
