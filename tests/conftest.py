"""Shared fixtures: an isolated cache, small data sets, and one short trained run per session."""

from __future__ import annotations

import http.server
import os
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("GANFORGE_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"shared data set {path} is not available")
    return path


@pytest.fixture(autouse=True, scope="session")
def isolated_cache(tmp_path_factory):
    """Each test session gets its own ganforge cache, so tests never see a user's files."""
    cache = tmp_path_factory.mktemp("ganforge-cache")
    old = os.environ.get("GANFORGE_CACHE")
    os.environ["GANFORGE_CACHE"] = str(cache)
    yield cache
    if old is None:
        os.environ.pop("GANFORGE_CACHE", None)
    else:
        os.environ["GANFORGE_CACHE"] = old


@pytest.fixture
def one_thread():
    """One intra-op torch thread for the test: on a shared, oversubscribed CPU two spinning threads
    run small networks ~10x slower than one."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def write_images(folder: Path, n: int, size: int = 40, mode: str = "RGB", seed: int = 0) -> list[Path]:
    """``n`` random images of ``size``×``size`` in ``folder`` (PNG)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
        arr = rng.integers(0, 256, (size, size, channels), dtype=np.uint8)
        img = Image.fromarray(arr[..., 0] if channels == 1 else arr, mode)
        path = folder / f"img{i:03d}.png"
        img.save(path)
        paths.append(path)
    return paths


def constant_generator(G, D) -> None:
    """An ``initialise`` for ganforge.train: fresh weights, then G's output layer zeroed, so that every
    latent gives the same image (a run made to collapse)."""
    import torch

    from ganforge.train import default_initialise

    default_initialise(G, D)
    last = [m for m in G.modules() if isinstance(m, (torch.nn.ConvTranspose2d, torch.nn.Conv2d))][-1]
    with torch.no_grad():
        last.weight.zero_()


@pytest.fixture(scope="session")
def pokemon_zip() -> Path:
    return shared("pokemon-809.zip")


@pytest.fixture(scope="session")
def pokemon32(tmp_path_factory, pokemon_zip) -> Path:
    """The shared Pokémon set prepared at 32×32 RGB on white."""
    from ganforge.data.prepare import PrepareOptions, prepare

    out = tmp_path_factory.mktemp("data") / "pokemon32.zip"
    prepare(str(pokemon_zip), out, PrepareOptions(resolution=32, channels=3, workers=2), progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """128 random 16×16 grey images: the fastest thing that trains."""
    from ganforge.data.prepare import PrepareOptions, prepare

    root = tmp_path_factory.mktemp("tiny")
    write_images(root / "src", 128, size=16, mode="L")
    out = root / "tiny16.zip"
    prepare(str(root / "src"), out, PrepareOptions(resolution=16, channels=1, workers=1), progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_rgb32(tmp_path_factory) -> Path:
    """48 random 32×32 RGB images: for families whose smallest size is 32 px."""
    from ganforge.data.prepare import PrepareOptions, prepare

    root = tmp_path_factory.mktemp("tiny32")
    write_images(root / "src", 48, size=32)
    out = root / "tiny32.zip"
    prepare(str(root / "src"), out, PrepareOptions(resolution=32, channels=3, workers=1), progress=False)
    return out


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, pokemon32) -> Path:
    """A DCGAN trained for a few steps on Pokémon 32 px (shared by tests that need a run)."""
    from ganforge.config import ModelConfig, TrainConfig
    from ganforge.train import train

    out = tmp_path_factory.mktemp("runs") / "pokemon"
    cfg = TrainConfig(data=str(pokemon32), out=str(out), steps=12, batch_size=16, sample_every=6,
                      checkpoint_every=6, n_samples=16)
    train(cfg, ModelConfig(family="dcgan", width=16))
    return out


def two_domain_set(root: Path, name: str, n_a: int, n_b: int, size: int = 32) -> Path:
    """``root/name``: a two-domain data set at 32 px of random images, n_a in domain a and n_b in b."""
    from ganforge.data.domains import prepare_domains
    from ganforge.data.prepare import PrepareOptions

    write_images(root / "a", n_a, size=size, seed=1)
    write_images(root / "b", n_b, size=size, seed=2)
    out = root / name
    prepare_domains([("a", str(root / "a")), ("b", str(root / "b"))], out, PrepareOptions(resolution=32, workers=1),
                    progress=False)
    return out


@pytest.fixture(scope="session")
def two_domain_runs(tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    """(root, {family: run}): a cyclegan, a dtn and a cogan each trained 1 step at width 4 on a two-domain set
    ``root/ab.zip`` of 8 random 32 px images per domain (from ``root/a`` and ``root/b``, 40 px)."""
    from ganforge.config import ModelConfig, TrainConfig
    from ganforge.train import train

    root = tmp_path_factory.mktemp("two-domain")
    data = two_domain_set(root, "ab.zip", 8, 8, size=40)
    out = {}
    for family in ("cyclegan", "dtn", "cogan"):
        cfg = TrainConfig(data=str(data), out=str(root / family), loss=family, batch_size=4, steps=1, device="cpu",
                          n_samples=4)
        with open(os.devnull, "w") as quiet:
            train(cfg, ModelConfig(family=family, latent_dim=8, width=4,
                                   options={"encoder_steps": 1} if family == "dtn" else {}), out=quiet)
        out[family] = root / family
    return root, out


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    """``ganforge ARGV...`` in this process: (exit code, stdout, stderr)."""
    from ganforge.cli import main

    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def labelled_dataset(root: Path, levels: dict[str, tuple[int, int]], per_class: int, size: int = 16,
                     seed: int = 0) -> Path:
    """A prepared grey data set with one class per entry of ``levels``: ``per_class`` images of uniform noise
    in [lo, hi) (classes told apart by brightness), as ``data prepare --labels subfolders`` makes it."""
    from ganforge.data.prepare import PrepareOptions, prepare

    rng = np.random.default_rng(seed)
    for name, (lo, hi) in levels.items():
        (root / "src" / name).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(lo, hi, (size, size), dtype=np.uint8),
                            "L").save(root / "src" / name / f"{i:03d}.png")
    out = root / f"labelled{size}.zip"
    prepare(str(root / "src"), out, PrepareOptions(resolution=size, channels=1, labels="subfolders", workers=1),
            progress=False)
    return out


def colour_classes(root: Path, per_class: int = 24, size: int = 32) -> Path:
    """A prepared RGB data set of two classes told apart by colour ("reddish", "bluish": noise with one channel
    lifted), as ``data prepare --labels subfolders`` makes it: labelled data to fit a colour judge on."""
    from ganforge.data.prepare import PrepareOptions, prepare

    rng = np.random.default_rng(0)
    for name, channel in (("reddish", 0), ("bluish", 2)):
        (root / "src" / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 120, (size, size, 3), dtype=np.uint8)
            pixels[..., channel] += 120
            Image.fromarray(pixels).save(root / "src" / name / f"{i}.png")
    out = root / "colours.zip"
    prepare(str(root / "src"), out, PrepareOptions(resolution=size, channels=3, labels="subfolders", workers=1),
            progress=False)
    return out


def labelled_two_domain(root: Path, per_class: int = 8, size: int = 32) -> Path:
    """A two-domain RGB set whose source domain A carries two classes told apart by brightness ("dark": uniform
    noise in [0, 80), "light": [175, 255)) and whose domain B is mid-grey noise ([100, 156); no labels: its one
    subfolder makes no class), as ``data prepare --domains A=SRC,B=SRC --labels subfolders`` makes it;
    ``per_class`` images each."""
    from ganforge.data.domains import prepare_domains
    from ganforge.data.prepare import PrepareOptions

    rng = np.random.default_rng(0)
    for domain, levels in (("a", {"dark": (0, 80), "light": (175, 255)}), ("b", {"b": (100, 156)})):
        for name, (lo, hi) in levels.items():
            (root / domain / name).mkdir(parents=True)
            for i in range(per_class):
                Image.fromarray(rng.integers(lo, hi, (size, size, 3), dtype=np.uint8)).save(
                    root / domain / name / f"{i:03d}.png")
    out = root / "labelled-ab.zip"
    prepare_domains([("a", str(root / "a")), ("b", str(root / "b"))], out,
                    PrepareOptions(resolution=size, labels="subfolders", workers=1), progress=False)
    return out


def zip_folder(folder: Path, out: Path) -> Path:
    with zipfile.ZipFile(out, "w") as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(folder))
    return out


@pytest.fixture
def http_server(tmp_path):
    """A local HTTP server standing in for official download sites: (base URL, its folder)."""
    (tmp_path / "www").mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(tmp_path / "www"), **kw)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", tmp_path / "www"
    server.shutdown()
