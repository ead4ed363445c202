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
    ada?                 ADA's p and its controller's partial interval (``AdaptiveAugment.state_dict()``; None without)
    rng                  {"latent": ByteTensor (shared by all ranks), "world_size": int,
                          "ranks": [{"torch", "augment", "cuda"?: ByteTensor}, ...] (one per rank),
                          "torch", "augment": rank 0's again, "cuda"?: [...] (older readers)}
    dataset              {"path", "sha256", "resolution", "channels", "classes", "count"}
"""

from __future__ import annotations

import contextlib
import pickle
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

import torch
import torch.nn as nn

from ganforge.config import ModelConfig
from ganforge.errors import CheckpointError, ConfigError
from ganforge.models import build_discriminator, build_generator, validate
from ganforge.runs import RunDir
from ganforge.utils import atomic_path

FORMAT = "ganforge-checkpoint"
VERSION = 1


def save_checkpoint(path: str | Path, state: dict) -> None:
    """Write ``state`` atomically, marked as a ganforge checkpoint (see ``save_torch_file``)."""
    save_torch_file(path, {"format": FORMAT, "version": VERSION, **state})


def save_torch_file(path: str | Path, obj: dict) -> None:
    """``torch.save`` ``obj`` atomically, as the same bytes for the same ``obj``. A failed write (a full disk...)
    raises the file's ``OSError``, with its errno. torch.save is given a file object, not the temporary path:
    given a path it names the records inside after it (a random name, so the file's SHA-256, which is an
    extractor's identity, would change with every write), and raises a RuntimeError without the errno
    ("unexpected pos 704 vs 598"); a file object's error is raised, or chained to its writer's RuntimeError."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        try:
            torch.save(obj, f)
        except RuntimeError as e:
            if isinstance(e.__context__, OSError):
                raise e.__context__ from None
            raise


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        with warnings.catch_warnings():  # torch warns about unusual pickle protocols before refusing them
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        if "weights only" in str(e).lower():  # torch's refusal of anything but tensors and plain values
            raise CheckpointError(f"{path} holds pickled Python objects, which could run code when loaded: ganforge "
                                  "will not unpickle it (ganforge checkpoints hold only tensors and plain values)"
                                  ) from None
        raise CheckpointError(f"{path} is not a readable ganforge checkpoint ({summary(e)})") from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as e:
        raise CheckpointError(f"{path} is not a readable ganforge checkpoint ({summary(e)})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a ganforge checkpoint")
    if int(state.get("version", 0)) > VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {state['version']}, newer than this ganforge reads ({VERSION}); "
            "upgrade ganforge"
        )
    return state


def summary(e: BaseException, limit: int = 160) -> str:
    """An exception's first informative line, cut at a word (torch's messages run to paragraphs; a
    state-dict mismatch starts with a header line and names the first mismatch on the next)."""
    lines = [line.strip() for line in str(e).strip().splitlines() if line.strip()]
    if not lines:
        return type(e).__name__
    header = lines[0].startswith("Error(s) in loading state_dict") and len(lines) > 1
    text = lines[1] if header else lines[0]
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + " ..."
    return text + (f" (and {len(lines) - 2} more)" if header and len(lines) > 2 else "")


def require_keys(state: dict, keys: tuple[str, ...], path: str | Path) -> None:
    """A one-line ``CheckpointError`` naming the keys a checkpoint lacks (a crafted or truncated one)."""
    missing = [k for k in keys if state.get(k) is None]
    if missing:
        raise CheckpointError(f"{path} lacks {', '.join(missing)}: not a complete ganforge checkpoint")


def checkpoint_model_config(state: dict, path: str | Path) -> ModelConfig:
    """The checkpoint's model configuration, validated: a crafted one is a one-line error, not a crash
    while building the networks."""
    require_keys(state, ("model_config",), path)
    try:
        return validate(ModelConfig.from_dict(dict(state["model_config"])))
    except (TypeError, ValueError, ConfigError) as e:
        raise CheckpointError(f"{path} holds a model configuration that ganforge cannot build: {summary(e)}") from None


@contextlib.contextmanager
def loading(path: str | Path, what: str) -> Iterator[None]:
    """Around loading one part of a checkpoint into a live object (``load_state_dict``): a part that does
    not fit (shapes, missing or unexpected entries, another optimiser's groups) is a one-line error."""
    try:
        yield
    except (RuntimeError, ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{path}: {what} do not fit: {summary(e)}") from None


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
    path = find_checkpoint(run_or_ckpt)
    state = load_checkpoint(path, map_location="cpu")
    require_keys(state, ("G",), path)
    cfg = checkpoint_model_config(state, path)
    G = build_generator(cfg)
    weights = state["G_ema"] if ema and state.get("G_ema") is not None else state["G"]
    with loading(path, f"the weights of its {cfg.family} generator"):
        G.load_state_dict(weights)
    G.to(device).eval().requires_grad_(False)
    for key in ("opt_G", "opt_D"):
        state.pop(key, None)
    return G, cfg, state


def discriminator_from_checkpoint(run_or_ckpt: str | Path, device: str | torch.device = "cpu",
                                  state: dict | None = None) -> nn.Module:
    """The discriminator of a run or checkpoint in eval mode, frozen (for feature and realism losses,
    and the diagnostic metric). ``state``: the checkpoint dict when it is already loaded (e.g. the third
    value of ``ganforge.artifacts.load_generator``; an export's description holds no D and is not used)."""
    path = find_checkpoint(run_or_ckpt)
    if state is None or state.get("D") is None:
        state = load_checkpoint(path, map_location="cpu")
    if state.get("D") is None:
        raise CheckpointError(f"{path} holds no discriminator weights")
    cfg = checkpoint_model_config(state, path)
    D = build_discriminator(cfg)
    with loading(path, f"the weights of its {cfg.family} discriminator"):
        D.load_state_dict(state["D"])
    return D.to(device).eval().requires_grad_(False)
