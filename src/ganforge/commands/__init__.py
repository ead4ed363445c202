"""One module per subcommand (or group of subcommands); each defines ``register(subparsers)``."""

import argparse


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's line breaks and shows each option's default, unless it is None/False."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "(default" in text or action.default in (None, False, argparse.SUPPRESS) or action.option_strings == []:
            return text
        return text + " (default: %(default)s)"


def add_command(sub, name: str, func, help: str, description: str | None = None) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help, description=description or help, formatter_class=HelpFormatter)
    p.set_defaults(func=func)
    return p
