"""Seeds -> latents (with truncation), and latent files.

A *latent* in ganforge is the ``z`` a generator takes: ``G(z, labels)`` with ``z`` of
shape (N, latent_dim). Seed ``s`` always gives the same latent on any device (see
``ganforge.sampling.latents_for_seeds``); truncation pulls it toward the mean latent:
``mean + psi * (z - mean)`` (psi = 1: no truncation, psi = 0: the mean itself).

Latent files are ``.npz`` (never pickles), keys::

    latent   float32 (N, D) or (D,)
    label    int64 (N,) class ids, -1 where the model is unconditional
    space    str: z, w or w+ (the latent commands write it; absent means z)
    + any extra arrays a caller saves beside them (e.g. "image" uint8 (H, W, C))
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from ganforge.config import model_config
from ganforge.errors import GanforgeError
from ganforge.sampling import latents_for_seeds
from ganforge.utils import atomic_path


def sample_latents(seeds: Sequence[int], latent_dim: int, *, psi: float = 1.0,
                   mean_latent: torch.Tensor | None = None) -> torch.Tensor:
    """(len(seeds), latent_dim) float32 latents on CPU, truncated toward ``mean_latent`` (default 0).

    For the standard-normal prior of every ganforge family the mean latent is exactly zero,
    so ``psi`` < 1 scales latents toward the origin; pass ``mean_latent(G)`` for families
    whose generator defines its own mean.
    """
    z = latents_for_seeds(seeds, latent_dim)
    return truncate(z, psi, mean_latent)


def truncate(z: torch.Tensor, psi: float, mean_latent: torch.Tensor | None = None) -> torch.Tensor:
    """``mean + psi * (z - mean)`` for latents (N, D); ``mean`` (D,) defaults to zeros."""
    if psi == 1.0:
        return z
    if not 0.0 <= psi <= 2.0:
        raise GanforgeError(f"truncation psi must be in [0, 2], not {psi}")
    mean = torch.zeros(z.shape[-1], dtype=z.dtype) if mean_latent is None else mean_latent.to(z)
    return mean + psi * (z - mean)


def latent_dim_of(G: nn.Module) -> int:
    return int(model_config(G).latent_dim)


@torch.no_grad()
def mean_latent(G: nn.Module, n: int = 10_000, seed: int = 0) -> torch.Tensor:
    """The latent (D,) that truncation pulls toward.

    A family with a learned latent distribution (e.g. a mapping network) defines
    ``G.mean_latent(n)`` and it is used; otherwise the prior is N(0, I) and its mean is
    exactly zero (an estimate from ``n`` samples would only add noise).
    """
    if hasattr(G, "mean_latent"):
        return G.mean_latent(n).detach().float().cpu().reshape(-1)  # type: ignore[operator]  # hasattr above
    return torch.zeros(latent_dim_of(G))


def latent_space(path: str | Path) -> str:
    """The space a latent file's latents are in: z, w or w+ (files without a ``space`` key hold z)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            return str(f["space"]) if "space" in f.files else "z"
    except (ValueError, OSError) as e:
        raise GanforgeError(f"{path} is not a ganforge latent file ({str(e).splitlines()[0][:120]})") from None


def save_latents(path: str | Path, latent: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray | None = None,
                 **extra: np.ndarray) -> Path:
    """Write latents (N, D) or (D,) and their class ids to an ``.npz`` file, atomically."""
    path = Path(path)
    if path.suffix != ".npz":
        raise GanforgeError(f"latent files end in .npz, not {path.name!r}")
    z = np.asarray(latent.detach().cpu() if isinstance(latent, torch.Tensor) else latent, dtype=np.float32)
    n = 1 if z.ndim == 1 else z.shape[0]
    if labels is None:
        lab = np.full(n, -1, dtype=np.int64)
    else:
        lab = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels, dtype=np.int64).reshape(n)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, latent=z, label=lab, **{k: np.asarray(v) for k, v in extra.items()})  # type: ignore[arg-type]
    return path


def load_latents(path: str | Path, latent_dim: int | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(latents (N, D) float32, class ids (N,) or None) from an ``.npz`` written by ``save_latents``."""
    path = Path(path)
    if not path.is_file():
        raise GanforgeError(f"no latent file at {path}")
    try:
        with np.load(path, allow_pickle=False) as f:
            z = np.asarray(f["latent"], dtype=np.float32)
            lab = np.asarray(f["label"], dtype=np.int64) if "label" in f.files else None
    except (KeyError, ValueError, OSError) as e:
        raise GanforgeError(f"{path} is not a ganforge latent file ({str(e).splitlines()[0][:120]})") from None
    z = z.reshape(1, -1) if z.ndim == 1 else z.reshape(z.shape[0], -1)
    if latent_dim is not None and z.shape[1] != latent_dim:
        raise GanforgeError(f"{path} holds latents of size {z.shape[1]}, but the model takes {latent_dim}")
    labels = None if lab is None or (lab < 0).all() else torch.from_numpy(lab.reshape(-1)[: len(z)])
    return torch.from_numpy(z), labels


def resolve_latent(spec: str, latent_dim: int, *, psi: float = 1.0,
                   mean: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A latent named on the command line: a seed (``42`` or ``seed:42``) or an ``.npz`` file.

    Returns (latent (1, D), class ids (1,) or None); a file with several latents gives the first.
    """
    text = str(spec).strip()
    seed = text[5:] if text.startswith("seed:") else text
    if seed.isdigit():
        return sample_latents([int(seed)], latent_dim, psi=psi, mean_latent=mean), None
    if not text.endswith(".npz"):
        raise GanforgeError(f"{spec!r} is neither a seed nor a .npz latent file")
    z, labels = load_latents(text, latent_dim)
    return z[:1], None if labels is None else labels[:1]
