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
      health.json             the run's health checks and standing warnings (ganforge.health)
      directions.npz          editing directions (``ganforge directions``), + directions.png
      samples/latest.png      grid from fixed latents (seeds 0..n-1), and samples/step-NNNNNNN.png
      checkpoints/latest.pt   the newest checkpoint, and checkpoints/step-NNNNNNN.pt periodic ones
      checkpoints/best.pt     the best checkpoint by the tracked metric, described by best.json
      tensorboard/            event files of --logger tensorboard (wandb/ for --logger wandb)
      .lock                   held (flock) by the process training in the run; holds its PID
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from ganforge.errors import ConfigError
from ganforge.utils import atomic_path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; runs are not guarded against a second trainer there
    fcntl = None  # type: ignore[assignment]  # checked before every use


class RunDir:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    config = property(lambda self: self.root / "config.json")
    log = property(lambda self: self.root / "log.jsonl")
    loss_plot = property(lambda self: self.root / "loss.png")
    metrics = property(lambda self: self.root / "metrics.jsonl")
    metrics_plot = property(lambda self: self.root / "metrics.png")
    evaluation = property(lambda self: self.root / "evaluation.json")
    health = property(lambda self: self.root / "health.json")
    directions = property(lambda self: self.root / "directions.npz")
    samples = property(lambda self: self.root / "samples")
    checkpoints = property(lambda self: self.root / "checkpoints")
    latest_checkpoint = property(lambda self: self.root / "checkpoints" / "latest.pt")
    best_checkpoint = property(lambda self: self.root / "checkpoints" / "best.pt")
    best_json = property(lambda self: self.root / "checkpoints" / "best.json")
    latest_samples = property(lambda self: self.root / "samples" / "latest.png")
    lock = property(lambda self: self.root / ".lock")
    tensorboard = property(lambda self: self.root / "tensorboard")

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
    def of(cls, path: str | Path) -> RunDir:
        """The run a run directory or one of its checkpoints (RUN/checkpoints/x.pt) belongs to; for a
        loose checkpoint file, the folder it lies in (what a command writes beside it goes there)."""
        p = Path(path)
        if p.is_dir():
            return cls(p)
        if p.parent.name == "checkpoints" and cls.is_run(p.parent.parent):
            return cls(p.parent.parent)
        return cls(p.parent)

    def check_writable_place(self) -> None:
        """A one-line ``ConfigError`` when the run directory cannot be made here: the path, or a folder
        above it, is a file. Checked before any work, so a bad --out fails at once."""
        for p in (self.root, *self.root.parents):
            if p.exists():
                if not p.is_dir():
                    raise ConfigError(f"cannot use {self.root} as a run directory: {p} is a file, not a directory")
                return

    def lock_for_training(self) -> RunLock:
        """Make the run directory and hold its lock until ``release()`` (or this process ends), or
        raise a one-line ``ConfigError`` naming the PID of the process that holds it."""
        return RunLock(self)

    def locked_by(self) -> int | None:
        """The PID of the process training in this run, or None when none is (for listings)."""
        if fcntl is None or not self.lock.is_file():
            return None
        try:
            with open(self.lock) as f:
                try:
                    fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except BlockingIOError:
                    return _read_pid(f) or -1  # held, but the holder has not written its PID yet
                return None  # closing the file drops the shared lock just taken
        except OSError:
            return None

    def leftover_temp_files(self) -> list[Path]:
        """Temporary files (``ganforge.utils.atomic_path``) of the files training writes, left by a
        process killed mid-write. Only training writes in checkpoints/ and samples/; at the top level
        only its own files' are listed (``ganforge evaluate`` may be writing evaluation.json meanwhile)."""
        own = (self.config, self.log, self.loss_plot, self.metrics, self.metrics_plot, self.health)
        found = [p for d in (self.checkpoints, self.samples) if d.is_dir() for p in d.glob(".*.tmp")]
        found += [p for f in own for p in self.root.glob(f".{f.name}.*.tmp")]
        return sorted(p for p in found if p.is_file())

    def read_config(self) -> dict:
        """The run's config.json; a missing or unreadable file is a one-line ``ConfigError``."""
        try:
            return json.loads(self.config.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigError(f"cannot read {self.config}: {e}") from None


class RunLock:
    """An advisory lock (``flock``) on a run directory, held while a process trains in it.

    The kernel drops a flock when its process ends, however it ends, so a crashed or killed trainer
    leaves nothing stuck: the file stays (removing it would race with a new holder), unlocked.
    It keeps other processes out; within one process (a program or test driving several Trainers
    on one run) the lock is shared, and let go when its last holder releases it.
    """

    def __init__(self, run: RunDir):
        self.run = run
        self._key = None
        run.check_writable_place()
        try:
            run.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(f"cannot write in {run.root}: {e.strerror}") from None
        key = os.path.realpath(run.root)
        with _held_guard:
            if key not in _held:
                _held[key] = [_take(run), 0]
            _held[key][1] += 1
        self._key = key

    def release(self) -> None:
        with _held_guard:
            if self._key is None:
                return
            entry = _held[self._key]
            entry[1] -= 1
            if entry[1] == 0:
                entry[0].close()  # closing the open file drops the flock
                del _held[self._key]
            self._key = None

    __del__ = release


_held: dict[str, list] = {}  # real path of a run directory -> [its lock file, holders] in this process
_held_guard = threading.RLock()  # re-entrant: __del__ may run (GC) while this thread holds it


def _take(run: RunDir):
    """Open and lock ``run.lock``, writing this process's PID into it; a one-line error naming the holder."""
    try:
        f = open(run.lock, "a+")
    except OSError as e:
        raise ConfigError(f"cannot write in {run.root}: {e.strerror}") from None
    if fcntl is None:
        return f
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _read_pid(f)
        f.close()
        holder = f"PID {pid}" if pid else "a process that is starting"
        raise ConfigError(f"{run.root} is in use: another ganforge ({holder}) is training in it; wait for it to "
                          "stop, or choose another --out") from None
    f.truncate(0)
    f.write(f"{os.getpid()}\n")
    f.flush()
    return f


def _read_pid(f) -> int | None:
    f.seek(0)
    text = f.read().strip()
    return int(text) if text.isdigit() else None


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
