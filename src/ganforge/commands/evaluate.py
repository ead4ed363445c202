"""``ganforge evaluate``, ``ganforge compare`` and ``ganforge features fit``: thin wrappers
around ganforge.metrics.evaluate / report / domain."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ganforge.commands import add_command


def _metric_options(p: argparse.ArgumentParser, metrics_default: str | None) -> None:
    p.add_argument("--metrics", default=metrics_default,
                   help="comma-separated: fid, kid, pr (precision/recall), is, c2st (two-sample test), "
                        "dacc (the run's discriminator: a training diagnostic)")
    p.add_argument("--features", default="inception",
                   help="feature extractor for fid/kid/pr/is: 'inception' (standard; downloads its weights once), "
                        "the name of one made by 'ganforge features fit', or a path to one")
    p.add_argument("--n", type=int, default=10_000, help="generated images to evaluate")
    p.add_argument("--n-ref", type=int, help="real reference images (default: --n, capped by the data set)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    p.add_argument("--inception-weights", help="path to pt_inception-2015-12-05-6726825d.pth "
                                               "(default: $GANFORGE_INCEPTION_WEIGHTS, else the cache)")


def register(sub) -> None:
    p = add_command(sub, "evaluate", run_evaluate, help="measure a run (or a folder of images) against a data set",
                    description="Compute FID, KID, precision/recall, IS and a two-sample test of a run's generator "
                                "(images of seeds 0..n-1) or of a folder of images, against a data set. Prints a "
                                "table and writes JSON. Metric names carry the extractor: fid[inception] is the "
                                "standard FID, fid[NAME] uses a domain classifier made by 'ganforge features fit'.")
    p.add_argument("source", metavar="RUN_OR_FOLDER", help="run directory, checkpoint, or folder of images")
    p.add_argument("--data", help="data set to compare with (default for a run: the one it was trained on)")
    p.add_argument("--out", help="JSON file to write (default: RUN/evaluation.json, or FOLDER-evaluation.json)")
    _metric_options(p, "fid,kid,pr,is,c2st")
    p.add_argument("--classifier", help="a translator run whose source domain has classes: a classifier of those "
                                        "classes for class_kept (made by 'ganforge features fit --data SET --domain "
                                        "A'; default: one fitted on the fly and cached)")

    p = add_command(sub, "compare", run_compare, help="compare runs in report.md and a self-contained report.html",
                    description="Compare runs: a metric table (from each run's evaluation.json and metrics.jsonl), "
                                "loss and metric curves on shared axes, and sample grids side by side. With "
                                "--metrics, every run is first evaluated the same way.")
    p.add_argument("runs", metavar="RUN", nargs="+", help="run directories")
    p.add_argument("--out", required=True, help="folder for report.md, report.html and their images")
    _metric_options(p, None)

    p = add_command(sub, "features", run_features, help="domain feature extractors (fit a classifier)",
                    description="'ganforge features fit --data DATASET' trains a small CNN classifier on a labelled "
                                "data set; FID/KID/PR on its penultimate layer need no downloaded weights and are "
                                "reported as fid[NAME].")
    p.add_argument("action", choices=("fit",), help="fit: train and save an extractor")
    p.add_argument("--data", required=True, help="labelled data set (.zip from 'ganforge data prepare')")
    p.add_argument("--name", help="extractor name used in metric keys (default: DATA's file name + '-cnn')")
    p.add_argument("--out", help="file to write (default: the cache, so --features NAME finds it)")
    p.add_argument("--epochs", type=float, default=3, help="passes over the training split")
    p.add_argument("--width", type=int, default=32, help="channels of the first conv stage")
    p.add_argument("--max-images", type=int, help="use at most this many labelled images")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    p.add_argument("--seed", type=int, default=0, help="random seed (split, init, order)")
    p.add_argument("--domain", help="a two-domain data set: fit on this domain's (A, B or its name) own class "
                                    "labels only: a classifier of a translator's source classes "
                                    "(evaluate --classifier)")


def _print_record(record: dict, label: str) -> None:
    from ganforge.metrics.evaluate import format_table

    print(format_table({label: record["metrics"]}))
    print(f"wrote {record['written_to']}")


def run_evaluate(args: argparse.Namespace) -> int:
    from ganforge.api import evaluate

    record = evaluate(args.source, data=args.data, metrics=args.metrics, features=args.features, n=args.n,
                      n_ref=args.n_ref, device=args.device, inception_weights=args.inception_weights, out=args.out,
                      classifier=args.classifier)
    src = Path(args.source)
    _print_record(record, src.name or str(src))
    return 0


def run_compare(args: argparse.Namespace) -> int:
    from ganforge.api import compare

    evaluate = None
    if args.metrics:
        evaluate = dict(metrics=args.metrics, features=args.features, n=args.n, n_ref=args.n_ref,
                        device=args.device, inception_weights=args.inception_weights)
    md, html = compare(args.runs, args.out, evaluate=evaluate, log=sys.stderr)
    print(f"wrote {md} and {html}")
    return 0


def run_features(args: argparse.Namespace) -> int:
    from ganforge.api import fit_features

    path = fit_features(args.data, args.out, name=args.name, epochs=args.epochs, width=args.width,
                        max_images=args.max_images, seed=args.seed, device=args.device, domain=args.domain)
    print(f"wrote {path}; use it with: ganforge evaluate RUN --features {path if args.out else path.stem}")
    return 0
