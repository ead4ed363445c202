"""What a path names: a run directory, a checkpoint file or an export, and the generator it holds.

This is the one place that decides. A path is

- an **export** when ``ganforge.export.is_export`` says so (a folder with ``ganforge-export.json``,
  that JSON file, or an exported model file; a ``ganforge hub pull`` folder is one);
- a **run directory** when it is a folder (its ``checkpoints/latest.pt`` is used);
- a **checkpoint** when it is any other file (``torch.load(weights_only=True)``: never unpickled).

``checkpoint`` and ``export`` each know their own format and nothing of the other; commands,
the latent tools, metrics, the Hub and the web app load generators through ``load_generator``.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from ganforge.checkpoint import generator_from_checkpoint
from ganforge.config import ModelConfig
from ganforge.export import ExportResult, is_export, load_exported, write_export


def load_generator(path: str | Path, device: str | torch.device = "cpu", ema: bool = True
                   ) -> tuple[nn.Module, ModelConfig, dict]:
    """(G in eval mode, its model config, a description) of a run, checkpoint or export.

    The description is the checkpoint dict without optimiser states, or an export's JSON
    description; both have ``step`` and ``dataset``. ``ema``: prefer a run's EMA weights.
    """
    if is_export(path):
        return load_exported(path, device=device)
    return generator_from_checkpoint(path, device=device, ema=ema)


def averaged_weights(path: str | Path, info: dict, ema: bool = True) -> bool:
    """Whether ``load_generator(path, ema=ema)``, which returned ``info``, gave weight-averaged (EMA) weights:
    an export says so itself; a run or checkpoint has them when it saved ``G_ema`` and they were asked for."""
    return bool(info.get("ema")) if is_export(path) else bool(ema and info.get("G_ema") is not None)


def export_generator(path: str | Path, fmt: str, out: str | Path, ema: bool = True) -> ExportResult:
    """Write the generator of run, checkpoint or export ``path`` in ``fmt`` into folder ``out``."""
    G, cfg, info = load_generator(path, device="cpu", ema=ema)
    return write_export(G, cfg, info, fmt, out, ema=averaged_weights(path, info, ema))
