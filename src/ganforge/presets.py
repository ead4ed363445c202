"""Named training set-ups (``ganforge train --preset NAME``; ``--preset list`` shows them).

A preset is a plain dict of ModelConfig and TrainConfig values. Priority when training:
flags on the command line, then (with --resume) the run's saved config, then the preset,
then the defaults. The thesis presets reproduce the set-ups of the theses behind
ganforge as far as their text (as summarised in issue 17; the theses themselves are not in
the repository) gives them; where it does not, the choice is said.
tests/models/test_theses.py checks each against its thesis's layer table.
"""

from __future__ import annotations

from ganforge.errors import ConfigError

PRESETS: dict[str, dict] = {
    "spiders-dcgan-64": {
        "help": "spiders thesis: DCGAN at 64 px, batch 32, Adam 2e-4 / beta1 0.5, BCE",
        "model": {"family": "dcgan", "resolution": 64, "width": 64, "latent_dim": 100},
        "train": {"batch_size": 32, "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999, "loss": "bce"},
    },
    # Faces thesis (Bielko): a dense layer to 4x4, 4x4 transposed convs with LeakyReLU in G and tanh,
    # a D of 3x3 stride-2 convs, up to 128 px. Widths, z size, batch and optimiser are not written in
    # anything ganforge holds: DCGAN's (width 64 capped at 512, z 100, Adam 2e-4/0.5, batch 64).
    "faces-dcgan-128": {
        "help": "faces thesis: dense -> 4x4, 4x4 transposed convs, LeakyReLU G, 3x3 stride-2 D, up to 128 px, BCE",
        "model": {"family": "dcgan", "width": 64, "latent_dim": 100,
                  "options": {"max_width": 512, "g_input": "dense", "g_activation": "leaky_relu", "d_kernel": 3}},
        "train": {"batch_size": 64, "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999, "loss": "bce"},
    },
    # MITLGAN thesis's WGAN baseline: z 1536 -> dense -> 4x4x96, upsample + 3x3 conv halving to
    # 48/24/12/6/3, batch norm, LeakyReLU, no bias; critic of 5x5 stride-2 convs 48/96/192/384 with
    # dropout 0.3 and no normalisation; batch 32; vertical flips. Trained here with the gradient
    # penalty (ganforge has no weight clipping); optimiser settings are Gulrajani et al.'s, not written
    # in anything ganforge holds.
    "mitlgan-wgan-gp-128": {
        "help": "MITLGAN thesis's WGAN baseline at 128 px: upconv G (z 1536, 96 -> 3 ch), 5x5 critic, batch 32, vflip",
        "model": {"family": "upconv", "resolution": 128, "width": 96, "latent_dim": 1536,
                  "options": {"d_width": 48, "d_dropout": 0.3}},
        "train": {"loss": "wgan-gp", "n_critic": 5, "gp_weight": 10.0, "batch_size": 32, "vflip": True,
                  "lr_g": 1e-4, "lr_d": 1e-4, "beta1": 0.5, "beta2": 0.9},
    },
    # The cats thesis compared a dense and a convolutional GAN on 28x28 MNIST (built-in source
    # 'mnist', kept at 28 px). Its z size, batch and optimiser are not written in anything ganforge
    # holds: z 100, batch 64, Adam 2e-4/0.5.
    "mnist-dense": {
        "help": "cats thesis, dense side: G 256-512-1024-784 with batch norm, D 512-256 with dropout, 28 px MNIST",
        "model": {"family": "mlp", "resolution": 28, "channels": 1, "width": 64, "latent_dim": 100,
                  "options": {"g_batch_norm": True, "d_layers": 2, "dropout": 0.3}},
        "train": {"batch_size": 64, "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "loss": "bce"},
    },
    "mnist-conv": {
        "help": "cats thesis, convolutional side: dense -> 7x7x128, two transposed convs to 28x28 MNIST",
        "model": {"family": "dcgan", "resolution": 28, "channels": 1, "width": 64, "latent_dim": 100,
                  "options": {"g_input": "dense"}},
        "train": {"batch_size": 64, "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "loss": "bce"},
    },
    # Dogs thesis (Bordák, Pelle, Németh): a DCGAN trained with Keras's Glorot initialisation; its
    # resolution is not written in anything ganforge holds (64 px, as the spiders DCGAN, is assumed).
    # Its named next step, spectral norm in D, is --spectral-norm on.
    "dogs-dcgan-64": {
        "help": "dogs thesis: DCGAN at 64 px with Glorot (xavier) initialisation, BCE "
                "(--spectral-norm on: its next step)",
        "model": {"family": "dcgan", "resolution": 64, "width": 64, "latent_dim": 100, "options": {"init": "xavier"}},
        "train": {"batch_size": 64, "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999, "loss": "bce"},
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
    # StyleGAN2 (Karras et al. 2020). R1 gamma follows the ADA paper's heuristic 0.0002 * R^2 / batch;
    # EMA half-lives and lrs are the ADA paper's (its "auto" config: lr 0.0025, ema_kimg = batch * 10 / 32).
    "stylegan2-cpu-32": {
        "help": "StyleGAN2 for a laptop CPU at 32-64 px: width 32 (256 channels at most), 4 mapping layers, batch 16",
        "model": {"family": "stylegan2", "width": 32, "latent_dim": 128,
                  "options": {"map_layers": 4, "max_width": 256}},
        "train": {"loss": "stylegan2", "batch_size": 16, "lr_g": 0.0025, "lr_d": 0.0025, "beta1": 0.0, "beta2": 0.99,
                  "r1_gamma": 0.0128, "ema_kimg": 5.0},
    },
    "stylegan2-gpu-256": {
        "help": "StyleGAN2 for a GPU at 128-256 px: width 64 (512 at most), 8 mapping layers, batch 32, path length",
        "model": {"family": "stylegan2", "width": 64, "latent_dim": 512, "options": {"map_layers": 8}},
        "train": {"loss": "stylegan2", "batch_size": 32, "lr_g": 0.002, "lr_d": 0.002, "beta1": 0.0, "beta2": 0.99,
                  "r1_gamma": 0.4, "pl_weight": 2.0, "ema_kimg": 10.0, "precision": "auto"},
    },
    # The ADA paper's set-up for small data sets (Karras et al. 2020b; its code's "auto" config): 2 mapping
    # layers, lr 0.0025, batch 32, EMA half-life 10 k images ramped up, gamma = 0.0002 R^2 / batch (0.1 at
    # 128 px), path length 2; widths halved from the paper's (width 64 at 128 px gives 512-...-64).
    # With adaptive augmentation (--augment ada, target 0.6), as the paper trains on small sets.
    "stylegan2-ada-lowdata": {
        "help": "ADA paper's small-data StyleGAN2 (a few thousand images, 128 px): 2 mapping layers, EMA 10 kimg",
        "model": {"family": "stylegan2", "width": 64, "latent_dim": 512, "options": {"map_layers": 2}},
        "train": {"loss": "stylegan2", "batch_size": 32, "lr_g": 0.0025, "lr_d": 0.0025, "beta1": 0.0, "beta2": 0.99,
                  "r1_gamma": 0.1, "pl_weight": 2.0, "ema_kimg": 10.0, "augment": "ada", "ada_target": 0.6},
    },
    # FastGAN (Liu et al. 2021): the authors train at batch 8, Adam 2e-4 (0.5, 0.999), z of 256, widths 64;
    # this keeps their loss, augmentation and optimiser and sizes the networks for a CPU (--width 64
    # --latent-dim 256 is theirs; at 32 px width 8 costs about 1.4x DCGAN-64's FLOPs per image, 16 about 5.6x).
    "fastgan-small-data": {
        "help": "100-5,000 images, 32-256 px: FastGAN (SLE, self-supervised D), hinge, DiffAugment, EMA; width 8 (CPU)",
        "model": {"family": "fastgan", "width": 8, "latent_dim": 128},
        "train": {"loss": "hinge", "augment": "color,translation", "ema": 0.999, "batch_size": 16,
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
