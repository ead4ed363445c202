import pytest
import torch

from ganforge.config import ModelConfig
from ganforge.errors import ConfigError
from ganforge.models import (
    MODELS,
    build_discriminator,
    build_generator,
    is_conditional,
    is_inpainter,
    is_two_domain,
    validate,
)


@pytest.mark.parametrize("family", sorted(MODELS))
@pytest.mark.parametrize("resolution", [32, 64, 128, 256])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes(family, resolution, channels):
    if family == "mlp" and resolution > 128:
        pytest.skip("mlp is limited to 128 px")
    if family == "mitlgan":
        pytest.skip("composed of pretrained parts: tests/test_mitlgan.py")
    if is_two_domain(family):
        pytest.skip("two-domain networks: tests/models/test_two_domain.py")
    if is_inpainter(family):
        pytest.skip("G takes images and masks: tests/models/test_inpainter.py")
    conditional = is_conditional(family)
    cfg = ModelConfig(family=family, resolution=resolution, channels=channels, latent_dim=16, width=8,
                      num_classes=3 if conditional else 0)
    G, D = build_generator(cfg).eval(), build_discriminator(cfg)  # eval: as sampled (stylegan2 clamps only there)
    z = torch.randn(2, 16)
    labels = torch.tensor([0, 2]) if conditional else None
    with torch.no_grad():
        x = G(z, labels)
        assert x.shape == (2, channels, resolution, resolution)
        assert x.min() >= -1 and x.max() <= 1  # tanh output
        assert D(x, labels).shape == (2,)
        assert D.features(x).ndim == 2


def test_dcgan_widths_follow_the_paper():
    """DCGAN-64 with width 64 has 512-256-128-64 channels in G, as in Radford et al."""
    G = build_generator(ModelConfig(family="dcgan", resolution=64, channels=3, width=64))
    convs = [m for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [c.out_channels for c in convs] == [512, 256, 128, 64, 3]
    assert all(c.kernel_size == (4, 4) for c in convs)


def test_max_width_caps_channels():
    G = build_generator(ModelConfig(family="dcgan", resolution=256, channels=3, width=64, options={"max_width": 256}))
    assert max(m.out_channels for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)) == 256


@pytest.mark.parametrize("bad", [
    dict(family="nope"), dict(channels=2), dict(resolution=48), dict(resolution=0),
])
def test_invalid_configs_are_refused(bad):
    cfg = ModelConfig(**{**dict(family="dcgan", resolution=32, channels=3), **bad})
    with pytest.raises(ConfigError):
        validate(cfg)
