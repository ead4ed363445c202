"""Run health (ganforge.health): each detector on a run made to fail that way, and a healthy run
that raises none."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch

from conftest import constant_generator, write_images
from ganforge import health
from ganforge.config import ModelConfig, TrainConfig
from ganforge.data.loader import BatchLoader, held_back_indices
from ganforge.health import read_health
from ganforge.runs import RunDir, read_jsonl
from ganforge.train import train


@pytest.fixture(scope="module")
def noise32(tmp_path_factory):
    """32 random 16x16 grey images: nothing to generalise from, everything to memorise."""
    from ganforge.data.prepare import PrepareOptions, prepare

    root = tmp_path_factory.mktemp("noise32")
    write_images(root / "src", 32, size=16, mode="L", seed=3)
    out = root / "noise32.zip"
    prepare(str(root / "src"), out, PrepareOptions(resolution=16, channels=1, workers=1), progress=False)
    return out


def checks(run) -> dict:
    state = read_health(run)
    assert state is not None, "no health.json"
    return state["checks"]


# ---- the measures and rules, fed directly ------------------------------------------------
def test_diversity_is_zero_for_identical_images_and_positive_otherwise():
    assert health.diversity(torch.zeros(8, 3, 32, 32)) == 0.0
    x = torch.rand(8, 3, 32, 32) * 2 - 1
    assert health.diversity(x) > 0.1


def recoloured(image: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """``n`` copies of one picture (C, H, W) on white, each drawn in its own colour and at a slightly
    different size: the partial collapse our benchmark's StyleGAN2 (Pokémon) and R3GAN (anime faces)
    runs ended in, where every latent gave the same picture in another tint."""
    g = torch.Generator().manual_seed(seed)
    side = image.shape[-1]
    out = []
    for _ in range(n):
        gain = torch.rand(3, 1, 1, generator=g) * 1.6 + 0.2
        s = int(side * (0.8 + 0.2 * float(torch.rand(1, generator=g))))
        small = torch.nn.functional.interpolate(image[None], size=(s, s), mode="bilinear", align_corners=False)[0]
        canvas = torch.ones_like(image)
        o = (side - s) // 2
        canvas[:, o:o + s, o:o + s] = small
        out.append((1 - (1 - canvas) * gain).clamp(-1, 1))  # recolour the drawing, keep the white
    return torch.stack(out)


def test_one_picture_in_many_colours_is_called_collapsed_and_the_data_is_not(pokemon32):
    from ganforge.data.dataset import load_dataset

    data = load_dataset(pokemon32)
    x = torch.from_numpy(np.array(data.images[:128])).permute(0, 3, 1, 2).float() / 127.5 - 1
    real = health.diversity(x[::2])
    for k in (0, 20, 40):  # a few different pictures
        found = health.collapse_finding(health.diversity(recoloured(x[2 * k], 64, seed=k)), real, step=5000)
        assert found.warning, found.measured
    other = health.collapse_finding(health.diversity(x[1::2]), real, step=5000)  # 64 other images of the data
    assert not other.warning and other.value > 0.8, other.measured


def test_stalled_metric_sequence():
    improving = [90, 80, 70, 65, 60, 55, 50, 45]
    stalled = [90, 60, 58, 59, 61, 60, 59, 58.5]
    assert health.stalled_finding(improving[:5], "fid", 5) is None  # too few evaluations to judge
    assert not health.stalled_finding(improving, "fid", 40).warning
    found = health.stalled_finding(stalled, "fid", 40)
    assert found.warning and "fid" in found.message and "--lr" in found.message


def test_divergence_watch_warns_once_per_streak_as_the_trainer_always_did():
    watch = health.DivergenceWatch(3)
    said = [watch.update({"d_acc": 1.0}, s) for s in range(1, 6)]
    assert [bool(x) for x in said] == [False, False, True, False, False]
    assert "little gradient" in said[2] and watch.finding.warning
    watch.update({"d_acc": 0.5}, 6)
    assert not watch.finding.warning
    assert [bool(watch.update({"d_acc": 1.0}, s)) for s in range(7, 10)] == [False, False, True]


def test_overfitting_from_ada_rt_and_from_held_back_scores():
    assert health.overfit_from_rt(0.95, 1).warning and not health.overfit_from_rt(0.6, 1).warning
    assert health.overfit_from_holdout(2.0, -1.0, -2.0, 1).warning        # held back scored near the fakes
    assert not health.overfit_from_holdout(2.0, 1.9, -2.0, 1).warning     # held back scored like training
    assert health.overfit_from_holdout(0.0, 0.0, 0.0, 1) is None           # D tells nothing apart yet


def test_checks_leave_networks_and_random_streams_as_they_were():
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Dropout(0.5))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    rng = torch.get_rng_state()
    with health.untouched(net):
        net(torch.randn(4, 1, 8, 8))
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert torch.equal(rng, torch.get_rng_state())


def test_held_back_images_never_reach_a_batch_and_zero_changes_nothing(tiny_dataset):
    from ganforge.data.dataset import load_dataset

    data = load_dataset(tiny_dataset)
    held = held_back_indices(len(data), 8)
    assert len(set(held.tolist())) == 8 and held.max() < len(data)
    plain, zero = BatchLoader(data, 16, seed=1), BatchLoader(data, 16, seed=1, held_back=0)
    for _ in range(10):
        assert torch.equal(next(plain)[0], next(zero)[0])
    loader = BatchLoader(data, 16, seed=1, held_back=8)
    held_images = torch.from_numpy(np.asarray(data.images[held])).float().div(127.5).sub(1).permute(0, 3, 1, 2)
    for _ in range(3 * loader.batches_per_epoch):
        batch = next(loader)[0]
        assert not (batch[:, None] == held_images[None]).flatten(2).all(2).any()


# ---- runs made to fail -------------------------------------------------------------------
def test_a_generator_forced_to_a_constant_is_called_collapsed(tiny_dataset, tmp_path, monkeypatch):
    monkeypatch.setattr(health, "COLLAPSE_AFTER", 0)  # judge from the first grid, not after 1,000 steps
    out = io.StringIO()
    cfg = TrainConfig(data=str(tiny_dataset), out=str(tmp_path / "r"), steps=12, batch_size=16, sample_every=6,
                      checkpoint_every=100, n_samples=16, lr_g=1e-12)
    train(cfg, ModelConfig(family="dcgan", width=8), out=out, initialise=constant_generator)
    found = checks(tmp_path / "r")["collapse"]
    assert found["warning"] and found["value"] < 0.01
    assert "fixed-latent samples" in found["message"] and "--augment" in found["message"]
    assert out.getvalue().count("collapse:") == 1  # said when it starts (step 6), not at every grid
    assert "warning: step 6: collapse" in out.getvalue()
    assert any(r.get("health", {}).get("collapse", {}).get("warning") for r in read_jsonl(RunDir(tmp_path / "r").log))


def rt_reader(at_grid: float, between: float):
    """A hook (run before the health check) that makes the step's logged ``ada_rt`` ``at_grid`` on sample-grid
    steps and ``between`` on the others: what the health check sees of ADA without training ADA."""
    def hook(trainer):
        trainer.last_stats["ada_rt"] = at_grid if trainer.step % trainer.cfg.sample_every == 0 else between
    return hook


@pytest.mark.parametrize("at_grid, between, warns", [(1.0, 0.25, False), (1.0, 1.0, True), (0.5, 1.0, True)])
def test_overfitting_is_judged_on_r_t_over_the_steps_since_the_last_grid(tiny_dataset, tmp_path, at_grid, between,
                                                                         warns):
    """One step's r_t is the mean sign of D on one batch (16 images: 1.0 by chance whenever D calls all of them
    real); ADA averages it over an interval before acting, and the health check over the steps since its last
    look, so one batch neither raises nor hides the warning."""
    cfg = TrainConfig(data=str(tiny_dataset), out=str(tmp_path / "r"), steps=12, batch_size=16, sample_every=6,
                      checkpoint_every=100, n_samples=16)
    train(cfg, ModelConfig(family="dcgan", width=8), out=io.StringIO(), hooks=[rt_reader(at_grid, between)])
    found = (read_health(tmp_path / "r") or {}).get("checks", {}).get("overfitting", {})
    if warns:
        expected = (at_grid + 5 * between) / 6
        assert found["warning"] and found["value"] == pytest.approx(expected)
        assert f"{expected:.0%}" in found["message"] and "6 steps" in found["message"]
    else:
        assert not found.get("warning")


@pytest.mark.slow
def test_a_strong_d_on_32_images_without_augmentation_is_called_overfitting(noise32, tmp_path):
    out = io.StringIO()
    cfg = TrainConfig(data=str(noise32), out=str(tmp_path / "r"), steps=60, batch_size=8, sample_every=20,
                      checkpoint_every=1000, n_samples=16, holdout=8, lr_d=1e-3)
    train(cfg, ModelConfig(family="dcgan", width=32), out=out)
    found = checks(tmp_path / "r")["overfitting"]
    assert found["warning"] and found["value"] > health.OVERFIT_RV
    assert "held-back" in found["message"] and "augment" in found["message"]
    assert "overfitting" in out.getvalue()


def test_a_stalled_metric_in_metrics_jsonl_is_reported(tiny_dataset, tmp_path, monkeypatch):
    """The stall check reads the tracked metric's records; here they are written by a stand-in evaluation."""
    scores = iter([50.0, 40.0, 41.0, 40.5, 42.0, 40.2, 41.0, 40.9])

    def fake_eval(trainer):
        if trainer.step % trainer.cfg.eval_every == 0:
            with open(trainer.run.metrics, "a") as f:
                f.write(json.dumps({"step": trainer.step, "fid[inception]": next(scores)}) + "\n")

    cfg = TrainConfig(data=str(tiny_dataset), out=str(tmp_path / "r"), steps=16, batch_size=16, sample_every=100,
                      checkpoint_every=100, n_samples=16, eval_every=2)
    monkeypatch.setattr("ganforge.train.EvalHook", lambda trainer, out: fake_eval)
    out = io.StringIO()
    train(cfg, ModelConfig(family="dcgan", width=8), out=out)
    found = checks(tmp_path / "r")["stalled"]
    assert found["warning"] and "fid" in found["message"]
    assert out.getvalue().count("warning: step 14: stalled: fid best 40.2") == 1
    assert out.getvalue().count("warning:") == 1


@pytest.mark.slow
def test_a_healthy_tiny_run_raises_nothing(pokemon32, tmp_path):
    out = io.StringIO()
    cfg = TrainConfig(data=str(pokemon32), out=str(tmp_path / "r"), steps=60, batch_size=16, sample_every=20,
                      checkpoint_every=1000, n_samples=16, holdout=16)
    train(cfg, ModelConfig(family="dcgan", width=16), out=out)
    state = read_health(tmp_path / "r")
    assert set(state["checks"]) == {"collapse", "overfitting"}  # both were measured
    assert state["warnings"] == [] and "warning" not in out.getvalue()


@pytest.mark.slow
def test_checks_change_neither_training_nor_resume(tiny_dataset, tmp_path, monkeypatch):
    """Held-back images and checks at every other step: resumed = straight = a run without the checks."""
    def cfg(out, steps):
        return TrainConfig(data=str(tiny_dataset), out=str(out), steps=steps, batch_size=16, seed=7, holdout=8,
                           sample_every=2, checkpoint_every=3, n_samples=8)

    model = ModelConfig(family="dcgan", width=8, latent_dim=8)
    train(cfg(tmp_path / "straight", 6), model, out=io.StringIO())
    train(cfg(tmp_path / "resumed", 3), model, out=io.StringIO())
    train(cfg(tmp_path / "resumed", 6), model, resume=True, out=io.StringIO())
    monkeypatch.setattr("ganforge.train.HealthHook", lambda trainer, out: (lambda t: None))
    train(cfg(tmp_path / "unwatched", 6), model, out=io.StringIO())
    assert read_health(tmp_path / "straight") is not None and read_health(tmp_path / "unwatched") is None
    final = {name: torch.load(tmp_path / name / "checkpoints" / "latest.pt", weights_only=True)
             for name in ("straight", "resumed", "unwatched")}
    for other in ("resumed", "unwatched"):
        for net in ("G", "D"):
            for key, value in final["straight"][net].items():
                assert torch.equal(value, final[other][net][key]), f"{other}: {net}.{key} differs"
