"""One module per subcommand (or group of subcommands); each defines ``register(subparsers)``."""

import argparse
import functools


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's line breaks and shows each option's default, unless it is None/False."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "(default" in text or action.default in (None, False, argparse.SUPPRESS) or action.option_strings == []:
            return text
        return text + " (default: %(default)s)"


def add_command(sub, name: str, func, help: str, description: str | None = None,
                options=None) -> argparse.ArgumentParser:
    """Add subcommand ``name``; ``options(parser)`` adds its arguments.

    ``options`` runs only when this command is the one being run (or when the whole parser is
    built, ``cli.build_parser()``): commands whose choices come from the model, loss or
    augmentation registries import torch to know them, and ``ganforge --help`` should not wait.
    """
    p = sub.add_parser(name, help=help, description=description or help, formatter_class=HelpFormatter)
    p.set_defaults(func=func)
    if options is not None and getattr(sub, "chosen", None) in (None, name):
        options(p)
    return p


def trains(func):
    """For a command that trains: runs it with denormal floats flushed to zero (``device.denormals_flushed``),
    entered before the command touches a tensor so that torch's worker threads, started inside, inherit it.
    torch is imported when the command runs, not when it is registered, so ``--help`` stays fast."""

    @functools.wraps(func)
    def run(args: argparse.Namespace) -> int:
        from ganforge.device import denormals_flushed

        with denormals_flushed():
            return func(args)

    return run
