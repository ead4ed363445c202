"""R3GAN's networks (Huang et al. 2024): the paper's widths, grouped inverted bottlenecks, fix-up
initialisation (every residual block starts as the identity), and exact resume with --loss rpgan."""

import pytest
import torch
import torch.nn as nn

from ganforge.config import ModelConfig
from ganforge.models import build_discriminator, build_generator, train_defaults
from ganforge.models.r3gan import ResidualBlock, channels


def _cfg(resolution=32, width=8, **kw):
    return ModelConfig(family="r3gan", resolution=resolution, channels=3, width=width, latent_dim=16, **kw)


def test_widths_are_the_papers_with_width_96():
    """CIFAR-10: 768 channels at 4..32 px; FFHQ-256: 768 up to 32 px, then 384, 192, 96."""
    assert [channels(_cfg(32, 96), r) for r in (4, 8, 16, 32)] == [768] * 4
    assert [channels(_cfg(256, 96), r) for r in (4, 8, 16, 32, 64, 128, 256)] == [768] * 4 + [384, 192, 96]


def test_blocks_are_grouped_inverted_bottlenecks():
    G = build_generator(_cfg(32, 16))
    block = next(m for m in G.modules() if isinstance(m, ResidualBlock))
    assert block.widen.out_channels == 2 * block.widen.in_channels  # expansion 2
    assert block.mix.groups == block.mix.in_channels // 16          # 16 channels per group
    assert block.narrow.out_channels == block.widen.in_channels
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm)) for m in G.modules())


@pytest.mark.parametrize("build", [build_generator, build_discriminator])
def test_every_residual_block_starts_as_the_identity(build):
    net = build(_cfg(64))
    blocks = [m for m in net.modules() if isinstance(m, ResidualBlock)]
    assert len(blocks) == 5 * 2  # 4..64 px, 2 blocks each
    x = torch.randn(2, blocks[0].widen.in_channels, 8, 8)
    for b in blocks:
        assert torch.equal(b.narrow.weight, torch.zeros_like(b.narrow.weight))
    assert torch.equal(blocks[0](x), x)


def test_the_inner_layers_are_scaled_down_with_depth():
    """Fix-up: He's std times L^(-1/4), so a deeper network starts with smaller residual branches."""
    def std(resolution):
        b = next(m for m in build_generator(_cfg(resolution, 16)).modules() if isinstance(m, ResidualBlock))
        return b.widen.weight.std().item() * b.widen.in_channels**0.5

    assert std(256) < std(32) * 0.9  # 14 blocks vs 8: (8/14)^(1/4) = 0.87


def test_its_training_defaults_are_rpgan_with_both_penalties():
    d = train_defaults("r3gan")
    assert d["loss"] == "rpgan" and d["r1_gamma"] > 0 and d["r2_gamma"] == d["r1_gamma"] and d["beta1"] == 0.0
