"""Exponential moving average of the generator's weights, used for sampling (Karras et al. 2018).

After every generator update: ``ema = decay * ema + (1 - decay) * weight`` for every
parameter; buffers (batch-norm running statistics, spectral-norm vectors) are copied,
because averaging them is meaningless. Before ``start`` steps the average just copies
G, so early noise does not linger in it. Saved in checkpoints as ``G_ema``;
``load_generator`` prefers it.
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn


class EMA:
    def __init__(self, G: nn.Module, decay: float, start: int = 0):
        if not 0 <= decay < 1:
            raise ValueError("EMA decay must be in [0, 1)")
        self.decay, self.start = decay, start
        self.model = copy.deepcopy(G).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, G: nn.Module, step: int) -> None:
        """Fold G's current weights in; ``step`` is the number of G updates done so far."""
        decay = self.decay if step >= self.start else 0.0
        for p_ema, p in zip(self.model.parameters(), G.parameters()):
            p_ema.lerp_(p.detach().to(p_ema.dtype), 1.0 - decay)
        for b_ema, b in zip(self.model.buffers(), G.buffers()):
            b_ema.copy_(b)

    def state_dict(self) -> dict:
        return self.model.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state)
