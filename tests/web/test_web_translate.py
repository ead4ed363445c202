"""The web app's Translate page (issue 16 point 4) and a CoGAN run's Explore page, through Flask's test client."""

import io

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli
from ganforge.data.dataset import load_dataset
from ganforge.translate import load_translator
from ganforge.web import create_app
from test_translate import runs  # noqa: F401  (the fixture: tiny cyclegan, dtn and cogan runs)


@pytest.fixture(scope="module")
def app(runs):  # noqa: F811
    root, _ = runs
    app = create_app(root, {"DIRECTION_SAMPLES": 64})
    yield app
    app.extensions["ganforge.jobs"].shutdown()


@pytest.fixture
def client(app):
    client = app.test_client()
    client.environ_base["HTTP_X_CSRF_TOKEN"] = client.get("/api/csrf").get_json()["csrf"]
    return client


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> bytes:
    """A 60×40 RGBA PNG, half transparent: its crop, size and background must match the CLI's."""
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (40, 60, 4), dtype=np.uint8)
    pixels[:, :30, 3] = 0
    buf = io.BytesIO()
    Image.fromarray(pixels, "RGBA").save(buf, format="PNG")
    return buf.getvalue()


def _post(client, url, data: bytes, **form):
    return client.post(url, data={"image": (io.BytesIO(data), "cat.png"), **form})


def _pixels(response) -> np.ndarray:
    assert response.status_code == 200 and response.mimetype == "image/png", response.get_data(as_text=True)
    return np.asarray(Image.open(io.BytesIO(response.data)))


def test_the_page_offers_the_familys_directions_and_the_nav_links_it_for_translators_only(client):
    page = client.get("/runs/cyclegan/translate").get_data(as_text=True)
    assert 'value="a2b"' in page and 'value="b2a"' in page and "a → b" in page and "translate.js" in page
    page = client.get("/runs/dtn/translate").get_data(as_text=True)
    assert 'value="a2b"' in page and 'value="b2a"' not in page
    run_page = client.get("/runs/cyclegan").get_data(as_text=True)
    assert 'href="/runs/cyclegan/translate"' in run_page and "grid.png" not in run_page  # no latents to draw
    assert 'href="/runs/cyclegan/training"' in run_page and 'href="/runs/cyclegan/explore"' not in run_page
    for page in ("/runs/cogan", "/runs/cogan/explore"):
        text = client.get(page).get_data(as_text=True)
        assert "/runs/cogan/translate" not in text and 'href="/runs/cogan/explore"' in text


@pytest.mark.parametrize("family,direction", [("cyclegan", "a2b"), ("cyclegan", "b2a"), ("dtn", "a2b")])
def test_an_upload_is_translated_exactly_as_the_cli_translates_it(runs, client, photo, tmp_path, capsys, family,  # noqa: F811
                                                                  direction, one_thread):
    _, out = runs
    (tmp_path / "cat.png").write_bytes(photo)
    code, _, err = run_cli(capsys, "translate", out[family], tmp_path / "cat.png", "--direction", direction,
                           "--out", tmp_path / "cli")
    assert code == 0, err
    r = _post(client, f"/api/runs/{family}/translate", photo, direction=direction)
    assert f"translated-{direction}.png" in r.headers["Content-Disposition"]
    assert np.array_equal(_pixels(r), np.asarray(Image.open(tmp_path / "cli" / "cat.png")))
    shown = _pixels(_post(client, f"/api/runs/{family}/translate/input.png", photo))
    assert shown.shape == (32, 32, 3)
    assert np.array_equal(shown, load_translator(out[family]).prepare(tmp_path / "cat.png"))


def test_an_image_of_the_runs_data_set_is_translated_without_preparing_it_again(runs, client, one_thread):  # noqa: F811
    root, out = runs
    dataset = load_dataset(root / "ab.zip")
    source = np.asarray(dataset.images[dataset.domain_indices(1)[2]])  # the third image of domain B
    shown = _pixels(client.get("/api/runs/cyclegan/translate/data.png?direction=b2a&index=2&show=source"))
    assert np.array_equal(shown, source)
    translated = _pixels(client.get("/api/runs/cyclegan/translate/data.png?direction=b2a&index=2"))
    assert np.array_equal(translated, load_translator(out["cyclegan"])(source[None], "b2a")[0])
    assert client.get("/api/runs/cyclegan/translate/data.png?index=8").status_code == 400  # 8 images per domain
    assert client.get("/api/runs/dtn/translate/data.png?direction=b2a").status_code == 400


def test_errors_are_one_line_4xx(client, photo, trained_run):
    def error(r, status):
        assert r.status_code == status, r.get_data(as_text=True)
        message = r.get_json()["error"]
        assert "\n" not in message and "Traceback" not in message
        return message

    assert "not a translator" in error(_post(client, "/api/runs/cogan/translate", photo), 400)
    assert "not a translator" in error(_post(client, "/api/runs/cogan/translate/input.png", photo), 400)
    page = client.get("/runs/cogan/translate")  # the page, as HTML, says the same in one line
    assert page.status_code == 400 and "is a cogan run, not a translator" in page.get_data(as_text=True)
    assert "a2b" in error(_post(client, "/api/runs/dtn/translate", photo, direction="b2a"), 400)
    assert "a2b or b2a" in error(_post(client, "/api/runs/cyclegan/translate", photo, direction="sideways"), 400)
    assert "not an image" in error(_post(client, "/api/runs/cyclegan/translate", b"\x89PNG\r\n\x1a\nbroken"), 400)
    error(_post(client, "/api/runs/cyclegan/translate", b"just some text"), 415)
    assert "missing" in error(client.post("/api/runs/cyclegan/translate", data={"direction": "a2b"}), 400)
    error(_post(client, "/api/runs/nope/translate", photo), 404)
    one_domain = create_app(trained_run)  # an ordinary one-domain run
    try:
        c = one_domain.test_client()
        c.environ_base["HTTP_X_CSRF_TOKEN"] = c.get("/api/csrf").get_json()["csrf"]
        assert "not a translator" in error(_post(c, f"/api/runs/{trained_run.name}/translate", photo), 400)
        assert f"/runs/{trained_run.name}/translate" not in c.get(f"/runs/{trained_run.name}").get_data(as_text=True)
    finally:
        one_domain.extensions["ganforge.jobs"].shutdown()


def test_a_cogan_runs_explore_page_draws_pairs(client, one_thread):
    assert client.get("/runs/cogan/explore").status_code == 200
    grid = Image.open(io.BytesIO(client.get("/api/runs/cogan/grid.png?seed=0&n=4").data))
    assert grid.size == (2 + 2 * (64 + 2), 2 + 2 * (32 + 2))  # 2×2 cells of 64×32 pairs
    for query in ("key=seed:3", "key=seed:3&edits=1,-0.5"):  # an edit waits for the directions, then draws a pair
        assert _pixels(client.get(f"/api/runs/cogan/image.png?{query}")).shape == (32, 64, 3)
