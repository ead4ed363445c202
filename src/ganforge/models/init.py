"""Weight initialisations a family can offer as its ``init`` option (``--init``).

- ``dcgan``: weights from N(0, 0.02), batch-norm scales from N(1, 0.02), biases 0 (Radford et al. 2015);
- ``xavier``: Glorot & Bengio (2010) uniform weights, biases 0, batch norm (1, 0) — Keras's default, which
  the dogs thesis trained with;
- ``torch``: PyTorch's own layer defaults (Kaiming uniform), left as the constructors made them.

A layer under spectral normalisation is initialised through its unnormalised weight, so the
normalisation then divides what the initialisation drew.
"""

from __future__ import annotations

from collections.abc import Callable

import torch.nn as nn
from torch.nn.utils import parametrize

from ganforge.config import ModelConfig, Option

INITS = ("dcgan", "xavier", "torch")
INIT = Option("init", "dcgan", "weight initialisation: dcgan N(0, 0.02), xavier (Glorot uniform), torch's defaults",
              choices=INITS)
LAYERS = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


def _weight(m: nn.Module):
    """The tensor to initialise: the original weight of a spectrally normalised layer, else the weight."""
    if parametrize.is_parametrized(m, "weight"):
        return m.parametrizations.weight.original  # type: ignore[union-attr]
    return m.weight


def _dcgan(m: nn.Module) -> None:
    if isinstance(m, LAYERS):
        nn.init.normal_(_weight(m), 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, NORMS) and m.affine:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def _xavier(m: nn.Module) -> None:
    if isinstance(m, LAYERS):
        nn.init.xavier_uniform_(_weight(m))
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, NORMS) and m.affine:
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


SCHEMES: dict[str, Callable[[nn.Module], None] | None] = {"dcgan": _dcgan, "xavier": _xavier, "torch": None}


def initialise(module: nn.Module, cfg: ModelConfig | None) -> None:
    """Every layer of ``module`` by the scheme ``cfg.options["init"]`` names (its default, or no cfg: dcgan)."""
    scheme = SCHEMES[INIT.value(cfg) if cfg is not None else INIT.default]
    if scheme is not None:
        module.apply(scheme)
