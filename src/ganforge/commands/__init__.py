"""One module per subcommand (or group of subcommands); each defines ``register(subparsers)``."""

import argparse


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
