"""End to end: the real server (``ganforge serve`` under waitress) driven by Debian's headless chromium.

Generates a grid, moves an editing slider, makes a morph, embeds and inpaints, watches
training, answers ten real-or-fake rounds and finds them on the results page. Saves a
screenshot of every page in a temporary folder.

``make screenshots`` runs this test on purpose to refresh the docs' screenshots: it sets
``GANFORGE_SCREENSHOTS`` (the folder to write them to) and ``GANFORGE_SCREENSHOT_RUN`` (a run
trained for a minute or two, shown instead of the tests' barely trained one).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganforge.data.dataset import load_dataset
from ganforge.runs import RunDir, read_jsonl

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DOCS_SHOTS = REPO / "docs" / "screenshots"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def run_dir(request) -> Path:
    """The run to show: ``GANFORGE_SCREENSHOT_RUN`` (make screenshots), else the tests' trained run."""
    chosen = os.environ.get("GANFORGE_SCREENSHOT_RUN")
    return Path(chosen).resolve() if chosen else request.getfixturevalue("trained_run")


@pytest.fixture
def shots(tmp_path) -> Path:
    """Where screenshots go: ``GANFORGE_SCREENSHOTS`` (make screenshots), else a temporary folder."""
    return Path(os.environ.get("GANFORGE_SCREENSHOTS") or tmp_path / "screenshots")


@contextlib.contextmanager
def serving(args: list[str], probe: str = "/api/runs"):
    """``ganforge serve ARGS`` on a free port, up once ``probe`` answers; yields its base URL, then stops it."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "ganforge", "serve", *args, "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(base + probe, timeout=5).read()
            break
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("the server did not start: " + (proc.stdout.read() if proc.stdout else ""))
            time.sleep(0.3)
    try:
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def server(tmp_path, run_dir):
    runs = tmp_path / "runs"
    shutil.copytree(run_dir, runs / run_dir.name, ignore=shutil.ignore_patterns("step-*"))
    with serving(["--runs", str(runs), "--db", str(tmp_path / "game.sqlite")]) as base:
        yield base


@pytest.fixture
def browser(tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver")
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("needs Debian's chromium and chromium-driver (make test installs them)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'chromium-profile'}",
                 "--window-size=1280,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def wait_for(driver, condition, timeout=120, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = driver.execute_script(condition)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; page says: "
                         + driver.execute_script("return document.body.innerText")[:500])


def fingerprint(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.png"))}


def test_browser_drives_every_page(server, browser, tmp_path, run_dir, shots):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    d = browser
    find = lambda css: d.find_element(By.CSS_SELECTOR, css)  # noqa: E731
    name, run = run_dir.name, RunDir(run_dir)
    config = run.read_config()
    resolution = config["model"]["resolution"]
    docs_before = fingerprint(DOCS_SHOTS)

    def shoot(page: str) -> None:
        shots.mkdir(parents=True, exist_ok=True)
        d.save_screenshot(str(shots / f"{page}.png"))

    # Runs and the run page.
    d.get(server + "/")
    assert name in find(".cards").text
    shoot("runs")
    d.get(f"{server}/runs/{name}")
    wait_for(d, "return document.getElementById('grid').naturalWidth > 0", what="run grid")
    shoot("run")

    # Explore: a grid for a new seed, then click an image and move a slider.
    d.get(f"{server}/runs/{name}/explore")
    wait_for(d, "return document.getElementById('explore').dataset.grids === '1'", what="first grid")
    find("#seed").clear()
    find("#seed").send_keys("100")
    find("#generate").click()
    wait_for(d, "return document.getElementById('explore').dataset.grids === '2'", what="second grid")
    ActionChains(d).move_to_element_with_offset(find("#grid"), -100, -100).click().perform()
    wait_for(d, "return Number(document.getElementById('editor').dataset.renders || 0) >= 1", what="editor image")
    before = d.execute_script("return document.querySelector('#editor img').src")
    slider = find("input.direction")
    for _ in range(8):
        slider.send_keys(Keys.RIGHT)
    wait_for(d, "return document.querySelector('#editor output').textContent === '2'", what="slider value")
    wait_for(d, f"return document.querySelector('#editor img').src !== {before!r} && "
                "document.querySelector('#editor img').complete", what="edited image")
    shoot("explore")

    # Morph three seeds into a GIF.
    d.get(f"{server}/runs/{name}/morph")
    find("#frames").clear()
    find("#frames").send_keys("12")
    find("#make").click()
    wait_for(d, "return document.getElementById('morph').dataset.done === '1'", what="morph")
    wait_for(d, f"return document.querySelector('#preview img').naturalWidth === {resolution}", what="morph preview")
    assert find("#download").get_attribute("href").endswith("?download=1")
    shoot("morph")

    # Embed a training image.
    photo = tmp_path / "photo.png"
    pixels = np.asarray(load_dataset(config["data"]["path"]).images[3])
    Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).resize(
        (128, 128), Image.Resampling.NEAREST).save(photo)
    d.get(f"{server}/runs/{name}/embed")
    find("#photo").send_keys(str(photo))
    find("#steps").clear()
    find("#steps").send_keys("20")
    find("#embed-form button").click()
    wait_for(d, "return Number(document.getElementById('editor').dataset.renders || 0) >= 1", what="embedding")
    assert "PSNR" in find("#status").text
    shoot("embed")

    # Inpaint: a generated image, a painted stroke, fill.
    d.get(f"{server}/runs/{name}/inpaint")
    find("#source-form button").click()
    wait_for(d, "return document.getElementById('inpaint').dataset.ready === '1'", what="inpaint source")
    mask = find("#mask")
    ActionChains(d).move_to_element_with_offset(mask, -60, -20).click_and_hold().move_by_offset(120, 30) \
        .move_by_offset(0, 40).release().perform()
    find("#steps").clear()
    find("#steps").send_keys("10")
    find("#fill").click()
    wait_for(d, f"return document.getElementById('result').naturalWidth === {resolution}", what="inpainted image")
    shoot("inpaint")

    # Training view.
    d.get(f"{server}/runs/{name}/training")
    wait_for(d, "return document.getElementById('training').dataset.loaded === '1'", what="training data")
    wait_for(d, "return document.getElementById('samples').naturalWidth > 0", what="training samples")
    assert find("#step").text == str(read_jsonl(run.log)[-1]["step"])
    shoot("training")

    # Ten rounds of real or fake?
    d.get(f"{server}/runs/{name}/game")
    for i in range(10):
        wait_for(d, "return !document.getElementById('answer-real').disabled", what=f"round {i + 1}")
        find("#answer-real" if i % 2 else "#answer-fake").click()
        wait_for(d, f"return document.getElementById('game').dataset.answered === '{i + 1}'", what=f"answer {i + 1}")
    wait_for(d, "return !document.getElementById('answer-real').disabled", what="next round")
    shoot("game")

    d.get(server + "/game/results")
    row = find(f"#results tr[data-run='{name}']")
    assert row.get_attribute("data-judgements") == "10"
    assert "n=10" in row.text  # HYPE-∞ over all ten judgements
    shoot("results")
    errors = [e["message"] for e in d.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors  # no script errors, no CSP violations
    pages = {"runs", "run", "explore", "morph", "embed", "inpaint", "training", "game", "results"}
    assert pages <= {p.stem for p in shots.glob("*.png")}
    if shots != DOCS_SHOTS:
        assert fingerprint(DOCS_SHOTS) == docs_before  # the tests leave a clone's tracked files alone


# Records, from before an action on, whether the header's spinner was shown and what it said.
WATCH_BUSY = """
window.busySeen = [];
const box = document.getElementById('busy');
new MutationObserver(() => { if (!box.hidden) window.busySeen.push(document.getElementById('busy-text').textContent); })
  .observe(box, {attributes: true, subtree: true, childList: true, characterData: true});
"""
# Every <img> is either not displayed (no source yet) or a loaded picture: no broken-image icon.
NO_BROKEN_IMAGES = """
return [...document.images].filter((i) => getComputedStyle(i).display !== 'none' && !(i.complete && i.naturalWidth > 0))
  .map((i) => i.id || i.alt);
"""
VISIBLE_PLACEHOLDERS = """
return [...document.querySelectorAll('.placeholder')].filter((p) => getComputedStyle(p).display !== 'none').length;
"""


def test_pages_look_finished(server, browser, tmp_path, run_dir):
    """No broken images before an upload, a favicon, evaluation.json's metrics in the run list,
    and a spinner or progress for every long action (issue 18 point 7)."""
    from selenium.webdriver.common.by import By

    d, name = browser, run_dir.name
    find = lambda css: d.find_element(By.CSS_SELECTOR, css)  # noqa: E731
    served_run = tmp_path / "runs" / name  # the server's copy
    (served_run / "evaluation.json").write_text(json.dumps(
        {"metrics": {"fid": 123.4, "kid": 0.0567}, "source": {"step": 12}, "n": 500}))

    d.get(server + "/")
    card = find(".card .evaluation").text
    assert "evaluated at step 12" in card and "fid 123.4" in card and "kid 0.0567" in card
    icon = find("link[rel=icon]").get_attribute("href")
    kind = d.execute_async_script(
        "fetch(arguments[0]).then((r) => arguments[1](r.ok && r.headers.get('content-type')))", icon)
    assert kind.startswith("image/svg+xml")
    d.get(f"{server}/runs/{name}")
    assert "fid" in find("table.evaluation").text

    # The run page's grid: the spinner shows while it renders.
    wait_for(d, "return document.getElementById('grid').complete", what="run grid")
    d.execute_script(WATCH_BUSY)
    find("#seed-form button").click()
    wait_for(d, "return window.busySeen.length > 0 && document.getElementById('busy').hidden", what="grid spinner")
    assert "generating…" in d.execute_script("return window.busySeen")

    # Embed and Inpaint before any upload: placeholders, no broken images, no empty progress bars.
    for page in ("embed", "inpaint"):
        d.get(f"{server}/runs/{name}/{page}")
        assert d.execute_script(NO_BROKEN_IMAGES) == []
        assert d.execute_script(VISIBLE_PLACEHOLDERS) >= 1
        assert not find("#progress").is_displayed()
        d.save_screenshot(str(tmp_path / f"{page}-empty.png"))  # to look at; not one of the docs' screenshots

    # An embedding: upload text, then the job's progress in the spinner and the bar.
    photo = tmp_path / "photo.png"
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(photo)
    d.get(f"{server}/runs/{name}/embed")
    d.execute_script(WATCH_BUSY)
    find("#photo").send_keys(str(photo))
    assert d.execute_script(NO_BROKEN_IMAGES) == []  # the chosen photo shows, its placeholder goes
    wait_for(d, "return document.getElementById('original').naturalWidth > 0", what="chosen photo")
    find("#steps").clear()
    find("#steps").send_keys("30")
    find("#embed-form button").click()
    wait_for(d, "return Number(document.getElementById('editor').dataset.renders || 0) >= 1", what="embedding")
    said = d.execute_script("return window.busySeen")
    assert "uploading the photo…" in said
    assert any(s.startswith("embed: ") for s in said), said  # the job's status and step count
    assert find("#progress").is_displayed()
    assert d.execute_script(NO_BROKEN_IMAGES) == []
    errors = [e["message"] for e in d.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors


def test_explore_works_in_w_on_a_stylegan2_run(browser, tmp_path, tiny_dataset):
    """A stylegan2 run's Explore (issue 19): the space picker, w by default, reaches the grid and the editor's
    directions and images; switching to z re-renders the grid in z."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    from ganforge.config import ModelConfig, TrainConfig
    from ganforge.train import train

    runs = tmp_path / "runs"
    train(TrainConfig(data=str(tiny_dataset), out=str(runs / "sg"), loss="stylegan2", steps=1, batch_size=8,
                      n_samples=4, device="cpu", precision="fp32"),
          ModelConfig(family="stylegan2", latent_dim=8, width=4, options={"map_layers": 1}))
    d = browser
    find = lambda css: d.find_element(By.CSS_SELECTOR, css)  # noqa: E731
    requested = "return performance.getEntriesByType('resource').map((e) => e.name).join(' ')"
    with serving(["--runs", str(runs), "--db", str(tmp_path / "game.sqlite")]) as base:
        d.get(f"{base}/runs/sg/explore")
        wait_for(d, "return document.getElementById('explore').dataset.grids === '1'", what="first grid")
        assert Select(find("#space")).first_selected_option.text == "w"
        assert "grid.png?" in d.execute_script(requested) and "space=w" in d.execute_script(requested)
        grid = find("#grid")
        w, h = grid.size["width"], grid.size["height"]  # click in the first cell
        ActionChains(d).move_to_element_with_offset(grid, -w // 2 + w // 8, -h // 2 + h // 8).click().perform()
        wait_for(d, "return Number(document.getElementById('editor').dataset.renders || 0) >= 1", what="editor image")
        find("input.direction").send_keys(Keys.RIGHT)
        wait_for(d, "return Number(document.getElementById('editor').dataset.renders || 0) >= 2", what="edited image")
        sent = d.execute_script(requested)
        assert "/directions?space=w" in sent and "edits=0.25" in sent
        Select(find("#space")).select_by_value("z")
        wait_for(d, "return document.getElementById('explore').dataset.grids === '2'", what="grid in z")
        assert "space=z" in d.execute_script(requested)
        errors = [e["message"] for e in d.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors
