"""ADA (ganforge.ada): the pipeline's operations, p's controller, and --augment ada in training."""

import math

import pytest
import torch

from conftest import run_cli, write_images
from ganforge.ada import (
    COLOUR_OPS,
    DEFAULT_OPS,
    GEOMETRIC_OPS,
    OPS,
    AdaptiveAugment,
    adjusted_p,
    augment,
)
from ganforge.checkpoint import load_checkpoint
from ganforge.config import ModelConfig, TrainConfig
from ganforge.errors import ConfigError
from ganforge.losses import LOSSES
from ganforge.runs import RunDir, read_jsonl
from ganforge.train import Trainer, build_augment, check_names, train


def _images(n=8, channels=3, size=16, seed=0):
    return torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("channels", [1, 3])
def test_every_op_is_the_identity_at_p_zero_and_when_no_image_draws_it(op, channels):
    x = _images(channels=channels)
    assert augment(x, 0.0, torch.Generator().manual_seed(0), (op,)) is x
    # p > 0 runs the whole path, but no image draws the op: the identity up to rounding
    y = augment(x, 1e-12, torch.Generator().manual_seed(0), (op,))
    assert torch.allclose(y, x, atol=1e-5)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", [8, 32, 64])
def test_every_op_at_p_one_keeps_shape_and_range(op, channels, size):
    x = _images(n=16, channels=channels, size=size)
    y = augment(x, 1.0, torch.Generator().manual_seed(1), (op,))
    assert y.shape == x.shape and y.dtype == x.dtype and torch.isfinite(y).all()
    if op in COLOUR_OPS:
        # colour maps are not clamped (as in the paper); their draws are a few standard deviations at most
        assert y.abs().max() < 12
    else:  # resampling with reflection and cutout's zeros stay within the images' own values
        assert y.min() >= x.min() - 1e-5 and y.max() <= x.max() + 1e-5
    if channels == 3 or op not in ("hue", "saturation"):  # hue and saturation leave grey alone
        assert not torch.allclose(y, x, atol=1e-3)
    else:
        assert torch.allclose(y, x, atol=1e-5)


def test_flips_and_quarter_turns_are_exact_pixel_permutations():
    x = _images(n=32, size=16)
    y = augment(x, 1.0, torch.Generator().manual_seed(2), ("xflip", "rotate90"))
    seen = set()
    for a, b in zip(x, y):
        candidates = {(k, f): torch.rot90(a.flip(-1) if f else a, k, (1, 2)) for k in range(4) for f in (0, 1)}
        match = [key for key, c in candidates.items() if torch.equal(b, c)]
        assert match, "an output is not a flip/rotation of its input"
        seen.add(match[0])
    assert len(seen) > 3  # drawn per image


def test_integer_translation_moves_by_whole_pixels_with_mirrored_borders():
    x = _images(n=8, size=16)
    y = augment(x, 1.0, torch.Generator().manual_seed(3), ("xint",))
    # every output pixel is some input pixel of the same image and channel (no interpolation)
    for a, b in zip(x, y):
        values = set(a.flatten().tolist())
        assert all(v in values for v in b.flatten().tolist())


def test_grey_images_take_the_luma_flip_as_a_negation():
    x = _images(channels=1)
    y = augment(x, 1.0, torch.Generator().manual_seed(0), ("lumaflip",))
    flipped = [torch.allclose(b, -a, atol=1e-5) for a, b in zip(x, y)]
    unchanged = [torch.allclose(b, a, atol=1e-5) for a, b in zip(x, y)]
    assert all(f or u for f, u in zip(flipped, unchanged)) and any(flipped) and any(unchanged)


def test_the_pipeline_is_differentiable_and_reproducible_from_its_generator():
    x = _images(n=4).requires_grad_(True)
    y = augment(x, 1.0, torch.Generator().manual_seed(4), OPS)
    (y * torch.randn_like(y)).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    again = augment(x.detach(), 1.0, torch.Generator().manual_seed(4), OPS)
    assert torch.equal(y.detach(), again)


def test_gradients_reach_the_generator_through_ada():
    from ganforge import models

    cfg = models.validate(ModelConfig(family="dcgan", resolution=16, channels=3, width=8, latent_dim=8))
    G, D = models.build_generator(cfg), models.build_discriminator(cfg)
    ada = AdaptiveAugment(torch.Generator().manual_seed(0), p=1.0, target=None)
    loss = LOSSES["bce"](ada)
    value, _ = loss.g_loss(G, D, torch.randn(4, 8), None)
    value.backward()
    grads = [p.grad for p in G.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(g.abs().sum() for g in grads) > 0


# ---- p's controller -------------------------------------------------------------------------

def test_adjustment_moves_p_by_the_papers_speed_and_stays_in_zero_one():
    step = 64 * 4 / 500_000  # 500k images from 0 to 1, adjusted every 4 steps of 64
    assert adjusted_p(0.0, 0.9, 0.6, 256, 500) == pytest.approx(step)
    assert adjusted_p(0.0, 0.1, 0.6, 256, 500) == 0.0
    assert adjusted_p(0.5, 0.1, 0.6, 256, 500) == pytest.approx(0.5 - step)
    assert adjusted_p(1.0, 0.9, 0.6, 256, 500) == 1.0
    assert adjusted_p(0.3, 0.6, 0.6, 256, 500) == 0.3


def test_p_rises_when_d_overfits_and_stays_at_zero_when_it_does_not():
    overfit = AdaptiveAugment(torch.Generator(), target=0.6, interval=4, speed_kimg=1, batch_size=25)
    fine = AdaptiveAugment(torch.Generator(), target=0.6, interval=4, speed_kimg=1, batch_size=25)
    ps = []
    for _ in range(20):
        overfit.update({"ada_rt": torch.tensor(0.9)})
        fine.update({"ada_rt": torch.tensor(0.2)})
        ps.append(overfit.p)
    assert ps[:3] == [0.0] * 3 and ps[3] == pytest.approx(0.1)  # one adjustment per 4 steps of 25 images
    assert overfit.p == pytest.approx(0.5)
    assert fine.p == 0.0


def test_the_interval_mean_decides_and_non_finite_steps_are_ignored():
    ada = AdaptiveAugment(torch.Generator(), target=0.6, interval=4, speed_kimg=1, batch_size=25)
    for rt in (1.0, 1.0, float("nan"), 0.0, 0.2):  # mean of the four finite ones: 0.55 < 0.6
        ada.update({"ada_rt": torch.tensor(rt)})
    assert ada.p == 0.0 and ada.rt_steps == 0


def test_a_fixed_p_never_moves():
    ada = AdaptiveAugment(torch.Generator(), p=0.3, target=None, interval=1)
    for _ in range(8):
        ada.update({"ada_rt": torch.tensor(1.0)})
    assert ada.p == 0.3


@pytest.mark.parametrize("loss, real, fake, expected", [
    ("bce", [1.0, -1.0, 2.0, 3.0], [0.0] * 4, 0.5),
    ("hinge", [1.0, -1.0, 2.0, 3.0], [0.0] * 4, 0.5),
    ("lsgan", [0.4, 0.6, 0.7, 0.9], [0.0] * 4, 0.5),   # LSGAN's boundary is 0.5
    ("wgan-gp", [5.0, 7.0, 9.0, 11.0], [1.0] * 4, 1.0),  # a critic's: the midpoint of real and fake means
])
def test_each_loss_reports_r_t_against_its_own_decision_boundary(loss, real, fake, expected):
    ada = AdaptiveAugment(torch.Generator(), p=0.25)
    stats = LOSSES[loss](ada).augment_stats(torch.tensor(real), torch.tensor(fake))
    assert float(stats["ada_rt"]) == pytest.approx(expected) and float(stats["ada_p"]) == 0.25
    assert LOSSES[loss](None).augment_stats(torch.tensor(real), torch.tensor(fake)) == {}


# ---- in training ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def few_images(tmp_path_factory):
    """32 random 16x16 RGB images: a data set D overfits at once."""
    from ganforge.data.prepare import PrepareOptions, prepare

    root = tmp_path_factory.mktemp("few")
    write_images(root / "src", 32, size=16)
    out = root / "few16.zip"
    prepare(str(root / "src"), out, PrepareOptions(resolution=16, channels=3, workers=1), progress=False)
    return out


def _cfg(data, out, steps, **kw):
    values = {"data": str(data), "out": str(out), "steps": steps, "batch_size": 16, "seed": 3, "sample_every": 1000,
              "checkpoint_every": 1000, "n_samples": 4, "precision": "fp32", "device": "cpu", "augment": "ada",
              "ada_kimg": 0.5, "lr_d": 1e-3}  # a D that overfits 32 images at once, and a p that moves fast
    return TrainConfig(**{**values, **kw})


@pytest.mark.parametrize("family", ["dcgan", "resnet"])
def test_p_rises_in_training_where_d_overfits_and_is_logged_each_step(family, few_images, tmp_path, one_thread):
    steps = 24
    train(_cfg(few_images, tmp_path / "r", steps), ModelConfig(family=family, width=8, latent_dim=8))
    log = read_jsonl(RunDir(tmp_path / "r").log)
    assert [r["step"] for r in log] == list(range(1, steps + 1))
    assert all("ada_p" in r and "ada_rt" in r for r in log)
    assert log[0]["ada_p"] == 0.0
    assert all(-1 <= r["ada_rt"] <= 1 for r in log)
    assert log[-1]["ada_p"] > 0.2  # D tells 32 noise images from G's at once: r_t ~ 1, p climbs
    assert (RunDir(tmp_path / "r").loss_plot).is_file()
    saved = load_checkpoint(RunDir(tmp_path / "r").latest_checkpoint)["ada"]
    assert saved["p"] >= log[-1]["ada_p"]


def test_augment_p_fixes_p(few_images, tmp_path, one_thread, capsys):
    code, _, err = run_cli(capsys, "train", "--data", few_images, "--out", tmp_path / "r", "--steps", "6",
                           "--batch-size", "16", "--width", "8", "--latent-dim", "8", "--augment", "ada",
                           "--augment-p", "0.3", "--ada-kimg", "0.1", "--sample-every", "100")
    assert code == 0, err
    assert [r["ada_p"] for r in read_jsonl(RunDir(tmp_path / "r").log)] == [pytest.approx(0.3)] * 6


def test_ada_options_are_checked(capsys, few_images, tmp_path):
    with pytest.raises(ConfigError, match="needs --augment ada"):
        check_names(TrainConfig(augment="color", augment_p=0.5))
    with pytest.raises(ConfigError, match="or 'ada' alone"):
        check_names(TrainConfig(augment="ada,color"))
    with pytest.raises(ConfigError, match="probability"):
        TrainConfig(augment="ada", augment_p=1.5).validate()
    code, _, err = run_cli(capsys, "train", "--data", few_images, "--out", tmp_path / "r", "--augment-p", "0.5")
    assert code != 0 and "needs --augment ada" in err and "Traceback" not in err
    assert isinstance(build_augment(TrainConfig(augment="ada"), torch.Generator()), AdaptiveAugment)


def test_resume_with_ada_is_exact(few_images, tmp_path, one_thread):
    """Stopped mid-interval (step 6 of intervals of 4) while p moves: the same weights, p and log as straight."""
    model = ModelConfig(family="dcgan", width=8, latent_dim=8)
    straight = Trainer(_cfg(few_images, tmp_path / "straight", 11), model)
    straight.fit()

    train(_cfg(few_images, tmp_path / "resumed", 6), ModelConfig(family="dcgan", width=8, latent_dim=8))
    resumed = Trainer(_cfg(few_images, tmp_path / "resumed", 11), ModelConfig(family="dcgan", width=8, latent_dim=8),
                      resume=True)
    assert resumed.ada.rt_steps == 2  # the partial interval came back
    resumed.fit()
    assert straight.ada.p > 0 and resumed.ada.state_dict() == straight.ada.state_dict()
    for name in ("G", "D"):
        a, b = getattr(straight, name).state_dict(), getattr(resumed, name).state_dict()
        for key in a:
            assert torch.equal(a[key], b[key]), f"{name}.{key} differs after resume"
    logs = [[{k: v for k, v in r.items() if k not in ("time", "img_per_s")} for r in read_jsonl(RunDir(run).log)]
            for run in (tmp_path / "straight", tmp_path / "resumed")]
    assert logs[0] == logs[1]


def test_every_op_is_listed_in_one_group():
    assert set(GEOMETRIC_OPS) | set(COLOUR_OPS) | {"cutout"} == set(OPS)
    assert "cutout" not in DEFAULT_OPS and math.isclose(len(DEFAULT_OPS), 12)
