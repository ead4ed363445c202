import pytest
import torch

from ganforge.diffaugment import AUGMENTATIONS, DiffAugment, cutout, translation
from ganforge.errors import ConfigError


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
@pytest.mark.parametrize("channels", [1, 3])
def test_keeps_shape_and_is_differentiable(name, channels):
    x = torch.randn(4, channels, 16, 16, requires_grad=True)
    y = AUGMENTATIONS[name](x, 1.0, torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    (y * torch.randn_like(y)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_strength_zero_is_the_identity(name):
    x = torch.randn(3, 3, 8, 8)
    assert torch.allclose(AUGMENTATIONS[name](x, 0.0, torch.Generator().manual_seed(0)), x, atol=1e-6)


def test_translation_is_an_integer_shift_with_zero_fill():
    x = torch.randn(8, 2, 16, 16)
    y = translation(x, 1.0, torch.Generator().manual_seed(3))
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    shifts = []
    for i in range(8):  # exactly one shift (dy, dx) in [-2, 2]^2 explains each output
        matches = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                   if torch.equal(y[i], padded[i, :, 2 - dy : 18 - dy, 2 - dx : 18 - dx])]
        assert len(matches) == 1
        shifts.append(matches[0])
    assert len(set(shifts)) > 1  # shifts are drawn per image


def test_cutout_zeroes_one_square_per_image_in_every_channel():
    x = torch.ones(16, 3, 16, 16)
    y = cutout(x, 1.0, torch.Generator().manual_seed(0))
    holes = (y == 0)
    assert torch.equal(holes[:, 0], holes[:, 1]) and torch.equal(holes[:, 0], holes[:, 2])
    for mask in holes[:, 0]:
        rows, cols = mask.any(1).nonzero(), mask.any(0).nonzero()
        assert 0 < mask.sum() <= 64  # an 8x8 square, clipped at the border
        assert mask.sum() == len(rows) * len(cols)  # a rectangle: every row of it has the same columns


def test_color_changes_each_image_by_its_own_draw():
    x = torch.rand(6, 3, 8, 8) * 2 - 1
    y = AUGMENTATIONS["color"](x, 1.0, torch.Generator().manual_seed(0))
    change = (y - x).abs().mean((1, 2, 3))
    assert change.min() > 0 and len(set(change.tolist())) == 6


def test_policy_is_reproducible_from_its_generator_and_validated():
    x = torch.randn(4, 3, 16, 16)
    a = DiffAugment("color,translation,cutout", 1.0, torch.Generator().manual_seed(5))(x)
    b = DiffAugment("color,translation,cutout", 1.0, torch.Generator().manual_seed(5))(x)
    assert torch.equal(a, b)
    with pytest.raises(ConfigError, match="unknown augmentation 'zoom'"):
        DiffAugment("color,zoom")
