"""Each model family for the same wall-clock budget on one data set (Fashion-MNIST 32 px by default); prints JSON.

For every family (conditional ones trained with the class labels) this trains a fresh run
for ``--minutes`` of training time with the family's recipe from ganforge.presets (its widths and
batch size unless ``--width``/``--batch-size`` set them for all; dcgan with the family's defaults,
as ``ganforge train --model dcgan`` trains it), then reports:

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
    python benchmarks/quality_per_time.py --data ANIME1K.zip --features cifar64-cnn --families \
        dcgan,resnet,stylegan2,stylegan2+ada,fastgan,r3gan,auto --minutes 30 --curve fid.png   # issue 20's

One set-up at a time works as well: keep each printed JSON in ``benchmarks/results/quality/`` (its README
says how the kept ones were made) and ``benchmarks/quality_report.py`` tables them and checks the targets.

``FAMILY+AUG`` trains the family's recipe with ``--augment AUG`` (``stylegan2+ada``; policies joined by ``+``
as set-up names show them: ``fastgan+color+translation`` is ``--augment color,translation``); ``auto`` is the
budget plan (ganforge.plan), which measures its candidates first, as ``ganforge train --minutes`` does.
``--seed`` seeds every run (repeat with another seed to see the noise between runs); ``--curve-points
K`` also evaluates each run at K-1 evenly spaced moments of its budget (FID over time, in the JSON as
``curve``) and ``--curve PNG`` plots those curves.

Before and after each set-up the machine's speed is probed (``benchmarks/machine_speed.py``: a fixed
convolutional workload, about 5 s each time) and kept as ``machine_probe_ms``: a shared host can be
much slower on one day than another, invisibly to the process, and a wall-clock budget then buys fewer
steps. ``quality_report.py`` flags a result whose probe is slower than the rest of its table's.

``--write-plan-table PATH`` (e.g. ``src/ganforge/plan_table.json``) adds the results to the budget
plan's table (ganforge.plan): each family's set-up (recipe, width, batch size) becomes a candidate
and its FID after ``steps x batch`` images a point on its curve for this data set. Run it at
several ``--minutes`` to give the plan curves, not single points. ``--from-results JSON...`` with it
adds results kept from earlier runs on ``--data`` instead of training (how the shipped table is made:
see ``benchmarks/results/quality/README.md``).

Each result also records ``runtime``, the arithmetic the run trained in (bfloat16 autocast on a CPU with
AMX, float32 without: the same family gets other step counts in the same minutes), and the document
``cpu_amx``.
"""

from __future__ import annotations

import argparse
import copy
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
from ganforge.device import cpu_has_amx, resolve_device
from ganforge.errors import GanforgeError
from ganforge.metrics.domain import ExtractorError, find_extractor_file, fit_extractor, load_extractor_file
from ganforge.metrics.evaluate import evaluate_images, generate_images
from ganforge.metrics.features import load_extractor
from ganforge.metrics.registry import EvalContext, compute
from ganforge.presets import PRESETS
from ganforge.train import train

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine_speed import probe  # noqa: E402  (a script beside this one)

RECIPES = {  # family -> preset giving its loss, critic steps and optimiser settings
    "mlp": "mnist-dense",
    "dcgan": "",  # no preset: what `ganforge train --model dcgan` trains (the family's defaults)
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
    """The run's final generator (its EMA when it has one), as ``ganforge evaluate`` loads it."""
    G, cfg, _ = load_generator(run, device=device)
    return evaluate_generator(G, cfg, data, extractor, n, device)


def evaluate_generator(G, cfg: ModelConfig, data, extractor, n: int, device: torch.device) -> dict:
    t0 = time.time()
    G = G.to(device).eval()
    with torch.random.fork_rng(devices=[]):  # as ganforge evaluate does
        fake = generate_images(G, cfg, n)    # seeds 0..n-1; labels 0, 1, ..., K-1, 0, ... for conditional G
        values = evaluate_images(fake, data, ["fid", "kid", "copying"], extractor=extractor, n_ref=n, device=device)
        out = {k: _num(v) for k, v in values.items()}
        if cfg.num_classes and data.labels is not None:
            out.update(per_class_fid(fake, np.arange(n) % cfg.num_classes, data, extractor, device))
    out["eval_seconds"] = round(time.time() - t0, 1)
    return out


def budget_moments(minutes: float, points: int) -> list[float]:
    """Seconds into a ``minutes`` budget of ``points`` - 1 evenly spaced looks at a run (its end is the last)."""
    return [60 * minutes * i / points for i in range(1, points)]


class Snapshots:
    """Copies of G (its EMA when the run keeps one, as evaluate loads it) at ``points`` - 1 evenly spaced
    moments of the --minutes budget, for the FID-over-time curve; the budget's end is the run itself."""

    def __init__(self, minutes: float, points: int):
        self.times = budget_moments(minutes, points)
        self.taken: list[tuple[float, int, torch.nn.Module]] = []
        self.model_cfg: ModelConfig | None = None

    def __call__(self, trainer) -> None:
        if self.times and trainer.elapsed >= self.times[0]:
            self.times.pop(0)
            G = trainer.G_ema if trainer.G_ema is not None else trainer.G
            self.taken.append((trainer.elapsed, trainer.step, copy.deepcopy(G).cpu().eval()))
            self.model_cfg = trainer.model_cfg


def curve_points(snapshots: Snapshots, final: dict, data, extractor, n: int, device, batch_size: int) -> list[dict]:
    """FID (and KID) of each snapshot, then of the final generator: the family's quality over training time."""
    metric = f"fid[{extractor.name}]"
    points = []
    for seconds, step, G in snapshots.taken:
        assert snapshots.model_cfg is not None
        values = evaluate_generator(G, snapshots.model_cfg, data, extractor, n, device)
        points.append({"minutes": round(seconds / 60, 3), "steps": step, "images": step * batch_size,
                       "fid": values[metric]})
    points.append({"minutes": round(final["train_seconds"] / 60, 3), "steps": final["steps"],
                   "images": final["steps"] * batch_size, "fid": final[metric]})
    return points


def write_curve_png(results: list[dict], path: Path, metric: str, title: str) -> None:
    """FID over training minutes, one line per family (matplotlib's file-only backend), written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ganforge.utils import atomic_path

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    for r in results:
        pts = r.get("curve") or []
        ax.plot([p["minutes"] for p in pts], [p["fid"] for p in pts], marker="o", label=r["setup"])
    ax.set_xlabel("training minutes")
    ax.set_ylabel(f"{metric} (lower is better)")
    ax.set_yscale("log")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    print(f"quality_per_time: wrote {path}", file=sys.stderr)


def write_plan_table(path: Path, results: list[dict], data, metric: str, source: str, device: str,
                     sha256: str | None = None) -> None:
    """Add these results on ``data`` to the budget plan's table (ganforge.plan.add_case), atomically.

    Each set-up (recipe, width, batch size, augmentation as trained) is a candidate; every point of its
    curve (or its one final point without --curve-points) is a measurement of its FID after that many
    images, each seed's its own. The auto plan's row is not a candidate of its own: it is one of the others.
    ``sha256`` keys the table's case when it is not the data file's own (a re-made file of kept content).
    """
    from ganforge.plan import add_case, load_table
    from ganforge.utils import write_json_atomic

    candidates, rows = {}, []
    for r in results:
        if r.get("plan"):  # the plan's run is a run of one of the candidates, not one of its own
            continue
        name = r["setup"]
        preset = r["recipe"] if r["recipe"] in PRESETS else None  # dcgan: the family's defaults, no preset
        family = r["family"].partition("+")[0]  # stylegan2+ada: the family is stylegan2, "ada" its augment
        candidates[name] = {"family": family, "preset": preset, "width": r["width"],
                            "batch_size": r["batch_size"], "augment": r["augment"]}
        for point in r.get("curve") or [{"images": r["steps"] * r["batch_size"], "steps": r["steps"],
                                         "fid": r.get(metric), "minutes": r["train_seconds"] / 60}]:
            rows.append({"candidate": name, "images": point["images"], "steps": point["steps"],
                         "score": point["fid"], "minutes": round(point["minutes"], 3), "seed": r.get("seed", 0)})
    case = {"data": str(data.info.get("source") or data.path.name), "sha256": sha256 or data.sha256,
            "count": len(data), "resolution": data.resolution, "channels": data.channels, "metric": metric,
            "device": device, "source": source, "results": rows}
    table = load_table(path) if path.is_file() else None
    write_json_atomic(path, add_case(table, case, candidates, source))
    print(f"quality_per_time: wrote {path}", file=sys.stderr)


def results_from_files(paths: list[Path], data) -> tuple[list[dict], str, str, str]:
    """(rows, metric, device, the data's kept SHA-256) of kept quality_per_time.py documents measured on
    ``data``, as quality_report.py reads them: a ``same_content`` document among ``paths`` joins the results
    of re-made files to the kept ones. Documents of another data set, or judged by another extractor than
    the rest, are refused in one line: their FIDs are not on this table's scale."""
    from quality_report import read, rows_of  # a script beside this one

    docs, same = read(paths)
    rows = rows_of(docs, same)
    if not rows:
        raise SystemExit("quality_per_time: --from-results: no quality_per_time.py results among the files")
    kept_sha = same["data_sha256"].get(data.sha256, data.sha256)
    other = sorted({r["source"] for r in rows if r["case"][0] != kept_sha})
    if other:
        raise SystemExit(f"quality_per_time: {', '.join(other)} measured another data set than {data.path}")
    judges = sorted({f"{r['metric']} ({r['case'][2]})" for r in rows})
    if len(judges) > 1:
        raise SystemExit(f"quality_per_time: the results were judged by different extractors: {'; '.join(judges)}")
    devices = sorted({f"{r['case'][3]}, {r['threads']} threads" for r in rows})
    return rows, rows[0]["metric"], " / ".join(devices), kept_sha


def setup(family: str, args, data_path: Path) -> tuple[str, dict]:
    """(recipe name, {"model", "train"} values) of one benchmarked set-up.

    A family trains with its recipe's widths and batch size (what a user of that preset gets; one shared
    width would make some families far too small or too slow), unless --width/--batch-size override them
    all. ``auto`` is the budget plan: it measures its candidates here first, as ``ganforge train --minutes``
    without --model does, and trains what it chose.
    """
    if family == "auto":
        from ganforge.plan import make_plan

        plan = make_plan(str(data_path), args.minutes, args.device)
        print("\n".join(plan.lines()), file=sys.stderr, flush=True)
        values = plan.chosen.candidate.preset_values()
        return f"plan: {plan.chosen.candidate.name}", values
    family, _, augment = family.partition("+")  # e.g. stylegan2+ada: the recipe with --augment ada
    recipe = RECIPES[family]
    preset = PRESETS[recipe] if recipe else {"model": {"family": family}, "train": {}}
    model = {**preset["model"], "resolution": 0, "channels": 0}  # sized to the data set by the trainer
    train_values = dict(preset["train"])
    if augment:
        train_values["augment"] = augment.replace("+", ",")  # --families splits at commas
    if args.width:
        model["width"] = args.width
    if args.batch_size:
        train_values["batch_size"] = args.batch_size
    return recipe or "family defaults", {"model": model, "train": train_values}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.path.expanduser("~/.cache/ganforge/benchmarks/fashion-mnist-32.zip"),
                   help="prepared Fashion-MNIST 32 px data set (made from fashion-mnist:train if missing)")
    p.add_argument("--families", default=",".join(RECIPES),
                   help="comma list of families, FAMILY+AUG (e.g. stylegan2+ada) and auto (the budget plan)")
    p.add_argument("--minutes", type=float, default=1.0, help="training minutes per family")
    p.add_argument("--width", type=int, help="base width of every family's networks (default: each recipe's own)")
    p.add_argument("--batch-size", type=int, help="batch size of every family (default: each recipe's own)")
    p.add_argument("--seed", type=int, default=0, help="the runs' seed (weights, data order, latents): repeat with "
                   "another to see the noise between runs of one set-up")
    p.add_argument("--curve-points", type=int, default=0,
                   help="evaluate each run at this many evenly spaced moments of its budget (the last is its end): "
                        "FID over time in the JSON, and in --curve's plot")
    p.add_argument("--curve", metavar="PNG", help="plot FID over training minutes per family here "
                   "(implies --curve-points 4 unless given)")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto")
    p.add_argument("--n-eval", type=int, default=5000,
                   help="generated images per family, and as many reference images of the data set")
    p.add_argument("--features", default="fashion-mnist-cnn",
                   help="domain extractor: a name in the cache (fitted on --data once if missing) or a path")
    p.add_argument("--fit-epochs", type=float, default=3, help="if the extractor is fitted here: its epochs")
    p.add_argument("--fit-max-images", type=int, help="if the extractor is fitted here: at most this many images")
    p.add_argument("--runs", help="keep the runs here (default: a temporary folder)")
    p.add_argument("--probe-seconds", type=float, default=5.0,
                   help="time benchmarks/machine_speed.py's probe this long before and after each set-up, so that a "
                        "result measured on a slowed machine can be told (0: skip)")
    p.add_argument("--write-plan-table", metavar="PATH",
                   help="add the results to the budget plan's table at PATH (src/ganforge/plan_table.json ships)")
    p.add_argument("--from-results", nargs="+", metavar="JSON",
                   help="with --write-plan-table: add these kept results of --data (this script's JSON; a "
                        "same_content document among them joins re-made files) to the table, training nothing")
    args = p.parse_args()

    if args.from_results:
        if not args.write_plan_table:
            raise SystemExit("quality_per_time: --from-results adds kept results to --write-plan-table PATH; give it")
        try:
            data = load_dataset(args.data)
        except GanforgeError as e:
            raise SystemExit(f"quality_per_time: {str(e).splitlines()[0]}") from None
        rows, metric, device, kept_sha = results_from_files([Path(f) for f in args.from_results], data)
        source = (f"benchmarks/quality_per_time.py --from-results ({len(rows)} runs read from "
                  f"{', '.join(sorted({Path(f).name for f in args.from_results}))}) on {time.strftime('%Y-%m-%d')}")
        write_plan_table(Path(args.write_plan_table), rows, data, metric, source, device, kept_sha)
        return 0
    data_path = prepare_data(Path(args.data))
    data = load_dataset(data_path)
    eval_device = resolve_device(args.device)
    extractor, features = get_extractor(args.features, data, eval_device, fit_epochs=args.fit_epochs,
                                        fit_max_images=args.fit_max_images)

    root = Path(args.runs) if args.runs else Path(tempfile.mkdtemp(prefix="ganforge-bench-"))

    def machine_ms() -> float | None:
        """The machine probe's milliseconds now (None with --probe-seconds 0)."""
        return probe(eval_device, args.probe_seconds)["probe_ms"] if args.probe_seconds > 0 else None

    if args.curve and not args.curve_points:
        args.curve_points = 4
    results = []
    for family in args.families.split(","):
        recipe, values = setup(family, args, data_path)
        model = ModelConfig.from_dict(values["model"])
        cfg = TrainConfig.from_dict({**values["train"], "data": str(data_path), "out": str(root / family),
                                     "minutes": args.minutes, "device": args.device, "seed": args.seed,
                                     "precision": args.precision, "sample_every": 10**9, "checkpoint_every": 10**9,
                                     "log_every": 50})
        snapshots = Snapshots(args.minutes, args.curve_points) if args.curve_points > 1 else None
        before = machine_ms()
        t0 = time.time()
        result = train(cfg, model, out=open(os.devnull, "w"), hooks=[snapshots] if snapshots else ())
        wall = time.time() - t0
        after = machine_ms()
        state = torch.load(root / family / "checkpoints" / "latest.pt", map_location="cpu", weights_only=True)
        seconds = state["elapsed"]
        n_critic = cfg.n_critic or (5 if cfg.loss == "wgan-gp" else 1)  # (stylegan2's lazy R1 is not counted)
        row = {"family": model.family if family == "auto" else family, "plan": family == "auto",
               "setup": f"{'auto: ' if family == 'auto' else ''}{model.family}-w{model.width}-b{cfg.batch_size}"
                        + (f"-{cfg.augment.replace(',', '+')}" if cfg.augment else ""),
               "recipe": recipe, "width": model.width, "batch_size": cfg.batch_size, "augment": cfg.augment,
               "loss": cfg.loss, "n_critic": n_critic, "seed": args.seed,
               "steps": result.step, "train_seconds": round(seconds, 1), "wall_seconds": round(wall, 1),
               "d_img_per_s": round(result.step * cfg.batch_size * n_critic / seconds, 1),
               "g_img_per_s": round(result.step * cfg.batch_size / seconds, 1),
               "g_params": sum(v.numel() for v in state["G"].values() if v.is_floating_point()),
               "machine_probe_ms": None if before is None else [before, after],
               # what the run computed in (e.g. "cpu bfloat16 autocast, channels_last" where the CPU has AMX):
               # the same family trains at different speeds, and so to different FIDs, in float32 and bf16
               "runtime": json.loads((root / family / "config.json").read_text()).get("runtime"),
               **evaluate(root / family, data, extractor, args.n_eval, eval_device)}
        if snapshots:
            row["curve"] = curve_points(snapshots, row, data, extractor, args.n_eval, eval_device, cfg.batch_size)
        results.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    metric = f"fid[{extractor.name}]"
    if args.curve:
        write_curve_png(results, Path(args.curve), metric,
                        f"{data_path.name}: {len(data):,} images, {args.minutes:g} min per set-up, seed {args.seed}")
    device = torch.cuda.get_device_name() if torch.cuda.is_available() and args.device != "cpu" else "cpu"
    if args.write_plan_table:
        source = (f"benchmarks/quality_per_time.py --minutes {args.minutes:g} --curve-points {args.curve_points} "
                  f"--n-eval {args.n_eval} --seed {args.seed} on {time.strftime('%Y-%m-%d')}")
        write_plan_table(Path(args.write_plan_table), results, data, metric, source,
                         f"{device}, {torch.get_num_threads()} threads")
    per_class = sorted(set(np.bincount(np.arange(args.n_eval) % len(data.classes)).tolist())) if data.classes else None
    print(json.dumps({"benchmark": "quality_per_time", "data": str(data_path), "data_sha256": data.sha256,
                      "count": len(data), "minutes_per_family": args.minutes, "seed": args.seed,
                      "device": device, "torch_threads": torch.get_num_threads(), "cpu_amx": cpu_has_amx(),
                      "quality": f"fid[{extractor.name}] (lower is better; comparable only with the same extractor "
                                 "file, see features.identity)",
                      "features": features,
                      "n_generated": args.n_eval, "n_real": min(args.n_eval, len(data)),
                      "n_per_class": (per_class[0] if len(per_class) == 1 else per_class) if per_class else None,
                      "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
