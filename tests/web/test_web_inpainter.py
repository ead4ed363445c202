"""The Inpaint page on an inpainter run (issue 17 point 5): one forward pass, the known pixels kept; the
latent pages refuse the run in one line."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image

from ganforge.config import ModelConfig, TrainConfig
from ganforge.train import train
from ganforge.web import create_app


@pytest.fixture(scope="module")
def runs_dir(tiny_dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp("web-inpainter")
    cfg = TrainConfig(data=str(tiny_dataset), out=str(root / "inp"), loss="inpainter", batch_size=4, steps=1,
                      device="cpu", sample_every=1, n_samples=4, precision="fp32", channels_last="off")
    train(cfg, ModelConfig(family="inpainter", width=4), out=open("/dev/null", "w"))
    return root


@pytest.fixture
def client(runs_dir):
    app = create_app(runs_dir, {"JOB_TIME_LIMIT": 60})
    app.testing = False
    c = app.test_client()
    c.csrf = c.get("/api/csrf").json["csrf"]
    yield c
    app.extensions["ganforge.jobs"].shutdown()


def _png(array: np.ndarray) -> io.BytesIO:
    buf = io.BytesIO()
    Image.fromarray(array, "L").save(buf, format="PNG")
    buf.seek(0)
    return buf


def test_the_inpaint_page_fills_in_one_pass_and_keeps_the_known_pixels(client):
    assert client.get("/runs/inp/inpaint").status_code == 200
    photo = np.random.default_rng(0).integers(0, 256, (16, 16), dtype=np.uint8)
    mask = np.zeros((160, 160), np.uint8)
    mask[40:100, 50:120] = 255  # drawn at screen size; resized to 16 px
    headers = {"X-CSRF-Token": client.csrf}
    reply = client.post("/api/runs/inp/inpaint", headers=headers,
                        data={"image": (_png(photo), "p.png"), "mask": (_png(mask), "m.png")})
    assert reply.status_code == 202, reply.json
    job = reply.json
    deadline = time.time() + 60
    while job["status"] in ("queued", "running"):
        assert time.time() < deadline
        time.sleep(0.05)
        job = client.get(f"/api/jobs/{job['id']}").json
    assert job["status"] == "done" and job["data"] == {"masked_pixels": 6 * 7}
    filled = np.asarray(Image.open(io.BytesIO(client.get(job["result_url"]).data)).convert("L"))
    known = np.ones((16, 16), bool)
    known[4:10, 5:12] = False
    assert np.array_equal(filled[known], photo[known])


@pytest.mark.parametrize("url", ["/api/runs/inp/image.png?seed=1", "/api/runs/inp/grid.png"])
def test_the_latent_pages_refuse_an_inpainter_run(client, url):
    reply = client.get(url)
    assert reply.status_code == 400 and "inpainter" in reply.json["error"]


def test_an_inpainter_runs_pages_link_only_what_works_on_it(client):
    """Its G takes images and masks: the run page offers Inpaint instead of a grid of seeds (which would be a
    broken image), and the nav leaves out the latent pages and the game, which refuse it."""
    page = client.get("/runs/inp").get_data(as_text=True)
    assert "/runs/inp/inpaint" in page and "/runs/inp/training" in page
    assert "/api/runs/inp/grid" not in page and 'id="seed-form"' not in page
    for refused in ("explore", "morph", "embed", "game"):
        assert f'href="/runs/inp/{refused}"' not in page
    assert client.get("/api/runs").json["runs"][0]["inpainter"] is True
