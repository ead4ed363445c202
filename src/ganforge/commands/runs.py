"""``ganforge runs [DIR]`` and ``ganforge show RUN``: thin wrappers around ganforge.overview."""

from __future__ import annotations

import argparse
import json

from ganforge.commands import add_command


def register(sub) -> None:
    p = add_command(sub, "runs", run_runs, help="list runs: family, data set, step, images seen, metrics, state",
                    description="List the runs in DIR (a folder of run directories, or one run): family, data set, "
                                "step, real images seen, the latest evaluation, and whether each is running (a "
                                "process holds its lock), finished (its budget reached) or stopped.")
    p.add_argument("dir", metavar="DIR", nargs="?", default=".", help="folder of runs, or a run directory")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = add_command(sub, "show", run_show, help="a run at a glance: configuration, last log lines, where its files are",
                    description="Print a run's state, configuration, the last records of its log, and where its "
                                "samples, plots and checkpoints are: a look at a run without a browser.")
    p.add_argument("run", metavar="RUN", help="run directory")
    p.add_argument("--lines", type=int, default=10, help="log records to show")


def run_runs(args: argparse.Namespace) -> int:
    from ganforge.api import list_runs
    from ganforge.overview import format_runs

    rows = list_runs(args.dir)
    print(json.dumps([r.to_dict() for r in rows], indent=1) if args.json else format_runs(rows))
    return 0


def run_show(args: argparse.Namespace) -> int:
    from ganforge.api import describe_run

    print(describe_run(args.run, lines=args.lines))
    return 0
