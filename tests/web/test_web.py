"""The first web page: Flask test client against a real trained run."""

import io
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from PIL import Image

from ganforge.errors import GanforgeError
from ganforge.web import create_app


@pytest.fixture
def runs_dir(tmp_path, trained_run):
    root = tmp_path / "runs"
    root.mkdir()
    shutil.copytree(trained_run, root / "pokemon")
    return root


@pytest.fixture
def client(runs_dir):
    return create_app(runs_dir).test_client()


def test_index_lists_runs(client):
    r = client.get("/")
    assert r.status_code == 200 and b"pokemon" in r.data
    assert client.get("/api/runs").json["runs"][0]["step"] == 12


def test_single_run_mode_redirects_to_the_run(trained_run):
    client = create_app(trained_run).test_client()
    r = client.get("/")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/runs/{trained_run.name}")


def test_run_page_shows_samples_and_loss_plot(client):
    page = client.get("/runs/pokemon")
    assert page.status_code == 200
    for path in ("/runs/pokemon/files/samples.png", "/runs/pokemon/files/loss.png"):
        assert path.encode() in page.data
        r = client.get(path)
        assert r.status_code == 200 and r.mimetype == "image/png"


def test_grid_for_a_seed_is_deterministic(client):
    a = client.get("/api/runs/pokemon/grid.png?seed=3&n=4")
    b = client.get("/api/runs/pokemon/grid.png?seed=3&n=4")
    c = client.get("/api/runs/pokemon/grid.png?seed=4&n=4")
    assert a.status_code == 200 and a.data == b.data and a.data != c.data
    assert Image.open(io.BytesIO(a.data)).size == (2 + 2 * 34, 2 + 2 * 34)


@pytest.mark.parametrize("url,code", [
    ("/runs/nope", 404),
    ("/api/runs/nope/grid.png", 404),
    ("/api/runs/pokemon/grid.png?seed=abc", 400),
    ("/api/runs/pokemon/grid.png?n=0", 400),
    ("/api/runs/pokemon/grid.png?n=100000", 400),
    ("/runs/pokemon/files/config.json", 404),
    ("/runs/pokemon/files/..%2F..%2Fetc%2Fpasswd", 404),
    ("/runs/..%2F..%2Fetc/files/loss.png", 404),
])
def test_bad_requests_get_clean_errors(client, url, code):
    r = client.get(url)
    assert r.status_code == code
    assert b"Traceback" not in r.data
    if url.startswith("/api/"):
        assert "error" in r.json


def test_missing_directory_is_a_user_error(tmp_path):
    with pytest.raises(GanforgeError):
        create_app(tmp_path / "missing")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_command_runs_a_real_server_on_localhost(trained_run):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "ganforge", "serve", str(trained_run), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/runs/{trained_run.name}", timeout=5) as r:
                    assert r.status == 200 and b"Latest samples" in r.read()
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.3)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/runs/{trained_run.name}/grid.png?seed=1&n=4",
                                    timeout=30) as r:
            assert r.headers["Content-Type"] == "image/png"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
