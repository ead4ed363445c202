"""``ganforge serve``: the web app over one run or a directory of runs, through waitress."""

from __future__ import annotations

import argparse

from ganforge.commands import add_command
from ganforge.errors import GanforgeError


def register(sub) -> None:
    p = add_command(sub, "serve", run, help="show runs in a browser",
                    description="Serve the web app for one run directory, or for every run under a directory.")
    p.add_argument("path", metavar="RUN_OR_RUNS", nargs="?", help="a run directory or a directory of runs")
    p.add_argument("--runs", help="directory of runs (same as the positional argument)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind; 0.0.0.0 exposes it to the network")
    p.add_argument("--port", type=int, default=8000, help="port")
    p.add_argument("--threads", type=int, default=4, help="request threads")


def run(args: argparse.Namespace) -> int:
    import waitress

    from ganforge.web import create_app

    path = args.runs or args.path
    if not path:
        raise GanforgeError("give a run directory or --runs DIRECTORY")
    app = create_app(path)
    print(f"ganforge: serving {path} at http://{args.host}:{args.port}/ (Ctrl-C stops)", flush=True)
    waitress.serve(app, host=args.host, port=args.port, threads=args.threads, ident="ganforge")
    return 0
