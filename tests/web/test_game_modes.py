"""The game as the dogs thesis ran it (each image's realness, from a fixed pool) and HYPE-time (adaptive exposure)."""

from __future__ import annotations

import csv
import io

from test_web_app import RUN, Client, app, client, image_of, make_app, runs_dir  # noqa: F401  (fixtures)

from ganforge.web import game


def test_pool_images_collect_realness_percentages(client):
    for _ in range(24):
        r = client.post(f"/api/game/{RUN}/rounds", json={"pool": 2})
        assert r.status_code == 201 and set(r.json) == {"id", "image_url"}
        assert client.post(f"/api/game/rounds/{r.json['id']}/answer", json={"answer": "real"}).status_code == 200
    res = client.get(f"/api/game/{RUN}/results").json
    images = res["images"]
    # a pool of 2 real and 2 generated images: at most 4 distinct images, each judged several times
    assert 2 <= len(images) <= 4 and sum(i["n"] for i in images) == 24
    assert all(i["realness"] == 1.0 for i in images)  # every answer was "real"
    assert {i["source"] for i in images if i["truth"] == "fake"} <= {0, 1}
    assert image_of(client.get(images[0]["image_url"])).shape == (32, 32, 3)
    assert client.get(f"/api/game/{RUN}/images/fake/999.png").status_code == 404  # never shown: not served
    page = client.get("/game/results").get_data(as_text=True)
    assert "each image's realness" in page and page.count('class="realness-item"') == len(images)
    assert "100 % real" in page


def test_hype_time_rounds_carry_an_adaptive_exposure(client):
    exposures = []
    for _ in range(8):
        r = client.post(f"/api/game/{RUN}/rounds", json={"mode": "time"})
        exposures.append(r.json["exposure_ms"])
        assert client.post(f"/api/game/rounds/{r.json['id']}/answer", json={"answer": "real"}).status_code == 200
    assert exposures[0] == game.EXPOSURE_START_MS
    assert all(game.EXPOSURE_MIN_MS <= e <= game.EXPOSURE_MAX_MS for e in exposures)
    res = client.get(f"/api/game/{RUN}/results").json
    assert res["hype_time"]["rounds"] == 8 and res["hype_time"]["players"] == 1
    assert res["hype_time"]["value_ms"] == sum(exposures[-game.THRESHOLD_ROUNDS:]) / len(exposures)
    assert res["judgements"] == 0  # HYPE-infinity counts only rounds with unlimited exposure
    rows = list(csv.DictReader(io.StringIO(client.get(f"/api/game/answers.csv?run={RUN}").get_data(as_text=True))))
    assert {r["mode"] for r in rows} == {"time"} and rows[0]["exposure_ms"] == str(game.EXPOSURE_START_MS)
    assert client.post(f"/api/game/{RUN}/rounds", json={"mode": "blink"}).status_code == 400
    assert client.post(f"/api/game/{RUN}/rounds", json={"pool": -1}).status_code == 400
    page = client.get(f"/runs/{RUN}/game?mode=time").get_data(as_text=True)
    assert 'data-mode="time"' in page and "HYPE-time" in page
