"""Compose pretrained generators into one MITLGAN generator and train it with the normal Trainer.

``compose(train_cfg, parts)`` is the whole job as a plain function; ``ganforge compose``
only parses options and calls it. The composed run is an ordinary run directory of
family ``mitlgan``: resume, samples, logs, checkpoints, ``generate``, ``interpolate``
and the web app work on it unchanged. See ``ganforge/models/mitlgan.py`` for the model.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ganforge.checkpoint import find_checkpoint, load_checkpoint
from ganforge.config import ModelConfig, TrainConfig
from ganforge.data.dataset import read_info
from ganforge.errors import ConfigError
from ganforge.losses import LOSSES
from ganforge.models import mitlgan
from ganforge.train import TrainResult, Trainer
from ganforge.utils import sha256_file

THESIS_LOSS = "wgan-gp"  # the MITLGAN thesis trained with a WGAN-GP critic


def describe_part(run_or_ckpt: str | Path, ema: bool = True) -> dict:
    """What the composed model records about one part: its config, checkpoint, hash and which weights.

    ``ema``: take the part's EMA weights when its checkpoint has them (the weights
    ``ganforge generate`` uses by default).
    """
    path = find_checkpoint(run_or_ckpt).resolve()
    state = load_checkpoint(path)
    cfg = ModelConfig.from_dict(state["model_config"])
    weights = "G_ema" if ema and state.get("G_ema") is not None else "G"
    return {"config": cfg.to_dict(), "source": str(path), "sha256": sha256_file(path), "weights": weights,
            "name": Path(run_or_ckpt).name, "step": int(state.get("step", 0))}


def default_loss() -> str:
    return THESIS_LOSS if THESIS_LOSS in LOSSES else "bce"


def compose_model_config(parts: list[str | Path], data: str | Path, *, merge: str = "conv1x1", width: int = 64,
                         blocks: int = 6, growth: int | None = None, unfreeze_after: int | None = None,
                         critic: dict | None = None, ema: bool = True) -> ModelConfig:
    """The composed ModelConfig for part runs/checkpoints ``parts``, checked against the data set ``data``."""
    if len(parts) < 2:
        raise ConfigError("compose needs at least two parts: --part RUN_OR_CKPT --part RUN_OR_CKPT")
    described = [describe_part(p, ema=ema) for p in parts]
    cfg = mitlgan.compose_config(described, merge=merge, width=width, blocks=blocks, growth=growth,
                                 unfreeze_after=unfreeze_after, critic=critic)
    info = read_info(data)
    if int(info["resolution"]) != cfg.resolution:
        raise ConfigError(f"the parts make {cfg.resolution} px images but {data} holds {info['resolution']} px images; "
                          f"prepare the combined set at --size {cfg.resolution}")
    if int(info["channels"]) != cfg.channels:
        raise ConfigError(f"the parts make {cfg.channels}-channel images but {data} has {info['channels']} channel(s)")
    return cfg


def compose(cfg: TrainConfig, model_cfg: ModelConfig, *, resume: bool = False, out=sys.stderr,
            hooks: list | None = None) -> TrainResult:
    """Train (or resume) a composed run; ``model_cfg`` from ``compose_model_config`` (or the run's saved one)."""
    if model_cfg.family != "mitlgan":
        raise ConfigError(f"compose trains a mitlgan model, not {model_cfg.family}")
    trainer = Trainer(cfg, model_cfg, resume=resume, out=out)
    trainer.hooks.extend(hooks or [])
    return trainer.fit()
