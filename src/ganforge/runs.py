"""The run directory: where a training run keeps everything it writes.

    RUN/
      config.json           resolved options: model, training, data set (written at start)
      log.jsonl             one record per logged step: losses, D statistics, throughput
      loss.png              loss curves, refreshed with every sample grid
      samples/latest.png    grid from fixed latents (seeds 0..n-1), and samples/step-NNNNNN.png
      checkpoints/latest.pt the newest checkpoint, and checkpoints/step-NNNNNN.pt periodic ones
"""

from __future__ import annotations

import json
from pathlib import Path


class RunDir:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    config = property(lambda self: self.root / "config.json")
    log = property(lambda self: self.root / "log.jsonl")
    loss_plot = property(lambda self: self.root / "loss.png")
    samples = property(lambda self: self.root / "samples")
    checkpoints = property(lambda self: self.root / "checkpoints")
    latest_checkpoint = property(lambda self: self.root / "checkpoints" / "latest.pt")
    latest_samples = property(lambda self: self.root / "samples" / "latest.png")

    def checkpoint_at(self, step: int) -> Path:
        return self.checkpoints / f"step-{step:07d}.pt"

    def samples_at(self, step: int) -> Path:
        return self.samples / f"step-{step:07d}.png"

    def exists(self) -> bool:
        return self.config.is_file()

    def read_config(self) -> dict:
        """The run's config.json; a missing or unreadable file is a one-line ``ConfigError``."""
        from ganforge.errors import ConfigError

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
    from ganforge.utils import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text("".join(json.dumps(r) + "\n" for r in kept))


def find_runs(root: str | Path) -> list[Path]:
    """Run directories at or below ``root`` (a run directory holds config.json)."""
    root = Path(root)
    if (root / "config.json").is_file():
        return [root]
    return sorted(p.parent for p in root.glob("*/config.json"))
