"""One progress display for every long command: what is done, the rate, the elapsed time and the ETA.

On a terminal the line redraws in place (a few times a second); otherwise (a log file, CI, a pipe)
a full line is printed every ``interval`` seconds (15 by default), plus the first and the last,
so logs stay readable. Two shapes share the format:

- ``Task`` counts units of a job with a known (or unknown) total: ``prepare: 120/800 images |
  15.0% | 41.2 images/s | elapsed 0:03 | ETA 0:16 | 2 skipped``. ``Task.callback()`` is the
  ``progress(step, total, loss)`` function the latent optimisers call.
- ``Progress`` is training's line: step, budget fraction, images/s, elapsed, ETA, losses.

Why not tqdm or rich: on a stream that is not a terminal tqdm writes its redraws separated by
carriage returns (one endless line in a log file) and rich's live display prints nothing until
the end; this module is ~150 lines and costs ~3 µs per call between redraws (measured in
tests/test_progress.py's docstring), nothing next to a training step.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import Any

TTY_INTERVAL = 0.25  # seconds between redraws on a terminal
LOG_INTERVAL = 15.0  # seconds between lines elsewhere


def format_seconds(s: float) -> str:
    if s != s or s == float("inf"):
        return "?"
    s = int(s)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def format_stat(name: str, value: Any) -> str:
    if isinstance(value, float):
        return f"{name} {value:.4g}" if abs(value) < 1e5 else f"{name} {value:,.0f}"
    return f"{name} {value}"


class _Display:
    """When and how a line is shown: redrawn on a terminal, a line per ``interval`` elsewhere."""

    def __init__(self, stream=None, interval: float | None = None, redraw: bool | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", None) and self.stream.isatty()) if redraw is None else redraw
        self.interval = interval if interval is not None else (TTY_INTERVAL if self.tty else LOG_INTERVAL)
        self._last: float | None = None
        self._drawn = False  # a redrawn line is on screen (a newline is owed before other output)

    def due(self, force: bool = False) -> bool:
        now = time.monotonic()
        if force or self._last is None or now - self._last >= self.interval:
            self._last = now
            return True
        return False

    def show(self, line: str) -> None:
        if self.tty:
            self.stream.write("\r" + line[:160] + "\x1b[K")  # erase what a longer previous line left
            self._drawn = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


class Task(_Display):
    """Progress of a job counted in ``unit``s: ``advance(n)`` or ``update(done)``, then ``close()``.

    ``total`` may be None (unknown: no percentage or ETA). ``stats`` given to ``advance``/``update``
    (a loss, a count of skipped files) are shown after the rate; ``note`` is shown as it is (what a
    step did). ``enabled=False`` shows nothing,
    for callers that were asked to be quiet. ``redraw=False``: full lines even on a terminal (an
    outer task whose steps print their own lines). ``delay``: show nothing until the task has run this
    many seconds (a job of a few steps that is usually quick stays silent when it is). Usable as a
    context manager (closes, with a final line).
    """

    def __init__(self, name: str, total: int | None = None, unit: str = "", *, stream=None,
                 interval: float | None = None, enabled: bool = True, redraw: bool | None = None,
                 delay: float = 0.0):
        super().__init__(stream, interval, redraw)
        self.delay = delay
        self.name, self.total, self.unit, self.enabled = name, total, unit, enabled
        self.done = 0
        self.stats: dict[str, Any] = {}
        self.started = time.monotonic()
        self._closed = False
        self._final_shown = False

    def advance(self, n: int = 1, **stats: Any) -> None:
        self.update(self.done + n, **stats)

    def update(self, done: int, total: int | None = None, **stats: Any) -> None:
        self.done = done
        if total is not None:
            self.total = total
        self.stats.update(stats)
        finished = self.total is not None and done >= self.total
        if self.enabled and self._waited() and self.due(force=finished and not self._final_shown):
            self.show(self.line())
            if finished:
                self._final_shown = True

    def _waited(self) -> bool:
        return not self.delay or time.monotonic() - self.started >= self.delay

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        unit = f" {self.unit}" if self.unit else ""
        parts = [f"{self.name}: {self.done:,}" + (f"/{self.total:,}" if self.total is not None else "") + unit]
        if self.total:
            left = (self.total - self.done) / rate if rate > 0 else math.nan
            parts.append(f"{100 * min(self.done / self.total, 1):5.1f}%")
        else:
            left = math.nan
        parts += [f"{rate:,.1f}{unit or ' units'}/s", f"elapsed {format_seconds(elapsed)}"]
        if self.total:
            parts.append(f"ETA {format_seconds(max(left, 0.0))}")
        parts += [str(v) if k == "note" else format_stat(k, v) for k, v in self.stats.items() if v is not None]
        return " | ".join(parts)

    def callback(self) -> Callable[[int, int, float], None]:
        """``progress(step, total, loss)`` for the latent optimisers (project, inpaint)."""
        def progress(step: int, total: int, loss: float) -> None:
            self.update(step, total, loss=loss)

        return progress

    def close(self) -> None:
        if self._closed:
            return
        if self.enabled and not self._final_shown and self.done and self._waited():
            self.show(self.line())  # where it ended (a stop before the total, or an unknown total)
        self._closed = True
        super().close()

    def __enter__(self) -> Task:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Progress(_Display):
    """Training's line: step, budget fraction, images/s, elapsed, ETA and the current losses."""

    def update(self, *, step: int, total_fraction: float | None, elapsed: float, images_per_s: float,
               stats: dict, note: str = "", force: bool = False) -> None:
        if not self.due(force):
            return
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
        self.show(" | ".join(parts))
