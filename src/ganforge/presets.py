"""Named training set-ups (``ganforge train --preset NAME``; ``--preset list`` shows them).

A preset is a plain dict of ModelConfig and TrainConfig values. Priority when training:
flags on the command line, then (with --resume) the run's saved config, then the preset,
then the defaults. The thesis presets reproduce the set-ups of the theses behind
ganforge as far as their text gives them; where it does not, the choice is said.
"""

from __future__ import annotations

from ganforge.errors import ConfigError

PRESETS: dict[str, dict] = {
    "spiders-dcgan-64": {
        "help": "spiders thesis: DCGAN at 64 px, batch 32, Adam 2e-4 / beta1 0.5, BCE",
        "model": {"family": "dcgan", "resolution": 64, "width": 64, "latent_dim": 100},
        "train": {"batch_size": 32, "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999, "loss": "bce"},
    },
    "faces-dcgan-128": {
        "help": "faces thesis: DCGAN from a 4x4 base up to the data set's size (32-128 px), batch 64, BCE",
        "model": {"family": "dcgan", "width": 64, "latent_dim": 100, "options": {"max_width": 512}},
        "train": {"batch_size": 64, "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999, "loss": "bce"},
    },
    # The MITLGAN thesis's layer tables are not in this repository; this is the WGAN-GP recipe
    # (Gulrajani et al. 2017) it followed: a DCGAN-shaped generator from 4x4 to 128 px and a critic
    # with layer norm instead of batch norm (the penalty is per image), 5 critic steps, GP weight 10,
    # Adam 1e-4 (0.5, 0.9). Match widths to the thesis's tables with --width/--max-width if they differ.
    "mitlgan-wgan-gp-128": {
        "help": "MITLGAN thesis: WGAN-GP at 128 px, DCGAN-shaped G and layer-norm critic, 5 critic steps",
        "model": {"family": "dcgan", "resolution": 128, "width": 64, "latent_dim": 128,
                  "options": {"d_norm": "layer", "max_width": 512}},
        "train": {"loss": "wgan-gp", "n_critic": 5, "gp_weight": 10.0, "batch_size": 64,
                  "lr_g": 1e-4, "lr_d": 1e-4, "beta1": 0.5, "beta2": 0.9},
    },
    # The cats thesis compared a dense and a convolutional GAN on 28x28 MNIST. ganforge's sizes are
    # powers of two: prepare the 28x28 images at 32 px (Fashion-MNIST's built-in source pads 2 px per
    # side with background, so no digit is resized).
    "mnist-dense": {
        "help": "cats thesis comparison, dense side: MLP GAN on 28x28 images padded to 32 px",
        "model": {"family": "mlp", "resolution": 32, "channels": 1, "width": 64, "latent_dim": 100},
        "train": {"batch_size": 64, "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "loss": "bce"},
    },
    "mnist-conv": {
        "help": "cats thesis comparison, convolutional side: DCGAN on 28x28 images padded to 32 px",
        "model": {"family": "dcgan", "resolution": 32, "channels": 1, "width": 64, "latent_dim": 100},
        "train": {"batch_size": 64, "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "loss": "bce"},
    },
    "sngan-32": {
        "help": "SNGAN (Miyato et al. 2018): residual nets, spectral norm in D, hinge loss, 5 D steps",
        "model": {"family": "resnet", "width": 64, "latent_dim": 128, "options": {"spectral_norm": True}},
        "train": {"loss": "hinge", "n_critic": 5, "batch_size": 64, "lr_g": 2e-4, "lr_d": 2e-4,
                  "beta1": 0.0, "beta2": 0.9},
    },
    "cgan-projection-32": {
        "help": "conditional SNGAN: class-conditional BN in G, projection D, hinge loss (labelled data)",
        "model": {"family": "cgan", "width": 64, "latent_dim": 128},
        "train": {"loss": "hinge", "n_critic": 2, "batch_size": 64, "lr_g": 2e-4, "lr_d": 2e-4,
                  "beta1": 0.0, "beta2": 0.9},
    },
    "acgan-32": {
        "help": "ACGAN (Odena et al. 2017) on DCGAN nets, auxiliary classification weight 1 (labelled data)",
        "model": {"family": "acgan", "width": 64, "latent_dim": 100},
        "train": {"loss": "bce", "ac_weight": 1.0, "batch_size": 64, "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5},
    },
    "small-data": {
        "help": "1-5 thousand images: SNGAN nets with DiffAugment (color,translation,cutout), EMA 0.999",
        "model": {"family": "resnet", "width": 64, "latent_dim": 128},
        "train": {"loss": "hinge", "augment": "color,translation,cutout", "ema": 0.999, "batch_size": 32,
                  "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.0, "beta2": 0.9},
    },
    # FastGAN (Liu et al. 2021): the authors train at batch 8, Adam 2e-4 (0.5, 0.999), z of 256, widths 64;
    # this keeps their loss, augmentation and optimiser and sizes the networks for a CPU (--width 64
    # --latent-dim 256 is theirs; at 32 px width 8 costs about 1.4x DCGAN-64's FLOPs per image, 16 about 5.6x).
    "fastgan-small-data": {
        "help": "100-5,000 images, 32-256 px: FastGAN (SLE, self-supervised D), hinge, DiffAugment, EMA; width 8 (CPU)",
        "model": {"family": "fastgan", "width": 8, "latent_dim": 128},
        "train": {"loss": "hinge", "augment": "color,translation,cutout", "ema": 0.999, "batch_size": 16,
                  "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999},
    },
    # R3GAN (Huang et al. 2024), their CIFAR-10 set-up: 768 channels at every stage (width 96), 2 blocks
    # per stage, z of 64, RpGAN with R1 = R2 gamma 0.05 (their start; it decays to 0.005), Adam 2e-4 with
    # beta1 0 and beta2 0.99 (their final value), batch 512 in the paper (a GPU's; 64 here fits one).
    "r3gan-cifar-32": {
        "help": "R3GAN's CIFAR-10 set-up at 32 px: paper widths, RpGAN + R1/R2 gamma 0.05 (a GPU's work)",
        "model": {"family": "r3gan", "resolution": 32, "width": 96, "latent_dim": 64,
                  "options": {"blocks": 2, "expansion": 2, "group_width": 16}},
        "train": {"loss": "rpgan", "r1_gamma": 0.05, "r2_gamma": 0.05, "batch_size": 64, "lr_g": 2e-4,
                  "lr_d": 2e-4, "beta1": 0.0, "beta2": 0.99, "ema": 0.999, "augment": "translation"},
    },
    # R3GAN for a small data set: the paper's design at CPU-sized widths, with DiffAugment standing in for
    # its adaptive augmentation, and gamma 1: between CIFAR-10's 0.05 (50,000 images) and FFHQ-64's 2
    # (their start values); a small set overfits sooner, so D needs the stronger penalty (our choice).
    # Width 4 (32 channels per stage at <= 32 px) costs about 3.6x DCGAN-64's FLOPs per image at 32 px.
    "r3gan-small-data": {
        "help": "100-5,000 images: R3GAN's networks at CPU-sized widths (4), RpGAN + R1/R2 gamma 1, DiffAugment, EMA",
        "model": {"family": "r3gan", "width": 4, "latent_dim": 64},
        "train": {"loss": "rpgan", "r1_gamma": 1.0, "r2_gamma": 1.0, "augment": "color,translation,cutout",
                  "batch_size": 16, "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.0, "beta2": 0.99, "ema": 0.999},
    },
}


def get_preset(name: str) -> dict:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)} (or --preset list)")
    return PRESETS[name]


def describe_presets() -> str:
    width = max(map(len, PRESETS))
    return "\n".join(f"{name:<{width}}  {p['help']}" for name, p in PRESETS.items())
