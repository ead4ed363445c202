"""Container health check: exit 0 when this container's ``ganforge serve`` answers, 1 when it does not.

A container that does not run ``serve`` (train, jupyter, a one-off command) is healthy by
definition. The port is read from ``serve``'s own ``--port`` (default 8000).
"""

from __future__ import annotations

import sys
import urllib.request


def check(argv: list[str], timeout: float = 4.0) -> int:
    """0 if the ``ganforge serve`` in command line ``argv`` answers on its port (or argv is not serve), else 1."""
    if "serve" not in argv:
        return 0
    port = "8000"
    for i, a in enumerate(argv):
        if a == "--port" and i + 1 < len(argv):
            port = argv[i + 1]
        elif a.startswith("--port="):
            port = a.split("=", 1)[1]
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/runs", timeout=timeout) as r:
            return 0 if r.status == 200 else 1
    except OSError as e:
        print(f"ganforge serve on port {port} does not answer: {e}", file=sys.stderr)
        return 1


def main() -> int:
    try:
        with open("/proc/1/cmdline", "rb") as f:  # the container's main process
            argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return 0
    return check(argv)


if __name__ == "__main__":
    sys.exit(main())
