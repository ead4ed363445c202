"""Fashion-MNIST: IDX parsing, checksums, and the download path against a local HTTP server."""

import gzip
import hashlib

import numpy as np
import pytest

from ganforge.data import fashion_mnist
from ganforge.download import download
from ganforge.errors import DataError, DownloadError


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def test_read_idx_round_trip_and_checksum(tmp_path):
    arr = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    raw = idx_bytes(arr)
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(raw))
    out = fashion_mnist._read_idx(path, hashlib.sha256(raw).hexdigest())
    assert np.array_equal(out, arr)
    with pytest.raises(DataError, match="checksum"):
        fashion_mnist._read_idx(path, "0" * 64)


def test_missing_files_message_says_what_to_get(tmp_path, monkeypatch):
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", tmp_path / "none")
    monkeypatch.delenv("GANFORGE_FASHION_MNIST", raising=False)
    with pytest.raises(DataError) as e:
        fashion_mnist.find_files(allow_download=False)
    msg = str(e.value)
    assert "dataset-fashion-mnist" in msg and "train-images-idx3-ubyte.gz" in msg and "fashion-mnist" in msg


def test_download_verifies_checksums(http_server, tmp_path):
    url, www = http_server
    (www / "f.bin").write_bytes(b"hello")
    good = hashlib.sha256(b"hello").hexdigest()
    dest = download(url + "f.bin", tmp_path / "dl" / "f.bin", sha256=good, retries=1)
    assert dest.read_bytes() == b"hello"
    with pytest.raises(DownloadError, match="checksum"):
        download(url + "f.bin", tmp_path / "dl" / "g.bin", sha256="0" * 64, retries=1)
    assert not (tmp_path / "dl" / "g.bin").exists()
    with pytest.raises(DownloadError, match="put it at"):
        download(url + "missing.bin", tmp_path / "dl" / "m.bin", retries=2, backoff=0)


def test_fashion_mnist_download_path(http_server, tmp_path, monkeypatch):
    """With no local copy, the four files are downloaded, checked and parsed."""
    url, www = http_server
    rng = np.random.default_rng(0)
    payloads = {
        "train-images-idx3-ubyte.gz": idx_bytes(rng.integers(0, 256, (6, 28, 28))),
        "train-labels-idx1-ubyte.gz": idx_bytes(np.arange(6) % 10),
        "t10k-images-idx3-ubyte.gz": idx_bytes(rng.integers(0, 256, (4, 28, 28))),
        "t10k-labels-idx1-ubyte.gz": idx_bytes(np.arange(4) % 10),
    }
    files = {}
    for name, raw in payloads.items():
        gz = gzip.compress(raw)
        (www / name).write_bytes(gz)
        files[name] = (hashlib.md5(gz).hexdigest(), hashlib.sha256(raw).hexdigest())
    monkeypatch.setattr(fashion_mnist, "FILES", files)
    monkeypatch.setattr(fashion_mnist, "BASE_URL", url)
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", tmp_path / "none")
    monkeypatch.delenv("GANFORGE_FASHION_MNIST", raising=False)
    images, labels = fashion_mnist.load("all")
    assert images.shape == (10, 28, 28) and labels.tolist() == [0, 1, 2, 3, 4, 5, 0, 1, 2, 3]


def test_builtin_source_pads_to_32(monkeypatch):
    from ganforge.data.sources import open_source

    monkeypatch.setattr(fashion_mnist, "load",
                        lambda split, allow_download=True: (np.full((3, 28, 28), 200, np.uint8), np.array([0, 1, 9])))
    src = open_source("fashion-mnist:test")
    assert [i.label for i in src.items] == ["T-shirt/top", "Trouser", "Ankle boot"]
    img = np.asarray(src.load(src.items[0]))
    assert img.shape == (32, 32) and img[0, 0] == 0 and img[2, 2] == 200


def test_builtin_source_keeps_28_px_when_asked(monkeypatch):
    from ganforge.data.sources import open_source
    from ganforge.errors import DataError

    monkeypatch.setattr(fashion_mnist, "load",
                        lambda split, allow_download=True: (np.full((2, 28, 28), 200, np.uint8), np.array([0, 1])))
    src = open_source("fashion-mnist:train:28")
    assert src.default_resolution == 28 and np.asarray(src.load(src.items[0])).shape == (28, 28)
    assert open_source("fashion-mnist:test").default_resolution == 32
    with pytest.raises(DataError, match=":28"):
        open_source("fashion-mnist:train:test")
