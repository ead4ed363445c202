"""End to end in headless chromium (issue 16 point 4): upload a photo on a CycleGAN run's Translate page and see
it translated, with a download link; a CoGAN run's Explore page draws pairs and a click picks the right one.
The screenshot it saves goes to a temporary folder (to look at): docs/screenshots/translate.png shows a
CycleGAN trained for a few minutes on cats and dogs, not these barely trained runs.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from test_web_browser import NO_BROKEN_IMAGES, browser, serving, wait_for  # noqa: F401  (fixtures)

from test_translate import runs  # noqa: F401  (the fixture: tiny cyclegan, dtn and cogan runs)

pytestmark = pytest.mark.slow

RESOURCES = "return performance.getEntriesByType('resource').map((e) => e.name)"


@pytest.fixture
def two_domain_server(runs, tmp_path):  # noqa: F811
    root, _ = runs
    with serving(["--runs", str(root), "--db", str(tmp_path / "game.sqlite")]) as base:
        yield base


def test_translate_an_upload_then_pick_a_cogan_pair(two_domain_server, browser, tmp_path):  # noqa: F811
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    d, base = browser, two_domain_server
    find = lambda css: d.find_element(By.CSS_SELECTOR, css)  # noqa: E731
    photo = tmp_path / "cat.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)).save(photo)

    d.get(f"{base}/runs/cyclegan")
    find("a[href='/runs/cyclegan/translate']").click()  # the nav and the run page link to it
    assert d.execute_script(NO_BROKEN_IMAGES) == [] and not find("#download").is_displayed()
    find("#photo").send_keys(str(photo))
    Select(find("#direction")).select_by_value("b2a")
    find("#translate-form button").click()
    wait_for(d, "return document.getElementById('translate').dataset.translated === '1'", what="translation")
    shown = d.execute_script("return ['input', 'output'].map((id) => document.getElementById(id).naturalWidth)")
    assert shown == [32, 32]
    link = find("#download")
    assert link.is_displayed() and link.get_attribute("download") == "cat-b2a.png"
    href = link.get_attribute("href")
    assert href.startswith("blob:") and href == find("#output").get_attribute("src")  # the translation shown
    assert "translated b2a" in find("#status").text
    d.save_screenshot(str(tmp_path / "translate.png"))

    (tmp_path / "notes.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")  # an unreadable upload: one line
    find("#photo").send_keys(str(tmp_path / "notes.png"))
    find("#translate-form button").click()
    wait_for(d, "return document.getElementById('status').classList.contains('error')", what="upload error")
    said = find("#status").text
    assert said.startswith("'image': ") and "\n" not in said, said  # e.g. "'image': cannot decode: ..."

    find("#index").clear()  # an image of the run's own data set: the fourth of domain B
    find("#index").send_keys("3")
    find("#use-data").click()
    wait_for(d, "return document.getElementById('translate').dataset.translated === '2'", what="data-set image")
    assert find("#download").get_attribute("download") == "b3-b2a.png"
    assert find("#status").text == "translated b2a"

    d.get(f"{base}/runs/dtn/translate")  # DTN translates one way
    assert [o.get_attribute("value") for o in d.find_elements(By.CSS_SELECTOR, "#direction option")] == ["a2b"]

    d.get(f"{base}/runs/cogan/explore")
    assert not d.find_elements(By.CSS_SELECTOR, "a[href='/runs/cogan/translate']")
    wait_for(d, "return document.getElementById('explore').dataset.grids === '1'", what="grid of pairs")
    grid = find("#grid")
    natural = d.execute_script("const g = arguments[0]; return [g.naturalWidth, g.naturalHeight, g.clientWidth, "
                               "g.clientHeight]", grid)
    assert natural[:2] == [2 + 4 * 66, 2 + 4 * 34]  # 16 pairs of 64×32 in 4 columns
    x, y = (2 + 66 + 33) * natural[2] / natural[0], (2 + 34 + 17) * natural[3] / natural[1]  # pair 5: row 1, col 1
    ActionChains(d).move_to_element_with_offset(grid, x - natural[2] / 2, y - natural[3] / 2).click().perform()
    wait_for(d, "return Number(document.getElementById('editor').dataset.renders || 0) >= 1", what="editor image")
    assert any("key=seed%3A5" in url for url in d.execute_script(RESOURCES))
    width, height = d.execute_script("return [arguments[0].clientWidth, arguments[0].clientHeight]", grid)
    assert abs(width / height - natural[0] / natural[1]) < 0.02  # shown at its own aspect beside the tall editor
    editor = find("#editor img")
    assert d.execute_script("return [arguments[0].naturalWidth, arguments[0].naturalHeight, "
                            "getComputedStyle(arguments[0]).objectFit]", editor) == [64, 32, "contain"]
    errors = [e["message"] for e in d.get_log("browser") if e["level"] == "SEVERE" and "400" not in e["message"]]
    assert not errors  # no script errors; the refused upload's 400 is the only one logged
