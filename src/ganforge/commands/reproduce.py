"""``ganforge reproduce THESIS``: a thesis behind ganforge, re-run as built, beside today's recipe."""

from __future__ import annotations

import argparse

from ganforge.commands import add_command, trains

THESES = ("faces", "mitlgan", "dogs", "cats", "spiders")  # ganforge.experiments.theses.THESES, without torch


def register(sub) -> None:
    add_command(
        sub, "reproduce", run, help="re-run one of the theses behind ganforge and report it beside today's recipe",
        description="Prepare the thesis's data from what is here, train its set-up(s) and today's best ganforge "
                    "recipe for --budget minutes each, evaluate them alike and write OUT/report.md and "
                    "OUT/report.html with the thesis's reported figures beside ganforge's. Running it again "
                    "continues where it stopped. --list describes the theses.",
        options=add_options)


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("thesis", nargs="?", choices=THESES, help="which thesis")
    p.add_argument("--list", action="store_true", help="describe each thesis, its set-ups and its data, and exit")
    p.add_argument("--out", help="report directory (default: runs/reproduce-THESIS)")
    p.add_argument("--budget", type=float, default=2.0, help="training minutes per run")
    p.add_argument("--data", default="",
                   help="a prepared data set, a folder or zip of images, or a source (e.g. openimages:Dog); "
                        "mitlgan: a folder with foreground-, background- and combined-SIZE.zip "
                        "(default: the thesis's offline data, see --list)")
    p.add_argument("--size", type=int, default=0, help="image side when preparing (default: the thesis's)")
    p.add_argument("--limit", type=int, help="prepare only the first N images")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--metrics", default="c2st", help="metrics of every run, e.g. fid,kid,pr,c2st ('' for none)")
    p.add_argument("--features", default="",
                   help="extractor for fid/kid/pr: inception, or a 'ganforge features fit' name")
    p.add_argument("--eval-n", type=int, default=500, help="generated images per evaluation")
    p.add_argument("--batch-size", type=int, help="override every set-up's batch size (small data sets)")
    p.add_argument("--width", type=int, help="override every set-up's width (quick runs)")
    p.add_argument("--seed", type=int, default=0, help="seed of every run")


@trains
def run(args: argparse.Namespace) -> int:
    from ganforge.errors import ConfigError
    from ganforge.experiments import theses

    if args.list:
        print(theses.describe())
        return 0
    if not args.thesis:
        raise ConfigError(f"name a thesis ({', '.join(THESES)}) or give --list")
    o = theses.ReproduceOptions(thesis=args.thesis, out=args.out or f"runs/reproduce-{args.thesis}",
                                budget=args.budget, data=args.data, size=args.size, limit=args.limit,
                                device=args.device, metrics=args.metrics, features=args.features,
                                eval_n=args.eval_n, batch_size=args.batch_size, width=args.width, seed=args.seed)
    results = theses.reproduce(o)
    print(f"report: {o.out}/report.md and report.html")
    for label, st in results["stats"].items():
        values = ", ".join(f"{k} {v:.4g}" for k, v in results["metrics"].get(label, {}).items()
                           if "[" in k and isinstance(v, (int, float)))  # metric keys name their features
        print(f"  {label}: {st['steps']} steps, {st['minutes']} min" + (f", {values}" if values else ""))
    return 0
