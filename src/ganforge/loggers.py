"""Where training reports besides its own files: TensorBoard or Weights & Biases (``--logger``).

The run directory's plain files (``log.jsonl``, ``samples/``, ``metrics.jsonl``, ``config.json``)
are always written. ``--logger tensorboard`` or ``--logger wandb`` adds one more sink, fed from the
same points of the trainer, with the same content:

- every statistic of each ``log.jsonl`` record (losses, D outputs, images/s, an adaptive
  augmentation's p...) and both learning rates, as ``train/NAME`` scalars;
- every metric of ``--eval-every`` as ``eval/NAME``;
- the fixed-latent sample grid each time it is drawn (``samples``);
- the resolved configuration (``config.json``) as text, at the step the session starts.

Resume continues the same stream: a new event file starts with a session marker at the step
after the checkpoint, so the events a stopped or crashed session wrote past its checkpoint are
dropped by TensorBoard's reader (the steps are redone, as ``log.jsonl``'s records are); a
rollback after non-finite losses does the same. W&B runs resume by a stable id kept in the run
directory; W&B drops steps it has already seen, so a rollback's redone steps keep their first values.

W&B runs **offline** unless the environment says otherwise (``WANDB_MODE``): nothing leaves the
machine until the user runs ``wandb sync`` or sets ``WANDB_MODE=online``. Offline, wandb-core's own
crash reports to W&B are turned off too (``WANDB_ERROR_REPORTING=false`` unless the user set it).
"""

from __future__ import annotations

import json
import math
import os
import secrets
import time
from typing import Any

from ganforge.errors import ConfigError
from ganforge.runs import RunDir

LOGGERS = ("files", "tensorboard", "wandb")


class RunLogger:
    """The plain-files logger: the trainer writes those itself, so every method does nothing.

    The others override these; the trainer calls them on rank 0 only.
    """

    def config(self, step: int, config: dict) -> None:
        """The resolved configuration (``config.json``'s content), at the step a session starts."""

    def scalars(self, step: int, values: dict[str, Any], prefix: str = "") -> None:
        """Every finite number in ``values`` as ``prefix + name``; anything else (lists, text, None) is skipped."""

    def image(self, step: int, tag: str, image) -> None:
        """A PIL image (the sample grid)."""

    def restart(self, step: int) -> None:
        """Steps from ``step`` on will be redone (a rollback): what was logged for them is void."""

    def close(self) -> None:
        """Flush and close (idempotent)."""


def numbers(values: dict[str, Any]) -> dict[str, float]:
    """The finite numbers of a log record by tag name (the step is the x axis; booleans, None, NaN, text and
    lists are left out). A metric's extractor becomes a suffix: ``fid[inception]`` -> ``fid_inception``, as
    TensorBoard allows no brackets in a tag."""
    return {k.replace("[", "_").replace("]", ""): float(v) for k, v in values.items()
            if k != "step" and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}


def check_logger(kind: str) -> None:
    """A one-line ``ConfigError`` for an unknown logger or one whose package is missing, before training."""
    if kind not in LOGGERS:
        raise ConfigError(f"unknown logger {kind!r}; choose one of: {', '.join(LOGGERS)}")
    if kind == "tensorboard":
        _tensorboardx()
    elif kind == "wandb":
        _wandb()


def open_logger(kind: str, run: RunDir, *, first_step: int = 0) -> RunLogger:
    """The logger ``kind`` writing for ``run``; ``first_step`` > 0 when resuming (the step after the checkpoint)."""
    check_logger(kind)
    if kind == "tensorboard":
        return TensorBoardLogger(run, first_step)
    if kind == "wandb":
        return WandbLogger(run, first_step)
    return RunLogger()


# ---- TensorBoard -----------------------------------------------------------------------------


def _tensorboardx():
    """tensorboardX's event-file writer, protocol buffers and summaries (the ``tensorboard`` extra)."""
    try:
        from tensorboardX import summary
        from tensorboardX.event_file_writer import EventsWriter
        from tensorboardX.proto.event_pb2 import Event, SessionLog
        from tensorboardX.proto.summary_pb2 import Summary
    except ImportError:
        raise ConfigError("--logger tensorboard needs tensorboardX: pip install 'ganforge[tensorboard]'") from None
    return EventsWriter, Event, SessionLog, Summary, summary


class TensorBoardLogger(RunLogger):
    """Event files in ``RUN/tensorboard/``: ``tensorboard --logdir RUN`` shows them.

    Written synchronously, one event per logged step holding all its scalars: tensorboardX's
    SummaryWriter makes one event per scalar and passes each through a multiprocessing queue,
    about 5 ms per step of 12 statistics here against about 0.1 ms this way (with the ``crc32c``
    package the extra installs; tensorboardX's pure-Python checksum is several times slower).
    The file is flushed every ``flush_secs`` and when the logger closes.
    """

    flush_secs = 30.0

    def __init__(self, run: RunDir, first_step: int = 0):
        self.dir = run.tensorboard
        self.dir.mkdir(parents=True, exist_ok=True)
        self._tbx = _tensorboardx()
        self._writer: Any = None  # tensorboardX's EventsWriter (untyped); None once closed
        self._open(first_step)

    def _open(self, purge_step: int) -> None:
        EventsWriter, Event, SessionLog, _, _ = self._tbx
        # One event file per session. Its name holds the second it was made; the suffix keeps two
        # sessions of the same second (a quick resume) apart.
        n = len(list(self.dir.glob("events.out.tfevents.*")))
        self._writer = EventsWriter(str(self.dir / "events"), f".{os.getpid()}.{n}")
        self._flushed = time.monotonic()
        if purge_step:  # TensorBoard's reader drops the events of steps >= purge_step written before this one
            self._writer.write_event(Event(wall_time=time.time(), step=purge_step,
                                           session_log=SessionLog(status=SessionLog.START)))

    def _write(self, step: int, summary) -> None:
        _, Event, _, _, _ = self._tbx
        self._writer.write_event(Event(wall_time=time.time(), step=step, summary=summary))
        if time.monotonic() - self._flushed > self.flush_secs:
            self._writer.flush()
            self._flushed = time.monotonic()

    def config(self, step: int, config: dict) -> None:
        text = "\n".join("    " + line for line in json.dumps(config, indent=2).splitlines())  # a Markdown code block
        self._write(step, self._tbx[4].text("config", text))

    def scalars(self, step: int, values: dict[str, Any], prefix: str = "") -> None:
        Summary = self._tbx[3]
        found = numbers(values)
        if found:
            self._write(step, Summary(value=[Summary.Value(tag=prefix + k, simple_value=v) for k, v in found.items()]))

    def image(self, step: int, tag: str, image) -> None:
        import numpy as np

        self._write(step, self._tbx[4].image(tag, np.asarray(image.convert("RGB")), dataformats="HWC"))

    def restart(self, step: int) -> None:
        self.close()
        self._open(step)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


# ---- Weights & Biases ------------------------------------------------------------------------


def _wandb():
    try:
        import wandb
    except ImportError:
        raise ConfigError("--logger wandb needs the wandb package: pip install 'ganforge[wandb]'") from None
    return wandb


class WandbLogger(RunLogger):
    """A W&B run (offline unless ``WANDB_MODE`` says otherwise) in ``RUN/wandb/``, resumed by a stable id."""

    def __init__(self, run: RunDir, first_step: int = 0):
        self._wandb = wandb = _wandb()
        id_file = run.root / ".wandb-id"
        if id_file.is_file():
            run_id = id_file.read_text().strip()
        else:
            run_id = secrets.token_hex(4)
            id_file.write_text(run_id + "\n")
        mode = os.environ.get("WANDB_MODE", "offline")
        if mode == "offline":
            # wandb-core, the process wandb starts, reports its own errors to W&B unless this says no; it reads
            # the environment, so the setting has to be made there (the user's own value is kept)
            os.environ.setdefault("WANDB_ERROR_REPORTING", "false")
        # resume="allow": the first session creates the run, later ones continue it (same id, the history's
        # steps carry on from the checkpoint's)
        self._run = wandb.init(project=os.environ.get("WANDB_PROJECT", "ganforge"), name=run.root.name, id=run_id,
                               dir=str(run.root), mode=mode, resume="allow")

    def config(self, step: int, config: dict) -> None:
        self._run.config.update(config, allow_val_change=True)

    def scalars(self, step: int, values: dict[str, Any], prefix: str = "") -> None:
        found = numbers(values)
        if found:
            self._run.log({prefix + k: v for k, v in found.items()}, step=step)

    def image(self, step: int, tag: str, image) -> None:
        self._run.log({tag: self._wandb.Image(image)}, step=step)

    def close(self) -> None:
        if self._run is not None:
            self._run.finish()
            self._run = None
