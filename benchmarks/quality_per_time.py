"""Each model family for the same wall-clock budget on Fashion-MNIST 32 px; prints JSON.

For every family (conditional ones trained with the class labels) this trains a fresh run
for ``--minutes`` of training time with the family's recipe from ganforge.presets (width and
batch size shared), then reports:

- ``steps``: generator updates done; ``d_img_per_s``: real images through D per second
  (batch x critic steps); ``g_img_per_s``: generated images per second of G updates;
- ``fid[NAME]``, ``kid[NAME]`` (+ ``kid_std[NAME]``): ganforge's own evaluation
  (``ganforge.metrics.evaluate.evaluate_images``, the code behind ``ganforge evaluate``) of
  ``--n-eval`` generated images (seeds 0..n-1; conditional families cycle through the classes)
  against as many reference images of the data set, on the features of the domain extractor
  NAME (``--features``, default ``fashion-mnist-cnn``). The same numbers as
  ``ganforge evaluate RUN --metrics fid,kid --features NAME --n N``. Lower is better.
- conditional families also get ``fid_per_class[NAME]``: the mean over classes of the FID
  between the images generated for class k and as many real images of class k (a fixed random
  pick), computed by the same registry (``ganforge.metrics.registry.compute``); the values per
  class are in ``fid_by_class[NAME]``. Does the label pick the garment? With n_eval/10 images per
  class these carry more small-sample bias than the overall FID: compare them with each other.

The extractor is ``--features NAME`` (a name in the cache) or a path. A name not in the cache is
fitted once on ``--data``, as ``ganforge features fit --data DATA --name NAME`` would, and saved
in the cache (``$GANFORGE_CACHE/extractors/NAME.pt``) where ``--features NAME`` finds it next
time. The JSON names the extractor with its SHA-256 (the identity that keys ganforge's reference
cache), its held-out accuracy and the data it was fitted on: numbers are comparable only between
tables made with the same extractor file.

    python benchmarks/quality_per_time.py --minutes 1                  # all families, CPU or GPU
    python benchmarks/quality_per_time.py --families dcgan,resnet --minutes 5 --device cuda
    python benchmarks/quality_per_time.py --families dcgan,stylegan2 --minutes 30   # issue 19's comparison

``--write-plan-table PATH`` (e.g. ``src/ganforge/plan_table.json``) adds the results to the budget
plan's table (ganforge.plan): each family's set-up (recipe, width, batch size) becomes a candidate
and its FID after ``steps x batch`` images a point on its curve for this data set. Run it at
several ``--minutes`` to give the plan curves, not single points.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ganforge.artifacts import load_generator
from ganforge.config import ModelConfig, TrainConfig
from ganforge.data.dataset import load_dataset
from ganforge.device import resolve_device
from ganforge.metrics.domain import ExtractorError, find_extractor_file, fit_extractor, load_extractor_file
from ganforge.metrics.evaluate import evaluate_images, generate_images
from ganforge.metrics.features import load_extractor
from ganforge.metrics.registry import EvalContext, compute
from ganforge.presets import PRESETS
from ganforge.train import train

RECIPES = {  # family -> preset giving its loss, critic steps and optimiser settings
    "mlp": "mnist-dense",
    "dcgan": "mnist-conv",
    "resnet": "sngan-32",
    "cgan": "cgan-projection-32",
    "acgan": "acgan-32",
    "stylegan2": "stylegan2-cpu-32",  # its loss (lazy R1), Adam (0, 0.99) and EMA half-life; --width applies
    "fastgan": "fastgan-small-data",
    "r3gan": "r3gan-small-data",
}


def prepare_data(path: Path) -> Path:
    if not path.is_file():
        from ganforge.data.prepare import PrepareOptions, prepare

        prepare("fashion-mnist:train", path, PrepareOptions(), progress=False)
    return path


def get_extractor(spec: str, data, device: torch.device, *, fit_epochs: float, fit_max_images: int | None):
    """(FeatureExtractor, description for the JSON): the cached/named one, else fitted once on ``data``."""
    fitted_now = False
    try:
        path = find_extractor_file(spec)
    except ExtractorError:
        if spec.endswith(".pt") or os.sep in spec:  # a path that is not there: say so rather than fit elsewhere
            raise
        print(f"quality_per_time: no extractor {spec!r} in the cache; fitting it once on {data.path}", file=sys.stderr)
        path = fit_extractor(data.path, name=spec, epochs=fit_epochs, max_images=fit_max_images, device=str(device))
        fitted_now = True
    extractor = load_extractor(str(path), device)
    state = load_extractor_file(path)
    trained_on = state.get("data", {})
    if trained_on.get("sha256") != data.sha256:
        print(f"quality_per_time: note: {extractor.name} was fitted on {trained_on.get('path')}, not on {data.path}",
              file=sys.stderr)
    info = {"name": extractor.name, "identity": extractor.identity, "file": str(path), "protocol": extractor.protocol,
            "val_accuracy": state.get("val_accuracy"), "epochs": state.get("epochs"), "fitted_now": fitted_now,
            "fitted_on": {**trained_on, "same_as_benchmark_data": trained_on.get("sha256") == data.sha256}}
    return extractor, info


def _num(v: float) -> float:
    return float(f"{v:.5g}")


def per_class_fid(fake: np.ndarray, fake_labels: np.ndarray, data, extractor, device, seed: int = 0) -> dict:
    """FID of each class's generated images against as many real images of that class."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(data.labels)
    by_class = {}
    for k, name in enumerate(data.classes):
        f = fake[fake_labels == k]
        pool = np.flatnonzero(labels == k)
        real = np.asarray(data.images[np.sort(rng.choice(pool, min(len(f), len(pool)), replace=False))])
        values = compute("fid", EvalContext(real, f, extractor, device=str(device), seed=seed))
        by_class[name] = _num(values[f"fid[{extractor.name}]"])
    return {f"fid_per_class[{extractor.name}]": _num(float(np.mean(list(by_class.values())))),
            f"fid_by_class[{extractor.name}]": by_class}


def evaluate(run: Path, data, extractor, n: int, device: torch.device) -> dict:
    t0 = time.time()
    G, cfg, _ = load_generator(run, device=device)
    with torch.random.fork_rng(devices=[]):  # as ganforge evaluate does
        fake = generate_images(G, cfg, n)    # seeds 0..n-1; labels 0, 1, ..., K-1, 0, ... for conditional G
        values = evaluate_images(fake, data, ["fid", "kid"], extractor=extractor, n_ref=n, device=device)
        out = {k: _num(v) for k, v in values.items()}
        if cfg.num_classes and data.labels is not None:
            out.update(per_class_fid(fake, np.arange(n) % cfg.num_classes, data, extractor, device))
    out["eval_seconds"] = round(time.time() - t0, 1)
    return out


def write_plan_table(path: Path, results: list[dict], data, metric: str, args, device: str) -> None:
    """Add this benchmark's results to the budget plan's table (ganforge.plan.add_case), atomically."""
    from ganforge.plan import add_case, load_table
    from ganforge.utils import write_json_atomic

    candidates, rows = {}, []
    for r in results:
        name = f"{r['family']}-w{args.width}-b{args.batch_size}"
        candidates[name] = {"family": r["family"], "preset": r["recipe"], "width": args.width,
                            "batch_size": args.batch_size, "augment": ""}
        rows.append({"candidate": name, "images": r["steps"] * args.batch_size, "steps": r["steps"],
                     "score": r.get(metric), "minutes": args.minutes})
    case = {"data": str(data.info.get("source") or data.path.name), "sha256": data.sha256, "count": len(data),
            "resolution": data.resolution, "channels": data.channels, "metric": metric,
            "device": f"{device}, {torch.get_num_threads()} threads", "results": rows}
    table = load_table(path) if path.is_file() else None
    source = (f"benchmarks/quality_per_time.py --minutes {args.minutes:g} --width {args.width} "
              f"--batch-size {args.batch_size} --n-eval {args.n_eval} on {time.strftime('%Y-%m-%d')}")
    write_json_atomic(path, add_case(table, case, candidates, source))
    print(f"quality_per_time: wrote {path}", file=sys.stderr)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.path.expanduser("~/.cache/ganforge/benchmarks/fashion-mnist-32.zip"),
                   help="prepared Fashion-MNIST 32 px data set (made from fashion-mnist:train if missing)")
    p.add_argument("--families", default=",".join(RECIPES), help="comma list of families")
    p.add_argument("--minutes", type=float, default=1.0, help="training minutes per family")
    p.add_argument("--width", type=int, default=32, help="base width of every family's networks")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto")
    p.add_argument("--n-eval", type=int, default=5000,
                   help="generated images per family, and as many reference images of the data set")
    p.add_argument("--features", default="fashion-mnist-cnn",
                   help="domain extractor: a name in the cache (fitted on --data once if missing) or a path")
    p.add_argument("--fit-epochs", type=float, default=3, help="if the extractor is fitted here: its epochs")
    p.add_argument("--fit-max-images", type=int, help="if the extractor is fitted here: at most this many images")
    p.add_argument("--runs", help="keep the runs here (default: a temporary folder)")
    p.add_argument("--write-plan-table", metavar="PATH",
                   help="add the results to the budget plan's table at PATH (src/ganforge/plan_table.json ships)")
    args = p.parse_args()

    data_path = prepare_data(Path(args.data))
    data = load_dataset(data_path)
    eval_device = resolve_device(args.device)
    extractor, features = get_extractor(args.features, data, eval_device, fit_epochs=args.fit_epochs,
                                        fit_max_images=args.fit_max_images)

    root = Path(args.runs) if args.runs else Path(tempfile.mkdtemp(prefix="ganforge-bench-"))
    results = []
    for family in args.families.split(","):
        preset = PRESETS[RECIPES[family]]
        model = ModelConfig.from_dict({**preset["model"], "width": args.width, "resolution": 0, "channels": 0})
        cfg = TrainConfig.from_dict({**preset["train"], "data": str(data_path), "out": str(root / family),
                                     "minutes": args.minutes, "batch_size": args.batch_size, "device": args.device,
                                     "precision": args.precision, "sample_every": 10**9, "checkpoint_every": 10**9,
                                     "log_every": 50})
        t0 = time.time()
        result = train(cfg, model, out=open(os.devnull, "w"))
        wall = time.time() - t0
        state = torch.load(root / family / "checkpoints" / "latest.pt", map_location="cpu", weights_only=True)
        seconds = state["elapsed"]
        n_critic = cfg.n_critic or (5 if cfg.loss == "wgan-gp" else 1)  # (stylegan2's lazy R1 is not counted)
        row = {"family": family, "recipe": RECIPES[family], "loss": cfg.loss, "n_critic": n_critic,
               "steps": result.step, "train_seconds": round(seconds, 1), "wall_seconds": round(wall, 1),
               "d_img_per_s": round(result.step * cfg.batch_size * n_critic / seconds, 1),
               "g_img_per_s": round(result.step * cfg.batch_size / seconds, 1),
               "g_params": sum(v.numel() for v in state["G"].values() if v.is_floating_point()),
               **evaluate(root / family, data, extractor, args.n_eval, eval_device)}
        results.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    device = torch.cuda.get_device_name() if torch.cuda.is_available() and args.device != "cpu" else "cpu"
    if args.write_plan_table:
        write_plan_table(Path(args.write_plan_table), results, data, f"fid[{extractor.name}]", args, device)
    per_class = sorted(set(np.bincount(np.arange(args.n_eval) % len(data.classes)).tolist())) if data.classes else None
    print(json.dumps({"benchmark": "quality_per_time", "data": str(data_path), "data_sha256": data.sha256,
                      "count": len(data), "minutes_per_family": args.minutes, "width": args.width,
                      "batch_size": args.batch_size, "device": device, "torch_threads": torch.get_num_threads(),
                      "quality": f"fid[{extractor.name}] (lower is better; comparable only with the same extractor "
                                 "file, see features.identity)",
                      "features": features,
                      "n_generated": args.n_eval, "n_real": min(args.n_eval, len(data)),
                      "n_per_class": (per_class[0] if len(per_class) == 1 else per_class) if per_class else None,
                      "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
