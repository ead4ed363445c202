"""CycleGAN (Zhu, Park, Isola & Efros 2017, "Unpaired Image-to-Image Translation using
Cycle-Consistent Adversarial Networks"): two generators G_A2B, G_B2A and two discriminators.

Generator (the paper's appendix, after Johnson et al. 2016): c7s1-w, d2w, d4w, R4w x n, u2w, uw,
c7s1-C, with instance norm and reflection padding, ReLU, tanh at the end; n = 6 residual blocks
up to 128 px and 9 at 256 px (``--blocks`` overrides). ``w`` is ``--width`` (the paper: 64).
Discriminator: the 70x70 PatchGAN C64-C128-C256-C512 (4x4 convs, stride 2 then 1 for C512, instance
norm on all but the first, LeakyReLU 0.2) and a 4x4 conv to one logit per patch.

The trainer's contract (``ganforge.train``): ``G`` holds both generators and ``D`` both
discriminators, one Adam per side. ``G(real)`` on a batch of both domains (N, 2, C, H, W) returns
everything G's loss needs in one forward (DDP wraps ``G`` and sees one forward per update):
translations, reconstructions and identity mappings; ``D(a, b)`` scores domain-A and domain-B
images, each a (N, P) map of patch logits. The loss (least squares, cycle lambda = 10, identity
0.5 lambda, the history buffer of 50 images) is ``ganforge.losses.cyclegan``.

Where we differ: the weights are initialised from N(0, 0.02) as in the authors' code; the
learning rate's linear decay runs over the second half of *the budget* (steps, epochs or
minutes), not over epochs 100-200; the images are the data set's size (32 to 256 px), and below
128 px the discriminator's receptive field (70 px) covers most of the image, as the paper's
128 px experiments also had it.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ganforge.config import ModelConfig, Option
from ganforge.errors import ConfigError
from ganforge.models.dcgan import init_weights  # noqa: F401 - N(0, 0.02), as the authors' code

BLOCKS = Option("blocks", 0, "cyclegan: residual blocks in each generator (0: 6 up to 128 px, 9 at 256, as the paper)")
CYCLE_WEIGHT = Option("cycle_weight", 10.0, "cyclegan: weight lambda of the cycle-consistency L1 loss")
IDENTITY_WEIGHT = Option("identity_weight", 0.5, "cyclegan: identity-mapping L1 weight, as a fraction of lambda "
                                                 "(0: off)")
POOL_SIZE = Option("pool_size", 50, "cyclegan: generated images kept in the history buffer D also sees (0: off)")
OPTIONS = (BLOCKS, CYCLE_WEIGHT, IDENTITY_WEIGHT, POOL_SIZE)
TWO_DOMAIN = True
TRANSLATOR = True
DIRECTIONS = ("a2b", "b2a")
LOSS = "cyclegan"
LR_DECAY_FROM = 0.5  # constant learning rate for the first half of the budget, then linearly to zero


def check(cfg: ModelConfig) -> None:
    if not 32 <= cfg.resolution <= 256:
        raise ConfigError(f"cyclegan translates 32 to 256 px images, not {cfg.resolution}")
    if int(BLOCKS.value(cfg)) < 0 or float(CYCLE_WEIGHT.value(cfg)) < 0 or float(IDENTITY_WEIGHT.value(cfg)) < 0:
        raise ConfigError("cyclegan: --blocks, --cycle-weight and --identity-weight must not be negative")
    if int(POOL_SIZE.value(cfg)) < 0:
        raise ConfigError("cyclegan: --pool-size must not be negative")


def blocks(cfg: ModelConfig) -> int:
    return int(BLOCKS.value(cfg)) or (9 if cfg.resolution >= 256 else 6)


class ResidualBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c), nn.ReLU(True),
                                  nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def resnet_generator(channels: int, width: int, n_blocks: int) -> nn.Sequential:
    """Image (N, C, H, W) -> image (N, C, H, W) in [-1, 1]; H, W divisible by 4."""
    w = width
    layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(channels, w, 7), nn.InstanceNorm2d(w), nn.ReLU(True)]
    for mult in (1, 2):  # d2w, d4w
        layers += [nn.Conv2d(w * mult, w * mult * 2, 3, 2, 1), nn.InstanceNorm2d(w * mult * 2), nn.ReLU(True)]
    layers += [ResidualBlock(4 * w) for _ in range(n_blocks)]
    for mult in (4, 2):  # u2w, uw
        layers += [nn.ConvTranspose2d(w * mult, w * mult // 2, 3, 2, 1, output_padding=1),
                   nn.InstanceNorm2d(w * mult // 2), nn.ReLU(True)]
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(w, channels, 7), nn.Tanh()]
    return nn.Sequential(*layers)


def patch_discriminator(channels: int, width: int) -> nn.Sequential:
    """The 70x70 PatchGAN: image (N, C, H, W) -> patch logits (N, 1, H/8 - 2, W/8 - 2)."""
    w = width
    layers: list[nn.Module] = [nn.Conv2d(channels, w, 4, 2, 1), nn.LeakyReLU(0.2, True)]
    for c_in, c_out, stride in ((w, 2 * w, 2), (2 * w, 4 * w, 2), (4 * w, 8 * w, 1)):
        layers += [nn.Conv2d(c_in, c_out, 4, stride, 1), nn.InstanceNorm2d(c_out), nn.LeakyReLU(0.2, True)]
    layers += [nn.Conv2d(8 * w, 1, 4, 1, 1)]
    return nn.Sequential(*layers)


class Generator(nn.Module):
    """Both generators: ``a2b`` and ``b2a``."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.a2b = resnet_generator(cfg.channels, cfg.width, blocks(cfg))
        self.b2a = resnet_generator(cfg.channels, cfg.width, blocks(cfg))
        self.identity = float(IDENTITY_WEIGHT.value(cfg)) > 0

    def forward(self, real: torch.Tensor, z: torch.Tensor | None = None, labels=None) -> dict[str, torch.Tensor]:
        """real (N, 2, C, H, W) -> fake_b = a2b(a), fake_a = b2a(b), rec_a = b2a(fake_b), rec_b = a2b(fake_a),
        and with the identity loss on, idt_b = a2b(b), idt_a = b2a(a)."""
        a, b = real[:, 0], real[:, 1]
        fake_b, fake_a = self.a2b(a), self.b2a(b)
        out = {"fake_b": fake_b, "fake_a": fake_a, "rec_a": self.b2a(fake_b), "rec_b": self.a2b(fake_a)}
        if self.identity:
            out["idt_b"], out["idt_a"] = self.a2b(b), self.b2a(a)
        return out


class Discriminator(nn.Module):
    """Both discriminators: ``d_a`` judges domain-A images, ``d_b`` domain-B images."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.d_a = patch_discriminator(cfg.channels, cfg.width)
        self.d_b = patch_discriminator(cfg.channels, cfg.width)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(patch logits of a (N, P), of b (M, P))."""
        return self.d_a(a).flatten(1), self.d_b(b).flatten(1)


def translate(G: Generator, x: torch.Tensor, direction: str) -> torch.Tensor:
    """Images of one domain (N, C, H, W) in [-1, 1] -> the other's."""
    return (G.a2b if direction == "a2b" else G.b2a)(x)


def cycle(G: Generator, x: torch.Tensor, direction: str) -> torch.Tensor:
    """x translated and back: b2a(a2b(x)) for "a2b", a2b(b2a(x)) for "b2a"."""
    there = translate(G, x, direction)
    return translate(G, there, "b2a" if direction == "a2b" else "a2b")


def preview(G: Generator, z: torch.Tensor, real: torch.Tensor) -> list[torch.Tensor]:
    """Sample-grid rows: A, A->B, A->B->A, then B, B->A, B->A->B."""
    a, b = real[:, 0], real[:, 1]
    fake_b, fake_a = G.a2b(a), G.b2a(b)
    return [a, fake_b, G.b2a(fake_b), b, fake_a, G.a2b(fake_a)]
