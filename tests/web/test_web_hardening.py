"""The web app against the faults an outside probe found (issue 15, points 13 to 17 and 22).

Each test reproduced its fault on the code before the fix. They use the real app through
the Flask test client, or the real server (waitress on 127.0.0.1) where requests must overlap.
"""

from __future__ import annotations

import http.client
import io
import json
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import waitress
from PIL import Image
from test_web_app import RUN, Client, app, client, make_app, runs_dir, upload  # noqa: F401  (fixtures)


@pytest.fixture
def served():
    """``start(app)`` -> the base URL of ``app`` under waitress on 127.0.0.1 (a free port); stopped after the test."""
    servers = []

    def start(app, threads: int = 8) -> str:
        server = waitress.create_server(app, host="127.0.0.1", port=0, threads=threads)
        loop = threading.Thread(target=server.run, daemon=True)
        loop.start()
        servers.append((app, server, loop))
        return f"http://127.0.0.1:{server.effective_port}"

    def close_all(server) -> None:  # in the server's own loop: its map empties and the loop ends
        for channel in list(server._map.values()):
            channel.close()

    yield start
    for served_app, server, loop in servers:
        server.trigger.pull_trigger(lambda server=server: close_all(server))
        loop.join(10)
        server.task_dispatcher.shutdown()
        served_app.extensions["ganforge.jobs"].shutdown()


def fetch(url: str, data: bytes | None = None, headers: dict | None = None, timeout: float = 120):
    """(status, headers, body) of one request; HTTP errors are answers too."""
    req = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def multipart(field: str, payload: bytes) -> tuple[bytes, dict]:
    boundary = "ganforgetest"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"p.png\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode() + payload + f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def compressible_png(size: tuple[int, int]) -> bytes:
    """A PNG of ``size`` pixels that is a few kilobytes on disk (one colour)."""
    buf = io.BytesIO()
    Image.new("RGB", size, (90, 140, 200)).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


# ---- 13: DNS rebinding ---------------------------------------------------------------------------
def test_only_the_hosts_the_server_was_started_for_are_answered(runs_dir, trained_run):
    # The app alone (as tests and scripts build it): loopback names at any port.
    app = make_app(runs_dir)
    c = app.test_client()
    for host in ("localhost", "127.0.0.1:5000", "[::1]:8000"):
        assert c.get("/api/csrf", headers={"Host": host}).status_code == 200, host
    for host in ("evil.example", "evil.example:8000", "127.0.0.1.evil.example:8000"):
        r = c.get("/api/csrf", headers={"Host": host})  # a rebound name must not read the CSRF token
        assert r.status_code == 400 and "--allowed-host" in r.json["error"] and "csrf" not in r.json, host
    csrf = c.get("/api/csrf").json["csrf"]
    url = f"/api/game/{RUN}/rounds"
    for origin in ("http://evil.example", "http://localhost.evil.example"):
        r = c.post(url, headers={"X-CSRF-Token": csrf, "Origin": origin})
        assert r.status_code == 403, origin
    assert c.post(url, headers={"X-CSRF-Token": csrf, "Origin": "http://127.0.0.1:8000"}).status_code == 201
    app.extensions["ganforge.jobs"].shutdown()

    # `ganforge serve`: loopback names with its port, its --host, and every --allowed-host.
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "ganforge", "serve", str(trained_run), "--port", str(port),
                             "--allowed-host", "gan.example", "--allowed-host", "lab.example:9000"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def status(host: str, method: str = "GET", origin: str | None = None) -> int:
            deadline = time.time() + 60
            while True:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                try:
                    headers = {"Host": host, **({"Origin": origin, "X-CSRF-Token": "x"} if origin else {})}
                    conn.request(method, "/api/csrf" if method == "GET" else "/api/jobs/nope/cancel", headers=headers)
                    return conn.getresponse().status
                except OSError:
                    if time.time() > deadline or proc.poll() is not None:
                        why = proc.stdout.read() if proc.poll() is not None else "server not up"
                        raise AssertionError(why) from None
                    time.sleep(0.3)
                finally:
                    conn.close()

        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "gan.example", "gan.example:443",
                     "lab.example:9000"):
            assert status(host) == 200, host
        for host in ("evil.example", f"evil.example:{port}", f"localhost:{port + 1}", "lab.example:9001", ""):
            assert status(host) == 400, host
        assert status(f"localhost:{port}", "POST", "http://evil.example") == 403
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# ---- 14: uploads decoded in a bounded pool, capped in megapixels ----------------------------------
def test_uploads_are_capped_in_megapixels_and_decoded_in_a_bounded_pool(runs_dir, served, monkeypatch):
    from ganforge.web import security

    app = make_app(runs_dir, MAX_UPLOAD_PIXELS=1_000_000, UPLOAD_WORKERS=1, UPLOAD_QUEUE=0)
    client = Client(app)
    r = client.post(f"/api/runs/{RUN}/photo.png", data=upload(compressible_png((2000, 1000))))
    assert r.status_code == 400 and "too large" in r.json["error"]
    assert "2.0 megapixels" in r.json["error"] and "limit is 1.0 megapixels" in r.json["error"]

    decoded_on, gate = [], threading.Event()
    real_decode = security.decode_image

    def held_decode(*args, **kwargs):  # the real decoder, held until the test lets it go
        decoded_on.append(threading.current_thread().name)
        gate.wait(60)
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(security, "decode_image", held_decode)
    base = served(app)
    body, headers = multipart("image", compressible_png((900, 900)))
    headers["X-CSRF-Token"] = client.csrf
    first: list = []
    uploader = threading.Thread(target=lambda: first.append(fetch(f"{base}/api/runs/{RUN}/photo.png", body, headers)))
    uploader.start()
    deadline = time.time() + 30
    while not decoded_on:
        assert time.time() < deadline, "the first upload never reached the decoder"
        time.sleep(0.01)
    # The pool is busy: another upload is refused at once, and light requests are still served.
    code, reply_headers, reply = fetch(f"{base}/api/runs/{RUN}/photo.png", body, headers, timeout=10)
    assert code == 503 and reply_headers["Retry-After"] and "busy" in json.loads(reply)["error"]
    code, _, _ = fetch(f"{base}/api/runs/{RUN}/grid.png?n=4", timeout=30)
    assert code == 200
    gate.set()
    uploader.join(60)
    assert first[0][0] == 200 and np.asarray(Image.open(io.BytesIO(first[0][2]))).shape == (32, 32, 3)
    assert decoded_on and all(name.startswith("ganforge-upload") for name in decoded_on), decoded_on


# ---- 15: deeply nested JSON ------------------------------------------------------------------------
@pytest.mark.parametrize("body", ["[" * 100_000, '{"keys": ' + "[" * 100_000 + "]" * 100_000 + "}"])
def test_deeply_nested_json_is_a_400(client, body):
    r = client.post(f"/api/game/{RUN}/rounds")
    for url in (f"/api/runs/{RUN}/morph", f"/api/runs/{RUN}/child", f"/api/game/rounds/{r.json['id']}/answer"):
        reply = client.post(url, data=body, content_type="application/json")
        assert reply.status_code == 400 and "JSON" in reply.json["error"], url


# ---- 16: the Authorization scheme, and no server paths in messages --------------------------------
def test_lowercase_bearer_and_no_server_paths_in_errors(runs_dir):
    app = make_app(runs_dir, ACCESS_TOKEN="s3cret-token")
    c = app.test_client()
    for scheme in ("Bearer", "bearer", "BEARER"):
        assert c.get("/api/runs", headers={"Authorization": f"{scheme} s3cret-token"}).status_code == 200, scheme
    assert c.get("/api/runs", headers={"Authorization": "bearer wrong"}).status_code == 401
    auth = {"Authorization": "bearer s3cret-token"}
    csrf = c.get("/api/csrf", headers=auth).json["csrf"]

    config = json.loads((runs_dir / RUN / "config.json").read_text())
    config["data"]["path"] = str(runs_dir / "gone" / "data.zip")
    (runs_dir / RUN / "config.json").write_text(json.dumps(config))
    gone = c.post(f"/api/game/{RUN}/rounds", headers={**auth, "X-CSRF-Token": csrf})
    (runs_dir / RUN / "checkpoints" / "latest.pt").write_bytes(b"not a checkpoint")
    broken = c.get(f"/api/runs/{RUN}/grid.png", headers=auth)
    absolute = re.compile(r"(?<![\w.])/(tmp|home|root|usr|var|work|etc)/")
    for reply, code in ((gone, 409), (broken, 400)):
        message = reply.json["error"]
        assert reply.status_code == code and message, message
        assert str(runs_dir) not in message and not absolute.search(message), message
    assert "data.zip" in gone.json["error"] and "latest.pt" in broken.json["error"]  # still says which file
    app.extensions["ganforge.jobs"].shutdown()


# ---- 17: real and generated images of the game, one path ------------------------------------------
def test_game_serves_real_and_fake_images_through_one_path(app, client):
    client.get(f"/api/runs/{RUN}/grid.png?n=1")  # load the generator
    G = app.extensions["ganforge.generators"][RUN][1]
    forwards = []
    G.register_forward_hook(lambda *_: forwards.append(1))
    shown: dict[str, list] = {"real": [], "fake": []}
    for _ in range(16):
        before = len(forwards)
        r = client.post(f"/api/game/{RUN}/rounds")
        dealt = len(forwards) - before
        image = client.get(r.json["image_url"])
        fetched = len(forwards) - before - dealt
        truth = client.post(f"/api/game/rounds/{r.json['id']}/answer", json={"answer": "real"}).json["truth"]
        # The same work whatever the truth: one generator pass when dealt, none when shown.
        assert (dealt, fetched) == (1, 0), truth
        shown[truth].append(image)
    assert shown["real"] and shown["fake"]
    replies = shown["real"] + shown["fake"]
    assert len({len(r.data) for r in replies}) == 1  # same encoder, same size: the byte count tells nothing
    assert len({tuple(sorted((k, v) for k,
                             v in r.headers.items() if k not in ("Date", "Expires"))) for r in replies}) == 1


@pytest.mark.slow
def test_game_image_latency_does_not_tell_real_from_fake(app, client):
    """A loose timing check on top of the structural one: the medians differ by no more than noise."""
    times: dict[str, list[float]] = {"real": [], "fake": []}
    for _ in range(80):
        r = client.post(f"/api/game/{RUN}/rounds")
        t0 = time.perf_counter()
        assert client.get(r.json["image_url"]).status_code == 200
        elapsed = time.perf_counter() - t0
        truth = client.post(f"/api/game/rounds/{r.json['id']}/answer", json={"answer": "fake"}).json["truth"]
        times[truth].append(elapsed)
    real, fake = np.median(times["real"]), np.median(times["fake"])
    assert abs(real - fake) <= 0.5 * max(real, fake) + 0.002, (real, fake)


# ---- 22: editing directions, once per run ---------------------------------------------------------
def test_concurrent_first_requests_find_directions_once(runs_dir, served, monkeypatch):
    from ganforge.web import explore

    calls = []
    real_find = explore.find_directions

    def counted(*args, **kwargs):
        calls.append(threading.current_thread().name)
        return real_find(*args, **kwargs)

    monkeypatch.setattr(explore, "find_directions", counted)
    app = make_app(runs_dir, DIRECTION_SAMPLES=3000)
    base = served(app)
    api = f"{base}/api/runs/{RUN}"
    assert fetch(f"{api}/grid.png?n=1")[0] == 200  # the generator is loaded; the directions are not
    start = threading.Barrier(8)
    replies: list[tuple[str, int, bytes]] = []

    def ask(kind: str, url: str) -> None:
        start.wait()
        code, _, body = fetch(url)
        replies.append((kind, code, body))

    urls = [("directions", f"{api}/directions")] * 3 + [("edit", f"{api}/image.png?key=seed:{i}&edits=1,-1")
                                                         for i in range(2)]
    urls += [("grid", f"{api}/grid.png?n=16&seed={i}") for i in range(3)]  # renders while the search runs
    threads = [threading.Thread(target=ask, args=job) for job in urls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert sorted(kind for kind, _, _ in replies) == sorted(kind for kind, _ in urls)
    for kind, code, body in replies:
        assert code in ((200, 202) if kind == "directions" else (200,)), (kind, code, body[:200])
        if kind == "directions" and code == 202:
            progress = json.loads(body)
            assert progress["status"] == "running" and 0 <= progress["done"] <= progress["total"] > 0
    deadline = time.time() + 300
    while (reply := fetch(f"{api}/directions"))[0] == 202:
        assert time.time() < deadline
        time.sleep(0.1)
    assert reply[0] == 200 and json.loads(reply[2])["k"] == 10
    assert len(calls) == 1, calls  # one search, however many requests asked at once
    page = fetch(f"{base}/runs/{RUN}/explore")[2]
    assert b"explore.js" in page
