"""DCGAN (Radford et al. 2015) at any resolution that doubles from a 4×4 (or 7×7) base.

Generator: z -> base×base by a transposed conv (kernel = base), then one transposed conv
(kernel 4, stride 2, padding 1) + batch norm + ReLU per doubling, tanh at the end.
Discriminator mirrors it: strided convs + LeakyReLU(0.2), batch norm on all but
the first, and a base×base conv to one logit.

The base is 4×4 for a power-of-two resolution and 7×7 for 7·2^k (MNIST's 28 px:
7 -> 14 -> 28, the cats thesis's convolutional generator, without padding to 32).

Widths: the layer at resolution r has ``width * R / (2 r)`` channels (R the output size),
capped at ``options["max_width"]`` (default 512) so 256 px stays trainable.
For R=64, width=64 this is the paper's 512-256-128-64; for R=28, width=64 it is 128-64.

Options (the theses' variants; the defaults are the paper's):

- ``d_norm``: D's normalisation, ``batch`` (the paper), ``layer`` (per-sample, as a WGAN-GP
  critic needs: the gradient penalty is per image) or ``none``;
- ``g_activation``: ``relu`` (the paper) or ``leaky_relu`` (0.2; the faces thesis);
- ``g_input``: ``conv`` (the paper: z as a 1×1 map through a transposed conv) or ``dense``
  (a linear layer to base×base×w0 + batch norm + activation, then reshaped: the faces and
  cats theses, as Keras models are usually written);
- ``d_kernel``: 4 (the paper) or 3 (3×3 stride-2 convolutions, the faces thesis);
- ``spectral_norm``: spectral normalisation on every layer of D (Miyato et al. 2018; the
  dogs thesis's proposed next step);
- ``init``: ``dcgan`` (N(0, 0.02)), ``xavier`` (Glorot, the dogs thesis's Keras default) or
  ``torch`` (see ``ganforge.models.init``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn as nn
from torch.nn.utils.parametrizations import spectral_norm

from ganforge.config import ModelConfig, Option
from ganforge.errors import ConfigError
from ganforge.models.init import INIT, initialise
from ganforge.utils import base_size

D_NORMS: dict[str, Callable[[int], nn.Module]] = {"batch": nn.BatchNorm2d, "layer": lambda c: nn.GroupNorm(1, c),
                                                  "none": lambda c: nn.Identity()}
G_ACTIVATION = Option("g_activation", "relu", "generator activation", choices=("relu", "leaky_relu"))
MAX_WIDTH = Option("max_width", 512, "cap on channels per layer")
D_NORM = Option("d_norm", "batch", "discriminator normalisation; layer for WGAN-GP critics", choices=tuple(D_NORMS))
G_INPUT = Option("g_input", "conv", "how z becomes the first feature map: conv (transposed conv, the paper) or "
                 "dense (linear + reshape, the faces and cats theses)", choices=("conv", "dense"))
D_KERNEL = Option("d_kernel", 4, "discriminator kernel size of the stride-2 convs: 4 (the paper) or 3 (faces thesis)",
                  choices=(3, 4))
SPECTRAL_NORM = Option("spectral_norm", False, "spectral normalisation in D")
OPTIONS = (G_ACTIVATION, MAX_WIDTH, D_NORM, G_INPUT, D_KERNEL, SPECTRAL_NORM, INIT)
GRADIENT_PENALTY_OPTIONS = {"d_norm": "layer"}  # batch norm mixes the images a per-image penalty looks at


def check(cfg: ModelConfig) -> None:
    if not 8 <= cfg.resolution <= 512 or base_size(cfg.resolution) is None:
        raise ConfigError(f"{cfg.family} makes 8 to 512 px images (a power of two, or 7·2^k such as 28), "
                          f"not {cfg.resolution}")


def init_weights(module: nn.Module) -> None:
    """The ``init`` option's scheme; by default weights from N(0, 0.02), batch-norm scales from N(1, 0.02),
    as in the DCGAN paper. A bare submodule (no ``cfg``: a composite family's merge) gets DCGAN's."""
    initialise(module, getattr(module, "cfg", None))


def base_of(cfg: ModelConfig) -> int:
    """The side the networks double from: 4, or 7 at 7·2^k px (check() refused any other resolution)."""
    return base_size(cfg.resolution) or 4


def leaky_or_relu(cfg: ModelConfig):
    return nn.ReLU if G_ACTIVATION.value(cfg) == "relu" else lambda: nn.LeakyReLU(0.2)


def _widths(cfg: ModelConfig) -> list[int]:
    """Channels at base, 2·base, ..., R/2 px (index 0 is the base×base layer)."""
    n = int(math.log2(cfg.resolution // base_of(cfg)))  # number of doublings from the base
    cap = int(MAX_WIDTH.value(cfg))
    return [min(cfg.width * 2 ** (n - 1 - i), cap) for i in range(n)]


class DenseStem(nn.Module):
    """z (N, d) -> (N, c, b, b): a linear layer, batch norm and the activation, reshaped."""

    def __init__(self, latent_dim: int, c: int, b: int, act):
        super().__init__()
        self.shape = (c, b, b)
        self.net = nn.Sequential(nn.Linear(latent_dim, c * b * b, bias=False), nn.BatchNorm1d(c * b * b), act())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.flatten(1)).view(-1, *self.shape)


class Generator(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        widths = _widths(cfg)
        b = base_of(cfg)
        act = leaky_or_relu(cfg)
        if G_INPUT.value(cfg) == "dense":
            layers: list[nn.Module] = [DenseStem(cfg.latent_dim, widths[0], b, act)]  # (N, w0, b, b)
        else:
            layers = [nn.ConvTranspose2d(cfg.latent_dim, widths[0], b, 1, 0, bias=False),  # (N, w0, b, b)
                      nn.BatchNorm2d(widths[0]), act()]
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers += [nn.ConvTranspose2d(w_in, w_out, 4, 2, 1, bias=False), nn.BatchNorm2d(w_out), act()]
        layers += [nn.ConvTranspose2d(widths[-1], cfg.channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.dense_input = G_INPUT.value(cfg) == "dense"

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        z = z.flatten(1) if self.dense_input else z.view(z.shape[0], -1, 1, 1)
        return self.net(z)  # (N, C, R, R)


class Discriminator(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        widths = list(reversed(_widths(cfg)))  # channels at R/2, R/4, ..., base px
        norm = D_NORMS[D_NORM.value(cfg)]
        k = int(D_KERNEL.value(cfg))
        use_sn = bool(SPECTRAL_NORM.value(cfg))

        def sn(conv: nn.Conv2d) -> nn.Conv2d:
            if use_sn:
                spectral_norm(conv)  # parametrises conv in place (and returns it, typed as a plain Module)
            return conv

        # kernel 4, padding 1 and kernel 3, padding 1 both halve an even side exactly
        layers: list[nn.Module] = [sn(nn.Conv2d(cfg.channels, widths[0], k, 2, 1, bias=False)), nn.LeakyReLU(0.2)]
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers += [sn(nn.Conv2d(w_in, w_out, k, 2, 1, bias=False)), norm(w_out), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*layers)              # (N, w_last, base, base)
        b = base_of(cfg)
        self.head = sn(nn.Conv2d(widths[-1], 1, b, 1, 0))   # (N, 1, 1, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).flatten(1)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.body(x)).flatten()  # (N,)
