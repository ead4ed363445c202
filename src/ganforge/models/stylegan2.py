"""StyleGAN2 (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN"), 16–256 px.

Generator = mapping network + synthesis network:

- **mapping** z -> w: z normalised to unit second moment, then ``map_layers`` (default 8; the ADA
  paper used 2 on small data) fully connected layers with leaky ReLU and a 0.01 learning-rate
  multiplier. ``w_avg`` (a buffer, so checkpointed and copied into the EMA) tracks the mean w
  while training; truncation pulls w toward it: ``w_avg + psi * (w - w_avg)``.
- **synthesis** from a learned 4×4 constant: per resolution r = 8, 16, ..., R a block of two
  modulated 3×3 convolutions (the first upsamples), each followed by a per-pixel noise input with a
  learned strength, a bias and leaky ReLU; and a toRGB (a modulated 1×1 convolution without
  demodulation). The skip architecture sums every block's toRGB output, upsampled to the output
  size. Each layer takes its own w from ``ws`` (N, num_ws, w_dim), so styles can be mixed per layer.
- **modulation/demodulation**: the weight is scaled per input channel by a style (an affine map of
  w) and then per output channel to unit L2 norm, so unit-variance input gives unit-variance output.

Discriminator (residual): fromRGB (1×1 conv) at full resolution, then per resolution two 3×3
convs (the second halving the size) plus a 1×1 shortcut of the downsampled input, summed and
scaled by 1/sqrt(2); at 4×4 the minibatch standard deviation (groups of ``mbstd_group``) as an
extra feature map, a 3×3 conv, a fully connected layer (the features) and the logit.

Every layer uses the equalised learning rate: weights are stored as N(0, 1) and scaled at run
time by ``lr_mul / sqrt(fan_in)``, so Adam's steps are the same size for every layer.

Widths: ``width * R / r`` channels at r px (R the output size, ``width`` the channels at full
resolution), capped at ``max_width`` (default 512): R = 256, width = 64 gives 512 from 4 to 32 px,
then 512-256-128-64 (the paper's 1024 px config with channel base 16384).

Where we differ from the paper and why:

- Resampling is bilinear upsampling before the convolution (the paper: a transposed convolution
  with a [1,3,3,1] FIR filter) and 2×2 averaging (a box filter) in D and the skips: plain PyTorch
  ops, no custom kernels, the same on CPU and GPU. The images are a little softer at the start.
- The modulated convolution scales activations instead of weights (the authors' code's
  non-fused form, the same arithmetic); no activation clamping for float16 (use bf16 where possible).
- Noise: in training each layer draws fresh noise; in eval mode (sampling, exports, latent tools)
  it uses fixed per-layer maps (the ``noise_const`` buffers), so a seed always gives the same
  image. The projector optimises those maps.
- Style mixing (probability ``style_mixing``, default 0.9) happens inside G in training mode, for
  D's and G's steps alike, with one cut-off per batch, as the authors' code does.
- Adam's hyperparameters are not rescaled for lazy regularisation (the paper multiplies lr and
  betas by c = k/(k+1)); the lazy terms are scaled by their interval k as in the paper.
- The output is clamped to [-1, 1] in eval mode (the contract of every ganforge generator);
  training sees the raw output, as in the paper.
- Unconditional only.

The loss (non-saturating logistic, lazy R1, path length) is ``ganforge.losses.stylegan2``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import cast

import torch
import torch.nn as nn
import torch.nn.functional as F

from ganforge.config import ModelConfig, Option
from ganforge.errors import ConfigError
from ganforge.models.dcgan import MAX_WIDTH

MAP_LAYERS = Option("map_layers", 8, "mapping-network layers z -> w (2: the ADA paper's low-data set-up)")
STYLE_MIXING = Option("style_mixing", 0.9, "probability that a training batch mixes two latents' styles")
MBSTD_GROUP = Option("mbstd_group", 4, "minibatch-stddev group size in D (1: off)")
OPTIONS = (MAP_LAYERS, STYLE_MIXING, MBSTD_GROUP, MAX_WIDTH)
GRADIENT_PENALTY_OPTIONS = {"mbstd_group": 1}  # the minibatch stddev mixes the images a per-image penalty looks at
STYLE_BASED = True  # G has mapping(z, psi) -> ws, synthesis(ws) -> images and a w_avg buffer

# TrainConfig values this family trains with unless a flag or preset says otherwise (the paper's:
# lr 0.002 / Adam (0, 0.99), the ADA paper's EMA half-life of 10 k images at batch 32, R1 gamma
# from the ADA paper's heuristic 0.0002 R^2 / batch at 64 px and batch 32).
TRAIN_DEFAULTS = {"loss": "stylegan2", "lr_g": 0.002, "lr_d": 0.002, "beta1": 0.0, "beta2": 0.99,
                  "batch_size": 32, "ema_kimg": 10.0, "r1_gamma": 0.0256}

LRELU_GAIN = math.sqrt(2)  # keeps unit variance through leaky ReLU(0.2) (He et al.)
W_AVG_BETA = 0.995         # w_avg <- lerp toward the batch's mean w each training forward


def check(cfg: ModelConfig) -> None:
    if not 16 <= cfg.resolution <= 512:
        raise ConfigError(f"{cfg.family} makes 16 to 512 px images, not {cfg.resolution}")
    if cfg.num_classes:
        raise ConfigError(f"{cfg.family} is unconditional")
    if int(MAP_LAYERS.value(cfg)) < 1:
        raise ConfigError("--map-layers must be at least 1")
    if not 0 <= float(STYLE_MIXING.value(cfg)) <= 1:
        raise ConfigError("--style-mixing is a probability in [0, 1]")
    if int(MBSTD_GROUP.value(cfg)) < 1:
        raise ConfigError("--mbstd-group must be at least 1")


def init_weights(module: nn.Module) -> None:
    """Nothing to do: equalised-lr layers draw N(0, 1) weights in their constructors."""


def channels(cfg: ModelConfig, r: int) -> int:
    return min(cfg.width * (cfg.resolution // r), int(MAX_WIDTH.value(cfg)))


def num_ws(resolution: int) -> int:
    """w inputs of the synthesis network: 2 at 4×4 (conv, toRGB), then 2 more per doubling."""
    return 2 * int(math.log2(resolution)) - 2


def block_resolutions(resolution: int) -> list[int]:
    return [4 * 2**i for i in range(int(math.log2(resolution // 4)) + 1)]  # 4, 8, ..., R


def ws_of_resolution(r: int) -> range:
    """Indices in ``ws`` the block at r px reads (its convs and its toRGB; a toRGB shares the next
    block's first index, as in the paper's code)."""
    k = int(math.log2(r)) - 2
    return range(0, 2) if k == 0 else range(2 * k - 1, 2 * k + 2)


def layer_groups(resolution: int) -> dict[str, range]:
    """The ws of the coarse, middle and fine styles (what a mixing grid swaps), as in the paper's
    figure 3: coarse drive the 4–8 px blocks (pose, shape), middle 16–32 px (features), fine the rest
    (colour, texture). Below 256 px middle and fine start earlier (at 16 px and R/8, at least 32 px)
    so each group is one block or more."""
    coarse_end = ws_of_resolution(8).stop
    middle_end = ws_of_resolution(max(16, min(32, resolution // 8))).stop
    return {"coarse": range(0, coarse_end), "middle": range(coarse_end, middle_end),
            "fine": range(middle_end, num_ws(resolution))}


# ---- equalised-learning-rate layers --------------------------------------------------------------
class EqualLinear(nn.Module):
    """y = x (W * lr_mul / sqrt(in))^T + b * lr_mul; W stored as N(0, 1) / lr_mul."""

    def __init__(self, c_in: int, c_out: int, *, bias_init: float = 0.0, lr_mul: float = 1.0, act: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in) / lr_mul)
        self.bias = nn.Parameter(torch.full((c_out,), float(bias_init) / lr_mul))
        self.gain, self.lr_mul, self.act = lr_mul / math.sqrt(c_in), lr_mul, act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(x, self.weight * self.gain, self.bias * self.lr_mul)
        return F.leaky_relu(y, 0.2) * LRELU_GAIN if self.act else y


class EqualConv2d(nn.Module):
    """A k×k convolution with the equalised learning rate; ``down`` halves the size after it."""

    def __init__(self, c_in: int, c_out: int, k: int, *, bias: bool = True, act: bool = True, down: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in, k, k))
        self.bias = nn.Parameter(torch.zeros(c_out)) if bias else None
        self.gain, self.act, self.down = 1 / math.sqrt(c_in * k * k), act, down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.conv2d(x, self.weight * self.gain, self.bias, padding=self.weight.shape[-1] // 2)
        if self.down:
            y = F.avg_pool2d(y, 2)
        return F.leaky_relu(y, 0.2) * LRELU_GAIN if self.act else y


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor,
                     demodulate: bool = True) -> torch.Tensor:
    """x (N, I, H, W), weight (O, I, k, k) (already scaled), styles (N, I) -> (N, O, H, W).

    Modulation scales each input channel's weights by its style; demodulation rescales each output
    channel's weights to unit L2 norm (StyleGAN2 eq. 1–3), which replaces AdaIN's normalisation of
    the activations. Scaling the weights' input channels is scaling the input's channels, and scaling
    an output channel's weights is scaling that output channel, so this runs one ordinary convolution
    shared by the batch between two per-image scalings (the paper's code's non-fused form; a grouped
    convolution with per-image weights is 4-6x slower on CPUs).
    """
    k = weight.shape[-1]
    y = F.conv2d(x * styles.reshape(*styles.shape, 1, 1), weight, padding=k // 2)
    if demodulate:  # sigma_j = sqrt(sum_i,k (s_i w_ijk)^2) = sqrt(s^2 . sum_k w_ijk^2), per image and output channel
        sigma_sq = styles.square() @ weight.square().sum(dim=(2, 3)).T  # (N, O)
        y = y * torch.rsqrt(sigma_sq + 1e-8).reshape(*sigma_sq.shape, 1, 1)
    return y


# ---- generator -----------------------------------------------------------------------------------
class MappingNetwork(nn.Module):
    def __init__(self, z_dim: int, w_dim: int, n_layers: int):
        super().__init__()
        dims = [z_dim] + [w_dim] * n_layers
        self.layers = nn.Sequential(*(EqualLinear(a, b, lr_mul=0.01, act=True) for a, b in zip(dims, dims[1:])))

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (N, z_dim) -> (N, w_dim)
        z = z * torch.rsqrt(z.square().mean(dim=1, keepdim=True) + 1e-8)
        return self.layers(z)


class SynthesisLayer(nn.Module):
    """Modulated 3×3 conv (upsampling first if ``up``) + noise + bias + leaky ReLU."""

    noise_const: torch.Tensor  # a buffer: the fixed noise map of eval mode

    def __init__(self, c_in: int, c_out: int, w_dim: int, resolution: int, up: bool):
        super().__init__()
        self.affine = EqualLinear(w_dim, c_in, bias_init=1.0)  # styles start at 1: an unmodulated conv
        self.weight = nn.Parameter(torch.randn(c_out, c_in, 3, 3))
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.register_buffer("noise_const", torch.randn(1, 1, resolution, resolution))
        self.gain, self.up = 1 / math.sqrt(c_in * 9), up

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        x = modulated_conv2d(x, self.weight * self.gain, self.affine(w))
        if noise is None:
            noise = (torch.randn(x.shape[0], 1, x.shape[2], x.shape[3], device=x.device, dtype=x.dtype)
                     if self.training else self.noise_const)
        x = x + noise * self.noise_strength + self.bias.reshape(1, -1, 1, 1)
        return F.leaky_relu(x, 0.2) * LRELU_GAIN


class ToRGB(nn.Module):
    """Modulated 1×1 conv to image channels, without demodulation (its output is the image)."""

    def __init__(self, c_in: int, c_img: int, w_dim: int):
        super().__init__()
        self.affine = EqualLinear(w_dim, c_in, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(c_img, c_in, 1, 1))
        self.bias = nn.Parameter(torch.zeros(c_img))
        self.gain = 1 / math.sqrt(c_in)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.gain
        return modulated_conv2d(x, self.weight, styles, demodulate=False) + self.bias.reshape(1, -1, 1, 1)


class SynthesisBlock(nn.Module):
    """One resolution r: (upsampling conv,) conv, toRGB; reads ws[first : first + num_ws]."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, c_img: int, r: int):
        super().__init__()
        self.r = r
        self.conv0 = SynthesisLayer(c_in, c_out, w_dim, r, up=True) if r > 4 else None
        self.conv1 = SynthesisLayer(c_out, c_out, w_dim, r, up=False)
        self.torgb = ToRGB(c_out, c_img, w_dim)

    def layers(self) -> list[SynthesisLayer]:
        return [layer for layer in (self.conv0, self.conv1) if layer is not None]

    def forward(self, x, img, ws, noise=None):  # ws: (N, 2 or 3, w_dim); noise: a map per conv or None
        ws = ws.unbind(1)
        noise = noise or [None] * 2
        for i, layer in enumerate(self.layers()):
            x = layer(x, ws[i], noise[i])
        y = self.torgb(x, ws[-1])
        img = y if img is None else F.interpolate(img, scale_factor=2, mode="bilinear", align_corners=False) + y
        return x, img


class SynthesisNetwork(nn.Module):
    def __init__(self, cfg: ModelConfig, w_dim: int):
        super().__init__()
        res = block_resolutions(cfg.resolution)
        self.const = nn.Parameter(torch.randn(channels(cfg, 4), 4, 4))
        self.blocks = nn.ModuleList(SynthesisBlock(channels(cfg, max(r // 2, 4)), channels(cfg, r), w_dim,
                                                   cfg.channels, r) for r in res)
        self.num_ws = num_ws(cfg.resolution)

    def synthesis_blocks(self) -> Iterable[SynthesisBlock]:
        return cast(Iterable[SynthesisBlock], self.blocks)  # nn.ModuleList does not type its items

    def noise_layers(self) -> list[SynthesisLayer]:
        """Every layer with a noise input, coarse to fine (the projector optimises their maps)."""
        return [layer for block in self.synthesis_blocks() for layer in block.layers()]

    def forward(self, ws: torch.Tensor, noise: list[torch.Tensor] | None = None) -> torch.Tensor:
        """ws (N, num_ws, w_dim) -> images (N, C, R, R); ``noise``: one map per noise layer (default:
        fresh in training, the fixed maps in eval mode)."""
        x = self.const.unsqueeze(0).repeat(ws.shape[0], 1, 1, 1)  # a copy: a view of a parameter confuses FLOP counting
        img: torch.Tensor | None = None
        k = 0
        for block in self.synthesis_blocks():
            idx = ws_of_resolution(block.r)
            n_layers = len(block.layers())
            maps = None if noise is None else noise[k:k + n_layers]
            x, img = block(x, img, ws[:, idx.start:idx.stop], maps)
            k += n_layers
        assert img is not None  # every generator has the 4 px block
        return img


class Generator(nn.Module):
    """(z, labels=None, psi=1) -> images in [-1, 1]; ``mapping`` and ``synthesis`` for the tools in W."""

    truncates_in_w = True  # G(z, labels, psi=...) truncates toward w_avg (ganforge.sampling asks this)
    w_avg: torch.Tensor  # a buffer: the running mean of w

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.z_dim = self.w_dim = cfg.latent_dim
        self.mapping_net = MappingNetwork(self.z_dim, self.w_dim, int(MAP_LAYERS.value(cfg)))
        self.synthesis_net = SynthesisNetwork(cfg, self.w_dim)
        self.num_ws = self.synthesis_net.num_ws
        self.style_mixing = float(STYLE_MIXING.value(cfg))
        self.register_buffer("w_avg", torch.zeros(self.w_dim))

    def mapping(self, z: torch.Tensor, psi: float = 1.0) -> torch.Tensor:
        """z (N, z_dim) -> ws (N, num_ws, w_dim), truncated toward ``w_avg`` by ``psi``; in training
        mode also updates ``w_avg`` and mixes styles (with probability ``style_mixing``)."""
        w = self.mapping_net(z)
        if self.training:
            with torch.no_grad():
                self.w_avg.copy_(w.detach().float().mean(0).lerp(self.w_avg, W_AVG_BETA))
        ws = w.unsqueeze(1).expand(-1, self.num_ws, -1)  # (N, num_ws, w_dim)
        if self.training and self.style_mixing > 0 and torch.rand(()) < self.style_mixing:
            cutoff = int(torch.randint(1, self.num_ws, ()))  # layers from cutoff on take a second latent's w
            w2 = self.mapping_net(torch.randn_like(z)).unsqueeze(1).expand(-1, self.num_ws - cutoff, -1)
            ws = torch.cat([ws[:, :cutoff], w2], dim=1)
        if isinstance(psi, torch.Tensor) or psi != 1:  # a tensor psi: an export's input
            ws = self.truncate(ws, psi)
        return ws

    def truncate(self, ws: torch.Tensor, psi: float | torch.Tensor) -> torch.Tensor:
        """``w_avg + psi * (w - w_avg)``: psi = 1 leaves ws as they are, psi = 0 gives w_avg for every input."""
        w_avg = self.w_avg.to(ws.dtype)
        return w_avg + psi * (ws - w_avg)

    def synthesis(self, ws: torch.Tensor, noise: list[torch.Tensor] | None = None) -> torch.Tensor:
        return self.synthesis_net(ws, noise)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None, psi: float = 1.0,
                return_ws: bool = False):
        """(N, z_dim) -> (N, C, R, R); with ``return_ws`` also the ws the images came from (path length).

        The synthesis output is unbounded, as in the paper; in eval mode (sampling, exports, the latent
        tools) it is clamped to [-1, 1], the range every consumer of a generator expects."""
        ws = self.mapping(z.flatten(1), psi)
        img = self.synthesis(ws)
        if not self.training:
            img = img.clamp(-1, 1)
        return (img, ws) if return_ws else img


# ---- discriminator -------------------------------------------------------------------------------
class DBlock(nn.Module):
    """Residual: conv3, conv3 + halve, plus a halved 1×1 shortcut; the sum scaled by 1/sqrt(2)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv0 = EqualConv2d(c_in, c_in, 3)
        self.conv1 = EqualConv2d(c_in, c_out, 3, down=True)
        self.skip = EqualConv2d(c_in, c_out, 1, bias=False, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, c_in, r, r) -> (N, c_out, r/2, r/2)
        return (self.skip(F.avg_pool2d(x, 2)) + self.conv1(self.conv0(x))) * (1 / math.sqrt(2))


def minibatch_stddev(x: torch.Tensor, group: int) -> torch.Tensor:
    """Append one feature map: the standard deviation of each feature over a group of images,
    averaged (Karras et al. 2018). Groups of the largest size <= ``group`` dividing the batch."""
    n, c, h, w = x.shape
    g = max(d for d in range(1, min(group, n) + 1) if n % d == 0)
    y = x.float().reshape(g, n // g, c, h, w)
    y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # (N/g,)
    y = y.reshape(1, n // g, 1, 1, 1).expand(g, -1, 1, h, w).reshape(n, 1, h, w)
    return torch.cat([x, y.to(x.dtype)], dim=1)


class Discriminator(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        res = block_resolutions(cfg.resolution)[:0:-1]  # R, R/2, ..., 8: each block's input size
        self.fromrgb = EqualConv2d(cfg.channels, channels(cfg, cfg.resolution), 1)
        self.blocks = nn.Sequential(*(DBlock(channels(cfg, r), channels(cfg, r // 2)) for r in res))
        c4 = channels(cfg, 4)
        self.mbstd_group = int(MBSTD_GROUP.value(cfg))
        self.conv = EqualConv2d(c4 + 1, c4, 3)
        self.fc = EqualLinear(c4 * 16, c4, act=True)
        self.out = EqualLinear(c4, 1)
        self.n_features = c4

    def features(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, R, R) -> (N, F)
        x = self.blocks(self.fromrgb(x))
        if self.mbstd_group > 1:
            x = minibatch_stddev(x, self.mbstd_group)
        else:
            x = torch.cat([x, torch.zeros_like(x[:, :1])], dim=1)  # the same layer shapes with it off
        return self.fc(self.conv(x).flatten(1))

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.out(self.features(x)).flatten()  # (N,)
