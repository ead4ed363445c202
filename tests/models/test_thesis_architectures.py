"""The theses' architectures, layer by layer: output shape and parameter count of every layer with weights.

The tables are written from the theses' descriptions as issue 17 summarises them (the theses themselves are
not in the repository); widths the descriptions leave open are the presets' (see presets.py), and the counts
below are worked out by hand from the layer sizes, so a change of any layer fails here.
"""

import pytest
import torch
import torch.nn as nn

from ganforge.config import ModelConfig
from ganforge.models import build_discriminator, build_generator, init_weights
from ganforge.presets import PRESETS

WEIGHTED = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm1d, nn.BatchNorm2d, nn.InstanceNorm2d)
SHORT = {"Linear": "dense", "Conv2d": "conv", "ConvTranspose2d": "convT", "BatchNorm1d": "bn", "BatchNorm2d": "bn",
         "InstanceNorm2d": "in"}


def layer_table(net: nn.Module, x: torch.Tensor) -> list[tuple[str, tuple, int]]:
    """(kind, output shape without the batch, parameters) of each layer with weights, in forward order."""
    rows, hooks = [], []
    for m in net.modules():
        if isinstance(m, WEIGHTED):
            hooks.append(m.register_forward_hook(
                lambda m, i, o: rows.append((SHORT[type(m).__name__], tuple(o.shape[1:]),
                                             sum(p.numel() for p in m.parameters())))))
    net.eval()
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    return rows


def preset_config(name: str, **fill) -> ModelConfig:
    return ModelConfig.from_dict({**PRESETS[name]["model"], **fill})


def test_faces_thesis_dense_stem_leaky_relu_and_3x3_discriminator():
    cfg = preset_config("faces-dcgan-128", resolution=128, channels=3)
    G, D = build_generator(cfg), build_discriminator(cfg)
    assert layer_table(G, torch.randn(2, 100)) == [
        ("dense", (512 * 16,), 100 * 8192), ("bn", (8192,), 2 * 8192),       # z -> 4x4x512 (width 64 capped at 512)
        ("convT", (512, 8, 8), 512 * 512 * 16), ("bn", (512, 8, 8), 1024),     # 4x4 transposed convs, no bias
        ("convT", (256, 16, 16), 512 * 256 * 16), ("bn", (256, 16, 16), 512),
        ("convT", (128, 32, 32), 256 * 128 * 16), ("bn", (128, 32, 32), 256),
        ("convT", (64, 64, 64), 128 * 64 * 16), ("bn", (64, 64, 64), 128),
        ("convT", (3, 128, 128), 64 * 3 * 16),
    ]
    assert sum(isinstance(m, nn.LeakyReLU) for m in G.modules()) == 5
    assert not any(isinstance(m, nn.ReLU) for m in G.modules())
    assert isinstance(G.net[-1], nn.Tanh)
    assert layer_table(D, torch.randn(2, 3, 128, 128)) == [
        ("conv", (64, 64, 64), 3 * 64 * 9),                                   # 3x3, stride 2
        ("conv", (128, 32, 32), 64 * 128 * 9), ("bn", (128, 32, 32), 256),
        ("conv", (256, 16, 16), 128 * 256 * 9), ("bn", (256, 16, 16), 512),
        ("conv", (512, 8, 8), 256 * 512 * 9), ("bn", (512, 8, 8), 1024),
        ("conv", (512, 4, 4), 512 * 512 * 9), ("bn", (512, 4, 4), 1024),
        ("conv", (1, 1, 1), 512 * 16 + 1),
    ]
    assert all(m.stride == (2, 2) for m in D.body if isinstance(m, nn.Conv2d))


def test_mitlgan_thesis_wgan_baseline():
    cfg = preset_config("mitlgan-wgan-gp-128", channels=3)
    G, D = build_generator(cfg), build_discriminator(cfg)
    assert layer_table(G, torch.randn(2, 1536)) == [
        ("dense", (1536,), 1536 * 1536), ("bn", (1536,), 2 * 1536),           # 1536 -> 4x4x96, no bias
        ("conv", (48, 8, 8), 96 * 48 * 9), ("bn", (48, 8, 8), 96),             # upsample + 3x3 conv, no bias
        ("conv", (24, 16, 16), 48 * 24 * 9), ("bn", (24, 16, 16), 48),
        ("conv", (12, 32, 32), 24 * 12 * 9), ("bn", (12, 32, 32), 24),
        ("conv", (6, 64, 64), 12 * 6 * 9), ("bn", (6, 64, 64), 12),
        ("conv", (3, 128, 128), 6 * 3 * 9),
    ]
    assert sum(isinstance(m, nn.Upsample) for m in G.modules()) == 5
    assert all(m.bias is None for m in G.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    assert layer_table(D, torch.randn(2, 3, 128, 128)) == [
        ("conv", (48, 64, 64), 3 * 48 * 25 + 48),                              # 5x5, stride 2
        ("conv", (96, 32, 32), 48 * 96 * 25 + 96),
        ("conv", (192, 16, 16), 96 * 192 * 25 + 192),
        ("conv", (384, 8, 8), 192 * 384 * 25 + 384),
        ("dense", (1,), 384 * 64 + 1),
    ]
    assert [m.p for m in D.modules() if isinstance(m, nn.Dropout)] == [0.3] * 4
    assert PRESETS["mitlgan-wgan-gp-128"]["train"]["batch_size"] == 32
    assert PRESETS["mitlgan-wgan-gp-128"]["train"]["vflip"] is True


def test_cats_thesis_dense_gan():
    cfg = preset_config("mnist-dense")
    G, D = build_generator(cfg), build_discriminator(cfg)
    assert layer_table(G, torch.randn(2, 100)) == [
        ("dense", (256,), 100 * 256 + 256), ("bn", (256,), 512),
        ("dense", (512,), 256 * 512 + 512), ("bn", (512,), 1024),
        ("dense", (1024,), 512 * 1024 + 1024), ("bn", (1024,), 2048),
        ("dense", (784,), 1024 * 784 + 784),
    ]
    assert G(torch.randn(2, 100)).shape == (2, 1, 28, 28)
    assert layer_table(D, torch.randn(2, 1, 28, 28)) == [
        ("dense", (512,), 784 * 512 + 512), ("dense", (256,), 512 * 256 + 256), ("dense", (1,), 257),
    ]
    assert sum(isinstance(m, nn.Dropout) for m in D.modules()) == 2


def test_cats_thesis_conv_gan_at_28_px():
    cfg = preset_config("mnist-conv")
    G, D = build_generator(cfg), build_discriminator(cfg)
    assert layer_table(G, torch.randn(2, 100)) == [
        ("dense", (128 * 49,), 100 * 6272), ("bn", (6272,), 2 * 6272),           # z -> 7x7x128
        ("convT", (64, 14, 14), 128 * 64 * 16), ("bn", (64, 14, 14), 128),
        ("convT", (1, 28, 28), 64 * 16),                                          # no padding to 32
    ]
    assert layer_table(D, torch.randn(2, 1, 28, 28)) == [
        ("conv", (64, 14, 14), 64 * 16), ("conv", (128, 7, 7), 64 * 128 * 16), ("bn", (128, 7, 7), 256),
        ("conv", (1, 1, 1), 128 * 49 + 1),
    ]


def test_spiders_preset_stays_the_dcgan_paper_at_64():
    cfg = preset_config("spiders-dcgan-64", channels=3)
    G = build_generator(cfg)
    assert [r[1] for r in layer_table(G, torch.randn(2, 100)) if r[0] == "convT"] == [
        (512, 4, 4), (256, 8, 8), (128, 16, 16), (64, 32, 32), (3, 64, 64)]
    assert PRESETS["spiders-dcgan-64"]["train"]["batch_size"] == 32


def test_dogs_preset_uses_glorot_and_spectral_norm_is_available():
    cfg = preset_config("dogs-dcgan-64", channels=3)
    G = build_generator(cfg)
    init_weights(G)
    w = G.net[0].weight
    # Glorot uniform: |w| <= sqrt(6 / (fan_in + fan_out)); DCGAN's N(0, 0.02) would have a std of 0.02
    fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(w)
    assert w.abs().max() <= (6 / (fan_in + fan_out)) ** 0.5 and abs(w.std().item() - 0.02) > 0.003
    sn = ModelConfig.from_dict({**cfg.to_dict(), "options": {"spectral_norm": True}})
    D = build_discriminator(sn)
    init_weights(D)
    convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(hasattr(m, "parametrizations") for m in convs)
    assert D(torch.randn(2, 3, 64, 64)).shape == (2,)


def test_mitlgan_thesis_merge_and_refiner():
    from ganforge.models import mitlgan

    part = ModelConfig(family="dcgan", resolution=16, channels=3, latent_dim=8, width=4).to_dict()
    cfg = mitlgan.compose_config([{"config": part}, {"config": part}], merge="thesis", width=8, blocks=2)
    G = build_generator(cfg)
    assert cfg.options["growth"] == 32  # 4 x width
    merge = [m for m in G.merge.modules() if isinstance(m, nn.Conv2d)]
    assert [(m.in_channels, m.out_channels, m.kernel_size) for m in merge] == [(6, 3, (1, 1))]
    assert isinstance(G.merge[-1], nn.ReLU)
    stem = G.refiner.down[0]
    assert (stem.in_channels, stem.out_channels, stem.kernel_size) == (3, 8, (7, 7))
    assert [b.branch[-1].out_channels for b in G.refiner.dense] == [32, 32]
    assert G(torch.randn(2, 16)).shape == (2, 3, 16, 16)


@pytest.mark.parametrize("family", ["dcgan", "mlp", "upconv", "acgan"])
def test_28_px_families(family):
    cfg = ModelConfig(family=family, resolution=28, channels=1, latent_dim=8, width=8,
                      num_classes=3 if family == "acgan" else 0)
    G, D = build_generator(cfg), build_discriminator(cfg)
    labels = torch.tensor([0, 2]) if family == "acgan" else None
    x = G(torch.randn(2, 8), labels)
    assert x.shape == (2, 1, 28, 28) and D(x, labels).shape == (2,)


def test_resnet_refuses_28_px():
    from ganforge.errors import ConfigError

    with pytest.raises(ConfigError, match="power of two"):
        build_generator(ModelConfig(family="resnet", resolution=28, channels=1))


def test_thesis_presets_train_through_the_one_trainer(tmp_path, capsys):
    """The 28 px presets train a step on a 28 px set; the MITLGAN baseline's preset resolves with vflip on."""
    from conftest import run_cli, write_images
    from ganforge.data.prepare import PrepareOptions, prepare

    write_images(tmp_path / "src", 64, size=28, mode="L")
    data = tmp_path / "d28.zip"
    prepare(str(tmp_path / "src"), data, PrepareOptions(resolution=28, channels=1, workers=1), progress=False)
    for preset in ("mnist-dense", "mnist-conv"):
        code, _, err = run_cli(capsys, "train", "--preset", preset, "--data", data, "--out", tmp_path / preset,
                               "--steps", 1, "--batch-size", 16, "--width", 8, "--n-samples", 4)
        assert code == 0, err
        assert (tmp_path / preset / "checkpoints").is_dir() or any((tmp_path / preset).glob("*.pt*"))
    code, out, err = run_cli(capsys, "train", "--preset", "mitlgan-wgan-gp-128", "--data", data, "--out",
                             tmp_path / "m", "--resolution", "28", "--dry-run")
    assert code == 0, err
    assert '"vflip": true' in out and '"family": "upconv"' in out
