"""A run at a glance, for a terminal: ``ganforge runs [DIR]`` and ``ganforge show RUN``.

Everything here reads the run directory's small files (``config.json``, the tail of ``log.jsonl``,
``metrics.jsonl``, ``evaluation.json``, ``health.json``) and the lock; nothing loads a checkpoint,
so listing a folder of long runs over SSH is instant.

A run's state is

- **running**: a process holds its lock (``RunDir.locked_by``);
- **finished**: its last record reached the run's budget (steps, epochs or minutes);
- **stopped**: neither (Ctrl-C, a signal, a crash): ``ganforge train --out RUN --resume`` continues it.
"""

from __future__ import annotations

import json
import os
import textwrap
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ganforge.config import DEFAULT_STEPS
from ganforge.errors import ConfigError
from ganforge.runs import RunDir, find_runs


@dataclass
class RunSummary:
    path: str
    family: str
    dataset: str
    step: int
    images_seen: int
    state: str                      # running | finished | stopped
    pid: int | None = None          # the training process, while running
    metrics: dict[str, float] = field(default_factory=dict)  # the latest evaluation's values
    health: str | None = None       # the run-health module's verdict, where it wrote one

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def tail_jsonl(path: str | Path, n: int, block: int = 65536) -> list[dict]:
    """The last ``n`` records of a JSONL file, reading only its end (a long run's log holds millions)."""
    path = Path(path)
    if not path.is_file() or n <= 0:
        return []
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        end = pos = f.tell()
        data = b""
        while pos > 0 and data.count(b"\n") <= n:
            pos = max(0, pos - block)
            f.seek(pos)
            data = f.read(end - pos)
    records = []
    for line in data.splitlines()[-(n + 1):]:
        try:
            records.append(json.loads(line))
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue  # a torn last line, or the cut first one
    return records[-n:]


def last_metrics(run: RunDir) -> dict[str, float]:
    """The newest evaluation: ``metrics.jsonl``'s last record or ``evaluation.json``, whichever is newer."""
    found: list[tuple[float, dict]] = []
    records = tail_jsonl(run.metrics, 1)
    if records:
        found.append((run.metrics.stat().st_mtime,
                       {k: v for k, v in records[-1].items() if k not in ("step", "time", "n")}))
    if run.evaluation.is_file():
        try:
            values = json.loads(run.evaluation.read_text()).get("metrics") or {}
            found.append((run.evaluation.stat().st_mtime, values))
        except (OSError, ValueError):
            pass
    if not found:
        return {}
    values = max(found, key=lambda f: f[0])[1]
    return {k: v for k, v in values.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def health_of(run: RunDir, records: list[dict]) -> str | None:
    """The run-health verdict (ganforge.health): "ok", or "warning: " and the checks that warn now, from
    ``health.json``, else from the last ``health`` record of the log; None when the run has neither
    (runs made before the checks existed)."""
    from ganforge.health import read_health

    data = read_health(run.root)
    if isinstance(data, dict) and isinstance(data.get("checks"), dict):
        warning = [name for name, c in data["checks"].items() if isinstance(c, dict) and c.get("warning")]
        return "warning: " + ", ".join(sorted(warning)) if warning else "ok"
    for r in reversed(records):
        if isinstance(r.get("health"), dict):
            warning = [name for name, c in r["health"].items() if isinstance(c, dict) and c.get("warning")]
            return "warning: " + ", ".join(sorted(warning)) if warning else "ok"
    return None


def _budget_reached(train: dict, last: dict) -> bool:
    steps, epochs, minutes = train.get("steps"), train.get("epochs"), train.get("minutes")
    if not (steps or epochs or minutes):
        steps = DEFAULT_STEPS
    return bool((steps and last.get("step", 0) >= steps) or (epochs and last.get("epoch", 0) >= epochs)
                or (minutes and last.get("time", 0) >= 60 * minutes))


def summarise_run(path: str | Path) -> RunSummary:
    """What ``ganforge runs`` shows of one run directory (a one-line ``ConfigError`` if it is none)."""
    run = RunDir(path)
    if not run.exists():
        raise ConfigError(f"{run.root} is not a run directory (it has no config.json)")
    config = run.read_config()
    records = tail_jsonl(run.log, 64)
    steps = [r for r in records if "epoch" in r]  # training records (not rollback or health notes)
    last = steps[-1] if steps else {}
    data = config.get("data") or {}
    pid = run.locked_by()
    state = "running" if pid is not None else "finished" if _budget_reached(config.get("train") or {}, last) \
        else "stopped"
    return RunSummary(path=str(run.root), family=(config.get("model") or {}).get("family", "?"),
                      dataset=Path(data.get("path") or "?").name, step=int(last.get("step", 0)),
                      images_seen=round(float(last.get("epoch", 0)) * int(data.get("count") or 0)),
                      state=state, pid=pid if pid and pid > 0 else None, metrics=last_metrics(run),
                      health=health_of(run, records))


def list_runs(root: str | Path = ".") -> list[RunSummary]:
    """Summaries of the runs at or below ``root`` (a run directory, or a folder of them)."""
    root = Path(root)
    if not root.exists():
        raise ConfigError(f"{root} does not exist")
    return [summarise_run(p) for p in find_runs(root)]


def _short(values: dict[str, float], limit: int = 3) -> str:
    return ", ".join(f"{k} {v:.4g}" for k, v in list(values.items())[:limit]) or "-"


def format_runs(rows: list[RunSummary]) -> str:
    """A table, one run a line."""
    if not rows:
        return "no runs here (a run directory holds config.json)"
    has_health = any(r.health for r in rows)
    head = ["RUN", "FAMILY", "DATA", "STEP", "IMAGES", "STATE"] + (["HEALTH"] if has_health else []) + ["METRICS"]
    table = [head]
    for r in rows:
        state = f"{r.state} (PID {r.pid})" if r.pid else r.state
        table.append([Path(r.path).name or r.path, r.family, r.dataset, str(r.step), f"{r.images_seen:,}", state]
                     + ([r.health or "-"] if has_health else []) + [_short(r.metrics)])
    widths = [max(len(row[i]) for row in table) for i in range(len(head) - 1)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1] for row in table)


def describe_run(path: str | Path, lines: int = 10) -> str:
    """``ganforge show RUN``: its summary, configuration, last log lines and where its outputs are."""
    s = summarise_run(path)
    run = RunDir(path)
    config = run.read_config()
    out = [f"run {run.root}: {s.family} on {s.dataset}, step {s.step}, {s.images_seen:,} images seen, {s.state}"
           + (f" (PID {s.pid})" if s.pid else "") + (f", health {s.health}" if s.health else "")]
    if s.metrics:
        out.append(f"latest evaluation: {_short(s.metrics, limit=20)}")
    out.append("")
    out.append("configuration (config.json):")
    for part in ("model", "train", "data"):
        values = config.get(part) or {}
        shown = ", ".join(f"{k}={v}" for k, v in values.items() if v not in (None, "", {}, []) and k != "sha256")
        out.append(textwrap.fill(f"{part}: {shown}", width=110, initial_indent="  ", subsequent_indent="    "))
    if config.get("runtime"):
        out.append(f"  runtime: {config['runtime']}")
    out.append("")
    log_lines = tail_jsonl(run.log, lines)
    out.append(f"last {len(log_lines)} log record(s) ({run.log}):" if log_lines else f"no log records yet ({run.log})")
    for r in log_lines:
        out.append("  " + "  ".join(f"{k} {_fmt(v)}" for k, v in r.items()))
    out.append("")
    out.append("where things are:")
    grids = sorted(run.samples.glob("step-*.png")) if run.samples.is_dir() else []
    checkpoints = sorted(run.checkpoints.glob("step-*.pt")) if run.checkpoints.is_dir() else []
    places = [
        ("samples", run.latest_samples, f"{len(grids)} grid(s) by step in {run.samples}" if grids else ""),
        ("loss plot", run.loss_plot, ""),
        ("metrics plot", run.metrics_plot, ""),
        ("evaluation", run.evaluation, ""),
        ("checkpoint", run.latest_checkpoint,
         f"{len(checkpoints)} periodic in {run.checkpoints}" if checkpoints else ""),
        ("best checkpoint", run.best_checkpoint, ""),
        ("tensorboard", run.tensorboard, f"tensorboard --logdir {run.root}"),
        ("health", run.root / "health.json", ""),
    ]
    for name, p, note in places:
        if p.exists():
            out.append(f"  {name:<16} {p}" + (f"  ({note})" if note else ""))
    if s.state == "stopped":
        out.append(f"\ncontinue it with: ganforge train --out {run.root} --resume")
    return "\n".join(out)


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else json.dumps(v) if isinstance(v, (list, dict)) else str(v)
