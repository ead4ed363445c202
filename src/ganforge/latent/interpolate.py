"""Paths through latent space: linear, spherical (slerp) and sine-eased interpolation.

A path visits K keyframe latents in order. Without ``loop`` the first frame is the
first keyframe and the last frame the last one; with ``loop`` the path returns to
the first keyframe and the last frame stops one step short of it, so a looping
video has no repeated frame. Keyframes land exactly on frames wherever the frame
grid meets them (always for the first and last).
"""

from __future__ import annotations

import math

import torch

from ganforge.errors import GanforgeError

MODES = ("linear", "slerp", "sine")


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of rows ``a``, ``b`` (N, D) at fractions ``t`` (N,).

    The direction follows the great circle between a/|a| and b/|b| and the norm moves
    linearly from |a| to |b|, so equal-norm endpoints keep their norm all the way (a
    linear path would cut through the low-density centre of a Gaussian latent space).
    """
    t = t.reshape(-1, 1).to(a.dtype)
    na, nb = a.norm(dim=1, keepdim=True), b.norm(dim=1, keepdim=True)
    ua, ub = a / na.clamp_min(1e-12), b / nb.clamp_min(1e-12)
    cos = (ua * ub).sum(1, keepdim=True).clamp(-1.0, 1.0)
    omega = torch.acos(cos)
    sin = torch.sin(omega)
    near = sin.abs() < 1e-6  # (anti)parallel: fall back to a normalised linear path
    wa = torch.where(near, 1 - t, torch.sin((1 - t) * omega) / torch.where(near, torch.ones_like(sin), sin))
    wb = torch.where(near, t, torch.sin(t * omega) / torch.where(near, torch.ones_like(sin), sin))
    u = wa * ua + wb * ub
    u = u / u.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return u * ((1 - t) * na + t * nb)


def ease_sine(t: torch.Tensor) -> torch.Tensor:
    """Sine ease-in-out on [0, 1]: starts and ends each step at zero speed."""
    return (1 - torch.cos(math.pi * t)) / 2


def interpolate(latents: torch.Tensor, frames: int, mode: str = "linear", loop: bool = False) -> torch.Tensor:
    """Latents (K, D) -> (frames, D) along a path through all K in order.

    ``mode``: ``linear``; ``slerp`` (great circle, norms kept); ``sine`` (linear, each
    step between two keyframes eased with a sine so the morph pauses on each keyframe).
    Latents of any trailing shape (K, ...) are accepted; the output is (frames, ...).
    """
    if mode not in MODES:
        raise GanforgeError(f"unknown interpolation mode {mode!r}; choose one of: {', '.join(MODES)}")
    if latents.ndim < 2 or len(latents) < 1:
        raise GanforgeError("interpolate needs latents of shape (K, D) with K >= 1")
    if frames < 1:
        raise GanforgeError("the number of frames must be at least 1")
    shape = latents.shape[1:]
    keys = latents.reshape(len(latents), -1).float()
    if loop and len(keys) > 1:
        keys = torch.cat([keys, keys[:1]])
    segments = len(keys) - 1
    if segments == 0:
        return keys.expand(frames, -1).reshape(frames, *shape).clone()
    # Position of each frame along the path, in units of segments: [0, segments]
    # (closed path) or [0, segments) for a loop, whose end is its start.
    denom = frames if loop else max(frames - 1, 1)
    pos = torch.arange(frames, dtype=torch.float64) * segments / denom
    seg = pos.floor().long().clamp(max=segments - 1)
    t = (pos - seg).float()
    a, b = keys[seg], keys[seg + 1]
    if mode == "slerp":
        out = slerp(a, b, t)
    else:
        if mode == "sine":
            t = ease_sine(t)
        w = t.reshape(-1, 1)
        out = (1 - w) * a + w * b
    # Frames that sit on a keyframe are that keyframe exactly (no rounding drift).
    on_a, on_b = t == 0, t == 1
    out[on_a] = a[on_a]
    out[on_b] = b[on_b]
    return out.reshape(frames, *shape)


def midpoint(a: torch.Tensor, b: torch.Tensor, mode: str = "slerp") -> torch.Tensor:
    """The latent halfway between ``a`` and ``b`` (each (D,) or (1, D)); same shape as ``a``.

    ``slerp`` (default) keeps the midpoint at the typical norm of the prior; the linear
    mean of two Gaussian latents is ~1/sqrt(2) as long, which gives washed-out images.
    """
    if a.shape != b.shape:
        raise GanforgeError(f"latents of different shapes: {tuple(a.shape)} and {tuple(b.shape)}")
    if mode not in ("linear", "slerp"):
        raise GanforgeError("midpoint mode must be linear or slerp")
    pa, pb = a.reshape(1, -1).float(), b.reshape(1, -1).float()
    half = torch.tensor([0.5])
    mid = slerp(pa, pb, half) if mode == "slerp" else (pa + pb) / 2
    return mid.reshape(a.shape)
