"""Data-set review: decisions survive a reconnect, doubtful images come first, filter writes the kept ones."""

import json

import numpy as np
import pytest

from conftest import run_cli, write_images
from ganforge.data import review
from ganforge.data.dataset import load_dataset
from ganforge.data.prepare import PrepareOptions, prepare
from ganforge.errors import DataError


@pytest.fixture
def small_set(tmp_path):
    write_images(tmp_path / "src", 12, size=16)
    out = tmp_path / "set.zip"
    prepare(str(tmp_path / "src"), out, PrepareOptions(resolution=16, channels=3, workers=1), progress=False)
    return out


def test_decisions_are_committed_at_once_and_last_one_wins(tmp_path):
    db = tmp_path / "r.sqlite"
    conn = review.connect(db)
    review.decide(conn, "sha", 3, False)
    review.decide(conn, "sha", 4, True)
    review.decide(conn, "sha", 4, False)
    # no close, no commit by the caller: a new connection (a reload, another process) sees them
    assert review.decisions(review.connect(db), "sha") == {3: False, 4: False}
    assert review.decisions(review.connect(db), "other") == {}


def test_outliers_and_duplicates_come_first():
    rng = np.random.default_rng(0)
    base = np.full((16, 16, 3), 120, np.uint8)
    images = np.stack([np.clip(base + rng.integers(-5, 6, base.shape), 0, 255).astype(np.uint8) for _ in range(10)])
    images[6] = 255 - images[6]
    images[6, :8] = 0                 # an outlier: half black, half inverted
    images[8] = images[2]             # an exact duplicate of an earlier image
    order = review.doubt_order(images)
    assert order[0] == 8 and order[1] == 6


def test_filter_writes_the_kept_images_and_reports_the_dropped(tmp_path, small_set, capsys):
    ds = load_dataset(small_set)
    db = tmp_path / "r.sqlite"
    with review.connect(db) as conn:
        review.decide(conn, ds.sha256, 1, False)
        review.decide(conn, ds.sha256, 5, False)
        review.decide(conn, ds.sha256, 2, True)
    out = tmp_path / "clean.zip"
    code, stdout, err = run_cli(capsys, "data", "filter", small_set, "--review", db, "--out", out)
    assert code == 0, err
    clean = load_dataset(out)
    assert len(clean) == len(ds) - 2
    assert (clean.images[1] == ds.images[2]).all()  # image 1 is gone, the rest keep their order
    report = json.loads(out.with_suffix(".report.json").read_text())
    assert [d["index"] for d in report["dropped_items"]] == [1, 5]
    assert {d["reason"] for d in report["dropped_items"]} == {"dropped by review"}
    assert "2 dropped by review" in stdout


def test_filter_without_decisions_is_a_clear_error(tmp_path, small_set):
    with pytest.raises(DataError, match="no review database"):
        review.filter_dataset(small_set, tmp_path / "none.sqlite", tmp_path / "o.zip")
    review.connect(tmp_path / "empty.sqlite").close()
    with pytest.raises(DataError, match="no decisions"):
        review.filter_dataset(small_set, tmp_path / "empty.sqlite", tmp_path / "o.zip")


def test_review_page_and_decisions_through_the_web_app(tmp_path, small_set):
    from ganforge.web import create_app

    (tmp_path / "runs").mkdir()
    app = create_app(tmp_path / "runs", {"REVIEW_DATA": str(small_set), "TESTING": True})
    client = app.test_client()
    page = client.get("/review")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert text.count('class="review-item') == 12 and "review.js" in text
    token = text.split('name="csrf-token" content="')[1].split('"')[0]
    headers = {"X-CSRF-Token": token}
    r = client.post("/api/review/decisions", json={"item": 7, "keep": False}, headers=headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert client.post("/api/review/decisions", json={"item": 99, "keep": False}, headers=headers).status_code == 400
    assert client.post("/api/review/decisions", json={"item": 1, "keep": "no"}, headers=headers).status_code == 400
    assert client.get("/api/review/thumbs/7.png").mimetype == "image/png"
    again = create_app(tmp_path / "runs", {"REVIEW_DATA": str(small_set), "TESTING": True}).test_client()
    text = again.get("/review").get_data(as_text=True)  # a new app over the same database: the decision is there
    assert 'review-item dropped"\n    data-item="7"' in text and 'dropped <span id="dropped">1</span>' in text
