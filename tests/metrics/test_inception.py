"""The FID Inception network: official parameter names and shapes, 2048-d features, weight handling."""

import hashlib
import http.server
import threading

import numpy as np
import pytest
import torch

from ganforge.metrics import inception
from ganforge.metrics.features import load_extractor

pytestmark = pytest.mark.usefixtures("one_thread")

# The public architecture (torchvision's Inception3 as patched by pytorch-fid, 2015-12-05 graph):
# every BasicConv2d as (name, in, out, kernel h, kernel w). Each has conv.weight (out, in, kh, kw)
# and bn.{weight, bias, running_mean, running_var} of (out,).
STEM = [("Conv2d_1a_3x3", 3, 32, 3, 3), ("Conv2d_2a_3x3", 32, 32, 3, 3), ("Conv2d_2b_3x3", 32, 64, 3, 3),
        ("Conv2d_3b_1x1", 64, 80, 1, 1), ("Conv2d_4a_3x3", 80, 192, 3, 3)]


def block_a(c, pool):
    return [("branch1x1", c, 64, 1, 1), ("branch5x5_1", c, 48, 1, 1), ("branch5x5_2", 48, 64, 5, 5),
            ("branch3x3dbl_1", c, 64, 1, 1), ("branch3x3dbl_2", 64, 96, 3, 3), ("branch3x3dbl_3", 96, 96, 3, 3),
            ("branch_pool", c, pool, 1, 1)]


def block_b(c):
    return [("branch3x3", c, 384, 3, 3), ("branch3x3dbl_1", c, 64, 1, 1), ("branch3x3dbl_2", 64, 96, 3, 3),
            ("branch3x3dbl_3", 96, 96, 3, 3)]


def block_c(c, c7):
    return [("branch1x1", c, 192, 1, 1), ("branch7x7_1", c, c7, 1, 1), ("branch7x7_2", c7, c7, 1, 7),
            ("branch7x7_3", c7, 192, 7, 1), ("branch7x7dbl_1", c, c7, 1, 1), ("branch7x7dbl_2", c7, c7, 7, 1),
            ("branch7x7dbl_3", c7, c7, 1, 7), ("branch7x7dbl_4", c7, c7, 7, 1), ("branch7x7dbl_5", c7, 192, 1, 7),
            ("branch_pool", c, 192, 1, 1)]


def block_d(c):
    return [("branch3x3_1", c, 192, 1, 1), ("branch3x3_2", 192, 320, 3, 3), ("branch7x7x3_1", c, 192, 1, 1),
            ("branch7x7x3_2", 192, 192, 1, 7), ("branch7x7x3_3", 192, 192, 7, 1), ("branch7x7x3_4", 192, 192, 3, 3)]


def block_e(c):
    return [("branch1x1", c, 320, 1, 1), ("branch3x3_1", c, 384, 1, 1), ("branch3x3_2a", 384, 384, 1, 3),
            ("branch3x3_2b", 384, 384, 3, 1), ("branch3x3dbl_1", c, 448, 1, 1), ("branch3x3dbl_2", 448, 384, 3, 3),
            ("branch3x3dbl_3a", 384, 384, 1, 3), ("branch3x3dbl_3b", 384, 384, 3, 1), ("branch_pool", c, 192, 1, 1)]


BLOCKS = {"Mixed_5b": block_a(192, 32), "Mixed_5c": block_a(256, 64), "Mixed_5d": block_a(288, 64),
          "Mixed_6a": block_b(288), "Mixed_6b": block_c(768, 128), "Mixed_6c": block_c(768, 160),
          "Mixed_6d": block_c(768, 160), "Mixed_6e": block_c(768, 192), "Mixed_7a": block_d(768),
          "Mixed_7b": block_e(1280), "Mixed_7c": block_e(2048)}


def official_shapes() -> dict[str, tuple]:
    convs = list(STEM) + [(f"{block}.{name}", *rest) for block, convs in BLOCKS.items() for name, *rest in convs]
    shapes = {}
    for name, c_in, c_out, kh, kw in convs:
        shapes[f"{name}.conv.weight"] = (c_out, c_in, kh, kw)
        for p in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{name}.bn.{p}"] = (c_out,)
    shapes["fc.weight"], shapes["fc.bias"] = (1008, 2048), (1008,)
    return shapes


def official_state_dict(seed=0) -> dict[str, torch.Tensor]:
    """Random tensors under the official names, as the published file holds them (no num_batches_tracked)."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape in official_shapes().items():
        if name.endswith("running_var"):
            state[name] = torch.rand(shape, generator=g) + 0.5
        elif name.endswith("bn.weight"):
            state[name] = torch.ones(shape)
        elif name.endswith("conv.weight"):
            fan_in = shape[1] * shape[2] * shape[3]
            state[name] = torch.randn(shape, generator=g) * (2 / fan_in) ** 0.5
        else:
            state[name] = torch.randn(shape, generator=g) * 0.01
    return state


def test_official_names_and_shapes_match_the_module():
    ours = {k: tuple(v.shape) for k, v in inception.FIDInceptionV3().state_dict().items()
            if not k.endswith("num_batches_tracked")}
    assert ours == official_shapes()
    assert len(ours) == 94 * 5 + 2


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("w") / inception.WEIGHTS_FILE
    torch.save(official_state_dict(), path)
    return path


def test_official_state_dict_loads_strictly_and_gives_2048_features(weights_file):
    net = inception.load_inception(weights_file, verify=False)
    x = inception.preprocess(torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8))
    assert x.shape == (2, 3, 299, 299) and -1 <= x.min() and x.max() <= 1
    pool, logits = net(x)
    assert pool.shape == (2, 2048) and logits.shape == (2, 1008)
    assert torch.isfinite(pool).all() and (pool >= 0).all()  # after ReLU and average pooling
    assert not torch.allclose(pool[0], pool[1])


def test_extractor_on_grey_uint8_images(weights_file, monkeypatch):
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(weights_file))
    monkeypatch.setattr(inception, "WEIGHTS_SHA256", hashlib.sha256(weights_file.read_bytes()).hexdigest())
    ext = load_extractor("inception")
    images = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 1), dtype=np.uint8)
    feats, probs = ext.extract(images)
    assert feats.shape == (2, 2048) and probs.shape == (2, 1008)
    np.testing.assert_allclose(probs.sum(1), 1, rtol=1e-5)
    # Grey images are the RGB image with three equal channels.
    feats_rgb, _ = ext.extract(np.repeat(images, 3, axis=3))
    np.testing.assert_allclose(feats, feats_rgb, rtol=1e-5, atol=1e-6)


def test_wrong_file_is_refused(tmp_path):
    bad = tmp_path / "bad.pth"
    torch.save({"fc.weight": torch.zeros(3, 3)}, bad)
    with pytest.raises(inception.InceptionWeightsMissing, match="does not hold the FID Inception weights"):
        inception.load_inception(bad, verify=False)
    with pytest.raises(inception.InceptionWeightsMissing, match="SHA-256 differs"):
        inception.load_inception(bad)


def test_offline_error_names_file_url_and_destination(monkeypatch, tmp_path):
    monkeypatch.delenv(inception.WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(inception, "WEIGHTS_URL", "http://127.0.0.1:9/" + inception.WEIGHTS_FILE)  # nothing listens
    import ganforge.download

    monkeypatch.setattr(ganforge.download.time, "sleep", lambda s: None)
    with pytest.raises(inception.InceptionWeightsMissing) as e:
        inception.weights_path()
    msg = str(e.value)
    assert inception.WEIGHTS_FILE in msg and "http://127.0.0.1:9/" in msg
    assert str(tmp_path / "cache" / "weights" / inception.WEIGHTS_FILE) in msg and inception.WEIGHTS_ENV in msg
    assert "ganforge features fit" in msg  # the way to evaluate that needs no download


def test_download_once_into_the_cache_with_checksum(monkeypatch, tmp_path, weights_file):
    payload = weights_file.read_bytes()
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.delenv(inception.WEIGHTS_ENV, raising=False)
        monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
        monkeypatch.setattr(inception, "WEIGHTS_URL", f"http://127.0.0.1:{server.server_port}/w.pth")
        monkeypatch.setattr(inception, "WEIGHTS_SHA256", "0" * 64)
        with pytest.raises(inception.InceptionWeightsMissing, match="checksum"):
            inception.weights_path()
        assert not (tmp_path / "cache" / "weights" / inception.WEIGHTS_FILE).exists()
        monkeypatch.setattr(inception, "WEIGHTS_SHA256", hashlib.sha256(payload).hexdigest())
        p = inception.weights_path()
        assert p == tmp_path / "cache" / "weights" / inception.WEIGHTS_FILE and p.read_bytes() == payload
        assert inception.weights_path() == p and len(hits) == 2  # the second call uses the cache
        assert isinstance(inception.load_inception(), inception.FIDInceptionV3)
    finally:
        server.shutdown()
