"""Checkpoints: weights + configs + training state in one file, written atomically, read safely.

A checkpoint is a dict of tensors and plain Python values, so it loads with
``torch.load(weights_only=True)`` and never unpickles code. Keys::

    format, version      "ganforge-checkpoint", 1
    model_config         ModelConfig as a dict: enough to rebuild G and D
    train_config         TrainConfig as a dict
    step, elapsed        generator updates done, training seconds so far
    G, D, G_ema?         state dicts
    opt_G, opt_D         optimiser state dicts
    scaler_G?, scaler_D? gradient-scaler state (float16 on CUDA)
    loader               data order position {"epoch", "position"}
    loss                 the loss's own state (``GANLoss.state_dict()``; empty for the stateless ones)
    rng                  {"latent": ByteTensor (shared by all ranks), "world_size": int,
                          "ranks": [{"torch", "augment", "cuda"?: ByteTensor}, ...] (one per rank),
                          "torch", "augment": rank 0's again, "cuda"?: [...] (older readers)}
    dataset              {"path", "sha256", "resolution", "channels", "classes", "count"}
"""

from __future__ import annotations

import pickle
import warnings
import zipfile
from pathlib import Path

import torch
import torch.nn as nn

from ganforge.config import ModelConfig
from ganforge.errors import CheckpointError
from ganforge.models import build_generator
from ganforge.runs import RunDir
from ganforge.utils import atomic_path

FORMAT = "ganforge-checkpoint"
VERSION = 1


def save_checkpoint(path: str | Path, state: dict) -> None:
    state = {"format": FORMAT, "version": VERSION, **state}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        with warnings.catch_warnings():  # torch warns about unusual pickle protocols before refusing them
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path} is not a readable ganforge checkpoint ({first[:160]})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a ganforge checkpoint")
    if int(state.get("version", 0)) > VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {state['version']}, newer than this ganforge reads ({VERSION}); upgrade ganforge"
        )
    return state


def find_checkpoint(run_or_ckpt: str | Path) -> Path:
    """A checkpoint file as given, or a run directory's latest checkpoint."""
    p = Path(run_or_ckpt)
    if p.is_dir():
        latest = RunDir(p).latest_checkpoint
        if not latest.is_file():
            raise CheckpointError(f"{p} has no checkpoint (expected {latest}); is it a ganforge run directory?")
        return latest
    if p.is_file():
        return p
    raise CheckpointError(f"no run directory or checkpoint at {p}")


def generator_from_checkpoint(run_or_ckpt: str | Path, device: str | torch.device = "cpu", ema: bool = True
                              ) -> tuple[nn.Module, ModelConfig, dict]:
    """Rebuild the generator of a run or checkpoint (its EMA weights when present and ``ema``), in eval mode.

    Returns (G, model config, checkpoint dict without the optimiser states).
    """
    state = load_checkpoint(find_checkpoint(run_or_ckpt), map_location="cpu")
    cfg = ModelConfig.from_dict(state["model_config"])
    G = build_generator(cfg)
    weights = state.get("G_ema") if ema and state.get("G_ema") is not None else state["G"]
    try:
        G.load_state_dict(weights)
    except RuntimeError as e:
        raise CheckpointError(f"checkpoint weights do not fit a {cfg.family} generator: {str(e).splitlines()[0]}") from None
    G.to(device).eval().requires_grad_(False)
    for key in ("opt_G", "opt_D"):
        state.pop(key, None)
    return G, cfg, state
