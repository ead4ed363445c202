"""Faults and bad input in ``data prepare`` (issue 15, points 1-5 and 24): each one reported, nothing left behind."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import ganforge
from conftest import write_images
from ganforge.cli import run_command
from ganforge.data import prepare as prepare_mod
from ganforge.data.dataset import read_info
from ganforge.data.prepare import PrepareOptions, prepare
from ganforge.data.sources import files

SRC = Path(ganforge.__file__).resolve().parents[1]


def png(size: int = 16, mode: str = "RGB", seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).convert(mode).save(buf, format="PNG")
    return buf.getvalue()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".tmp", ".tar", ".part")))


@pytest.fixture
def no_alarm():
    """A hang becomes a failure after a minute instead of blocking the suite (the fault point 1 fixes)."""
    def hung(*_):
        raise TimeoutError("prepare hung")

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


# ---- 1. a worker process dies -------------------------------------------------------------------

def test_a_worker_that_dies_is_reported_and_the_rest_is_written(tmp_path, monkeypatch, no_alarm):
    write_images(tmp_path / "src", 80, size=16)
    doomed = (tmp_path / "src" / "img037.png").read_bytes()
    parent = os.getpid()
    real = prepare_mod.decode_image

    def decode(data, **kw):
        if data == doomed and os.getpid() != parent:  # as a decoder crash or the kernel's OOM killer would
            os.kill(os.getpid(), signal.SIGKILL)
        return real(data, **kw)

    monkeypatch.setattr(prepare_mod, "decode_image", decode)
    out = tmp_path / "out" / "ds.zip"
    report = prepare(str(tmp_path / "src"), out, PrepareOptions(resolution=16, workers=2), progress=False)
    reasons = {s["file"]: s["reason"] for s in report["skipped"]}
    assert list(reasons) == ["img037.png"] and "worker process died" in reasons["img037.png"]
    assert report["written"] == 79 and read_info(out)["count"] == 79
    assert [r["source"] for r in read_info(out)["items"]][36:38] == ["img036.png", "img038.png"]  # order kept
    assert leftovers(out.parent) == []


# ---- 2. SIGTERM ---------------------------------------------------------------------------------

def test_sigterm_stops_cleanly_like_ctrl_c(tmp_path):
    write_images(tmp_path / "src", 200, size=16)
    (tmp_path / "out").mkdir()
    (tmp_path / "tmp").mkdir()
    # A real `ganforge data prepare`, with every decode slowed down so the signal lands mid-run.
    script = ("import sys, time\n"
              "from ganforge.data import prepare as p\n"
              "real = p.decode_image\n"
              "p.decode_image = lambda data, **kw: (time.sleep(0.05), real(data, **kw))[1]\n"
              "from ganforge.cli import main\n"
              "sys.exit(main(sys.argv[1:]))\n")
    env = {**os.environ, "PYTHONPATH": str(SRC), "TMPDIR": str(tmp_path / "tmp")}
    proc = subprocess.Popen([sys.executable, "-c", script, "data", "prepare", str(tmp_path / "src"),
                             "--out", str(tmp_path / "out" / "ds.zip"), "--workers", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    deadline = time.time() + 60
    while not leftovers(tmp_path / "out") and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)  # until the data-set file is being written
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode not in (0, None)
    assert "Traceback" not in err and "Error" not in err, err
    assert err.strip().splitlines()[-1] == "ganforge: interrupted"
    assert os.listdir(tmp_path / "out") == [] and os.listdir(tmp_path / "tmp") == []


# ---- 4. bad --out -------------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["a directory", "under a file", "unwritable"])
def test_a_bad_out_is_refused_before_any_image_is_read(tmp_path, monkeypatch, capsys, where):
    write_images(tmp_path / "src", 3, size=16)
    (tmp_path / "file").write_text("x")
    out = {"a directory": tmp_path / "src", "under a file": tmp_path / "file" / "ds.zip",
           "unwritable": Path("/proc/ganforge-test.zip")}[where]
    read = []
    monkeypatch.setattr(prepare_mod, "decode_image", lambda *a, **kw: read.append(1))
    code = run_command(["data", "prepare", str(tmp_path / "src"), "--out", str(out), "--workers", "1"])
    err = capsys.readouterr().err
    assert code == 1 and read == []
    assert len(err.strip().splitlines()) == 1 and err.startswith("ganforge: error: --out"), err
