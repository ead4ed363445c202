"""The latent commands in-process: files they write, and one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import ganforge.latent as L
from conftest import run_cli


@pytest.mark.parametrize("out,count", [("morph.gif", 12), ("morph.mp4", 12), ("frames", 12)])
def test_interpolate_writes_the_frames(capsys, trained_run, tmp_path, out, count):
    code, stdout, err = run_cli(capsys, "interpolate", trained_run, "--seeds", "1,7,42", "--frames", count,
                                "--mode", "slerp", "--out", tmp_path / out)
    assert code == 0, err
    frames = L.read_video(tmp_path / out)
    assert frames.shape == (count, 32, 32, 3)


def test_interpolate_grid_loop_and_saved_latents(capsys, trained_run, tmp_path):
    assert run_cli(capsys, "midpoint", trained_run, "3", "9", "--out", tmp_path / "mid.png")[0] == 0
    code, _, err = run_cli(capsys, "interpolate", trained_run, "--seeds", f"1,{tmp_path / 'mid.npz'}",
                           "--seeds", "2,3,4", "--frames", 8, "--loop", "--mode", "sine", "--out", tmp_path / "g.gif")
    assert code == 0, err
    frames = L.read_video(tmp_path / "g.gif")
    assert frames.shape == (8, 32 + 4, 2 * 32 + 6, 3)


def test_midpoint_writes_latent_image_and_strip(capsys, trained_run, tmp_path):
    code, _, err = run_cli(capsys, "midpoint", trained_run, "3", "seed:9", "--out", tmp_path / "child.png")
    assert code == 0, err
    z, _ = L.load_latents(tmp_path / "child.npz")
    za, zb = L.sample_latents([3], 100), L.sample_latents([9], 100)
    assert np.allclose(z, L.midpoint(za, zb), atol=1e-6)
    assert Image.open(tmp_path / "child.png").size == (32, 32)
    assert Image.open(tmp_path / "child-strip.png").size == (3 * 32 + 8, 36)


def test_project_then_edit_and_midpoint_of_photos(capsys, trained_run, tmp_path):
    from ganforge.artifacts import load_generator

    G, cfg, _ = load_generator(trained_run)
    photo = L.render(G, L.sample_latents([55], cfg.latent_dim))[0]
    Image.fromarray(photo).resize((96, 96), Image.Resampling.LANCZOS).save(tmp_path / "photo.jpg", quality=95)
    code, out, err = run_cli(capsys, "project", trained_run, tmp_path / "photo.jpg", "--out", tmp_path / "p.npz",
                             "--steps", 40, "--restarts", 2)
    assert code == 0, err
    assert "PSNR" in out and "project: 40/40 steps" in err
    for name in ("p.png", "p-compare.png", "p-curve.png"):
        assert (tmp_path / name).stat().st_size > 100
    with np.load(tmp_path / "p.npz", allow_pickle=False) as f:
        assert f["latent"].shape == (100,) and f["losses"].shape == (40,) and f["image"].shape == (32, 32, 3)
    assert run_cli(capsys, "directions", trained_run, "--k", 4, "--samples", 200,
                   "--out", tmp_path / "dirs.npz")[0] == 0
    assert (tmp_path / "dirs.png").is_file()
    code, out, err = run_cli(capsys, "edit", trained_run, "--latent", tmp_path / "p.npz", "--direction", 3,
                             "--directions", tmp_path / "dirs.npz", "--amount", "-2..2", "--steps", 5,
                             "--out", tmp_path / "strip.png")
    assert code == 0, err
    assert Image.open(tmp_path / "strip.png").size == (5 * 34 + 2, 36)
    assert run_cli(capsys, "midpoint", trained_run, tmp_path / "p.npz", 4, "--out", tmp_path / "m.png")[0] == 0


def test_inpaint_command(capsys, trained_run, tmp_path):
    from ganforge.artifacts import load_generator

    G, cfg, _ = load_generator(trained_run)
    photo = L.render(G, L.sample_latents([8], cfg.latent_dim))[0]
    Image.fromarray(photo).save(tmp_path / "photo.png")
    mask = L.free_form_mask(32, seed=1)
    Image.fromarray((mask * 255).astype(np.uint8)).save(tmp_path / "mask.png")
    code, out, err = run_cli(capsys, "inpaint", trained_run, tmp_path / "photo.png", "--mask", tmp_path / "mask.png",
                             "--out", tmp_path / "filled.png", "--steps", 30, "--restarts", 2)
    assert code == 0, err
    filled = np.asarray(Image.open(tmp_path / "filled.png"))
    assert np.array_equal(filled[~mask], photo[~mask])
    assert (tmp_path / "filled-compare.png").is_file()


@pytest.mark.parametrize("argv,message", [
    (["interpolate", "RUN", "--seeds", "1", "--out", "x.gif"], "at least two"),
    (["interpolate", "RUN", "--seeds", "1,2", "--out", "x.avi"], ".gif or .mp4"),
    (["interpolate", "RUN", "--seeds", "1,banana", "--out", "x.gif"], "neither a seed"),
    (["project", "RUN", "missing.jpg", "--out", "p.npz"], "no image"),
    (["project", "RUN", "missing.jpg", "--out", "p.pkl"], ".npz"),
    (["edit", "RUN", "--latent", "1", "--direction", "0", "--out", "s.png"], "direction file"),
    (["edit", "RUN", "--latent", "1", "--direction", "0", "--amount", "a..b", "--out", "s.png"], "--amount"),
    (["midpoint", "RUN", "1", "2", "--class", "3", "--out", "m.png"], "conditional"),
])
def test_bad_input_is_one_line(capsys, trained_run, tmp_path, argv, message):
    argv = [str(trained_run) if a == "RUN" else a for a in argv]
    argv = [str(tmp_path / a) if a.endswith((".gif", ".avi", ".npz", ".pkl", ".png")) else a for a in argv]
    code, _, err = run_cli(capsys, *argv)
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1, err


def test_class_directions_of_a_labelled_run(capsys, tmp_path):
    """--classes: a classifier on D's features of the labelled data, then one latent direction per class."""
    from ganforge.config import ModelConfig, TrainConfig
    from ganforge.data.prepare import PrepareOptions, prepare
    from ganforge.train import train

    rng = np.random.default_rng(0)
    for name, lo, hi in (("dark", 0, 90), ("light", 165, 256)):
        (tmp_path / "src" / name).mkdir(parents=True)
        for i in range(48):
            Image.fromarray(rng.integers(lo, hi, (16, 16), dtype=np.uint8),
                            "L").save(tmp_path / "src" / name / f"{i}.png")
    prepare(str(tmp_path / "src"), tmp_path / "d.zip", PrepareOptions(resolution=16, channels=1, labels="subfolders",
                                                                      workers=1), progress=False)
    run = tmp_path / "run"
    train(TrainConfig(data=str(tmp_path / "d.zip"), out=str(run), steps=30, batch_size=16, sample_every=30,
                      checkpoint_every=30, n_samples=4), ModelConfig(family="mlp", width=8, latent_dim=16))
    code, out, err = run_cli(capsys, "directions", run, "--classes", "--samples", 300)
    assert code == 0, err
    dirs = L.Directions.load(run / "directions.npz")
    assert dirs.names == ["dark", "light"] and dirs.method == "class" and dirs.vectors.shape == (2, 16)
    assert "accuracy" in out
