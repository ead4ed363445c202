"""``ganforge serve``: the web app over one run or a directory of runs, through waitress."""

from __future__ import annotations

import argparse
import ipaddress
import math
import os
import secrets

from ganforge.commands import add_command
from ganforge.errors import GanforgeError


def register(sub) -> None:
    p = add_command(sub, "serve", run, help="show runs in a browser",
                    description="Serve the web app for one run directory, or for every run under a directory.")
    p.add_argument("path", metavar="RUN_OR_RUNS", nargs="?", help="a run directory or a directory of runs")
    p.add_argument("--runs", help="directory of runs (same as the positional argument)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind; 0.0.0.0 exposes it to the network")
    p.add_argument("--port", type=int, default=8000, help="port")
    p.add_argument("--threads", type=int, default=8, help="request threads (light requests: pages, grids, edits)")
    p.add_argument("--allowed-host", action="append", metavar="NAME[:PORT]",
                   help="another host name clients use to reach the server (repeatable; without a port, any "
                        "port). Requests naming any other host are refused, which stops DNS rebinding; "
                        "127.0.0.1, localhost and [::1] with --port, and --host, are always allowed")
    p.add_argument("--token", default=os.environ.get("GANFORGE_TOKEN"),
                   help="access token every request must carry (env GANFORGE_TOKEN); made up and printed "
                        "when --host is not a loopback address and none is given")
    p.add_argument("--job-workers", type=int, default=1, help="long jobs (projection, inpainting, videos) run at once")
    p.add_argument("--job-queue", type=int, default=4, help="long jobs that may wait; more are refused (503)")
    p.add_argument("--job-time-limit", type=float, default=300.0, help="seconds a long job may run")
    p.add_argument("--max-upload-mb", type=float, default=8.0, help="largest upload in megabytes")
    p.add_argument("--max-upload-megapixels", type=float, default=16.0,
                   help="largest uploaded image in megapixels once decoded (a small file can hold many)")
    p.add_argument("--db", help="SQLite file of the real-or-fake game (default: RUNS/ganforge-web.sqlite)")
    p.add_argument("--data", help="a prepared data set to review at /review (keep or drop each image)")
    p.add_argument("--review-db", help="SQLite file of the review decisions (default: the game's --db)")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_info_checked(path: str) -> str:
    """``path`` if it is a prepared data set, else the data error saying what it is not."""
    from ganforge.data.dataset import read_info

    read_info(path)
    return path


def run(args: argparse.Namespace) -> int:
    # Imported here, not at the top: the web app pulls in torch and Flask, and every command's
    # --help would wait for them.
    import waitress

    from ganforge.web import create_app

    path = args.runs or args.path
    if not path:
        raise GanforgeError("give a run directory or --runs DIRECTORY")
    for name in ("threads", "job_workers", "port"):
        if getattr(args, name) < 1:
            raise GanforgeError(f"--{name.replace('_', '-')} must be at least 1")
    limits = (args.job_time_limit, args.max_upload_mb, args.max_upload_megapixels)
    if args.job_queue < 0 or not all(math.isfinite(v) and v > 0 for v in limits):
        raise GanforgeError("--job-queue must be 0 or more; --job-time-limit, --max-upload-mb and "
                            "--max-upload-megapixels positive")
    token = args.token
    if not token and not is_loopback(args.host):
        token = secrets.token_urlsafe(24)  # never expose the app to a network without one
    bound = f"[{args.host}]" if ":" in args.host else args.host
    hosts = [f"{name}:{args.port}" for name in ("127.0.0.1", "localhost", "[::1]", bound)] + (args.allowed_host or [])
    app = create_app(path, {
        "ALLOWED_HOSTS": hosts, "ACCESS_TOKEN": token or None,
        "JOB_WORKERS": args.job_workers, "JOB_QUEUE": args.job_queue, "JOB_TIME_LIMIT": args.job_time_limit,
                            "MAX_CONTENT_LENGTH": int(args.max_upload_mb * (1 << 20)),
        "MAX_UPLOAD_PIXELS": int(args.max_upload_megapixels * 1e6),
        **({"GAME_DB": args.db} if args.db else {}),
        **({"REVIEW_DB": args.review_db} if args.review_db else {}),
        **({"REVIEW_DATA": str(read_info_checked(args.data))} if args.data else {}),
    })
    url = f"http://{args.host}:{args.port}/" + (f"?token={token}" if token else "")
    print(f"ganforge: serving {path} at {url} (Ctrl-C stops)", flush=True)
    if args.data:
        print(f"ganforge: review {args.data} at {url.rstrip('/').split('?')[0]}/review; decisions in "
              f"{app.config['REVIEW_DB']}", flush=True)
    waitress.serve(app, host=args.host, port=args.port, threads=args.threads, ident="ganforge",
                   max_request_body_size=int(args.max_upload_mb * (1 << 20)) + (1 << 16))
    return 0
