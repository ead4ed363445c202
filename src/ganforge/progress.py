"""A one-line training progress display: step, rate, ETA and current losses.

On a terminal the line redraws in place; otherwise (logs, CI) a full line is
printed every ``interval`` seconds so files stay readable.
"""

from __future__ import annotations

import sys
import time


def format_seconds(s: float) -> str:
    if s != s or s == float("inf"):
        return "?"
    s = int(s)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


class Progress:
    def __init__(self, stream=None, interval: float | None = None):
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.interval = interval if interval is not None else (0.25 if self.tty else 15.0)
        self._last = 0.0

    def update(self, *, step: int, total_fraction: float | None, elapsed: float, images_per_s: float,
               stats: dict, note: str = "", force: bool = False) -> None:
        now = time.time()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        if total_fraction and total_fraction > 0:
            eta = max(0.0, elapsed * (1 - total_fraction) / total_fraction)  # a step can overrun the budget
            pct = f"{100 * min(total_fraction, 1):5.1f}%"
        else:
            eta, pct = float("nan"), "  ?  "
        parts = [f"step {step}", pct, f"{images_per_s:,.0f} img/s", f"elapsed {format_seconds(elapsed)}",
                 f"ETA {format_seconds(eta)}"]
        parts += [f"{k} {v:.3f}" for k, v in stats.items()]
        if note:  # e.g. the run's standing health warnings: "health: collapse"
            parts.append(note)
        line = " | ".join(parts)
        if self.tty:
            self.stream.write("\r" + line[:160].ljust(120))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
