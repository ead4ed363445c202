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

``--inpainter RUN2`` compares the two ways of inpainting instead (projection is skipped): latent
optimisation on RUN (e.g. a DCGAN) against one forward pass of inpainter run RUN2 (``--model
inpainter``), on the same held-out images and holes: error in the hole and seconds per image each:

    python benchmarks/latent_quality.py runs/dcgan --inpainter runs/inpainter --held-out data/test.zip --n 32
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
    ap.add_argument("--examples", help="PNG: rows of target | projection | rect hole | filled | free hole | filled "
                                       "(with --inpainter: target | rect hole | latent | inpainter | free hole | ...)")
    ap.add_argument("--inpainter", help="an inpainter run to compare with RUN's latent-optimisation inpainting")
    args = ap.parse_args()
    if args.inpainter:
        compare_inpainting(args)
        return

    G, cfg, state = load_generator(args.run, device=args.device)
    D = L.load_discriminator(args.run, args.device, state=state)
    images = held_out_images(args, state, cfg)
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
        save_examples(rows, args.examples)
    print(json.dumps(result, indent=2))


def held_out_images(args, state: dict, cfg) -> np.ndarray:
    """``args.n`` images of the held-out set (the same ones whatever the run), checked against the run."""
    held = load_dataset(args.held_out)
    if held.sha256 == (state.get("dataset") or {}).get("sha256"):
        raise SystemExit(f"the held-out data set is the training set of {args.run}")
    if (held.resolution, held.channels) != (cfg.resolution, cfg.channels):
        raise SystemExit(f"held-out images are {held.resolution}px/{held.channels}ch, the run makes "
                         f"{cfg.resolution}px/{cfg.channels}ch")
    idx = np.random.default_rng(0).choice(len(held), size=min(args.n, len(held)), replace=False)
    return np.asarray(held.images[np.sort(idx)])


def save_examples(rows: list[list[np.ndarray]], path: str) -> None:
    """The first 8 rows of images (uint8 (H, W, C) each) as one PNG grid, one row per image."""
    from ganforge.latent.figures import save_png
    from ganforge.sampling import image_grid

    grid = np.asarray(image_grid(np.stack([x for row in rows[:8] for x in row]), ncols=len(rows[0])))
    save_png(grid if grid.ndim == 3 else grid[..., None], path, scale=2)


def timed(fn, *args, **kwargs):
    """(fn(*args, **kwargs), seconds it took)."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def compare_inpainting(args) -> None:
    """Latent optimisation on ``args.run`` against one pass of ``args.inpainter`` on the same holes."""
    G, cfg, state = load_generator(args.run, device=args.device)
    D = L.load_discriminator(args.run, args.device, state=state)
    F, fcfg, fstate = load_generator(args.inpainter, device=args.device)
    if fcfg.family != "inpainter":
        raise SystemExit(f"{args.inpainter} is a {fcfg.family} run, not an inpainter")
    if (fcfg.resolution, fcfg.channels) != (cfg.resolution, cfg.channels):
        raise SystemExit("the two runs make images of different sizes or channels")
    images = held_out_images(args, state, cfg)
    held_out_images(argparse.Namespace(**{**vars(args), "run": args.inpainter}), fstate, fcfg)  # its checks too
    r = cfg.resolution
    rect = L.rectangle_mask(r, r // 4, r // 4, r // 2, r // 2)
    errors: dict[str, list[float]] = {f"{k}_{m}": [] for k in ("rect", "free") for m in ("latent", "inpainter", "fill")}
    seconds: dict[str, list[float]] = {"latent": [], "inpainter": []}
    rows = []
    L.inpaint_once(F, images[0], rect)  # warm-up: the first call pays for allocations
    start = time.time()
    for i, img in enumerate(images):
        row = [img]
        for name, mask in (("rect", rect), ("free", L.free_form_mask(r, seed=i))):
            res, t_latent = timed(L.inpaint, G, img, mask, steps=args.steps, restarts=args.restarts, D=D, seed=i)
            once, t_once = timed(L.inpaint_once, F, img, mask)
            for filled in (res.image, once):
                assert np.array_equal(filled[~mask], img[~mask]), "known pixels changed"
            fill = np.where(mask[..., None], img[~mask].mean(0).round().astype(np.uint8), img)
            errors[f"{name}_latent"].append(L.pixel_error(res.image, img, mask))
            errors[f"{name}_inpainter"].append(L.pixel_error(once, img, mask))
            errors[f"{name}_fill"].append(L.pixel_error(fill, img, mask))
            seconds["latent"].append(t_latent)
            seconds["inpainter"].append(t_once)
            row += [np.where(mask[..., None], np.uint8(128), img), res.image, once]
        rows.append(row)
        print(f"{i + 1}/{len(images)}: rect latent {errors['rect_latent'][-1]:.4f} inpainter "
              f"{errors['rect_inpainter'][-1]:.4f}, free latent {errors['free_latent'][-1]:.4f} inpainter "
              f"{errors['free_inpainter'][-1]:.4f} ({time.time() - start:.0f} s)", file=sys.stderr, flush=True)
    result = {
        "latent_run": str(args.run), "latent_model": f"{cfg.family} {r}px width {cfg.width}",
        "latent_trained_steps": int(state.get("step", 0)), "latent_trained_seconds": round(state.get("elapsed", 0)),
        "inpainter_run": str(args.inpainter), "inpainter_model": f"{fcfg.family} {r}px width {fcfg.width}",
        "inpainter_trained_steps": int(fstate.get("step", 0)),
        "inpainter_trained_seconds": round(fstate.get("elapsed", 0)),
        "held_out": str(args.held_out), "images": len(images), "steps": args.steps, "restarts": args.restarts,
        "device": args.device, "threads": torch.get_num_threads(), "load_average": round(os.getloadavg()[0], 2),
        "machine": platform.machine(),
        "errors": "MSE inside the hole, pixels in [0, 1]",
        **{f"{kind}_hole_{method}": summary(errors[f"{kind}_{method}"])
           for kind in ("rect", "free") for method in ("latent", "inpainter", "fill")},
        "seconds_per_image_latent": round(float(np.mean(seconds["latent"])), 4),
        "seconds_per_image_inpainter": round(float(np.mean(seconds["inpainter"])), 5),
        "free_form_coverage": round(float(np.mean([L.free_form_mask(r, seed=i).mean()
                                                   for i in range(len(images))])), 3),
    }
    if args.examples:
        save_examples(rows, args.examples)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
