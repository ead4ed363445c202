"""The web app's pages and JSON endpoints through the Flask test client, against a real trained run.

Good and bad input for every endpoint: missing fields, wrong types, oversized and
non-image uploads, traversal attempts, unknown runs; the safety layer (token, CSRF,
headers); the job pool; the real-or-fake game's database and statistics.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import time

import numpy as np
import pytest
from PIL import Image

from ganforge.metrics.intervals import clopper_pearson
from ganforge.web import create_app
from ganforge.web.game import MIN_ANSWERS
from ganforge.web.pool import JobPool, JobStopped, QueueFull
from ganforge.web.training import thin

RUN = "pokemon"


@pytest.fixture
def runs_dir(tmp_path, trained_run):
    root = tmp_path / "runs"
    root.mkdir()
    shutil.copytree(trained_run, root / RUN)
    return root


def make_app(runs_dir, **config):
    app = create_app(runs_dir, {"JOB_TIME_LIMIT": 60, "PROJECT_STEPS": 4, "DIRECTION_SAMPLES": 200, **config})
    app.testing = False  # exercise the real error handlers (no exception propagation)
    return app


@pytest.fixture
def app(runs_dir):
    app = make_app(runs_dir)
    yield app
    app.extensions["ganforge.jobs"].shutdown()


class Client:
    """The test client plus the CSRF header on every state-changing request."""

    def __init__(self, app):
        self.c = app.test_client()
        self.csrf = self.c.get("/api/csrf").json["csrf"]

    def get(self, *a, **kw):
        return self.c.get(*a, **kw)

    def post(self, url, **kw):
        headers = {"X-CSRF-Token": self.csrf, **kw.pop("headers", {})}
        return self.c.post(url, headers=headers, **kw)

    def wait(self, reply, timeout=120):
        assert reply.status_code == 202, reply.json
        job = reply.json
        deadline = time.time() + timeout
        while job["status"] in ("queued", "running"):
            assert time.time() < deadline, job
            time.sleep(0.05)
            job = self.get(f"/api/jobs/{job['id']}").json
        return job


@pytest.fixture
def client(app):
    return Client(app)


def png(size=(40, 40), color=(200, 30, 30), mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, format="PNG")
    return buf.getvalue()


def upload(data: bytes, name="x.png", **fields):
    return {"image": (io.BytesIO(data), name), **fields}


def image_of(reply) -> np.ndarray:
    assert reply.status_code == 200, reply.get_data(as_text=True)[:300]
    return np.asarray(Image.open(io.BytesIO(reply.data)))


# ---- the safety layer ------------------------------------------------------------------------
def test_state_changing_requests_need_the_csrf_token(app, client):
    raw = app.test_client()
    url = f"/api/game/{RUN}/rounds"
    assert raw.post(url).status_code == 403
    assert raw.post(url, headers={"X-CSRF-Token": "wrong"}).status_code == 403
    r = raw.post(url, headers={"X-CSRF-Token": client.csrf, "Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403 and "cross-site" in r.json["error"]
    r = raw.post(url, headers={"X-CSRF-Token": client.csrf, "Origin": "http://evil.example"})
    assert r.status_code == 403
    assert raw.post(url, headers={"X-CSRF-Token": client.csrf, "Origin": "http://localhost"}).status_code == 201


def test_access_token_is_required_when_set(runs_dir):
    app = make_app(runs_dir, ACCESS_TOKEN="s3cret-token")
    c = app.test_client()
    r = c.get("/api/runs")
    assert r.status_code == 401 and "token" in r.json["error"] and r.headers["WWW-Authenticate"] == "Bearer"
    assert c.get("/", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert c.get("/api/runs", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    r = c.get("/api/runs?token=s3cret-token&x=1")  # traded for a cookie, dropped from the URL
    assert r.status_code == 302 and r.headers["Location"] == "/api/runs?x=1"
    assert "HttpOnly" in r.headers["Set-Cookie"]
    assert c.get("/api/runs").status_code == 200  # the cookie now
    assert app.test_client().get("/static/app.js").status_code == 401
    app.extensions["ganforge.jobs"].shutdown()


def test_security_headers(client):
    r = client.get(f"/runs/{RUN}")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    policy = r.headers["Content-Security-Policy"]
    assert "script-src" not in policy or "unsafe-inline" not in policy
    assert b"<script>" not in r.data  # no inline scripts: the CSP forbids them
    assert client.csrf.encode() in r.data  # the meta tag the page scripts read


@pytest.mark.parametrize("url", [
    "/api/runs/{run}/photo.png", "/api/runs/{run}/embed",
])
def test_uploads_are_checked(runs_dir, url):
    app = make_app(runs_dir, MAX_CONTENT_LENGTH=64 << 10, MAX_UPLOAD_PIXELS=1000 * 1000)
    c = Client(app)
    url = url.format(run=RUN)
    r = c.post(url, data={})
    assert r.status_code == 400 and "image" in r.json["error"]
    r = c.post(url, data=upload(b"hello, I am text", "photo.png"))  # the extension does not matter
    assert r.status_code == 415 and "not a PNG" in r.json["error"]
    r = c.post(url, data=upload(png()[:60], "cut.png"))  # PNG signature, truncated body
    assert r.status_code == 400 and "Traceback" not in r.json["error"]
    r = c.post(url, data=upload(np.random.default_rng(0).bytes(100 << 10), "big.png"))
    assert r.status_code == 413 and "error" in r.json
    r = c.post(url, data=upload(png((2000, 1000)), "huge.png"))  # small file, too many pixels
    assert r.status_code == 400 and "too large" in r.json["error"]
    r = c.post(url, data=upload(png(mode="RGBA", color=(0, 0, 0, 0)), "photo.jpg"))  # sniffed, not named
    assert r.status_code in (200, 202)
    app.extensions["ganforge.jobs"].shutdown()


def test_photo_is_prepared_like_the_training_data(client):
    img = image_of(client.post(f"/api/runs/{RUN}/photo.png", data=upload(png((60, 40), (10, 200, 30)))))
    assert img.shape == (32, 32, 3)
    assert abs(int(img[16, 16, 1]) - 200) <= 2  # center-cropped, colour kept


@pytest.mark.parametrize("method,url", [
    ("get", "/runs/nope/explore"), ("get", "/runs/nope/training"), ("get", "/runs/nope/game"),
    ("get", "/runs/nope/morph"), ("get", "/runs/nope/embed"), ("get", "/runs/nope/inpaint"),
    ("get", "/api/runs/nope/training"), ("get", "/api/runs/nope/directions"), ("get", "/api/runs/nope/image.png"),
    ("get", "/api/game/nope/results"), ("get", "/api/game/answers.csv?run=nope"),
    ("post", "/api/runs/nope/morph"), ("post", "/api/runs/nope/embed"), ("post", "/api/runs/nope/inpaint"),
    ("post", "/api/runs/nope/child"), ("post", "/api/game/nope/rounds"),
    ("get", "/api/runs/..%2F..%2Fetc/training"), ("get", "/api/runs/.hidden/image.png"),
    ("post", "/api/game/..%2Fpokemon/rounds"), ("get", "/api/game/answers.csv?run=../pokemon"),
    ("get", "/api/jobs/nope"), ("get", "/api/jobs/nope/result"), ("post", "/api/jobs/nope/cancel"),
    ("get", "/api/game/rounds/nope/image.png"), ("post", "/api/game/rounds/nope/answer"),
])
def test_unknown_runs_and_traversal_are_404(client, method, url):
    kw = {"json": {"answer": "real", "a": "seed:1", "b": "seed:2",
                   "keys": ["seed:1", "seed:2"]}} if method == "post" else {}
    r = getattr(client, method)(url, **kw)
    assert r.status_code == 404, (url, r.status_code)
    assert b"Traceback" not in r.data


# ---- runs and training -----------------------------------------------------------------------
def test_runs_show_latest_metrics_when_present(client, runs_dir):
    assert client.get(f"/api/runs/{RUN}").json["metrics"] == {}
    lines = [{"step": 6, "fid[inception,5k]": 250.5}, {"step": 12, "fid[inception,5k]": 180.25},
             {"step": 12, "precision": 0.5}]
    (runs_dir / RUN / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines) + '{"step": 1')
    m = client.get(f"/api/runs/{RUN}").json["metrics"]
    assert m == {"fid[inception,5k]": {"value": 180.25, "step": 12}, "precision": {"value": 0.5, "step": 12}}
    for page in ("/", f"/runs/{RUN}"):
        assert b"fid[inception,5k]" in client.get(page).data and b"180.2" in client.get(page).data


def test_training_view_json(client, runs_dir):
    import os
    import time

    log = runs_dir / RUN / "log.jsonl"
    os.utime(log, (time.time() - 3600, time.time() - 3600))  # an hour-old log: a finished run
    assert client.get(f"/api/runs/{RUN}/training").json["running"] is False
    os.utime(log)  # just written: the run counts as running
    st = client.get(f"/api/runs/{RUN}/training").json
    assert st["step"] == 12 and len(st["log"]) == 12 and {"d_loss", "g_loss"} <= set(st["log"][0])
    assert st["running"] is True
    assert st["samples_mtime"] is not None and st["metrics"] == []
    health = {"step": 12, "checks": {}, "warnings": ["collapse: the fixed-latent samples differ by ..."]}
    (runs_dir / RUN / "health.json").write_text(json.dumps(health))
    assert client.get(f"/api/runs/{RUN}/training").json["health"]["warnings"] == health["warnings"]
    assert len(client.get(f"/api/runs/{RUN}/training?points=10").json["log"]) <= 11
    assert client.get(f"/api/runs/{RUN}/training?points=abc").status_code == 400
    page = client.get(f"/runs/{RUN}/training")
    assert page.status_code == 200 and b"training.js" in page.data


def test_thin_keeps_the_last_record():
    records = [{"step": i} for i in range(1, 1001)]
    out = thin(records, 100)
    assert len(out) <= 101 and out[0]["step"] == 1 and out[-1]["step"] == 1000
    assert thin(records[:5], 100) == records[:5]


# ---- explore ---------------------------------------------------------------------------------
def test_grid_truncation_and_classes(client):
    full = image_of(client.get(f"/api/runs/{RUN}/grid.png?seed=5&n=4"))
    assert (full == image_of(client.get(f"/api/runs/{RUN}/grid.png?seed=5&n=4&psi=1"))).all()
    mean = image_of(client.get(f"/api/runs/{RUN}/grid.png?seed=5&n=4&psi=0"))
    cells = [mean[2:34, 2:34], mean[2:34, 36:68], mean[36:68, 2:34]]
    assert all((c == cells[0]).all() for c in cells)  # psi=0: every seed becomes the mean latent
    assert not (full[2:34, 2:34] == full[2:34, 36:68]).all()
    for bad in ("psi=3", "psi=x", "psi=nan", "class=1", "n=65", "seed=-1"):
        r = client.get(f"/api/runs/{RUN}/grid.png?{bad}")
        assert r.status_code == 400 and "error" in r.json, bad


def test_directions_and_live_edits(client):
    # searched for once, in the background
    while (reply := client.get(f"/api/runs/{RUN}/directions")).status_code == 202:
        time.sleep(0.05)
    d = reply.json
    assert d["k"] == 10 and len(d["explained_variance"]) == 10
    assert d["explained_variance"] == sorted(d["explained_variance"], reverse=True)
    base = image_of(client.get(f"/api/runs/{RUN}/image.png?key=seed:7"))
    assert (base == image_of(client.get(f"/api/runs/{RUN}/image.png?seed=7&edits=0,0"))).all()
    moved = image_of(client.get(f"/api/runs/{RUN}/image.png?key=seed:7&edits=3,0,-2"))
    assert moved.shape == (32, 32, 3) and (moved != base).any()  # a barely trained G: small but real changes
    for bad in ("key=seed:x", "key=latent:missing", "edits=1,a", "edits=" + ",".join(["1"] * 11),
                "edits=100", "seed=abc", "psi=-1", "key=seed:99999999999"):
        r = client.get(f"/api/runs/{RUN}/image.png?{bad}")
        assert r.status_code in (400, 404) and "error" in r.json, bad
    page = client.get(f"/runs/{RUN}/explore")
    assert page.status_code == 200 and b"explore.js" in page.data


# ---- long jobs -------------------------------------------------------------------------------
def test_job_pool_bounds_time_and_cancel():
    pool = JobPool(workers=1, max_queue=1, time_limit=0.3)
    gate = []

    def slow(job):
        for i in range(1000):
            job.report(i, 1000)
            time.sleep(0.01)
        return {}, None

    a = pool.submit("slow", slow)
    b = pool.submit("slow", slow)
    with pytest.raises(QueueFull):
        pool.submit("slow", slow)
    b.cancel_requested = True
    deadline = time.time() + 10
    while pool.active() and time.time() < deadline:
        time.sleep(0.05)
    assert a.status == "timeout" and "time limit" in a.error
    assert b.status == "cancelled"
    c = pool.submit("quick", lambda job: ({"ok": 1}, (b"x", "text/plain", "x.txt")))
    while c.status != "done":
        time.sleep(0.01)
    assert c.data == {"ok": 1} and not gate
    with pytest.raises(JobStopped):
        c.cancel_requested = True
        c.report(1, 2)
    pool.shutdown()


def test_queue_full_answer_and_cancel_endpoint(runs_dir):
    app = make_app(runs_dir, JOB_WORKERS=1, JOB_QUEUE=0, PROJECT_STEPS=2000, MAX_PROJECT_STEPS=2000)
    c = Client(app)
    first = c.post(f"/api/runs/{RUN}/embed", data=upload(png()))
    assert first.status_code == 202
    second = c.post(f"/api/runs/{RUN}/embed", data=upload(png()))
    assert second.status_code == 503 and second.headers["Retry-After"] == "5" and "busy" in second.json["error"]
    assert c.get("/api/jobs").json["active"] == 1
    c.post(f"/api/jobs/{first.json['id']}/cancel")
    job = c.wait(first)
    assert job["status"] == "cancelled"
    assert c.get(f"/api/jobs/{job['id']}/result").status_code == 409
    app.extensions["ganforge.jobs"].shutdown()


def test_morph_makes_a_gif_and_an_mp4(client):
    r = client.post(f"/api/runs/{RUN}/morph", json={"keys": ["seed:1", "seed:2", "3"], "frames": 6, "mode": "slerp"})
    job = client.wait(r)
    assert job["status"] == "done" and job["data"]["frames"] == 6
    gif = client.get(job["result_url"])
    assert gif.mimetype == "image/gif"
    im = Image.open(io.BytesIO(gif.data))
    assert im.size == (32, 32) and im.n_frames >= 2
    assert "attachment" in client.get(job["result_url"] + "?download=1").headers["Content-Disposition"]
    job = client.wait(client.post(f"/api/runs/{RUN}/morph", json={"keys": ["seed:1", "seed:2"], "frames": 4,
                                                                  "format": "mp4", "loop": True}))
    assert job["status"] == "done", job
    assert client.get(job["result_url"]).data[4:8] == b"ftyp"


@pytest.mark.parametrize("body", [
    {}, {"keys": "seed:1"}, {"keys": ["seed:1"]}, {"keys": ["seed:1", "cat"]}, {"keys": ["seed:1", "latent:nope"]},
    {"keys": ["seed:1", "seed:2"], "frames": "many"}, {"keys": ["seed:1", "seed:2"], "frames": 100000},
    {"keys": ["seed:1", "seed:2"], "mode": "zigzag"}, {"keys": ["seed:1", "seed:2"], "format": "avi"},
    {"keys": ["seed:1", "seed:2"], "loop": "yes"}, {"keys": ["seed:1", "seed:2"], "fps": 0},
])
def test_morph_rejects_bad_input(client, body):
    r = client.post(f"/api/runs/{RUN}/morph", json=body)
    assert r.status_code in (400, 404) and "error" in r.json, body
    assert client.post(f"/api/runs/{RUN}/morph", data="not json").status_code == 400


def test_embed_then_edit_and_make_a_child(client):
    first = client.wait(client.post(f"/api/runs/{RUN}/embed", data=upload(png(color=(250, 250, 250)), steps="3")))
    assert first["status"] == "done" and first["progress"]["step"] == 3
    assert first["data"]["latent"].startswith("latent:")
    assert len(first["data"]["losses"]) == 3 and first["data"]["psnr"] > 0
    recon = image_of(client.get(first["result_url"]))
    assert (recon == image_of(client.get(first["data"]["image_url"]))).all()  # the key renders the same image
    edited = image_of(client.get(f"/api/runs/{RUN}/image.png?key={first['data']['latent']}&edits=4"))
    assert (edited != recon).any()
    child = client.post(f"/api/runs/{RUN}/child", json={"a": first["data"]["latent"], "b": "seed:3"})
    assert child.status_code == 201 and image_of(client.get(child.json["image_url"])).shape == (32, 32, 3)
    for bad in ({}, {"a": "seed:1"}, {"a": "seed:1", "b": True}, {"a": "seed:1", "b": "latent:zzz"}):
        r = client.post(f"/api/runs/{RUN}/child", json=bad)
        assert r.status_code in (400, 404) and "error" in r.json
    for steps in ("0", "abc", "99999"):
        r = client.post(f"/api/runs/{RUN}/embed", data=upload(png(), steps=steps))
        assert r.status_code == 400 and "steps" in r.json["error"]


def test_inpaint_fills_only_the_masked_region(client):
    image = image_of(client.get(f"/api/runs/{RUN}/image.png?seed=4"))
    mask = np.zeros((320, 320), np.uint8)
    mask[100:220, 100:220] = 255  # drawn at screen size; the server resizes to 32x32
    buf = io.BytesIO()
    Image.fromarray(mask, "L").save(buf, format="PNG")
    data = {"image": (io.BytesIO(png_of(image)), "i.png"), "mask": (io.BytesIO(buf.getvalue()), "m.png"), "steps": "3"}
    job = client.wait(client.post(f"/api/runs/{RUN}/inpaint", data=data))
    assert job["status"] == "done" and job["data"]["masked_pixels"] == 12 * 12
    filled = image_of(client.get(job["result_url"]))
    known = np.ones((32, 32), bool)
    known[10:22, 10:22] = False
    assert (filled[known] == image[known]).all()
    empty = io.BytesIO()
    Image.new("L", (32, 32), 0).save(empty, format="PNG")
    r = client.post(f"/api/runs/{RUN}/inpaint", data={"image": (io.BytesIO(png_of(image)), "i.png"),
                                                      "mask": (io.BytesIO(empty.getvalue()), "m.png")})
    assert r.status_code == 400 and "no pixels" in r.json["error"]
    r = client.post(f"/api/runs/{RUN}/inpaint", data={"image": (io.BytesIO(png_of(image)), "i.png")})
    assert r.status_code == 400 and "mask" in r.json["error"]


def png_of(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("page", ["morph", "embed", "inpaint", "game"])
def test_pages_render(client, page):
    r = client.get(f"/runs/{RUN}/{page}")
    assert r.status_code == 200 and f"{page}.js".encode() in r.data


# ---- real or fake? ---------------------------------------------------------------------------
def test_game_records_answers_and_reports_hype(client, app, trained_run):
    from ganforge.data.dataset import load_dataset

    config = json.loads((trained_run / "config.json").read_text())
    real = load_dataset(config["data"]["path"]).images
    truths = []
    for i in range(20):
        r = client.post(f"/api/game/{RUN}/rounds")
        assert r.status_code == 201 and set(r.json) == {"id", "image_url"}  # the truth is not in the reply
        img = image_of(client.get(r.json["image_url"]))
        assert img.shape == (32, 32, 3)
        # Always answer "real": every fake fools us, every real is right.
        a = client.post(f"/api/game/rounds/{r.json['id']}/answer", json={"answer": "real", "response_ms": 500 + i})
        assert a.status_code == 200
        truths.append(a.json["truth"])
        if a.json["truth"] == "real":
            assert any((img == im).all() for im in real)  # a real round shows a training image
        assert client.post(f"/api/game/rounds/{r.json['id']}/answer", json={"answer": "fake"}).status_code == 409
    fakes = truths.count("fake")
    assert 0 < fakes < 20
    res = client.get(f"/api/game/{RUN}/results").json
    assert res["judgements"] == 20 and res["players"] == 1
    assert res["fool_rate"] == {"value": 1.0, "ci95": list(clopper_pearson(fakes, fakes)), "n": fakes,
                                "too_few": fakes < MIN_ANSWERS}
    assert res["real_accuracy"]["value"] == 1.0
    assert res["hype_inf"]["value"] == pytest.approx(fakes / 20)
    lo, hi = res["hype_inf"]["ci95"]
    assert lo < fakes / 20 < hi
    assert res["median_response_ms"] == pytest.approx(509.5)
    assert client.get("/api/game/results").json["results"][0]["run"] == RUN
    page = client.get("/game/results")
    assert b"100.0 %" in page.data and b'data-judgements="20"' in page.data
    rows = list(csv.DictReader(io.StringIO(client.get(f"/api/game/answers.csv?run={RUN}").get_data(as_text=True))))
    assert len(rows) == 20 and [r["truth"] for r in rows] == truths
    assert {r["answer"] for r in rows} == {"real"} and rows[0]["response_ms"] == "500"
    # The database is a real file: a new app over the same runs sees the same answers.
    again = make_app(app.config["RUNS_ROOT"], GAME_DB=app.config["GAME_DB"])
    assert again.test_client().get(f"/api/game/{RUN}/results").json["judgements"] == 20


@pytest.mark.parametrize("body", [{}, {"answer": "maybe"}, {"answer": 1}, {"answer": "real", "response_ms": "slow"},
                                  {"answer": "real", "response_ms": -5}])
def test_game_rejects_bad_answers(client, body):
    r = client.post(f"/api/game/{RUN}/rounds")
    a = client.post(f"/api/game/rounds/{r.json['id']}/answer", json=body)
    assert a.status_code == 400 and "error" in a.json
    assert client.post(f"/api/game/rounds/{r.json['id']}/answer", data="x").status_code == 400


def test_game_without_its_data_set_is_a_clear_error(client, runs_dir):
    config = json.loads((runs_dir / RUN / "config.json").read_text())
    config["data"]["path"] = str(runs_dir / "gone.zip")
    (runs_dir / RUN / "config.json").write_text(json.dumps(config))
    r = client.post(f"/api/game/{RUN}/rounds")
    assert r.status_code == 409 and "not available" in r.json["error"]
