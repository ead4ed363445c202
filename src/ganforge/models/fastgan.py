"""FastGAN (Liu, Zhu, Song & Elgammal, "Towards Faster and Stabilized GAN Training for High-fidelity
Few-shot Image Synthesis", ICLR 2021), 32–512 px: good images from a few hundred images.

Generator: z -> (N, c(4), 4, 4) by a transposed conv, then one up-block per doubling
(nearest upsample, conv3, batch norm, GLU; every other block, from 8 px, a second conv and
noise injection), then conv3-tanh. **Skip-layer excitation** (SLE, the paper's section 3.1):
the feature map at r px is gated channel-wise by the one at r/16 px
(pool to 4x4, conv4, swish, conv1, sigmoid -> one gate per channel), pairs 4->64, 8->128,
16->256, 32->512; a 32 px model, which has no such pair, gates 32 px by 4 px.
Discriminator: conv3 at full size, then residual down-blocks (conv4 s2 and conv3 beside
avg-pool + conv1, averaged) to 8x8, where conv1-BN-LReLU-conv4 gives a 5x5 map of logits.
**Self-supervised D** (section 3.2): two small decoders (nearest upsample, conv3, BN, GLU)
reconstruct the whole real image from D's 8x8 features and one random quarter of it from the
matching quarter of D's 16x16 features; their error on real images is added to D's loss, which
makes D learn features that describe the image, not just ones that separate real from fake.
The adversarial loss is the hinge loss and DiffAugment (color, translation) is on: the family's
``TRAIN_DEFAULTS``, as in the authors' code. Not cutout, DiffAugment's third policy: on 809 Pokémon
at 64 px (seed 0, 30 CPU minutes) FastGAN scored fid[cifar64-cnn] 0.83 without it and 3.56 with it,
with outlined creatures against blobs, and 3.36 against 3.32 on 1,000 anime faces (README, *Quality
per compute*).

Widths follow the authors' code: G has ``width`` x (16, 8, 4, 2, 2, 1, 1/2, 1/4) channels at
4, 8, ..., 512 px; D has ``width`` x 64 / r channels at r px, 16 x ``width`` in the head. Every
conv is spectrally normalised (as the authors' code does) and initialised from N(0, 0.02).

Where we differ, and why:
- reconstruction error is the mean squared error, not LPIPS: LPIPS needs pretrained VGG/AlexNet
  weights through torchvision, which ganforge does not depend on (lightweight-gan uses MSE too);
- the decoders reconstruct at min(R, 128) px (the paper: 128 px, for 256–1024 px images);
- the authors' second D branch on a 128 px copy of the image, and the random hinge margins of
  their training script, are left out (neither is in the paper's method); the 5x5 patch logits
  are averaged into one logit per image, as every ganforge discriminator returns (N,);
- noise injection draws fresh noise in training mode; in eval mode (sampling, export, the latent
  tools) it uses a fixed noise map drawn with the weights, so an image is a function of z alone.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm

from ganforge.config import ModelConfig, Option
from ganforge.errors import ConfigError

RECONSTRUCTION_WEIGHT = Option("reconstruction_weight", 1.0,
                               "weight of D's self-supervised reconstruction loss on real images (0: off)")
OPTIONS = (RECONSTRUCTION_WEIGHT,)
SELF_SUPERVISED_D = True
# the authors' set-up: hinge loss, DiffAugment's color and translation policies, an average of G for samples
TRAIN_DEFAULTS = {"loss": "hinge", "augment": "color,translation", "ema": 0.999}

G_MULT = {4: 16, 8: 8, 16: 4, 32: 2, 64: 2, 128: 1, 256: 0.5, 512: 0.25}  # the authors' channels / width
SLE_PAIRS = ((4, 64), (8, 128), (16, 256), (32, 512))                      # (gating px, gated px)


def check(cfg: ModelConfig) -> None:
    if not 32 <= cfg.resolution <= 512:
        raise ConfigError(f"{cfg.family} makes 32 to 512 px images, not {cfg.resolution}")
    if RECONSTRUCTION_WEIGHT.value(cfg) < 0:
        raise ConfigError("--reconstruction-weight must be >= 0")


def init_weights(module: nn.Module) -> None:
    """Nothing to do: the constructors initialise each conv (N(0, 0.02)) before spectral norm wraps it."""


def g_channels(cfg: ModelConfig, r: int) -> int:
    return max(1, int(cfg.width * G_MULT[r]))


def d_channels(cfg: ModelConfig, r: int) -> int:
    """D's channels at r px (4: its head)."""
    return max(1, cfg.width * 64 // r)


def sle_pairs(resolution: int) -> list[tuple[int, int]]:
    pairs = [(lo, hi) for lo, hi in SLE_PAIRS if hi <= resolution]
    return pairs or [(4, 32)]


def _sn(module: nn.Conv2d | nn.ConvTranspose2d) -> nn.Module:
    nn.init.normal_(module.weight, 0.0, 0.02)
    return spectral_norm(module)


def _conv(c_in: int, c_out: int, k: int, stride: int = 1, padding: int = 0) -> nn.Module:
    return _sn(nn.Conv2d(c_in, c_out, k, stride, padding, bias=False))


class GLU(nn.Module):
    """Gated linear unit over channels: the first half times the sigmoid of the second."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, 2c, H, W) -> (N, c, H, W)
        a, b = x.chunk(2, dim=1)
        return a * torch.sigmoid(b)


class NoiseInjection(nn.Module):
    """x + w * noise, w learned (from 0); fresh noise when training, a fixed map in eval mode."""

    fixed: torch.Tensor

    def __init__(self, size: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.register_buffer("fixed", torch.randn(1, 1, size, size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            noise = torch.randn(x.shape[0], 1, x.shape[2], x.shape[3], device=x.device, dtype=x.dtype)
        else:
            noise = self.fixed.to(x.dtype)
        return x + self.weight.to(x.dtype) * noise


def up_block(c_in: int, c_out: int, size: int, double: bool) -> nn.Sequential:
    """(N, c_in, r, r) -> (N, c_out, 2r, 2r); ``double``: the authors' UpBlockComp (two convs, noise)."""
    layers = [nn.Upsample(scale_factor=2, mode="nearest"), _conv(c_in, 2 * c_out, 3, 1, 1)]
    if double:
        layers += [NoiseInjection(size), nn.BatchNorm2d(2 * c_out), GLU(),
                   _conv(c_out, 2 * c_out, 3, 1, 1), NoiseInjection(size)]
    return nn.Sequential(*layers, nn.BatchNorm2d(2 * c_out), GLU())


class SkipLayerExcitation(nn.Module):
    """Gates each channel of a high-resolution map by a function of a low-resolution one (SLE)."""

    def __init__(self, c_low: int, c_high: int):
        super().__init__()
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(4), _conv(c_low, c_high, 4), nn.SiLU(),
                                  _conv(c_high, c_high, 1), nn.Sigmoid())

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        return high * self.gate(low)  # gate: (N, c_high, 1, 1)


class Generator(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        c = {r: g_channels(cfg, r) for r in G_MULT}
        self.init = nn.Sequential(_sn(nn.ConvTranspose2d(cfg.latent_dim, 2 * c[4], 4, 1, 0, bias=False)),
                                  nn.BatchNorm2d(2 * c[4]), GLU())  # (N, c4, 4, 4)
        self.sizes = [2**i for i in range(3, int(math.log2(cfg.resolution)) + 1)]  # 8, ..., R
        # the authors alternate: a double block (with noise) at 8, 32, 128, 512 px, a single one between
        self.blocks = nn.ModuleDict({str(r): up_block(c[r // 2], c[r], r, double=int(math.log2(r)) % 2 == 1)
                                     for r in self.sizes})
        self.sle = nn.ModuleDict({str(hi): SkipLayerExcitation(c[lo], c[hi]) for lo, hi in sle_pairs(cfg.resolution)})
        self.gated_by = {hi: lo for lo, hi in sle_pairs(cfg.resolution)}
        self.to_image = _conv(c[cfg.resolution], cfg.channels, 3, 1, 1)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        feats = {4: self.init(z.reshape(z.shape[0], -1, 1, 1))}
        for r in self.sizes:
            h = self.blocks[str(r)](feats[r // 2])
            if r in self.gated_by:
                h = self.sle[str(r)](feats[self.gated_by[r]], h)
            feats[r] = h
        return torch.tanh(self.to_image(feats[self.cfg.resolution]))  # (N, C, R, R)


class DownBlock(nn.Module):
    """(N, c_in, r, r) -> (N, c_out, r/2, r/2): a strided conv path and an avg-pool path, averaged."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.main = nn.Sequential(_conv(c_in, c_out, 4, 2, 1), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2),
                                  _conv(c_out, c_out, 3, 1, 1), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2))
        self.direct = nn.Sequential(nn.AvgPool2d(2), _conv(c_in, c_out, 1), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.main(x) + self.direct(x)) / 2


class Decoder(nn.Module):
    """D's small decoder: an 8x8 feature map -> an image of ``size`` px in [-1, 1]."""

    def __init__(self, c_in: int, channels: int, size: int, base: int):
        super().__init__()
        widths = [4 * base, 2 * base, 2 * base, base][: int(math.log2(size // 8))]
        layers: list[nn.Module] = []
        for w in widths:
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), _conv(c_in, 2 * w, 3, 1, 1),
                       nn.BatchNorm2d(2 * w), GLU()]
            c_in = w
        self.net = nn.Sequential(*layers, _conv(c_in, channels, 3, 1, 1), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Discriminator(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        R = cfg.resolution
        self.stem = nn.Sequential(_conv(cfg.channels, d_channels(cfg, R), 3, 1, 1), nn.LeakyReLU(0.2))
        self.sizes = [R // 2**i for i in range(1, int(math.log2(R // 8)) + 1)]  # each block's output: R/2, ..., 8
        self.blocks = nn.ModuleDict({str(r): DownBlock(d_channels(cfg, 2 * r), d_channels(cfg, r)) for r in self.sizes})
        # the authors' code also excites D: the maps at 32, 16 and 8 px by those 8x larger
        self.gated_by = {r: 8 * r for r in (32, 16, 8) if 8 * r <= R}
        self.sle = nn.ModuleDict({str(r): SkipLayerExcitation(d_channels(cfg, 8 * r), d_channels(cfg, r))
                                  for r in self.gated_by})
        self.head = nn.Sequential(_conv(d_channels(cfg, 8), d_channels(cfg, 4), 1), nn.BatchNorm2d(d_channels(cfg, 4)),
                                  nn.LeakyReLU(0.2), _conv(d_channels(cfg, 4), 1, 4))  # 8x8 -> 5x5 logits
        self.n_features = d_channels(cfg, 8)
        self.recon_size = min(R, 128)
        base = max(1, cfg.width // 2)
        self.decode_whole = Decoder(d_channels(cfg, 8), cfg.channels, self.recon_size, base)
        self.decode_part = Decoder(d_channels(cfg, 16), cfg.channels, self.recon_size, base)
        self.reconstruction_weight = float(RECONSTRUCTION_WEIGHT.value(cfg))

    def _features(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        """D's feature maps by size in px: R, R/2, ..., 8."""
        feats = {self.cfg.resolution: self.stem(x)}
        for r in self.sizes:
            h = self.blocks[str(r)](feats[2 * r])
            if r in self.gated_by:
                h = self.sle[str(r)](feats[self.gated_by[r]], h)
            feats[r] = h
        return feats

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self._features(x)[8].mean(dim=(2, 3))  # (N, F)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None, with_reconstruction: bool = False):
        """Logits (N,); with ``with_reconstruction``, also the weighted reconstruction loss (0-d) on ``x``."""
        feats = self._features(x)
        logits = self.head(feats[8]).mean(dim=(1, 2, 3))  # the mean of the 5x5 patch logits
        if not with_reconstruction:
            return logits
        return logits, self.reconstruction_weight * self.reconstruction_loss(x, feats)

    def reconstruction_loss(self, x: torch.Tensor, feats: dict[int, torch.Tensor]) -> torch.Tensor:
        """MSE of the whole image from the 8x8 map plus that of a random quarter from the 16x16 map."""
        target = x.detach().float()
        quarter = int(torch.randint(0, 4, ()))  # the same quarter for the whole batch, as the authors do
        i, j = divmod(quarter, 2)
        half = target.shape[-1] // 2
        part = target[:, :, i * half:(i + 1) * half, j * half:(j + 1) * half]
        whole = self.decode_whole(feats[8]).float()
        crop = self.decode_part(feats[16][:, :, i * 8:(i + 1) * 8, j * 8:(j + 1) * 8]).float()
        return F.mse_loss(whole, _resize(target, self.recon_size)) + F.mse_loss(crop, _resize(part, self.recon_size))


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    return x if x.shape[-1] == size else F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                                                        antialias=x.shape[-1] > size)
