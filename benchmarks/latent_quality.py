"""Reconstruction error of projection and inpainting on held-out images of a trained run.

Prints one JSON object. Held-out images come from a data set prepared like the run's
(same size, crop and channels) that the run did not train on, e.g.:

    ganforge data prepare fashion-mnist:test --out data/fm32-test.zip --limit 500
    python benchmarks/latent_quality.py runs/fm32-dcgan --held-out data/fm32-test.zip --n 32

Errors are mean squared errors with pixels in [0, 1] (PSNR in dB beside them):
- projection: whole image, against two baselines: the nearest of 256 random samples
  (what the generator gives without optimisation) and the image's own mean colour.
- inpainting: inside the hole only, for a centred rectangle (a quarter of the image)
  and random free-form strokes (15-35 % of the image); baseline: the hole filled with
  the mean of the known pixels. Known pixels are checked to be unchanged.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import ganforge.latent as L  # noqa: E402
from ganforge.artifacts import load_generator  # noqa: E402
from ganforge.data.dataset import load_dataset  # noqa: E402


def summary(errors: list[float]) -> dict:
    e = np.asarray(errors)
    return {"mse_mean": round(float(e.mean()), 5), "mse_median": round(float(np.median(e)), 5),
            "mse_std": round(float(e.std()), 5),
            "psnr_mean_db": round(float(np.mean(10 * np.log10(1 / np.maximum(e, 1e-12)))), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", help="run directory")
    ap.add_argument("--held-out", required=True, help="data set of images the run did not train on")
    ap.add_argument("--n", type=int, default=32, help="held-out images used")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--restarts", type=int, default=4)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--examples", help="PNG: rows of target | projection | rect hole | filled | free hole | filled")
    args = ap.parse_args()

    G, cfg, state = load_generator(args.run, device=args.device)
    D = L.load_discriminator(args.run, args.device, state=state)
    train_sha = (state.get("dataset") or {}).get("sha256")
    held = load_dataset(args.held_out)
    if held.sha256 == train_sha:
        raise SystemExit("the held-out data set is the run's training set")
    if (held.resolution, held.channels) != (cfg.resolution, cfg.channels):
        raise SystemExit(f"held-out images are {held.resolution}px/{held.channels}ch, the run makes "
                         f"{cfg.resolution}px/{cfg.channels}ch")
    idx = np.random.default_rng(0).choice(len(held), size=min(args.n, len(held)), replace=False)
    images = np.asarray(held.images[np.sort(idx)])
    randoms = L.render(G, L.sample_latents(range(10_000, 10_256), cfg.latent_dim))

    r = cfg.resolution
    rect = L.rectangle_mask(r, r // 4, r // 4, r // 2, r // 2)
    out = {"proj": [], "proj_nearest_random": [], "proj_mean_colour": [], "rect": [], "rect_mean_fill": [],
           "free": [], "free_mean_fill": []}
    rows = []
    start = time.time()
    for i, img in enumerate(images):
        p = L.project(G, img, steps=args.steps, restarts=args.restarts, D=D, seed=i)
        out["proj"].append(p.error)
        out["proj_nearest_random"].append(min(L.pixel_error(x, img) for x in randoms))
        flat = np.broadcast_to(img.mean((0, 1)).round().astype(np.uint8), img.shape)
        out["proj_mean_colour"].append(L.pixel_error(flat, img))
        row = [img, p.image]
        for name, mask in (("rect", rect), ("free", L.free_form_mask(r, seed=i))):
            res = L.inpaint(G, img, mask, steps=args.steps, restarts=args.restarts, D=D, seed=i)
            assert np.array_equal(res.image[~mask], img[~mask]), "known pixels changed"
            out[name].append(L.pixel_error(res.image, img, mask))
            fill = np.where(mask[..., None], img[~mask].mean(0).round().astype(np.uint8), img)
            out[f"{name}_mean_fill"].append(L.pixel_error(fill, img, mask))
            row += [np.where(mask[..., None], np.uint8(128), img), res.image]
        rows.append(row)
        print(f"{i + 1}/{len(images)}: projection {p.error:.4f}, rect {out['rect'][-1]:.4f}, "
              f"free {out['free'][-1]:.4f} ({time.time() - start:.0f} s)", file=sys.stderr, flush=True)

    result = {
        "run": str(args.run), "model": f"{cfg.family} {cfg.resolution}px width {cfg.width}",
        "trained_steps": int(state.get("step", 0)), "held_out": str(args.held_out), "images": len(images),
        "steps": args.steps, "restarts": args.restarts, "device": args.device, "threads": torch.get_num_threads(),
        "load_average": round(os.getloadavg()[0], 2), "machine": platform.machine(),
        "seconds_per_image_all_three": round((time.time() - start) / len(images), 1),
        "projection": summary(out["proj"]),
        "projection_baseline_nearest_of_256_random": summary(out["proj_nearest_random"]),
        "projection_baseline_mean_colour": summary(out["proj_mean_colour"]),
        "inpaint_rectangle_hole": summary(out["rect"]),
        "inpaint_rectangle_baseline_mean_fill": summary(out["rect_mean_fill"]),
        "inpaint_free_form_hole": summary(out["free"]),
        "inpaint_free_form_baseline_mean_fill": summary(out["free_mean_fill"]),
        "free_form_coverage": round(float(np.mean([L.free_form_mask(r, seed=i).mean()
                                                   for i in range(len(images))])), 3),
    }
    if args.examples:
        from ganforge.latent.figures import save_png
        from ganforge.sampling import image_grid

        grid = np.asarray(image_grid(np.stack([x for row in rows[:8] for x in row]), ncols=6))
        save_png(grid if grid.ndim == 3 else grid[..., None], args.examples, scale=2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
