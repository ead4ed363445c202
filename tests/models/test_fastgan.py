"""FastGAN (Liu et al. 2021): skip-layer excitation, the self-supervised discriminator, the noise
that is fixed outside training, and exact resume with all of it."""

import json

import pytest
import torch

from ganforge.config import ModelConfig
from ganforge.models import build_discriminator, build_generator, train_defaults
from ganforge.models.fastgan import NoiseInjection, SkipLayerExcitation, sle_pairs


def _cfg(resolution=64, **kw):
    return ModelConfig(family="fastgan", resolution=resolution, channels=3, width=8, latent_dim=16, **kw)


@pytest.mark.parametrize("resolution,pairs", [(32, [(4, 32)]), (64, [(4, 64)]), (256, [(4, 64), (8, 128), (16, 256)])])
def test_skip_layer_excitation_pairs_follow_the_paper(resolution, pairs):
    assert sle_pairs(resolution) == pairs


def test_skip_layer_excitation_gates_high_resolution_features_by_low_resolution_ones():
    torch.manual_seed(0)
    sle = SkipLayerExcitation(16, 8)
    high = torch.randn(2, 8, 64, 64)
    low_a, low_b = torch.randn(2, 16, 4, 4), torch.randn(2, 16, 4, 4)
    out_a, out_b = sle(low_a, high), sle(low_b, high)
    assert out_a.shape == high.shape
    assert (out_a - out_b).abs().max() > 1e-4  # other low-resolution features, other high-resolution ones
    gate = out_a / high  # one gate in (0, 1) per image and channel, the same at every pixel
    assert torch.allclose(gate, gate[:, :, :1, :1].expand_as(gate), atol=1e-5)
    assert gate.min() > 0 and gate.max() < 1


def test_the_generator_gates_its_64px_map_by_its_4px_map():
    G = build_generator(_cfg(64))
    with torch.no_grad():  # batch-norm statistics of G's own features, then eval mode: deterministic
        for m in G.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.momentum = None
        G(torch.randn(32, 16))
    G.eval()
    seen = {}
    G.sle["64"].register_forward_hook(lambda m, inputs, out: seen.update(low=inputs[0], high=inputs[1], out=out))
    z = torch.randn(2, 16)
    G(z)
    assert seen["low"].shape[-1] == 4 and seen["high"].shape[-1] == 64
    assert not torch.equal(seen["out"], seen["high"])
    before, high = seen["out"], seen["high"]
    # the same z with only the 4x4 map that reaches the gate changed: the same map before the gate, another after
    G.sle["64"].register_forward_pre_hook(lambda m, inputs: (inputs[0] + 1.0, inputs[1]))
    G(z)
    assert torch.equal(seen["high"], high) and (seen["out"] - before).abs().max() > 1e-3


def test_noise_is_fresh_in_training_and_fixed_in_eval_mode():
    G = build_generator(_cfg(32))
    noises = [m for m in G.modules() if isinstance(m, NoiseInjection)]
    assert noises
    for m in noises:
        m.weight.data.fill_(1.0)  # the paper starts them at 0
    z = torch.randn(2, 16)
    G.eval()
    with torch.no_grad():
        assert torch.equal(G(z), G(z))  # an image is a function of z alone: sampling, export, projection
        G.train()
        assert not torch.equal(G(z), G(z))


def _smooth_images(n=8, size=32):
    torch.manual_seed(1)
    return torch.nn.functional.interpolate(torch.rand(n, 3, 4, 4) * 2 - 1, size=size, mode="bilinear")


@pytest.mark.slow
def test_the_self_supervised_reconstruction_loss_falls_on_a_fixed_batch(one_thread):
    torch.manual_seed(0)
    D = build_discriminator(_cfg(32))
    real = _smooth_images(4)

    def loss_now():
        torch.manual_seed(5)  # the same quarter each time we measure
        with torch.no_grad():
            return D(real, with_reconstruction=True)[1].item()

    D.eval()
    before = loss_now()
    D.train()
    opt = torch.optim.Adam(D.parameters(), lr=2e-3)
    for _ in range(25):
        opt.zero_grad()
        D(real, with_reconstruction=True)[1].backward()
        opt.step()
    D.eval()
    assert loss_now() < 0.5 * before


def test_the_reconstruction_weight_scales_the_term_and_zero_turns_it_off():
    torch.manual_seed(0)
    D = build_discriminator(_cfg(32, options={"reconstruction_weight": 0.0}))
    logits, term = D(_smooth_images(2), with_reconstruction=True)
    assert logits.shape == (2,) and term.item() == 0.0


def test_its_training_defaults_are_the_papers():
    assert train_defaults("fastgan") == {"loss": "hinge", "augment": "color,translation", "ema": 0.999}


def test_train_applies_the_family_defaults_under_presets_and_flags(tiny_rgb32, tmp_path, capsys):
    from ganforge.cli import main

    base = ["train", "--data", str(tiny_rgb32), "--out", str(tmp_path / "r"), "--model", "fastgan", "--dry-run"]
    assert main(base) == 0
    cfg = json.loads(capsys.readouterr().out)["train"]
    assert (cfg["loss"], cfg["augment"], cfg["ema"]) == ("hinge", "color,translation", 0.999)
    assert main([*base, "--augment", "translation", "--loss", "rpgan"]) == 0
    cfg = json.loads(capsys.readouterr().out)["train"]
    assert (cfg["loss"], cfg["augment"], cfg["ema"]) == ("rpgan", "translation", 0.999)
