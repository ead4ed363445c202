"""One rule for which class a seed draws (issue 14 point 1): seed s draws class s mod K, and the
same seed gives the same class and the same pixels through every path that renders it."""

import io
import math

import numpy as np
import pytest
from PIL import Image

from conftest import labelled_dataset
from ganforge.artifacts import load_generator
from ganforge.cli import main
from ganforge.config import ModelConfig, TrainConfig
from ganforge.metrics.evaluate import generate_images
from ganforge.runs import RunDir
from ganforge.sampling import images_for_seeds, labels_for_seeds, resolve_class
from ganforge.train import train
from ganforge.web import create_app

K = 3          # classes in the data set
N_SAMPLES = 7  # the training grid shows seeds 0..6: every class, and seeds s and s + K
SIDE = 16
PAD = 2        # image_grid's padding


@pytest.fixture(scope="module")
def three_levels(tmp_path_factory):
    """48 grey 16x16 images in three classes of different brightness (subfolders)."""
    levels = {"dark": (0, 80), "grey": (88, 168), "light": (175, 256)}
    return labelled_dataset(tmp_path_factory.mktemp("levels"), levels, 16, size=SIDE, seed=1)


@pytest.fixture(scope="module")
def run(tmp_path_factory, three_levels):
    """A conditional (ACGAN: the class is one-hot beside z, so it changes the image from the first step) run."""
    out = tmp_path_factory.mktemp("seedrule") / "acgan"
    cfg = TrainConfig(data=str(three_levels), out=str(out), steps=3, batch_size=16, seed=5, sample_every=1000,
                      checkpoint_every=1000, n_samples=N_SAMPLES, precision="fp32", device="cpu")
    train(cfg, ModelConfig(family="acgan", width=8, latent_dim=8))
    return out


@pytest.fixture(scope="module")
def G(run):
    return load_generator(run)[0]


@pytest.fixture(scope="module")
def classes(run):
    return RunDir(run).read_config()["data"]["classes"]


@pytest.fixture(scope="module")
def reference(G):
    """The images of seeds 0..9 as ``images_for_seeds`` gives them: every path must agree."""
    return images_for_seeds(G, range(10))


def decode(data) -> np.ndarray:
    """A PNG (path or bytes) -> uint8 (H, W, C)."""
    with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as img:
        a = np.asarray(img)
    return a[..., None] if a.ndim == 2 else a


def tiles(grid: np.ndarray, n: int) -> np.ndarray:
    """The n images of an ``image_grid`` (near-square, padding 2) -> uint8 (n, H, W, C)."""
    ncols = math.ceil(math.sqrt(n))
    out = []
    for i in range(n):
        r, c = divmod(i, ncols)
        y, x = PAD + r * (SIDE + PAD), PAD + c * (SIDE + PAD)
        out.append(grid[y : y + SIDE, x : x + SIDE])
    return np.stack(out)


# ---- the rule ----------------------------------------------------------------------------
def test_seed_draws_class_seed_mod_k():
    seeds = [1, 2, 4, 5, 7, 11, 13, 2**31 - 2]  # none a multiple of K: mod is not "0" by accident
    assert labels_for_seeds(seeds, K).tolist() == [s % K for s in seeds]
    assert labels_for_seeds(seeds, K).tolist() == labels_for_seeds([s + K for s in seeds], K).tolist()
    assert labels_for_seeds(range(4, 10), K).tolist() == [1, 2, 0, 1, 2, 0]  # not the position in a batch
    assert labels_for_seeds(seeds, K, class_=2).tolist() == [2] * len(seeds)
    assert labels_for_seeds(seeds, 0) is None


def test_class_by_id_or_name():
    names = ["dark", "grey", "light"]
    assert resolve_class("1", names, K) == resolve_class("grey", names, K) == resolve_class(1, names, K) == 1
    assert resolve_class(None, names, K) is None


def test_the_class_changes_the_image(G, reference):
    """Without this the comparisons below could not tell one class from another."""
    for s in range(K):
        other = (s + 1) % K
        assert not np.array_equal(images_for_seeds(G, [s], class_=other)[0], reference[s])


def test_seeds_k_apart_draw_the_same_class(G, reference):
    for s in (1, 2, 4):
        assert np.array_equal(images_for_seeds(G, [s + K], class_=s % K)[0], reference[s + K])


# ---- every path that renders a seed ------------------------------------------------------
def test_generate_separate(run, reference, tmp_path, capsys):
    assert main(["generate", str(run), "--seed", "1", "--n", "8", "--separate", "--out", str(tmp_path / "sep")]) == 0
    got = np.stack([decode(tmp_path / "sep" / f"seed{s:06d}.png") for s in range(1, 9)])
    assert np.array_equal(got, reference[1:9])


def test_generate_class_by_id_and_by_name(run, G, reference, classes, tmp_path, capsys):
    """--class 1 and --class NAME give one grid; seed 4 (class 1 of its own) is unchanged by it."""
    by_id, by_name = tmp_path / "id.png", tmp_path / "name.png"
    assert main(["generate", str(run), "--seed", "3", "--n", "3", "--class", "1", "--out", str(by_id)]) == 0
    assert main(["generate", str(run), "--seed", "3", "--n", "3", "--class", classes[1], "--out", str(by_name)]) == 0
    got = tiles(decode(by_id), 3)
    assert np.array_equal(got, tiles(decode(by_name), 3))
    assert np.array_equal(got[1], reference[4])
    assert np.array_equal(got, images_for_seeds(G, [3, 4, 5], class_=1))


def test_interpolate_keyframes(run, reference, tmp_path, capsys):
    """The first and last frames of a morph are the keyframe seeds' images, each in its own class."""
    out = tmp_path / "frames"
    assert main(["interpolate", str(run), "--seeds", "4,5", "--frames", "3", "--out", f"{out}/"]) == 0
    assert np.array_equal(decode(out / "frame00000.png"), reference[4])
    assert np.array_equal(decode(out / "frame00002.png"), reference[5])


def test_web_explore_and_grid(run, G, reference, classes):
    client = create_app(run).test_client()
    for s in (2, 5, 7):
        r = client.get(f"/api/runs/{run.name}/image.png?seed={s}")
        assert r.status_code == 200
        assert np.array_equal(decode(r.data), reference[s])
    r = client.get(f"/api/runs/{run.name}/image.png?key=seed:5&class={classes[0]}")
    assert np.array_equal(decode(r.data), images_for_seeds(G, [5], class_=0)[0])
    r = client.get(f"/api/runs/{run.name}/grid.png?seed=0&n=7")
    assert r.status_code == 200
    assert np.array_equal(tiles(decode(r.data), 7), reference[:7])


def test_training_sample_grid(run, reference):
    assert np.array_equal(tiles(decode(RunDir(run).latest_samples), N_SAMPLES), reference[:N_SAMPLES])


def test_export(run, reference, tmp_path, capsys):
    assert main(["export", str(run), "--format", "safetensors", "--out", str(tmp_path / "exp")]) == 0
    exported, cfg, _ = load_generator(tmp_path / "exp")
    assert cfg.num_classes == K
    assert np.array_equal(images_for_seeds(exported, range(10)), reference)
    assert main(["generate", str(tmp_path / "exp"), "--seed", "4", "--n", "2", "--separate",
                 "--out", str(tmp_path / "sep")]) == 0
    assert np.array_equal(decode(tmp_path / "sep" / "seed000005.png"), reference[5])


def test_evaluation_generate_images(G, reference):
    assert np.array_equal(generate_images(G, G.cfg, 10), reference)
    assert np.array_equal(generate_images(G, G.cfg, 3, first_seed=4), reference[4:7])

