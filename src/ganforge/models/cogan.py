"""CoGAN (Liu & Tuzel 2016, "Coupled Generative Adversarial Networks"): two GANs, one per domain,
whose generators share their first layers and whose discriminators share their last layers, so
that one latent z gives a *pair* of images, one per domain, that correspond (the same face with
and without glasses, the same digit as strokes and as edges) without any paired training data.

Networks (DCGAN-shaped, 32 to 128 px): the generator's trunk is DCGAN's up to R/2 px (z -> 4x4,
then one transposed conv + batch norm + ReLU per doubling), *shared*: one module, so one set of
weight tensors that both domains' gradients move. Each domain has its own head, the last
transposed conv to the image (tanh). The discriminator mirrors it: each domain has its own first
strided conv (+ LeakyReLU 0.2), the rest (strided convs + batch norm + the 4x4 conv to a logit)
is shared.

How ganforge holds a pair: ``G(z)`` returns the two images side by side, (N, C, R, 2R), domain A
on the left, so ``generate``, sample grids, the latent tools and the web app show pairs without
knowing about them; ``D`` takes such pairs and returns (N, 2) logits, one per domain. The loss
(``ganforge.losses.cogan``) puts the real A and B images of the unpaired batch side by side too.

Where we differ: the paper shares the generator's layers except the last one and the
discriminator's except the first, as here, but used its own widths per experiment; ours are
DCGAN's from ``--width``. It used batch norm and a sigmoid cross-entropy loss with Adam
(2e-4, beta1 0.5), which are the defaults here.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ganforge.config import ModelConfig
from ganforge.errors import ConfigError
from ganforge.models.dcgan import _widths, init_weights  # noqa: F401 - DCGAN's widths and initialisation
from ganforge.sampling import side_by_side

TWO_DOMAIN = True
LOSS = "cogan"


def check(cfg: ModelConfig) -> None:
    if not 32 <= cfg.resolution <= 128:
        raise ConfigError(f"cogan makes 32 to 128 px pairs, not {cfg.resolution}")


def split(pairs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, C, R, 2R) side-by-side pairs -> (A (N, C, R, R), B (N, C, R, R))."""
    r = pairs.shape[-2]
    return pairs[..., :r], pairs[..., r:]


class Generator(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        widths = _widths(cfg)  # channels at 4, 8, ..., R/2 px
        layers: list[nn.Module] = [nn.ConvTranspose2d(cfg.latent_dim, widths[0], 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(widths[0]), nn.ReLU(True)]
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers += [nn.ConvTranspose2d(w_in, w_out, 4, 2, 1, bias=False), nn.BatchNorm2d(w_out), nn.ReLU(True)]
        self.shared = nn.Sequential(*layers)  # (N, w_last, R/2, R/2), one set of weights for both domains
        self.heads = nn.ModuleList(nn.Sequential(nn.ConvTranspose2d(widths[-1], cfg.channels, 4, 2, 1), nn.Tanh())
                                   for _ in range(2))

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.shared(z.view(z.shape[0], -1, 1, 1))
        return torch.cat([self.heads[0](h), self.heads[1](h)], dim=-1)  # (N, C, R, 2R): A | B


class Discriminator(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        widths = list(reversed(_widths(cfg)))  # channels at R/2, ..., 4 px
        self.heads = nn.ModuleList(nn.Sequential(nn.Conv2d(cfg.channels, widths[0], 4, 2, 1), nn.LeakyReLU(0.2, True))
                                   for _ in range(2))
        layers: list[nn.Module] = []
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(w_in, w_out, 4, 2, 1, bias=False), nn.BatchNorm2d(w_out), nn.LeakyReLU(0.2, True)]
        self.shared = nn.Sequential(*layers, nn.Conv2d(widths[-1], 1, 4, 1, 0))  # -> (N, 1, 1, 1)

    def features(self, pairs: torch.Tensor) -> torch.Tensor:
        a, b = split(pairs)
        return torch.cat([self.heads[0](a).flatten(1), self.heads[1](b).flatten(1)], 1)

    def forward(self, pairs: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """(N, C, R, 2R) pairs -> logits (N, 2): column 0 judges the A half, column 1 the B half."""
        a, b = split(pairs)
        n = len(a)
        logits = self.shared(torch.cat([self.heads[0](a), self.heads[1](b)])).flatten()  # one pass: (2N,)
        return torch.stack([logits[:n], logits[n:]], 1)


def preview(G: Generator, z: torch.Tensor, real: torch.Tensor) -> list[torch.Tensor]:
    """Sample-grid rows: the pairs of fixed latents (A | B), then real A | real B (unpaired) for comparison."""
    return [G(z), side_by_side(real)]
