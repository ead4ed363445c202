"""MITLGAN (Multiple Input Transfer Learning GAN): one generator composed of pretrained ganforge generators.

The thesis behind it trained one generator on foregrounds (on a plain background) and one
on backgrounds, froze them, and learned only how to join and refine their outputs, so
that foreground and background stop bleeding into each other. Here any two or more
ganforge generators of any family and latent size can be parts::

    z (N, d_1 + d_2 + ... + d_k)
      -> z[:, 0:d_1] -> part 1 -> (N, C, R, R)       parts are frozen, in inference mode
      -> z[:, d_1:d_1+d_2] -> part 2 -> (N, C, R, R)
      ...
      -> merge -> refiner -> (N, C, R, R) in [-1, 1]

**Latent split.** The composed latent is the parts' latents concatenated in the order the
parts were given: part i reads ``z[:, s_i : s_i + d_i]`` with ``s_i = d_1 + ... + d_{i-1}``
(``options["parts"][i]["latent_slice"]`` records ``[s_i, s_i + d_i]``). A standard-normal
z gives each part the standard-normal latent it was trained on, so seeds, interpolation
and projection work on the composed model as on any other.

**Merge** (``options["merge"]``):

- ``conv1x1`` (the thesis): part outputs concatenated along channels (N, k*C, R, R), a
  learned 1×1 convolution to ``width`` channels and ReLU, then the refiner.
- ``thesis``: exactly the thesis's: concatenated, a 1×1 convolution to C (3) channels and
  ReLU, then the refiner with a 7×7 stem and dense blocks growing by 4·``width`` channels
  (unless ``growth`` is given). ``conv1x1`` is ganforge's wider variant of it.
- ``sum``: the plain sum of the part outputs (N, C, R, R), then the refiner.
- ``alpha``: a small conv net looks at all part outputs and predicts per-pixel weights
  (N, k, R, R) that sum to 1 (a softmax); the composite is the weighted sum of the parts,
  then the refiner. With two parts this is alpha compositing of the first part (the
  foreground) over the second (the background) with a learned mask.

**Refiner** (thesis): convolutions with instance normalisation: a 3×3 stem at R, two
strided convs down to R/4 (width 2w, 4w), ``blocks`` dense residual blocks at R/4 (each
block's output, ``growth`` channels, is concatenated to its input, DenseNet style; the
thesis used 6), a 1×1 transition back to 4w, two nearest-neighbour upsamplings with 3×3
convs back to R, and a 3×3 conv to C channels with tanh.

**Frozen parts.** Part parameters have ``requires_grad=False`` and the parts always run in
eval mode (batch-norm running statistics, no dropout), so a part makes exactly the images
``ganforge generate`` makes from its own run. ``options["unfreeze_after"] = N`` lets the
optimiser fine-tune the parts from step N on (``ganforge.compose`` calls ``unfreeze_parts``
then; the flag is the ``parts_unfrozen`` buffer, saved with the weights, so a resumed run
continues as it was).

**Self-contained checkpoints.** ``options["parts"][i]["config"]`` holds each part's
``ModelConfig`` and the part weights live in this module's state dict (``parts.i.*``), so
``load_generator`` rebuilds the composed generator from its checkpoint alone. The parts'
source checkpoints (``source``, ``sha256``) are read only once, when a fresh run starts
(``ganforge.compose.load_part_weights``): this module knows nothing of checkpoints.

**A composite family** (see ``ganforge.models``): the registry hands ``Generator`` and
``Discriminator`` its builders, so this module needs no registry of its own.

**Critic.** ``Discriminator(cfg)`` is the discriminator of an existing family
(``options["critic"]``: family, width, options), at the composed resolution, so a
MITLGAN and a baseline can be trained against the same critic.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from ganforge.config import ModelConfig, Option, model_config
from ganforge.errors import ConfigError
from ganforge.models import dcgan

MERGES = ("conv1x1", "thesis", "sum", "alpha")
THESIS_STEM_KERNEL = 7  # the thesis's refiner stem; ganforge's other merges use 3
DEFAULT_CRITIC = {"family": "dcgan", "width": 64, "options": {}}
COMPOSITE = True
# Set by ``ganforge compose`` (its flags), not by ``train``.
MERGE = Option("merge", "conv1x1", f"how part outputs are joined: {', '.join(MERGES)}", cli=False)
BLOCKS = Option("blocks", 6, "dense residual blocks at a quarter resolution (thesis: 6)", cli=False)
OPTIONS = (
    Option("parts", None, "the part generators: config, source checkpoint, hash, latent slice", cli=False),
    MERGE,
    BLOCKS,
    Option("growth", None, "channels each dense block adds (default: width)", cli=False),
    Option("unfreeze_after", None, "step from which the parts are fine-tuned (default: never)", cli=False),
    Option("critic", None, "the critic's family, width and options", cli=False),
)


# ---- configuration ---------------------------------------------------------------------------
def part_configs(cfg: ModelConfig) -> list[ModelConfig]:
    return [ModelConfig.from_dict(p["config"]) for p in cfg.options.get("parts") or []]


def latent_slices(cfg: ModelConfig) -> list[tuple[int, int]]:
    """[start, end) of each part's slice of the composed latent, in part order."""
    slices, start = [], 0
    for part in part_configs(cfg):
        slices.append((start, start + part.latent_dim))
        start += part.latent_dim
    return slices


def critic_config(cfg: ModelConfig) -> ModelConfig:
    c = {**DEFAULT_CRITIC, **(cfg.options.get("critic") or {})}
    return ModelConfig(family=c["family"], resolution=cfg.resolution, channels=cfg.channels,
                       latent_dim=cfg.latent_dim, width=int(c["width"]), options=dict(c.get("options") or {}))


def sub_configs(cfg: ModelConfig) -> list[ModelConfig]:
    """The parts' configs and the critic's: the registry validates them with this one."""
    return [*part_configs(cfg), critic_config(cfg)]


def check(cfg: ModelConfig) -> None:
    o = cfg.options
    parts = o.get("parts") or []
    if len(parts) < 2:
        raise ConfigError("mitlgan is composed of two or more pretrained generators; build it with "
                          "'ganforge compose --part RUN --part RUN ...'")
    if MERGE.value(cfg) not in MERGES:
        raise ConfigError(f"mitlgan merge must be one of {', '.join(MERGES)}, not {o.get('merge')!r}")
    pcfgs = []
    for i, p in enumerate(parts, 1):
        if not isinstance(p, dict) or not isinstance(p.get("config"), dict):
            raise ConfigError(f"mitlgan part {i} has no model config")
        pc = ModelConfig.from_dict(p["config"])
        if pc.num_classes:
            raise ConfigError(f"part {i} ({pc.family}) is conditional; mitlgan composes unconditional generators only")
        pcfgs.append(pc)
    sizes = {pc.resolution for pc in pcfgs}
    if len(sizes) > 1:
        raise ConfigError("mitlgan parts must make images of one size, but they make "
                          + ", ".join(f"{pc.resolution} px (part {i})" for i, pc in enumerate(pcfgs, 1)))
    if pcfgs[0].resolution != cfg.resolution:
        raise ConfigError(f"the parts make {pcfgs[0].resolution} px images but the composed model is set to "
                          f"{cfg.resolution} px")
    chans = {pc.channels for pc in pcfgs}
    if chans != {cfg.channels}:
        raise ConfigError(f"the parts make images with {'/'.join(map(str, sorted(chans)))} channel(s) but the "
                          f"composed model has {cfg.channels}")
    if sum(pc.latent_dim for pc in pcfgs) != cfg.latent_dim:
        raise ConfigError(f"mitlgan latent_dim must be the sum of the parts' latent sizes "
                          f"({sum(pc.latent_dim for pc in pcfgs)}), not {cfg.latent_dim}")
    if int(BLOCKS.value(cfg)) < 0 or int(o.get("growth", cfg.width)) < 1:
        raise ConfigError("mitlgan blocks must be >= 0 and growth >= 1")
    n = o.get("unfreeze_after")
    if n is not None and int(n) < 0:
        raise ConfigError(f"unfreeze_after must be a step number >= 0, not {n}")
    if critic_config(cfg).family == cfg.family:
        raise ConfigError(f"mitlgan critic must be another family's discriminator, not {cfg.family}")


def compose_config(parts: list[dict[str, Any]], *, merge: str = MERGE.default, width: int = 64,
                   blocks: int = BLOCKS.default,
                   growth: int | None = None, unfreeze_after: int | None = None,
                   critic: dict | None = None) -> ModelConfig:
    """The composed ModelConfig from part descriptions ``{"config": dict, "source": str, "sha256": str, ...}``.

    Checks the parts fit together (one resolution, one channel count) and records each
    part's latent slice. Raises ConfigError with a one-line message otherwise.
    """
    if len(parts) < 2:
        raise ConfigError("compose needs at least two parts (--part RUN --part RUN)")
    pcfgs = [ModelConfig.from_dict(p["config"]) for p in parts]
    sizes = [pc.resolution for pc in pcfgs]
    if len(set(sizes)) > 1:
        desc = ", ".join(f"{Path(p.get('source', '?')).name or p.get('source')}: {s} px" for p, s in zip(parts, sizes))
        raise ConfigError(f"parts must make images of one size, but they differ ({desc})")
    start, recorded = 0, []
    for p, pc in zip(parts, pcfgs):
        recorded.append({**p, "latent_slice": [start, start + pc.latent_dim]})
        start += pc.latent_dim
    options = {"merge": merge, "parts": recorded, "blocks": blocks, "growth": growth or default_growth(merge, width),
               "unfreeze_after": unfreeze_after, "critic": {**DEFAULT_CRITIC, **(critic or {})}}
    return ModelConfig(family="mitlgan", resolution=sizes[0], channels=pcfgs[0].channels,
                       latent_dim=start, width=width, options=options)


def default_growth(merge: str, width: int) -> int:
    """Channels each dense block adds when not given: 4·width for the thesis's refiner, else width."""
    return 4 * width if merge == "thesis" else width


# ---- networks ----------------------------------------------------------------------------------
def _conv_in_relu(c_in: int, c_out: int, k: int, stride: int = 1) -> list[nn.Module]:
    pad = (k - 1) // 2 if stride == 1 else 1
    return [nn.Conv2d(c_in, c_out, k, stride, pad), nn.InstanceNorm2d(c_out, affine=True), nn.ReLU()]


class DenseBlock(nn.Module):
    """(N, c, H, W) -> (N, c + growth, H, W): a two-conv residual branch whose output is concatenated to the input."""

    def __init__(self, c_in: int, growth: int):
        super().__init__()
        self.branch = nn.Sequential(
            nn.InstanceNorm2d(c_in, affine=True), nn.ReLU(), nn.Conv2d(c_in, growth, 3, 1, 1),
            nn.InstanceNorm2d(growth, affine=True), nn.ReLU(), nn.Conv2d(growth, growth, 3, 1, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.branch(x)], dim=1)


class Refiner(nn.Module):
    """(N, c_in, R, R) -> (N, C, R, R) in [-1, 1]: down to R/4, dense blocks, up to R (see module docstring)."""

    def __init__(self, c_in: int, channels: int, width: int, blocks: int, growth: int, stem_kernel: int = 3):
        super().__init__()
        w = width
        self.down = nn.Sequential(
            *_conv_in_relu(c_in, w, stem_kernel),  # (N, w, R, R)
            *_conv_in_relu(w, 2 * w, 4, 2),        # (N, 2w, R/2, R/2)
            *_conv_in_relu(2 * w, 4 * w, 4, 2),    # (N, 4w, R/4, R/4)
        )
        self.dense = nn.Sequential(*[DenseBlock(4 * w + i * growth, growth) for i in range(blocks)])
        self.transition = nn.Sequential(*_conv_in_relu(4 * w + blocks * growth, 4 * w, 1))
        self.up = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"), *_conv_in_relu(4 * w, 2 * w, 3),  # (N, 2w, R/2, R/2)
            nn.Upsample(scale_factor=2, mode="nearest"), *_conv_in_relu(2 * w, w, 3),      # (N, w, R, R)
            nn.Conv2d(w, channels, 3, 1, 1), nn.Tanh(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.transition(self.dense(self.down(x))))


class Generator(nn.Module):
    parts_unfrozen: torch.Tensor  # a buffer (registered in __init__)
    def __init__(self, cfg: ModelConfig, build_generator: Callable[[ModelConfig], nn.Module]):
        super().__init__()
        self.cfg = cfg
        o = cfg.options
        self.merge_kind = MERGE.value(cfg)
        self.slices = latent_slices(cfg)
        self.parts = nn.ModuleList(build_generator(pc) for pc in part_configs(cfg))
        k, c, w = len(self.parts), cfg.channels, cfg.width
        if self.merge_kind == "conv1x1":
            self.merge: nn.Module = nn.Sequential(nn.Conv2d(k * c, w, 1), nn.ReLU())  # (N, k*C, R, R) -> (N, w, R, R)
            c_merged = w
        elif self.merge_kind == "thesis":
            self.merge = nn.Sequential(nn.Conv2d(k * c, c, 1), nn.ReLU())  # (N, k*C, R, R) -> (N, C, R, R)
            c_merged = c
        elif self.merge_kind == "alpha":
            self.merge = nn.Sequential(  # (N, k*C, R, R) -> mask logits (N, k, R, R)
                nn.Conv2d(k * c, w, 3, 1, 1), nn.ReLU(), nn.Conv2d(w, w, 3, 1, 1), nn.ReLU(), nn.Conv2d(w, k, 3, 1, 1))
            c_merged = c
        else:  # sum: no weights
            self.merge = nn.Identity()
            c_merged = c
        stem = THESIS_STEM_KERNEL if self.merge_kind == "thesis" else 3
        growth = int(o.get("growth") or default_growth(self.merge_kind, w))
        self.refiner = Refiner(c_merged, c, w, int(BLOCKS.value(cfg)), growth, stem)
        # Saved with the weights so that a resumed run knows whether the parts were already unfrozen.
        self.register_buffer("parts_unfrozen", torch.tensor(False))
        self.register_load_state_dict_post_hook(Generator._after_load)
        self._apply_freeze()
        self.parts.eval()

    # ---- freezing ------------------------------------------------------------------------
    @staticmethod
    def _after_load(module: Generator, incompatible_keys) -> None:
        module._apply_freeze()

    def _apply_freeze(self) -> None:
        self.parts.requires_grad_(bool(self.parts_unfrozen))

    def unfreeze_parts(self) -> None:
        self.parts_unfrozen.fill_(True)
        self._apply_freeze()

    def train(self, mode: bool = True) -> Generator:
        super().train(mode)
        self.parts.eval()  # parts always behave as at inference time (see module docstring)
        return self

    # ---- forward -------------------------------------------------------------------------
    def part_outputs(self, z: torch.Tensor) -> list[torch.Tensor]:
        """Each part's images for its slice of ``z`` (N, latent_dim): a list of k tensors (N, C, R, R)."""
        return [part(z[:, a:b]) for part, (a, b) in zip(self.parts, self.slices)]

    def _merge(self, outs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Part images -> (refiner input, mask (N, k, R, R) for alpha, else None)."""
        if self.merge_kind == "sum":
            return torch.stack(outs).sum(0), None
        x = torch.cat(outs, dim=1)  # (N, k*C, R, R)
        if self.merge_kind in ("conv1x1", "thesis"):
            return self.merge(x), None
        mask = F.softmax(self.merge(x).float(), dim=1).to(outs[0].dtype)  # weights sum to 1 per pixel
        return torch.stack([mask[:, i : i + 1] * o for i, o in enumerate(outs)]).sum(0), mask

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        merged, _ = self._merge(self.part_outputs(z))
        return self.refiner(merged)  # (N, C, R, R)

    @torch.no_grad()
    def explain(self, z: torch.Tensor) -> dict[str, Any]:
        """Everything between z and the output, for the foreground-background separation view.

        Returns {"parts": [k × (N, C, R, R)], "composite": (N, C, R, R) or None (sum/alpha only,
        clamped to [-1, 1]), "mask": (N, k, R, R) or None (alpha only, in [0, 1]), "output": (N, C, R, R)}.
        """
        outs = self.part_outputs(z)
        merged, mask = self._merge(outs)
        composite = merged.clamp(-1, 1) if self.merge_kind in ("sum", "alpha") else None
        return {"parts": outs, "composite": composite, "mask": mask, "output": self.refiner(merged)}


def Discriminator(cfg: ModelConfig, build_discriminator: Callable[[ModelConfig], nn.Module]) -> nn.Module:
    """The critic: the discriminator of ``options["critic"]["family"]`` at the composed resolution."""
    return build_discriminator(critic_config(cfg))


def init_weights(module: Generator) -> None:
    """Fresh merge and refiner weights (DCGAN's initialisation); the parts get theirs from
    ``ganforge.compose.load_part_weights``. The critic is initialised as its own family."""
    dcgan.init_weights(module.merge)
    dcgan.init_weights(module.refiner)
    if model_config(module).options.get("unfreeze_after") == 0:
        module.unfreeze_parts()
    module._apply_freeze()
