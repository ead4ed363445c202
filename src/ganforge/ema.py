"""Exponential moving average of the generator's weights, used for sampling (Karras et al. 2018).

After every generator update: ``ema = decay * ema + (1 - decay) * weight`` for every
parameter; buffers (batch-norm running statistics, spectral-norm vectors) are copied,
because averaging them is meaningless. Before ``start`` steps the average just copies
G, so early noise does not linger in it. With ``warmup`` (the default) the decay ramps up
as ``min(decay, (1 + n) / (10 + n))`` after n averaged updates (the num_updates rule of
TensorFlow's ExponentialMovingAverage): without it, a 0.999 average after 300 steps would
still be 74 % the random initial weights and short runs would sample noise. Saved in
checkpoints as ``G_ema``;
``load_generator`` prefers it.
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn


class EMA:
    def __init__(self, G: nn.Module, decay: float, start: int = 0, warmup: bool = True):
        if not 0 <= decay < 1:
            raise ValueError("EMA decay must be in [0, 1)")
        self.decay, self.start, self.warmup = decay, start, warmup
        self.model = copy.deepcopy(G).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, G: nn.Module, step: int) -> None:
        """Fold G's current weights in; ``step`` is the number of G updates done so far."""
        decay = self.decay_at(step)
        for p_ema, p in zip(self.model.parameters(), G.parameters()):
            p_ema.lerp_(p.detach().to(p_ema.dtype), 1.0 - decay)
        for b_ema, b in zip(self.model.buffers(), G.buffers()):
            b_ema.copy_(b)

    def decay_at(self, step: int) -> float:
        """The decay used by the update after G update number ``step`` (a pure function: resume stays exact)."""
        if step < self.start:
            return 0.0
        if not self.warmup:
            return self.decay
        n = step - self.start  # updates averaged since the start
        return min(self.decay, (1 + n) / (10 + n))

    def state_dict(self) -> dict:
        return self.model.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state)


class HalfLifeEMA(EMA):
    """The average with a half-life in images, as StyleGAN2-ADA sets it (Karras et al. 2020, ``ema_kimg``).

    After G update number ``step`` (``step * batch`` images): ``decay = 0.5 ** (batch / h)`` with
    ``h = min(half_life, rampup * step * batch)``: early on the average forgets fast (its half-life
    is 5 % of the images seen), later it keeps ``half_life`` images' worth of history.
    """

    def __init__(self, G: nn.Module, half_life_images: float, batch: int, rampup: float = 0.05):
        super().__init__(G, 0.0)
        self.half_life, self.batch, self.rampup = half_life_images, batch, rampup

    def decay_at(self, step: int) -> float:
        h = min(self.half_life, self.rampup * step * self.batch) if self.rampup else self.half_life
        return 0.5 ** (self.batch / max(h, 1e-8))
