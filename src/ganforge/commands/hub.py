"""``ganforge hub push|pull``: share a run on the Hugging Face Hub (safetensors + model card) and fetch it back."""

from __future__ import annotations

import argparse
import os

from ganforge.commands import HelpFormatter, add_command


def register(sub) -> None:
    p = sub.add_parser("hub", help="share runs on the Hugging Face Hub",
                       description="Push a run as safetensors weights with a model card, or pull one back. "
                                   "The token comes from --token, HF_TOKEN or 'hf auth login'; the server from "
                                   "--endpoint or HF_ENDPOINT.", formatter_class=HelpFormatter)
    hub = p.add_subparsers(dest="hub_command", metavar="ACTION", required=True)
    push = add_command(hub, "push", run_push, help="upload a run to a model repository",
                       description="Export RUN's generator (safetensors), make a sample grid and a model card "
                                   "(data set, model, steps, metrics with their feature extractors) and upload "
                                   "them to REPO, created if needed.")
    push.add_argument("run", metavar="RUN", help="run directory")
    push.add_argument("repo", metavar="REPO", help="repository id, e.g. your-name/fashion-dcgan")
    push.add_argument("--private", action="store_true", help="create the repository as private")
    push.add_argument("--message", help="commit message")
    pull = add_command(hub, "pull", run_pull, help="download a pushed run's generator",
                       description="Download REPO into --out; 'ganforge generate OUT' then samples from it.")
    pull.add_argument("repo", metavar="REPO", help="repository id")
    pull.add_argument("--out", help="folder to download into (default: the repository's name)")
    pull.add_argument("--revision", help="branch, tag or commit")
    for q in (push, pull):
        q.add_argument("--token", default=None, help="access token (default: HF_TOKEN or the saved login)")
        q.add_argument("--endpoint", default=os.environ.get("HF_ENDPOINT"),
                       help="Hub server URL (default: HF_ENDPOINT or the public Hub)")


def run_push(args: argparse.Namespace) -> int:
    from ganforge.api import hub_push

    url = hub_push(args.run, args.repo, token=args.token, endpoint=args.endpoint, private=args.private,
                   message=args.message)
    print(f"pushed {args.run} to {url}")
    return 0


def run_pull(args: argparse.Namespace) -> int:
    from ganforge.api import hub_pull

    out = hub_pull(args.repo, args.out or args.repo.split("/")[-1], revision=args.revision, token=args.token,
               endpoint=args.endpoint)
    print(f"downloaded {args.repo} to {out}/; try: ganforge generate {out} --n 16 --out grid.png")
    return 0
