"""The ``ganforge`` command: thin subcommands that parse options and call plain functions.

Each subcommand lives in ``ganforge/commands/<name>.py`` with a ``register(subparsers)``
function; add a module to ``COMMANDS`` to add a command. A ``GanforgeError`` becomes a
one-line message on stderr and exit code 1; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import sys

from ganforge import __version__
from ganforge.commands import (
    compose,
    data,
    evaluate,
    experiment,
    export,
    generate,
    hub,
    latent,
    mix,
    reproduce,
    runs,
    serve,
    train,
    translate,
)
from ganforge.errors import GanforgeError

COMMANDS = [data, train, compose, experiment, reproduce, runs, generate, translate, latent, mix, serve, evaluate,
            export, hub]


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; ``command``: only that subcommand gets its full options ("" for none)."""
    parser = argparse.ArgumentParser(
        prog="ganforge",
        description="Train and explore image GANs: prepare a data set, train, sample, and look at it in a browser.",
        epilog="Run 'ganforge COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"ganforge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sub.chosen = command  # type: ignore[attr-defined]  # read by commands.add_command
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    code = run_command(argv)
    if "TORCHELASTIC_RUN_ID" in os.environ:  # torchrun sets it for its workers (checked without importing torch)
        from ganforge.distributed import exit_worker

        exit_worker(code)
    return code


def run_command(argv: list[str] | None = None) -> int:
    """The command's exit code: 0, or 1 with a one-line error, 130 when interrupted."""
    words = sys.argv[1:] if argv is None else argv
    parser = build_parser(next((w for w in words if not w.startswith("-")), ""))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except GanforgeError as e:
        print(f"ganforge: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ganforge: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
