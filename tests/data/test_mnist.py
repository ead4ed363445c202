"""MNIST: the download path against a local HTTP server, checks of a local copy, the 28 px built-in source."""

import gzip
import hashlib

import numpy as np
import pytest

from ganforge.data import mnist
from ganforge.errors import DataError


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def fake_mnist(n_train: int = 6, n_test: int = 4) -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    return {
        "train-images-idx3-ubyte.gz": idx_bytes(rng.integers(0, 256, (n_train, 28, 28))),
        "train-labels-idx1-ubyte.gz": idx_bytes(np.arange(n_train) % 10),
        "t10k-images-idx3-ubyte.gz": idx_bytes(rng.integers(0, 256, (n_test, 28, 28))),
        "t10k-labels-idx1-ubyte.gz": idx_bytes(np.arange(n_test) % 10),
    }


@pytest.fixture
def no_local_mnist(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist, "DEBIAN_DIR", tmp_path / "none")
    monkeypatch.delenv("GANFORGE_MNIST", raising=False)


def test_missing_message_says_where_to_put_the_files(no_local_mnist):
    with pytest.raises(DataError) as e:
        mnist.find_files(allow_download=False)
    assert "MNIST not found" in str(e.value) and "train-images-idx3-ubyte.gz" in str(e.value)
    assert "GANFORGE_MNIST" in str(e.value)


def test_download_checks_md5_and_falls_back_to_the_second_mirror(http_server, no_local_mnist, monkeypatch):
    url, www = http_server
    (www / "mirror2").mkdir()
    files = {}
    for name, raw in fake_mnist().items():
        gz = gzip.compress(raw)
        (www / "mirror2" / name).write_bytes(gz)
        (www / name).write_bytes(b"not the file")  # the first mirror serves something else: its MD5 fails
        files[name] = (hashlib.md5(gz).hexdigest(), None, (np.frombuffer(raw[4:8], ">u4")[0], 28, 28)[: raw[3]])
    monkeypatch.setattr(mnist, "FILES", files)
    monkeypatch.setattr(mnist, "BASE_URLS", (url, url + "mirror2/"))
    images, labels = mnist.load("all")
    assert images.shape == (10, 28, 28) and labels.tolist() == [0, 1, 2, 3, 4, 5, 0, 1, 2, 3]


def test_a_local_copy_of_the_wrong_size_is_refused(tmp_path, monkeypatch):
    for name, raw in fake_mnist().items():
        (tmp_path / name).write_bytes(gzip.compress(raw))
    monkeypatch.setenv("GANFORGE_MNIST", str(tmp_path))
    with pytest.raises(DataError, match="official MNIST"):
        mnist.load("train")  # 6 images where the official train split has 60,000


def test_builtin_source_keeps_28_px_and_prepares_a_trainable_set(tmp_path, monkeypatch, capsys):
    from ganforge.data.sources import open_source

    images = np.zeros((20, 28, 28), np.uint8)
    images[:, 10:18, 12:16] = 255
    monkeypatch.setattr(mnist, "load", lambda split, allow_download=True: (images, np.arange(20) % 10))
    src = open_source("mnist:train")
    assert [i.label for i in src.items[:3]] == ["0", "1", "2"]
    assert np.asarray(src.load(src.items[0])).shape == (28, 28)

    from conftest import run_cli

    code, _, err = run_cli(capsys, "data", "prepare", "mnist:train", "--out", str(tmp_path / "m.zip"))
    assert code == 0, err
    from ganforge.data.dataset import load_dataset

    ds = load_dataset(tmp_path / "m.zip")
    assert ds.resolution == 28 and ds.images.shape[1:] == (28, 28, 1)
    assert "not a power of two" not in err
