"""The inpainter family (issue 17 point 5): a generator that fills holes in one pass, trained with L1 on
random holes against DCGAN's discriminator; ``ganforge inpaint`` runs it once per image."""

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import run_cli
from ganforge.checkpoint import load_checkpoint
from ganforge.config import ModelConfig, TrainConfig
from ganforge.holes import random_masks
from ganforge.losses.inpainter import InpainterLoss, hole_l1
from ganforge.models import build_discriminator, build_generator, dcgan, init_weights, resolved_options
from ganforge.runs import RunDir, read_jsonl
from ganforge.train import train


def _cfg(resolution=16, channels=1, **options):
    return ModelConfig(family="inpainter", resolution=resolution, channels=channels, width=4, options=options)


@pytest.mark.parametrize("resolution,channels", [(16, 1), (32, 3), (64, 3)])
def test_shapes_and_the_known_pixels_come_back_unchanged(resolution, channels):
    cfg = _cfg(resolution, channels)
    G, D = build_generator(cfg), build_discriminator(cfg)
    assert type(D) is dcgan.Discriminator  # the unchanged DCGAN discriminator
    x = torch.rand(3, channels, resolution, resolution) * 2 - 1
    mask = random_masks(3, resolution, "both", torch.Generator().manual_seed(1))
    out = G(x, mask)
    assert out.shape == x.shape and D(out).shape == (3,)
    known = (mask == 0).expand_as(x)
    assert torch.equal(out[known], x[known])
    assert out.min() >= -1 and out.max() <= 1
    # whatever the hole held before is ignored
    assert torch.equal(G(torch.where(known, x, torch.full_like(x, 0.7)), mask), out)


def test_masks_are_seeded_and_of_each_kind():
    a = random_masks(8, 32, "both", torch.Generator().manual_seed(3))
    b = random_masks(8, 32, "both", torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.shape == (8, 1, 32, 32)
    rect = random_masks(16, 32, "rect", torch.Generator().manual_seed(0))
    for m in rect[:, 0]:
        rows, cols = m.any(1).nonzero(), m.any(0).nonzero()
        h, w = len(rows), len(cols)
        assert 8 <= h <= 16 and 8 <= w <= 16 and m.sum() == h * w  # one filled rectangle
    free = random_masks(16, 32, "free", torch.Generator().manual_seed(0)).mean((1, 2, 3))
    assert (free > 0.03).all() and (free < 0.6).all()
    with pytest.raises(ValueError):
        random_masks(1, 32, "circle", torch.Generator())


def test_the_reconstruction_loss_falls_on_a_fixed_batch(one_thread):
    torch.manual_seed(0)
    cfg = _cfg(16, 1, adv_weight=0.0)
    G, D = build_generator(cfg), build_discriminator(cfg)
    init_weights(G)
    loss = InpainterLoss(family_options=resolved_options(cfg))
    real = torch.linspace(-1, 1, 16).view(1, 1, 1, 16).expand(4, 1, 16, 16).contiguous()  # smooth: a hole is inferable
    opt = torch.optim.Adam(G.parameters(), lr=2e-3)
    first = None
    for _ in range(30):
        loss.holes.manual_seed(0)  # the same holes each step
        value, stats = loss.g_step(G, D, real, None, None)
        opt.zero_grad()
        value.backward()
        opt.step()
        first = first if first is not None else float(stats["hole_l1"])
    assert float(stats["hole_l1"]) < 0.8 * first
    assert set(stats) == {"hole_l1", "g_adv", "g_loss"}


def test_hole_l1_counts_the_hole_only():
    real = torch.zeros(1, 3, 4, 4)
    out = torch.ones(1, 3, 4, 4)
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., :2, :] = 1
    assert hole_l1(out, real, mask) == 1.0
    assert hole_l1(real, real, mask) == 0.0


def _train(data, out, steps, **options):
    cfg = TrainConfig(data=str(data), out=str(out), loss="inpainter", batch_size=8, steps=steps, device="cpu",
                      sample_every=2, checkpoint_every=100, n_samples=4, precision="fp32", channels_last="off")
    return train(cfg, _cfg(16, 1, **options), out=open("/dev/null", "w"))


@pytest.mark.parametrize("options", [{}, pytest.param({"adversarial": "hinge", "masks": "free"},
                                                      marks=pytest.mark.slow)])
def test_trains_samples_and_resumes_exactly(tiny_dataset, tmp_path, options, one_thread):
    whole, half = tmp_path / "whole", tmp_path / "half"
    _train(tiny_dataset, whole, 4, **options)
    _train(tiny_dataset, half, 2, **options)
    cfg = TrainConfig.from_dict(RunDir(half).read_config()["train"])
    cfg.steps, cfg.out = 4, str(half)
    train(cfg, ModelConfig.from_dict(RunDir(half).read_config()["model"]), resume=True, out=open("/dev/null", "w"))
    a, b = (load_checkpoint(RunDir(r).latest_checkpoint) for r in (whole, half))
    for side in ("G", "D"):
        for k in a[side]:
            assert torch.equal(a[side][k], b[side][k]), (side, k)
    assert torch.equal(a["loss"]["holes"], b["loss"]["holes"])
    log = read_jsonl(RunDir(whole).log)
    assert [r["step"] for r in log] == [1, 2, 3, 4]
    assert {"hole_l1", "g_adv", "d_loss", "d_acc"} <= set(log[-1])
    grid = Image.open(RunDir(whole).latest_samples)
    assert grid.size == (2 + 4 * 18, 2 + 3 * 18)  # 4 columns: masked input, completion, original


@pytest.fixture(scope="module")
def inpainter_run(tiny_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("inpainter") / "run"
    _train(tiny_dataset, out, 2)
    return out


def test_inpaint_on_an_inpainter_run_is_one_pass_and_keeps_the_known_pixels(inpainter_run, tmp_path, capsys):
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (16, 16), dtype=np.uint8)
    Image.fromarray(photo, "L").save(tmp_path / "photo.png")
    hole = np.zeros((16, 16), np.uint8)
    hole[4:10, 5:12] = 255
    Image.fromarray(hole, "L").save(tmp_path / "mask.png")
    code, out, err = run_cli(capsys, "inpaint", inpainter_run, tmp_path / "photo.png", "--mask", tmp_path / "mask.png",
                             "--out", tmp_path / "filled.png")
    assert code == 0, err
    assert "one forward pass" in out
    filled = np.asarray(Image.open(tmp_path / "filled.png").convert("L"))
    known = hole == 0
    assert np.array_equal(filled[known], photo[known])
    assert (tmp_path / "filled-compare.png").is_file()


@pytest.mark.parametrize("argv", [
    ["generate", "{run}", "--out", "{tmp}/g.png"],
    ["interpolate", "{run}", "--seeds", "1,2", "--out", "{tmp}/m.gif"],
    ["project", "{run}", "{tmp}/photo.png", "--out", "{tmp}/p.npz"],
    ["midpoint", "{run}", "1", "2", "--out", "{tmp}/mid.png"],
    ["export", "{run}", "--out", "{tmp}/exp"],
])
def test_the_latent_tools_refuse_an_inpainter_run_in_one_line(inpainter_run, tmp_path, capsys, argv):
    Image.fromarray(np.zeros((16, 16), np.uint8), "L").save(tmp_path / "photo.png")
    code, out, err = run_cli(capsys, *[a.format(run=inpainter_run, tmp=tmp_path) for a in argv])
    assert code != 0
    assert "inpaint" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_inpaint_options_of_latent_optimisation_are_refused_for_an_inpainter(inpainter_run, tmp_path, capsys):
    Image.fromarray(np.zeros((16, 16), np.uint8), "L").save(tmp_path / "photo.png")
    code, _, err = run_cli(capsys, "inpaint", inpainter_run, tmp_path / "photo.png", "--mask", tmp_path / "photo.png",
                           "--out", tmp_path / "f.png", "--psi", "0.7")
    assert code != 0 and "one pass" in err


def test_an_inpainter_trains_with_its_own_loss_only(tiny_dataset, tmp_path):
    from ganforge.errors import ConfigError

    cfg = TrainConfig(data=str(tiny_dataset), out=str(tmp_path / "x"), loss="bce", batch_size=4, steps=1)
    with pytest.raises(ConfigError, match="--loss inpainter"):
        train(cfg, _cfg(16, 1), out=open("/dev/null", "w"))
    cfg = TrainConfig(data=str(tiny_dataset), out=str(tmp_path / "y"), loss="inpainter", batch_size=4, steps=1,
                      eval_every=1)
    with pytest.raises(ConfigError, match="eval-every"):
        train(cfg, _cfg(16, 1), out=open("/dev/null", "w"))
