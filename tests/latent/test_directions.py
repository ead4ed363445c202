"""``ganforge directions`` on conditional and collapsed runs: files, previews, one-line errors, warnings."""

from __future__ import annotations

import pytest
import torch

import ganforge.latent as L
from conftest import labelled_dataset, run_cli
from ganforge.checkpoint import load_checkpoint, save_checkpoint
from ganforge.config import ModelConfig, TrainConfig
from ganforge.runs import RunDir
from ganforge.train import train

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def labelled_runs(tmp_path_factory):
    """Runs of 4 steps of the two conditional families on dark vs light noise."""
    root = tmp_path_factory.mktemp("directions")
    data = labelled_dataset(root, {"dark": (0, 90), "light": (165, 256)}, 24)
    runs = {}
    for family in ("cgan", "acgan"):
        runs[family] = root / family
        train(TrainConfig(data=str(data), out=str(runs[family]), steps=4, batch_size=16, sample_every=4,
                          checkpoint_every=4, n_samples=4), ModelConfig(family=family, width=8, latent_dim=16))
    return runs


@pytest.mark.parametrize("family", ["cgan", "acgan"])
def test_directions_of_a_conditional_run_without_class(capsys, labelled_runs, family, tmp_path):
    out = tmp_path / "dirs.npz"
    code, stdout, err = run_cli(capsys, "directions", labelled_runs[family], "--k", 3, "--samples", 64, "--out", out)
    assert code == 0, err
    assert L.Directions.load(out).vectors.shape == (3, 16) and (tmp_path / "dirs.png").is_file()
    # The preview shows seed 0 in the class that seed 0 draws everywhere else.
    assert "class " in stdout


@pytest.mark.parametrize("family", ["cgan", "acgan"])
def test_class_directions_of_a_conditional_run_is_a_one_line_error(capsys, labelled_runs, family, tmp_path):
    code, _, err = run_cli(capsys, "directions", labelled_runs[family], "--classes", "--samples", 64,
                           "--out", tmp_path / "dirs.npz")
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and lines[0].startswith("ganforge: error: ") and "--class" in lines[0], err
    assert not (tmp_path / "dirs.npz").exists()


def test_directions_of_a_collapsed_generator_warn(capsys, labelled_runs, tmp_path):
    """A generator whose images do not depend on the latent: the file is written, with a warning."""
    run = tmp_path / "collapsed"
    ckpt = RunDir(run).latest_checkpoint
    ckpt.parent.mkdir(parents=True)
    state = load_checkpoint(RunDir(labelled_runs["cgan"]).latest_checkpoint)
    for key in ("G", "G_ema"):
        if state.get(key) is not None:
            state[key] = {k: torch.zeros_like(v) if k.endswith("weight") else v for k, v in state[key].items()}
    save_checkpoint(ckpt, state)
    code, _, err = run_cli(capsys, "directions", ckpt, "--k", 3, "--samples", 64, "--out", tmp_path / "dirs.npz")
    assert code == 0, err
    assert (tmp_path / "dirs.npz").is_file()
    assert "warning" in err and "collapsed" in err, err

    code, _, err = run_cli(capsys, "directions", labelled_runs["cgan"], "--k", 3, "--samples", 64,
                           "--out", tmp_path / "healthy.npz")
    assert code == 0 and "warning" not in err, err
