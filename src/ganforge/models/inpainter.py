"""An inpainting GAN: a generator that takes an image with a hole and the hole's mask and returns the
whole image, the faces thesis's proposed next step beside latent-optimisation inpainting
(``ganforge.latent.inpaint``).

The idea is the Context Encoder's (Pathak et al. 2016, "Context Encoders: Feature Learning by
Inpainting"): an encoder-decoder trained to fill random holes with a reconstruction loss on the
hole plus an adversarial loss, so that one forward pass fills a hole (no optimisation per image).
The network follows Iizuka, Simo-Serra & Ishikawa 2017 ("Globally and Locally Consistent Image
Completion"): a fully convolutional encoder down to 1/4 of the side, dilated convolutions there to
widen the receptive field over the hole, and a decoder back up; its convolutions are gated as in Yu
et al. 2019 ("Free-Form Image Inpainting with Gated Convolution", DeepFill v2): each layer learns a
soft mask (a sigmoid gate) beside its features, so that pixels of the hole and known pixels are not
treated alike.

Networks (widths ``w = --width``, capped at ``--max-width``; R the side):

- G(x, mask): x (N, C, R, R) in [-1, 1], mask (N, 1, R, R), 1 where missing. The hole is zeroed and
  the mask appended (C + 1 channels in); gated 5x5 conv w at R, gated 3x3 stride-2 convs 2w at R/2 and
  4w at R/4, gated 3x3 convs at R/4 with dilations 2, 4, ... (each below R/4), then nearest upsampling
  and gated 3x3 convs back to 2w; the input (masked image and mask) is concatenated again at full
  resolution (a U-Net skip), then gated 3x3 convs to w and w/2 and a 3x3 conv to C with tanh. The known
  pixels are pasted back at the end: ``out = mask * G_raw + (1 - mask) * x``, so only the hole is generated.
- D: DCGAN's discriminator unchanged (``ganforge.models.dcgan``), on whole images: real ones against
  completed ones. Its options (``--d-norm``, ``--spectral-norm``, ``--max-width``, ``--init``) apply.

The loss is ``ganforge.losses.inpainter`` (random rectangles and free-form strokes, L1 on the hole
and a non-saturating or hinge adversarial term). The sample grid shows, per column, the masked input,
the completion and the original.

Where we differ: no normalisation in G (DeepFill v2 drops it; Iizuka et al. use batch norm): the
completion of an image then does not depend on the rest of its batch. No local discriminator (Iizuka
et al.'s second D on the hole's patch) and no coarse-to-fine second stage or contextual attention
(DeepFill): at the 32 to 128 px of ganforge's data sets the single encoder-decoder's receptive field
covers the image. Gates use ELU features, as DeepFill v2. The full-resolution skip of the input is ours:
without it, 400 CPU steps at 32 px left the fill a blurred mean face whatever the context (the
bottleneck learns slowly); with it the last layers continue the hole's borders from the start.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ganforge.config import ModelConfig, Option
from ganforge.errors import ConfigError
from ganforge.holes import KINDS, random_masks
from ganforge.models.dcgan import (  # noqa: F401 - D is DCGAN's, unchanged, with its options and initialisation
    D_NORM,
    GRADIENT_PENALTY_OPTIONS,
    MAX_WIDTH,
    SPECTRAL_NORM,
    Discriminator,
    init_weights,
)
from ganforge.models.init import INIT

MASKS = Option("masks", "both", "training holes: rect (one rectangle per image), free (brush strokes) or "
                                "both (each image one or the other at random)", choices=KINDS)
HOLE_WEIGHT = Option("hole_weight", 1.0, "weight of the L1 reconstruction loss on the hole")
ADV_WEIGHT = Option("adv_weight", 0.01, "weight of the adversarial term in G's loss")
ADVERSARIAL = Option("adversarial", "bce", "the adversarial terms, bce (non-saturating) or hinge",
                     choices=("bce", "hinge"))
OPTIONS = (MASKS, HOLE_WEIGHT, ADV_WEIGHT, ADVERSARIAL, MAX_WIDTH, D_NORM, SPECTRAL_NORM, INIT)
INPAINTER = True
LOSS = "inpainter"


def check(cfg: ModelConfig) -> None:
    if not 16 <= cfg.resolution <= 256 or cfg.resolution & (cfg.resolution - 1):
        raise ConfigError(f"inpainter fills 16 to 256 px images (a power of two), not {cfg.resolution}")
    if float(HOLE_WEIGHT.value(cfg)) < 0 or float(ADV_WEIGHT.value(cfg)) < 0:
        raise ConfigError("inpainter: --hole-weight and --adv-weight must not be negative")


class GatedConv(nn.Module):
    """ELU(features) * sigmoid(gate), both from one convolution (Yu et al. 2019)."""

    def __init__(self, c_in: int, c_out: int, k: int = 3, stride: int = 1, dilation: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(c_in, 2 * c_out, k, stride, dilation * (k - 1) // 2, dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features, gate = self.conv(x).chunk(2, dim=1)
        return F.elu(features) * torch.sigmoid(gate)


def dilations(resolution: int) -> list[int]:
    """Dilations of the bottleneck at R/4: 2, 4, 8, ... while below R/4 (Iizuka et al.: 2, 4, 8, 16 at 64)."""
    out, d = [], 2
    while d < resolution // 4:
        out.append(d)
        d *= 2
    return out or [1]


class Generator(nn.Module):
    """G(x, mask) -> the whole image, with x's known pixels unchanged."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        cap = int(MAX_WIDTH.value(cfg))
        w1, w2, w4 = (min(cfg.width * k, cap) for k in (1, 2, 4))
        c = cfg.channels
        self.encoder = nn.Sequential(GatedConv(c + 1, w1, 5), GatedConv(w1, w2, 3, 2), GatedConv(w2, w2),
                                     GatedConv(w2, w4, 3, 2), GatedConv(w4, w4))  # (N, w4, R/4, R/4)
        self.bottleneck = nn.Sequential(*(GatedConv(w4, w4, 3, dilation=d) for d in dilations(cfg.resolution)),
                                        GatedConv(w4, w4))
        self.decoder = nn.Sequential(nn.Upsample(scale_factor=2), GatedConv(w4, w2), GatedConv(w2, w2),
                                     nn.Upsample(scale_factor=2))  # (N, w2, R, R)
        # the input again at full resolution (a U-Net skip): the known pixels next to the hole reach the last
        # layers directly, which fill thin holes from their borders long before the bottleneck has learned faces
        self.head = nn.Sequential(GatedConv(w2 + c + 1, w1), GatedConv(w1, w1 // 2 or 1),
                                  nn.Conv2d(w1 // 2 or 1, c, 3, 1, 1), nn.Tanh())  # (N, C, R, R)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x (N, C, R, R) in [-1, 1] (whatever the hole holds is ignored), mask (N, 1, R, R) 1 = missing."""
        mask = mask.to(x.dtype)
        known = x * (1 - mask)
        given = torch.cat([known, mask], 1)
        raw = self.head(torch.cat([self.decoder(self.bottleneck(self.encoder(given))), given], 1))
        return known + mask * raw


def complete(G: Generator, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """One forward pass in eval mode without gradients: x (N, C, R, R), mask (N, 1, R, R) -> (N, C, R, R)."""
    was_training = G.training
    G.eval()
    with torch.no_grad():
        out = G(x, mask)
    G.train(was_training)
    return out


def masked_view(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """x with its hole shown mid-grey (0 in [-1, 1]), as the sample grid and the compare strips show inputs."""
    return x * (1 - mask.to(x.dtype))


def preview(G: Generator, z: torch.Tensor, real: torch.Tensor) -> list[torch.Tensor]:
    """Sample-grid rows for ``real`` (n, C, R, R): masked input, completion, original. The holes are
    fixed (seed 0 of the loss's mask generator), so grids of successive steps compare."""
    mask = random_masks(len(real), real.shape[-1], "both", torch.Generator().manual_seed(0)).to(real.device)
    return [masked_view(real, mask), G(real, mask), real]
