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
from ganforge.train import TrainResult, train
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


def compose(cfg: TrainConfig, model_cfg: ModelConfig, *, resume: bool = False, out=sys.stderr) -> TrainResult:
    """Train (or resume) a composed run; ``model_cfg`` from ``compose_model_config`` (or the run's saved one).

    Goes through ``ganforge.train.train``, so everything a run can do (EMA, evaluation
    during training, several GPUs) a composed run does too.
    """
    if model_cfg.family != "mitlgan":
        raise ConfigError(f"compose trains a mitlgan model, not {model_cfg.family}")
    return train(cfg, model_cfg, resume=resume, out=out)


def separation_view(G, seeds, row_labels: bool = True):
    """The foreground-background separation view of a composed generator, as one PIL image.

    One column per seed (the same latents throughout); rows: each part's output, then for
    ``alpha`` the learned mask of part 1 (white: part 1 shows) and the composite before
    refining, for ``sum`` the sum, and last the composed output.
    """
    import numpy as np
    from PIL import Image, ImageDraw

    from ganforge.sampling import image_grid, latents_for_seeds, to_uint8

    seeds = list(seeds)
    device = next(G.parameters()).device
    was_training = G.training
    G.eval()
    seen = G.explain(latents_for_seeds(seeds, G.cfg.latent_dim).to(device))
    G.train(was_training)
    names = [f"part {i + 1}: {p.get('name', '')}" for i, p in enumerate(G.cfg.options["parts"])]
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
