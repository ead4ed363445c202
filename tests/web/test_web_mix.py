"""The web app's Mix page (issue 19): the style-mixing grid of a stylegan2 run, and a clear 400 elsewhere."""

import io

import pytest
from PIL import Image

from ganforge.config import ModelConfig, TrainConfig
from ganforge.train import train
from ganforge.web import create_app


@pytest.fixture(scope="module")
def client(tmp_path_factory, tiny_dataset):
    root = tmp_path_factory.mktemp("mixruns")
    train(TrainConfig(data=str(tiny_dataset), out=str(root / "sg"), loss="stylegan2", steps=1, batch_size=8,
                      n_samples=4, device="cpu", precision="fp32"),
          ModelConfig(family="stylegan2", latent_dim=8, width=4, options={"map_layers": 1}))
    return create_app(root).test_client()


def test_mix_page_and_grid(client, one_thread):
    page = client.get("/runs/sg/mix")
    assert page.status_code == 200 and b"mix.js" in page.data and b'href="/runs/sg/mix"' in page.data
    r = client.get("/api/runs/sg/mix.png?rows=1,2&cols=3&layers=coarse&psi=0.7")
    assert r.status_code == 200 and r.mimetype == "image/png"
    assert Image.open(io.BytesIO(r.data)).size == (2 + 2 * 18, 2 + 3 * 18)  # 2 columns, 3 rows of 16 px cells
    assert client.get("/api/runs/sg/mix.png?layers=fine").status_code == 400  # a 16 px model has no fine layers
    assert client.get("/api/runs/sg/mix.png?rows=a,b").status_code == 400
