"""The run directory: where a training run keeps everything it writes.

``RunDir`` is the only place that knows this layout; every other module asks it for a path
instead of joining names by hand::

    RUN/
      config.json             resolved options: model, training, data set (written at start)
      log.jsonl               one record per logged step: losses, D statistics, throughput
      loss.png                loss curves, refreshed with every sample grid
      metrics.jsonl           one record per evaluation during training (--eval-every)
      metrics.png             those metrics over time
      evaluation.json         the latest ``ganforge evaluate`` of the run
      directions.npz          editing directions (``ganforge directions``), + directions.png
      samples/latest.png      grid from fixed latents (seeds 0..n-1), and samples/step-NNNNNNN.png
      checkpoints/latest.pt   the newest checkpoint, and checkpoints/step-NNNNNNN.pt periodic ones
      checkpoints/best.pt     the best checkpoint by the tracked metric, described by best.json
"""

from __future__ import annotations

import json
from pathlib import Path

from ganforge.errors import ConfigError
from ganforge.utils import atomic_path


class RunDir:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    config = property(lambda self: self.root / "config.json")
    log = property(lambda self: self.root / "log.jsonl")
    loss_plot = property(lambda self: self.root / "loss.png")
    metrics = property(lambda self: self.root / "metrics.jsonl")
    metrics_plot = property(lambda self: self.root / "metrics.png")
    evaluation = property(lambda self: self.root / "evaluation.json")
    directions = property(lambda self: self.root / "directions.npz")
    samples = property(lambda self: self.root / "samples")
    checkpoints = property(lambda self: self.root / "checkpoints")
    latest_checkpoint = property(lambda self: self.root / "checkpoints" / "latest.pt")
    best_checkpoint = property(lambda self: self.root / "checkpoints" / "best.pt")
    best_json = property(lambda self: self.root / "checkpoints" / "best.json")
    latest_samples = property(lambda self: self.root / "samples" / "latest.png")

    def checkpoint_at(self, step: int) -> Path:
        return self.checkpoints / f"step-{step:07d}.pt"

    def samples_at(self, step: int) -> Path:
        return self.samples / f"step-{step:07d}.png"

    def exists(self) -> bool:
        return self.config.is_file()

    @staticmethod
    def is_run(path: str | Path) -> bool:
        """Whether ``path`` is a run directory (it holds config.json)."""
        return (Path(path) / "config.json").is_file()

    @classmethod
    def of(cls, path: str | Path) -> "RunDir":
        """The run a run directory or one of its checkpoints (RUN/checkpoints/x.pt) belongs to; for a
        loose checkpoint file, the folder it lies in (what a command writes beside it goes there)."""
        p = Path(path)
        if p.is_dir():
            return cls(p)
        if p.parent.name == "checkpoints" and cls.is_run(p.parent.parent):
            return cls(p.parent.parent)
        return cls(p.parent)

    def read_config(self) -> dict:
        """The run's config.json; a missing or unreadable file is a one-line ``ConfigError``."""
        try:
            return json.loads(self.config.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigError(f"cannot read {self.config}: {e}") from None


def read_jsonl(path: str | Path) -> list[dict]:
    """Records of a JSONL file; a torn last line (a crash mid-write) is ignored."""
    path = Path(path)
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def truncate_jsonl(path: str | Path, max_step: int) -> None:
    """Keep only records with ``step <= max_step``: on resume, drop what came after the checkpoint."""
    path = Path(path)
    if not path.is_file():
        return
    kept = [r for r in read_jsonl(path) if r.get("step", 0) <= max_step]
    with atomic_path(path) as tmp:
        tmp.write_text("".join(json.dumps(r) + "\n" for r in kept))


def find_runs(root: str | Path) -> list[Path]:
    """Run directories at or below ``root`` (a run directory holds config.json)."""
    root = Path(root)
    if RunDir.is_run(root):
        return [root]
    return sorted(p for p in root.iterdir() if RunDir.is_run(p)) if root.is_dir() else []
