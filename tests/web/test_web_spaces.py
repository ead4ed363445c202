"""The latent pages in W (issue 19): on a stylegan2 run Explore, Morph, Embed and Inpaint work in W by
default (``space`` z | w | w+), through the latent tools the command line uses; on a DCGAN run they stay
in z and refuse w. Expected images are computed here with those tools and compared pixel for pixel."""

from __future__ import annotations

import io
import time
from urllib.parse import quote

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.artifacts import load_generator
from ganforge.checkpoint import load_checkpoint, save_checkpoint
from ganforge.config import ModelConfig, TrainConfig
from ganforge.latent import inpaint, load_discriminator, midpoint, render
from ganforge.latent.project import project_w
from ganforge.latent.spaces import in_space, space_of, w_directions
from ganforge.runs import RunDir
from ganforge.sampling import latents_for_seeds
from ganforge.train import train
from ganforge.web import create_app
from ganforge.web import morph as morph_page

RUN = "sg"
DIRECTION_SAMPLES = 200


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_dataset):
    """A stylegan2 run trained one step (16 px grey, z and w of 8) whose w_avg is the mean w of 512 seeds."""
    out = tmp_path_factory.mktemp("wruns") / RUN
    train(TrainConfig(data=str(tiny_dataset), out=str(out), loss="stylegan2", steps=1, batch_size=8, n_samples=4,
                      device="cpu", precision="fp32"),
          ModelConfig(family="stylegan2", latent_dim=8, width=4, options={"map_layers": 1}))
    # One step moves w_avg 0.5 % of the way from zero, where mapping(0) is too: set it as a long run would,
    # so that truncation toward w_avg cannot pass for truncation toward z = 0.
    ckpt = RunDir(out).latest_checkpoint
    state = load_checkpoint(ckpt)
    G, _, _ = load_generator(ckpt)
    with torch.no_grad():
        w_avg = G.mapping_net(torch.randn(512, 8, generator=torch.Generator().manual_seed(1))).mean(0)
    for key in ("G", "G_ema"):
        if state.get(key) is not None:
            state[key]["w_avg"] = w_avg.clone()
    save_checkpoint(ckpt, state)
    return out


@pytest.fixture(scope="module")
def G(run):
    """The generator the server loads (the run's EMA), in eval mode."""
    return load_generator(RunDir(run).latest_checkpoint)[0].eval()


@pytest.fixture(scope="module")
def app(run):
    app = create_app(run.parent, {"JOB_TIME_LIMIT": 120, "PROJECT_STEPS": 3, "DIRECTION_SAMPLES": DIRECTION_SAMPLES})
    app.testing = False  # the real error handlers: JSON errors, no exception propagation
    yield app
    app.extensions["ganforge.jobs"].shutdown()


@pytest.fixture(scope="module")
def client(app):
    c = app.test_client()
    c.environ_base["HTTP_X_CSRF_TOKEN"] = c.get("/api/csrf").json["csrf"]  # every request carries the token
    return c


def finished(client, reply, timeout=180) -> dict:
    """The job ``reply`` started, once it has ended."""
    assert reply.status_code == 202, reply.json
    job, deadline = reply.json, time.time() + timeout
    while job["status"] in ("queued", "running"):
        assert time.time() < deadline, job
        time.sleep(0.05)
        job = client.get(f"/api/jobs/{job['id']}").json
    assert job["status"] == "done", job
    return job


def image_of(reply) -> np.ndarray:
    assert reply.status_code == 200, reply.get_data(as_text=True)[:300]
    a = np.asarray(Image.open(io.BytesIO(reply.data)))
    return a if a.ndim == 3 else a[..., None]


def png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(buf, format="PNG")
    return buf.getvalue()


def z_of(seed: int) -> torch.Tensor:
    return latents_for_seeds([seed], 8)


def test_truncation_pulls_every_seed_to_the_image_of_w_avg(client, G, one_thread):
    W = in_space(G, "w")
    of_w_avg = render(W, G.w_avg[None])[0]
    grid = image_of(client.get(f"/api/runs/{RUN}/grid.png?seed=5&n=4&psi=0"))
    cells = [grid[2 + 18 * r:18 + 18 * r, 2 + 18 * c:18 + 18 * c] for r in (0, 1) for c in (0, 1)]  # 16 px cells
    assert all(np.array_equal(cell, of_w_avg) for cell in cells)
    for seed in (0, 7, 123):
        assert np.array_equal(image_of(client.get(f"/api/runs/{RUN}/image.png?seed={seed}&psi=0")), of_w_avg)
    # z, asked for, truncates toward z = 0 as the other families do: another image
    in_z = image_of(client.get(f"/api/runs/{RUN}/image.png?seed=7&psi=0&space=z"))
    assert np.array_equal(in_z, render(G, torch.zeros(1, 8))[0]) and not np.array_equal(in_z, of_w_avg)
    half = image_of(client.get(f"/api/runs/{RUN}/image.png?key=seed:7&psi=0.5"))
    assert np.array_equal(half, render(W, W.from_z(z_of(7), 0.5))[0])
    # untruncated, a seed's image is the same in every space
    full = image_of(client.get(f"/api/runs/{RUN}/image.png?seed=7"))
    assert np.array_equal(full, render(G, z_of(7))[0])
    for space in ("z", "w", "w+"):
        assert np.array_equal(image_of(client.get(f"/api/runs/{RUN}/image.png?seed=7&space={quote(space)}")), full)


def test_explore_edits_move_w_along_ganspace_directions_in_w(client, G, one_thread):
    while (reply := client.get(f"/api/runs/{RUN}/directions")).status_code == 202:
        assert reply.json["total"] == 1  # 200 samples mapped 256 at a time
        time.sleep(0.05)
    assert reply.json["method"] == "pca-w" and reply.json["k"] == 8
    W = in_space(G, "w")
    dirs = w_directions(W, 8, DIRECTION_SAMPLES, batch_size=256)
    w7 = W.from_z(z_of(7))[0]
    moved = w7 + 2 * dirs.scales[0] * dirs.vectors[0] - 1 * dirs.scales[2] * dirs.vectors[2]
    edited = image_of(client.get(f"/api/runs/{RUN}/image.png?key=seed:7&edits=2,0,-1"))
    assert np.abs(edited.astype(int) - render(W, moved[None])[0]).max() <= 1
    assert not np.array_equal(edited, image_of(client.get(f"/api/runs/{RUN}/image.png?key=seed:7")))
    # w+ moves every layer's w the same way: the same image
    plus = image_of(client.get(f"/api/runs/{RUN}/image.png?key=seed:7&edits=2,0,-1&space=w%2B"))
    assert np.abs(plus.astype(int) - edited).max() <= 1
    while (reply := client.get(f"/api/runs/{RUN}/directions?space=z")).status_code == 202:
        time.sleep(0.05)
    assert reply.json["method"] != "pca-w"  # z keeps its own search


def test_morph_interpolates_in_w(client, G, monkeypatch, one_thread):
    rendered = []

    def spy(view, latents, labels=None):
        rendered.append((view, latents.clone()))
        return render(view, latents, labels)

    monkeypatch.setattr(morph_page, "render", spy)
    job = finished(client, client.post(f"/api/runs/{RUN}/morph", json={"keys": ["seed:1", "seed:2"], "frames": 3,
                                                                       "mode": "linear"}))
    assert job["data"]["frames"] == 3 and Image.open(io.BytesIO(client.get(job["result_url"]).data)).n_frames >= 2
    W = in_space(G, "w")
    (view, path), = rendered
    w1, w2 = W.from_z(z_of(1))[0], W.from_z(z_of(2))[0]
    assert view.space == "w" and torch.allclose(path[1], (w1 + w2) / 2, atol=1e-6)  # the mean w, not mapping(mean z)
    rendered.clear()
    finished(client, client.post(f"/api/runs/{RUN}/morph", json={"keys": ["seed:1", "seed:2"], "frames": 3,
                                                                 "mode": "sine", "space": "z"}))
    (view, path), = rendered
    assert space_of(view) == "z"  # the generator itself
    assert torch.allclose(path[1], (z_of(1)[0] + z_of(2)[0]) / 2, atol=1e-6)  # sine eases, its midpoint stays


def test_the_child_in_w_is_the_image_of_the_mean_w(client, G, one_thread):
    child = client.post(f"/api/runs/{RUN}/child", json={"a": "seed:1", "b": "seed:2"})
    assert child.status_code == 201 and "space=w" in child.json["image_url"]
    W = in_space(G, "w")
    of_mean_w = render(W, ((W.from_z(z_of(1)) + W.from_z(z_of(2))) / 2))[0]
    image = image_of(client.get(child.json["image_url"]))
    assert np.array_equal(image, of_mean_w)
    assert not np.array_equal(image, render(G, midpoint(z_of(1), z_of(2)))[0])  # z's child is another image
    in_z = client.post(f"/api/runs/{RUN}/child", json={"a": "seed:1", "b": "seed:2", "space": "z"})
    assert np.array_equal(image_of(client.get(in_z.json["image_url"])), render(G, midpoint(z_of(1), z_of(2)))[0])


def test_embed_runs_stylegan2s_projector_and_keeps_the_space(client, run, G, one_thread):
    photo = png(np.full((40, 40, 1), 200, np.uint8))
    target = image_of(client.post(f"/api/runs/{RUN}/photo.png", data={"image": (io.BytesIO(photo), "p.png")}))
    job = finished(client, client.post(f"/api/runs/{RUN}/embed", data={"image": (io.BytesIO(photo), "p.png")}))
    assert job["data"]["space"] == "w" and len(job["data"]["losses"]) == 3
    D = load_discriminator(RunDir(run).latest_checkpoint)
    expected = project_w(in_space(G, "w"), target, steps=3, D=D)
    assert np.array_equal(image_of(client.get(job["result_url"])), expected.image)
    assert job["data"]["psnr"] == pytest.approx(expected.psnr)
    # W+: a latent per layer; its key renders (in w+ unasked), moves in W, and cannot be read as a w
    plus = finished(client, client.post(f"/api/runs/{RUN}/embed", data={"image": (io.BytesIO(photo), "p.png"),
                                                                       "space": "w+"}))
    key = plus["data"]["latent"]
    assert plus["data"]["space"] == "w+" and image_of(client.get(f"/api/runs/{RUN}/image.png?key={key}")).shape == \
        (16, 16, 1)
    wrong = client.get(f"/api/runs/{RUN}/image.png?key={key}&space=w")
    assert wrong.status_code == 400 and "w+" in wrong.json["error"]
    child = client.post(f"/api/runs/{RUN}/child", json={"a": key, "b": "seed:3"})  # seed 3's w, repeated per layer
    assert child.status_code == 201 and "space=w%2B" in child.json["image_url"]
    assert image_of(client.get(child.json["image_url"])).shape == (16, 16, 1)
    # a z latent kept for a stylegan2 run maps into W
    in_z = finished(client, client.post(f"/api/runs/{RUN}/embed", data={"image": (io.BytesIO(photo), "p.png"),
                                                                       "space": "z", "restarts": "1"}))
    zkey = in_z["data"]["latent"]
    mapped = image_of(client.get(f"/api/runs/{RUN}/image.png?key={zkey}"))
    assert np.abs(mapped.astype(int) - image_of(client.get(f"/api/runs/{RUN}/image.png?key={zkey}&space=z"))).max() <= 1


def test_inpaint_optimises_in_w(client, run, G, one_thread):
    image = image_of(client.get(f"/api/runs/{RUN}/image.png?seed=4"))
    mask = np.zeros((16, 16), bool)
    mask[4:12, 4:12] = True
    data = {"image": (io.BytesIO(png(image)), "i.png"),
            "mask": (io.BytesIO(png((mask * 255).astype(np.uint8)[..., None])), "m.png")}
    job = finished(client, client.post(f"/api/runs/{RUN}/inpaint", data=data))
    assert job["data"]["space"] == "w" and "space=w" in job["data"]["generated_url"]
    D = load_discriminator(RunDir(run).latest_checkpoint)
    expected = inpaint(in_space(G, "w"), image, mask, steps=3, restarts=2, D=D, reg_weight=0.0)
    filled = image_of(client.get(job["result_url"]))
    assert np.array_equal(filled, expected.image) and np.array_equal(filled[~mask], image[~mask])


@pytest.mark.parametrize("page", ["explore", "morph", "embed", "inpaint"])
def test_the_pages_offer_the_space_for_a_style_based_run_only(client, trained_run, page):
    assert b'id="space"' in client.get(f"/runs/{RUN}/{page}").data
    dcgan = create_app(trained_run).test_client()
    r = dcgan.get(f"/runs/{trained_run.name}/{page}")
    assert r.status_code == 200 and b'id="space"' not in r.data


def test_a_dcgan_run_stays_in_z_and_refuses_w(trained_run):
    app = create_app(trained_run)
    c = app.test_client()
    c.environ_base["HTTP_X_CSRF_TOKEN"] = c.get("/api/csrf").json["csrf"]
    api = f"/api/runs/{trained_run.name}"
    assert image_of(c.get(f"{api}/grid.png?seed=3&n=4&space=z")).tobytes() == \
        image_of(c.get(f"{api}/grid.png?seed=3&n=4")).tobytes()
    for url in (f"{api}/grid.png?space=w", f"{api}/image.png?seed=1&space=w+", f"{api}/directions?space=w",
                f"{api}/image.png?space=q"):
        r = c.get(url)
        assert r.status_code == 400 and ("style-based" in r.json["error"] or "one of" in r.json["error"]), url
    r = c.post(f"{api}/morph", json={"keys": ["seed:1", "seed:2"], "space": "w"})
    assert r.status_code == 400 and "style-based" in r.json["error"]
    r = c.post(f"{api}/child", json={"a": "seed:1", "b": "seed:2"})
    G = load_generator(trained_run)[0].eval()
    za, zb = latents_for_seeds([1, 2], G.cfg.latent_dim)
    assert "space=z" in r.json["image_url"]  # z's spherical midpoint, as before
    assert np.array_equal(image_of(c.get(r.json["image_url"])), render(G, midpoint(za, zb)[None])[0])
