"""End to end: review a data set in headless chromium with the keyboard and the mouse, reload, filter it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from test_web_browser import browser, serving, wait_for  # noqa: F401  (fixtures)

from conftest import write_images
from ganforge.data.dataset import load_dataset
from ganforge.data.prepare import PrepareOptions, prepare


@pytest.fixture
def review_server(tmp_path):
    write_images(tmp_path / "src", 10, size=16)
    data = tmp_path / "set.zip"
    prepare(str(tmp_path / "src"), data, PrepareOptions(resolution=16, channels=3, workers=1), progress=False)
    (tmp_path / "runs").mkdir()
    db = tmp_path / "review.sqlite"
    args = ["--runs", str(tmp_path / "runs"), "--data", str(data), "--review-db", str(db)]
    with serving(args, probe="/review") as base:
        yield base, data, db


@pytest.mark.slow
def test_review_with_keys_and_mouse_survives_a_reload_and_filters(review_server, browser, tmp_path):
    from selenium.webdriver.common.by import By

    base, data, db = review_server
    d = browser
    d.get(base + "/review")
    items = d.find_elements(By.CSS_SELECTOR, ".review-item")
    assert len(items) == 10
    first, second, third = (int(items[i].get_attribute("data-item")) for i in range(3))
    body = d.find_element(By.TAG_NAME, "body")
    body.send_keys("x")          # drop the first (the most doubtful), the cursor moves on
    wait_for(d, "return document.getElementById('review').dataset.saved === '1'", what="first decision")
    body.send_keys("\n")         # keep the second
    wait_for(d, "return document.getElementById('review').dataset.saved === '2'", what="second decision")
    items[2].click()             # the mouse drops the third
    wait_for(d, "return document.getElementById('review').dataset.saved === '3'", what="third decision")
    d.refresh()                  # nothing is lost on reload
    classes = {int(e.get_attribute("data-item")): e.get_attribute("class")
               for e in d.find_elements(By.CSS_SELECTOR, ".review-item")}
    assert "dropped" in classes[first] and "kept" in classes[second] and "dropped" in classes[third]
    assert d.find_element(By.ID, "dropped").text == "2"
    out = tmp_path / "clean.zip"
    subprocess.run([sys.executable, "-m", "ganforge", "data", "filter", str(data), "--review", str(db), "--out",
                    str(out)], check=True, capture_output=True)
    assert len(load_dataset(out)) == 8
    report = json.loads(out.with_suffix(".report.json").read_text())
    assert sorted(x["index"] for x in report["dropped_items"]) == sorted([first, third])
