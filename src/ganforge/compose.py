"""Compose pretrained generators into one MITLGAN generator and train it with the normal Trainer.

``compose(train_cfg, parts)`` is the whole job as a plain function; ``ganforge compose``
only parses options and calls it. The composed run is an ordinary run directory of
family ``mitlgan``: resume, samples, logs, checkpoints, ``generate``, ``interpolate``
and the web app work on it unchanged. See ``ganforge/models/mitlgan.py`` for the model.

What training a composed model adds to the ordinary trainer lives here, not in the model:
reading the parts' pretrained weights from their checkpoints when a fresh run starts
(``load_part_weights``, the trainer's ``initialise``) and unfreezing the parts after
``unfreeze_after`` steps (``unfreeze_hook``, a trainer hook).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch.nn as nn
from PIL import Image, ImageDraw

from ganforge import models
from ganforge.checkpoint import (
    checkpoint_model_config,
    find_checkpoint,
    load_checkpoint,
)
from ganforge.config import ModelConfig, TrainConfig, model_config
from ganforge.data.dataset import read_info
from ganforge.errors import CheckpointError, ConfigError
from ganforge.losses import LOSSES
from ganforge.models import mitlgan
from ganforge.sampling import image_grid, latents_for_seeds, to_uint8
from ganforge.train import Trainer, TrainResult, train
from ganforge.utils import STDERR, sha256_file

THESIS_LOSS = "wgan-gp"  # the MITLGAN thesis trained with a WGAN-GP critic


def describe_part(run_or_ckpt: str | Path, ema: bool = True) -> dict:
    """What the composed model records about one part: its config, checkpoint, hash and which weights.

    ``ema``: take the part's EMA weights when its checkpoint has them (the weights
    ``ganforge generate`` uses by default).
    """
    path = find_checkpoint(run_or_ckpt).resolve()
    state = load_checkpoint(path)
    cfg = checkpoint_model_config(state, path)
    weights = "G_ema" if ema and state.get("G_ema") is not None else "G"
    return {"config": cfg.to_dict(), "source": str(path), "sha256": sha256_file(path), "weights": weights,
            "name": Path(run_or_ckpt).name, "step": int(state.get("step", 0))}


def default_loss() -> str:
    return THESIS_LOSS if THESIS_LOSS in LOSSES else "bce"


def critic_options(family: str, loss: str) -> dict:
    """A loss with a per-image gradient penalty (WGAN-GP) needs a critic that scores each image on its
    own: the family's options for that (dcgan's layer norm instead of batch norm), else none."""
    return models.gradient_penalty_options(family) if LOSSES[loss].gradient_penalty else {}


def compose_model_config(parts: list[str | Path], data: str | Path, *, merge: str = mitlgan.MERGE.default,
                         width: int = 64, blocks: int = mitlgan.BLOCKS.default, growth: int | None = None,
                         unfreeze_after: int | None = None,
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


def compose(cfg: TrainConfig, model_cfg: ModelConfig, *, resume: bool = False, out=STDERR) -> TrainResult:
    """Train (or resume) a composed run; ``model_cfg`` from ``compose_model_config`` (or the run's saved one).

    Goes through ``ganforge.train.train``, so everything a run can do (EMA, evaluation
    during training, several GPUs) a composed run does too.
    """
    if not models.is_composite(model_cfg.family):
        raise ConfigError(f"compose trains a composed (mitlgan) model, not {model_cfg.family}")
    return train(cfg, model_cfg, resume=resume, out=out, initialise=initialise, hooks=[unfreeze_hook])


def load_part_weights(G: mitlgan.Generator) -> None:
    """Copy each part's pretrained weights from its recorded source checkpoint into ``G.parts``.

    Used when a fresh run starts; the checkpoint's SHA-256 must match the one recorded at
    composition time, so the composed run is built from exactly the generators it names.
    """
    for i, (part, desc) in enumerate(zip(G.parts, model_config(G).options["parts"]), 1):
        source = Path(desc.get("source", ""))
        if not source.is_file():
            raise CheckpointError(f"part {i}'s checkpoint {source} is gone; compose again from the part runs")
        if desc.get("sha256") and sha256_file(source) != desc["sha256"]:
            raise CheckpointError(f"part {i}'s checkpoint {source} changed since it was chosen; compose again")
        state = load_checkpoint(source)
        weights = state.get(desc.get("weights", "G")) or state["G"]
        part.load_state_dict(weights)


def initialise(G: nn.Module, D: nn.Module) -> None:
    """Fresh weights of a composed run: merge, refiner and critic as their families do, parts pretrained."""
    assert isinstance(G, mitlgan.Generator)  # the composing family's generator
    models.init_weights(G)
    models.init_weights(D)
    load_part_weights(G)


def unfreeze_hook(trainer: Trainer) -> None:
    """After each step: unfreeze the parts once ``options["unfreeze_after"]`` steps are done."""
    G = trainer.G
    assert isinstance(G, mitlgan.Generator)  # the hook is registered for composed runs only
    n = model_config(G).options.get("unfreeze_after")
    if n is not None and trainer.step >= int(n) and not bool(G.parts_unfrozen):
        G.unfreeze_parts()
        if trainer.is_main:
            print(f"\nmitlgan: step {trainer.step}: parts unfrozen, fine-tuning them from now on", file=trainer.out)


def separation_view(G, seeds, row_labels: bool = True):
    """The foreground-background separation view of a composed generator, as one PIL image.

    One column per seed (the same latents throughout); rows: each part's output, then for
    ``alpha`` the learned mask of part 1 (white: part 1 shows) and the composite before
    refining, for ``sum`` the sum, and last the composed output.
    """
    seeds = list(seeds)
    device = next(G.parameters()).device
    was_training = G.training
    G.eval()
    seen = G.explain(latents_for_seeds(seeds, model_config(G).latent_dim).to(device))
    G.train(was_training)
    names = [f"part {i + 1}: {p.get('name', '')}" for i, p in enumerate(model_config(G).options["parts"])]
    rows = list(seen["parts"])
    c = rows[0].shape[1]
    if seen["mask"] is not None:
        rows.append(seen["mask"][:, :1].mul(2).sub(1).expand(-1, c, -1, -1))
        names.append("mask of part 1")
    if seen["composite"] is not None:
        rows.append(seen["composite"])
        names.append("composite" if G.merge_kind == "alpha" else "sum")
    rows.append(seen["output"])
    names.append(f"output ({G.merge_kind})")
    images = np.concatenate([to_uint8(r) for r in rows])
    grid = image_grid(images, ncols=len(seeds)).convert("RGB")
    if not row_labels:
        return grid
    margin = 130
    out = Image.new("RGB", (grid.width + margin, grid.height), "white")
    out.paste(grid, (margin, 0))
    draw = ImageDraw.Draw(out)
    row_h = (grid.height - 2) / len(rows)
    for i, name in enumerate(names):
        draw.text((4, 2 + i * row_h + row_h / 2 - 6), name[:21], fill="black")
    return out
