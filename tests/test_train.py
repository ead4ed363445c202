import json
import math

import pytest
import torch

from ganforge.artifacts import load_generator
from ganforge.checkpoint import load_checkpoint
from ganforge.config import ModelConfig, TrainConfig
from ganforge.errors import ConfigError
from ganforge.runs import read_jsonl
from ganforge.train import Trainer, train


def test_short_run_on_pokemon_leaves_a_complete_run(trained_run):
    assert (trained_run / "checkpoints" / "latest.pt").is_file()
    assert (trained_run / "checkpoints" / "step-0000006.pt").is_file()
    assert (trained_run / "samples" / "latest.png").is_file()
    assert (trained_run / "samples" / "step-0000012.png").is_file()
    assert (trained_run / "loss.png").stat().st_size > 1000
    records = read_jsonl(trained_run / "log.jsonl")
    assert [r["step"] for r in records] == list(range(1, 13))
    for r in records:
        for key in ("d_loss", "g_loss", "d_real", "d_fake", "d_acc"):
            assert math.isfinite(r[key]), (key, r)
    config = json.loads((trained_run / "config.json").read_text())
    assert config["model"]["resolution"] == 32 and config["data"]["count"] == 809


def test_checkpoint_round_trip(trained_run):
    state = load_checkpoint(trained_run / "checkpoints" / "latest.pt")
    assert state["step"] == 12
    G, cfg, _ = load_generator(trained_run)
    assert cfg == ModelConfig.from_dict(state["model_config"])
    for name, tensor in G.state_dict().items():
        assert torch.equal(tensor, state["G"][name])
    z = torch.randn(3, cfg.latent_dim)
    G2, _, _ = load_generator(trained_run / "checkpoints" / "latest.pt")
    assert torch.equal(G(z), G2(z))


def _final_weights(run_dir) -> dict:
    return load_checkpoint(run_dir / "checkpoints" / "latest.pt")


@pytest.mark.parametrize("family,precision", [("dcgan", "auto"), ("dcgan", "bf16"), ("mlp", "fp32")])
def test_resume_reproduces_the_uninterrupted_run(tmp_path, tiny_dataset, family, precision):
    """Stop at step 5, resume to 10: same weights, optimiser state and log as 10 steps straight."""
    def cfg(out, steps):
        return TrainConfig(data=str(tiny_dataset), out=str(out), steps=steps, batch_size=16, seed=7,
                           precision=precision, sample_every=4, checkpoint_every=3, n_samples=4)

    model = dict(family=family, width=8, latent_dim=8)
    train(cfg(tmp_path / "straight", 10), ModelConfig(**model))
    train(cfg(tmp_path / "resumed", 5), ModelConfig(**model))
    train(cfg(tmp_path / "resumed", 10), ModelConfig(**model), resume=True)
    a, b = _final_weights(tmp_path / "straight"), _final_weights(tmp_path / "resumed")
    assert a["step"] == b["step"] == 10
    for net in ("G", "D"):
        for name in a[net]:
            assert torch.equal(a[net][name], b[net][name]), f"{net}.{name} differs"
    assert torch.equal(a["opt_G"]["state"][0]["exp_avg"], b["opt_G"]["state"][0]["exp_avg"])
    log_a = [(r["step"], r["d_loss"], r["g_loss"]) for r in read_jsonl(tmp_path / "straight" / "log.jsonl")]
    log_b = [(r["step"], r["d_loss"], r["g_loss"]) for r in read_jsonl(tmp_path / "resumed" / "log.jsonl")]
    assert log_a == log_b


@pytest.mark.slow
@pytest.mark.parametrize("family,options,extra,logged", [
    ("fastgan", {}, dict(loss="hinge", augment="color,translation"), "d_self_supervised"),
    ("r3gan", {"group_width": 4}, dict(loss="rpgan", r1_gamma=0.1, r2_gamma=0.1, augment="translation", beta1=0.0),
     "r2"),
])
def test_resume_is_exact_for_the_small_data_families(tmp_path, tiny_rgb32, one_thread, family, options, extra, logged):
    """FastGAN (noise, D's random quarter, SLE) and R3GAN (rpgan with R1 and R2): stop at 3, resume to 6."""
    def cfg(out, steps):
        return TrainConfig(data=str(tiny_rgb32), out=str(out), steps=steps, batch_size=8, seed=3, precision="fp32",
                           ema=0.9, sample_every=3, checkpoint_every=2, n_samples=4, **extra)

    model = {"family": family, "width": 4 if family == "fastgan" else 2, "latent_dim": 8, "options": options}
    train(cfg(tmp_path / "straight", 6), ModelConfig(**model))
    train(cfg(tmp_path / "resumed", 3), ModelConfig(**model))
    train(cfg(tmp_path / "resumed", 6), ModelConfig(**model), resume=True)
    a, b = _final_weights(tmp_path / "straight"), _final_weights(tmp_path / "resumed")
    for net in ("G", "D", "G_ema"):
        for name in a[net]:
            assert torch.equal(a[net][name], b[net][name]), f"{net}.{name} differs"
    log_a, log_b = read_jsonl(tmp_path / "straight" / "log.jsonl"), read_jsonl(tmp_path / "resumed" / "log.jsonl")
    losses = ("step", "d_loss", "g_loss")
    assert [[r[k] for k in losses] for r in log_a] == [[r[k] for k in losses] for r in log_b]
    assert all(r[logged] > 0 for r in log_a)  # the family's own term ran on every step


def test_resume_drops_log_records_past_the_checkpoint(tmp_path, tiny_dataset):
    cfg = TrainConfig(data=str(tiny_dataset), out=str(tmp_path / "r"), steps=4, batch_size=16, n_samples=4)
    train(cfg, ModelConfig(family="dcgan", width=8, latent_dim=8))
    log = tmp_path / "r" / "log.jsonl"
    with open(log, "a") as f:  # as if the process died after logging steps it never checkpointed
        f.write(json.dumps({"step": 5, "d_loss": 0, "g_loss": 0}) + "\n" + '{"step": 6, "d_lo')
    cfg.steps = 6
    train(cfg, ModelConfig(family="dcgan", width=8, latent_dim=8), resume=True)
    assert [r["step"] for r in read_jsonl(log)] == [1, 2, 3, 4, 5, 6]
    assert all(r["d_loss"] != 0 for r in read_jsonl(log))


def test_sigterm_saves_a_checkpoint_and_stops(tmp_path, tiny_dataset):
    import os
    import signal

    cfg = TrainConfig(data=str(tiny_dataset), out=str(tmp_path / "r"), steps=1000, batch_size=16, n_samples=4,
                      checkpoint_every=10_000, sample_every=10_000)
    trainer = Trainer(cfg, ModelConfig(family="dcgan", width=8, latent_dim=8))
    original = trainer.train_step

    def step_then_signal():
        stats = original()
        if trainer.step == 2:  # the third step receives the signal
            os.kill(os.getpid(), signal.SIGTERM)
        return stats

    trainer.train_step = step_then_signal
    result = trainer.fit()
    assert result.stopped_by == "SIGTERM"
    assert load_checkpoint(tmp_path / "r" / "checkpoints" / "latest.pt")["step"] == result.step == 3


def test_a_run_directory_is_not_overwritten(trained_run, pokemon32):
    with pytest.raises(ConfigError, match="already holds a run"):
        Trainer(TrainConfig(data=str(pokemon32), out=str(trained_run), steps=1), ModelConfig())


def test_mismatched_resolution_is_refused(tmp_path, pokemon32):
    with pytest.raises(ConfigError, match="32x32 images but the model was set to 64"):
        Trainer(TrainConfig(data=str(pokemon32), out=str(tmp_path / "r"), steps=1), ModelConfig(resolution=64))
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_dcgan_learns_fashion_mnist_garments(tmp_path):
    """A few hundred steps on Fashion-MNIST move D's accuracy off 100 % and G's samples off noise."""
    from ganforge.data.fashion_mnist import find_files
    from ganforge.data.prepare import PrepareOptions, prepare
    from ganforge.errors import DataError

    try:
        find_files(allow_download=False)
    except DataError:
        pytest.skip("Fashion-MNIST files are not installed")
    data = tmp_path / "fm.zip"
    prepare("fashion-mnist:test", data, PrepareOptions(), progress=False)
    result = train(TrainConfig(data=str(data), out=str(tmp_path / "r"), steps=150, batch_size=64,
                               sample_every=1000, n_samples=16), ModelConfig(family="dcgan", width=32))
    records = read_jsonl(result.run_dir / "log.jsonl")
    assert len(records) == 150
    late = records[-50:]
    assert sum(r["d_acc"] for r in late) / len(late) < 0.99


def test_one_weight_average_flag_replaces_the_other_from_a_family_or_preset(tmp_path, capsys):
    """--ema (a decay per step) and --ema-kimg (a half-life in images) set one average: giving either replaces
    the other one that a family's defaults or a preset brought, instead of failing as if both were given."""
    import json

    from conftest import run_cli

    def train_cfg(*argv):
        code, out, err = run_cli(capsys, "train", "--data", "d.zip", "--out", tmp_path / "r", "--dry-run", *argv)
        assert code == 0, err
        cfg = json.loads(out)["train"]
        return cfg["ema"], cfg["ema_kimg"]

    assert train_cfg("--model", "stylegan2") == (0.0, 10.0)  # the family's half-life
    assert train_cfg("--model", "stylegan2", "--ema", "0.99") == (0.99, 0.0)
    assert train_cfg("--model", "fastgan") == (0.999, 0.0)  # the family's decay
    assert train_cfg("--model", "fastgan", "--ema-kimg", "5") == (0.0, 5.0)
    assert train_cfg("--preset", "stylegan2-cpu-32", "--ema", "0.995") == (0.995, 0.0)
    assert train_cfg("--preset", "fastgan-small-data", "--ema", "0") == (0.0, 0.0)  # no average at all
    assert train_cfg("--preset", "fastgan-small-data", "--model", "stylegan2") == (0.999, 0.0)  # the preset's, alone
    code, _, err = run_cli(capsys, "train", "--data", "d.zip", "--out", tmp_path / "r", "--dry-run",
                           "--ema", "0.99", "--ema-kimg", "5")
    assert code != 0 and "give one" in err and "Traceback" not in err  # both on one command line: ambiguous


def test_resume_names_the_average_chosen_not_the_field_a_flag_replaced(tmp_path, capsys, tiny_dataset):
    from conftest import run_cli

    out = tmp_path / "r"
    code, _, err = run_cli(capsys, "train", "--data", tiny_dataset, "--out", out, "--steps", "2", "--width", "8",
                           "--latent-dim", "8", "--batch-size", "16", "--ema-kimg", "1")
    assert code == 0, err
    code, _, err = run_cli(capsys, "train", "--out", out, "--resume", "--steps", "3", "--ema", "0.99")
    assert code == 1 and "--ema 0.99 (the run: --ema-kimg 1.0)" in err, err
    assert "--ema-kimg 0" not in err and "Traceback" not in err
