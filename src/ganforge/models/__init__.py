"""Model families, one file each, registered by name in a plain dict.

A family module defines ``Generator(cfg)`` and ``Discriminator(cfg)`` (``nn.Module``s
built only from a ``ModelConfig`` and keeping it as ``.cfg``) and ``check(cfg)`` that
rejects settings the family cannot build. Every generator takes ``(z, labels=None)`` with
``z`` of shape (N, latent_dim) and returns images (N, C, R, R) in [-1, 1] (in eval mode: stylegan2
trains on its raw, unclamped output); every
discriminator takes ``(x, labels=None)`` and returns logits of shape (N,), and
``features(x)`` gives its penultimate activations (N, F) for feature-matching losses.

What the rest of ganforge asks a family (module attributes; defaults in brackets):

- ``OPTIONS``: the ``ganforge.config.Option``s it reads from ``cfg.options`` [none]; the train
  command makes its flags from them, and an option the family does not list is an error;
- ``CONDITIONAL``: labels required, ``num_classes`` comes from the data set [False];
- ``AUXILIARY_CLASSIFIER``: ``D(x, labels, with_classes=True)`` also returns class logits
  (N, K) for the loss's auxiliary term [False];
- ``SELF_SUPERVISED_D``: ``D(x, labels, with_reconstruction=True)`` also returns D's own
  self-supervised loss on x (0-d, already weighted), which every loss adds to D's loss on real
  images (FastGAN's auto-encoding decoders) [False];
- ``TRAIN_DEFAULTS``: TrainConfig values the family trains with unless a preset or a flag says
  otherwise (``ganforge train`` applies them; e.g. its paper's loss and augmentation) [{}];
- ``CONVOLUTIONAL``: its networks are convolutional (channels-last memory helps) [True];
- ``GRADIENT_PENALTY_OPTIONS``: options that make D score each image on its own (no batch
  statistics), as a per-image gradient penalty (WGAN-GP) needs [{}];
- ``STYLE_BASED``: G maps z to per-layer styles: ``G.mapping(z, psi) -> ws`` (N, num_ws, w_dim),
  ``G.synthesis(ws) -> images``, a ``w_avg`` buffer, ``G(z, labels, psi=...)`` truncates in W
  and ``G(z, labels, return_ws=True)`` also returns the ws [False];
- ``TRAIN_DEFAULTS``: TrainConfig values it trains with unless a flag or preset says otherwise
  (its paper's loss and optimiser) [{}];
- ``init_weights(module)``: its own initialisation [DCGAN's, ``dcgan.init_weights``];
- ``COMPOSITE``: its networks are made of other families' networks: ``Generator(cfg,
  build_generator)``, ``Discriminator(cfg, build_discriminator)`` and ``sub_configs(cfg)``,
  the configs it builds from (validated with it) [False];
- ``TWO_DOMAIN``: it trains on a two-domain data set (``ganforge.data.domains``): the real batch
  its loss gets is (N, 2, C, H, W), domain A at ``[:, 0]``, B at ``[:, 1]`` [False]; such a family
  also names its ``LOSS`` (the only one it trains with), may set ``LR_DECAY_FROM`` (the fraction of
  the budget after which both learning rates fall linearly to zero) and gives
  ``preview(G, z, real)``, the rows of its sample grid (a list of (n, C, H, W) tensors);
- ``TRANSLATOR``: ``translate(G, x, direction)`` maps images of one domain to the other
  (``direction`` "a2b" or "b2a"; a one-way translator refuses the other) [False];
- ``for_data(cfg, data)``: sets options that depend on the data set, once it is known (e.g. DTN's
  encoder kind and classification head) [none];
- ``INPAINTER``: G fills holes: ``G(x, mask)`` takes images (N, C, R, R) and masks (N, 1, R, R),
  1 = missing, and returns the whole image with x's known pixels unchanged; it draws nothing from
  latents (the latent tools refuse it, ``ganforge inpaint`` runs it once per image). Such a family
  names its ``LOSS`` and gives ``preview(G, z, real)`` on the data set's first images [False];
- ``DDP_UNUSED_PARAMETERS``: some updates leave parameters of a side without gradient (DDP must
  look for them) [False].

Families know nothing of checkpoints, exports, losses or the trainer.

To add a family: write ``models/<name>.py`` and add one line to ``MODELS``.
"""

from __future__ import annotations

from types import ModuleType

import torch.nn as nn

from ganforge.config import ModelConfig, Option, check_finite, model_config
from ganforge.errors import ConfigError
from ganforge.models import (
    acgan,
    cgan,
    cogan,
    cyclegan,
    dcgan,
    dtn,
    fastgan,
    inpainter,
    mitlgan,
    mlp,
    r3gan,
    resnet,
    stylegan2,
    upconv,
)

MODELS: dict[str, ModuleType] = {
    "mlp": mlp,
    "dcgan": dcgan,
    "resnet": resnet,
    "cgan": cgan,
    "acgan": acgan,
    "stylegan2": stylegan2,
    "fastgan": fastgan,  # small data: skip-layer excitation, self-supervised D (Liu et al. 2021)
    "r3gan": r3gan,      # a modern minimal ResNet for --loss rpgan with R1 and R2 (Huang et al. 2024)
    "upconv": upconv,  # the MITLGAN thesis's WGAN baseline
    "mitlgan": mitlgan,  # composed of pretrained generators (ganforge compose)
    "cyclegan": cyclegan,  # two-domain: unpaired translation A <-> B
    "cogan": cogan,  # two-domain: weight-shared pair of GANs
    "dtn": dtn,  # two-domain: one-way translation through a fixed encoder
    "inpainter": inpainter,  # fills holes in images in one pass (context encoder, gated convolutions)
}


def family(name: str) -> ModuleType:
    """The family module registered as ``name``, or a one-line error listing the known ones."""
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose one of: {', '.join(sorted(MODELS))}")
    return MODELS[name]


def options_of(name: str) -> tuple[Option, ...]:
    return tuple(getattr(family(name), "OPTIONS", ()))


def is_conditional(name: str) -> bool:
    return bool(getattr(family(name), "CONDITIONAL", False))


def has_auxiliary_classifier(name: str) -> bool:
    return bool(getattr(family(name), "AUXILIARY_CLASSIFIER", False))


def has_self_supervised_d(name: str) -> bool:
    return bool(getattr(family(name), "SELF_SUPERVISED_D", False))


def is_convolutional(name: str) -> bool:
    return bool(getattr(family(name), "CONVOLUTIONAL", True))


def is_composite(name: str) -> bool:
    return bool(getattr(family(name), "COMPOSITE", False))


def resolved_options(cfg: ModelConfig) -> dict:
    """Every option of ``cfg``'s family with its value in ``cfg`` (its default when not set)."""
    return {o.name: o.value(cfg) for o in options_of(cfg.family)}


def is_two_domain(name: str) -> bool:
    return bool(getattr(family(name), "TWO_DOMAIN", False))


def is_translator(name: str) -> bool:
    return bool(getattr(family(name), "TRANSLATOR", False))


def is_inpainter(name: str) -> bool:
    """Its G fills holes in images (``G(x, mask)``), it does not draw from latents."""
    return bool(getattr(family(name), "INPAINTER", False))


def draws_from_latents(name: str) -> bool:
    """Its G makes images from latents; a translator's and an inpainter's take images instead."""
    return not (is_translator(name) or is_inpainter(name))


def has_preview(name: str) -> bool:
    """Its sample grid is ``preview(G, z, real)``'s rows on real images (two-domain families, the inpainter)."""
    return hasattr(family(name), "preview")


def required_loss(name: str) -> str | None:
    """The loss a family trains with whatever ``--loss`` says (two-domain families), or None."""
    return getattr(family(name), "LOSS", None)


def gradient_penalty_options(name: str) -> dict:
    return dict(getattr(family(name), "GRADIENT_PENALTY_OPTIONS", {}))


def train_defaults(name: str) -> dict:
    """TrainConfig values the family trains with unless a flag or preset sets them (``TRAIN_DEFAULTS``)."""
    return dict(getattr(family(name), "TRAIN_DEFAULTS", {}))


def is_style_based(name: str) -> bool:
    return bool(getattr(family(name), "STYLE_BASED", False))


def families_using(option: str) -> list[str]:
    """The families that read ``option`` (for the error that names them)."""
    return [name for name in MODELS if any(o.name == option for o in options_of(name))]


def check_options(cfg: ModelConfig) -> ModelConfig:
    """Every key of ``cfg.options`` is one of its family's ``OPTIONS`` with an allowed value; an option
    of another family is an error that names the families that use it."""
    check_finite(cfg.options)  # NaN passes every range check (each comparison is False)
    known = {o.name: o for o in options_of(cfg.family)}
    for name in cfg.options:
        if name not in known:
            users = families_using(name)
            flag = "--" + name.replace("_", "-")
            raise ConfigError(f"{flag} is an option of {', '.join(users)}; {cfg.family} does not use it" if users
                              else f"{cfg.family} has no option {name!r}")
    for o in known.values():
        if o.choices and o.value(cfg) not in o.choices:
            raise ConfigError(f"{cfg.family} {o.flag} must be one of {', '.join(map(str, o.choices))}, "
                              f"not {o.value(cfg)!r}")
    return cfg


def validate(cfg: ModelConfig) -> ModelConfig:
    """Everything about ``cfg``: its values, its family's options and checks, and those of the
    configs a composite family builds from. Raises ``ConfigError`` with one line."""
    cfg.validate()
    fam = family(cfg.family)
    check_options(cfg)
    fam.check(cfg)
    for sub in (fam.sub_configs(cfg) if is_composite(cfg.family) else ()):
        validate(sub)
    return cfg


def build_generator(cfg: ModelConfig) -> nn.Module:
    validate(cfg)
    if is_composite(cfg.family):
        return MODELS[cfg.family].Generator(cfg, build_generator)
    return MODELS[cfg.family].Generator(cfg)


def build_discriminator(cfg: ModelConfig) -> nn.Module:
    validate(cfg)
    if is_composite(cfg.family):
        return MODELS[cfg.family].Discriminator(cfg, build_discriminator)
    return MODELS[cfg.family].Discriminator(cfg)


def init_weights(module: nn.Module) -> None:
    """Fresh weights for a network built here: its family's own initialisation, or DCGAN's.

    Asks the network's own ``cfg.family`` (a composite family's critic is another family's D).
    """
    getattr(family(model_config(module).family), "init_weights", dcgan.init_weights)(module)
