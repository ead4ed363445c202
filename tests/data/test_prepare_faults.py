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
from ganforge.data.dataset import load_dataset, read_info
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


# ---- 3. compressed tar archives -----------------------------------------------------------------

def test_a_compressed_tar_is_streamed_without_a_temporary_file(tmp_path, monkeypatch):
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(temp))
    monkeypatch.setattr(files, "MAX_FILE_BYTES", 50_000)  # stands for 200 MB: a member that expands too far
    with tarfile.open(tmp_path / "a.tar.gz", "w:gz") as tf:
        for i in range(3):
            data = png(seed=i)
            info = tarfile.TarInfo(f"cats/{i}.png")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("bomb.png")
        info.size = 1_000_000
        tf.addfile(info, io.BytesIO(bytes(info.size)))  # 1 MB of zeros: about 1 kB compressed
    seen_during = []
    real = prepare_mod.decode_image
    monkeypatch.setattr(prepare_mod, "decode_image", lambda data, **kw: (seen_during.append(os.listdir(temp)),
                                                                         real(data, **kw))[1])
    report = prepare(str(tmp_path / "a.tar.gz"), tmp_path / "ds.zip", PrepareOptions(resolution=16, workers=1),
                     progress=False)
    assert report["written"] == 3 and seen_during == [[], [], []] and os.listdir(temp) == []
    reasons = {s["file"]: s["reason"] for s in report["skipped"]}
    assert reasons["bomb.png"].startswith("too large")


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


# ---- 5. what the report used to miss ------------------------------------------------------------

def test_links_fifos_and_unreadable_folders_are_reported(tmp_path, monkeypatch):
    src = tmp_path / "src"
    write_images(src, 2, size=16)
    (src / "dangling.png").symlink_to(tmp_path / "gone.png")
    (src / "loop.png").symlink_to(src / "loop.png")
    (src / "device.png").symlink_to("/dev/null")
    os.mkfifo(src / "pipe.png")
    write_images(src / "locked", 1, size=16)
    real_scandir = os.scandir

    def scandir(path="."):  # root reads every folder, so refuse this one as a permission would
        if Path(path) == src / "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    report = prepare(str(src), tmp_path / "ds.zip", PrepareOptions(resolution=16, workers=1), progress=False)
    reasons = {s["file"]: s["reason"] for s in report["skipped"]}
    assert reasons["dangling.png"].startswith("broken symbolic link")
    assert reasons["loop.png"].startswith("symbolic link loop")
    assert reasons["device.png"].startswith("not a regular file (a device)")
    assert reasons["pipe.png"].startswith("not a regular file (a FIFO)")
    assert reasons["locked"].startswith("cannot read the folder")
    assert report["written"] == 2 and report["seen"] == 2 + 5


def test_unsafe_huge_and_repeated_archive_members_are_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MAX_FILE_BYTES", 50_000)
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as zf:
        zf.writestr("ok.png", png(seed=1))
        zf.writestr("../evil.png", png(seed=2))
        zf.writestr("/etc/abs.png", png(seed=3))
        zf.writestr(".hidden.png", png(seed=4))
        zf.writestr("huge.png", bytes(60_000))
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr("ok.png", png(seed=5))
    report = prepare(str(tmp_path / "a.zip"), tmp_path / "ds.zip", PrepareOptions(resolution=16, workers=1),
                     progress=False)
    reasons = {s["file"]: s["reason"] for s in report["skipped"]}
    assert reasons["../evil.png"].startswith("unsafe name") and reasons["/etc/abs.png"].startswith("unsafe name")
    assert reasons["huge.png"].startswith("too large")
    assert any(f.startswith("ok.png") and r.startswith("another member has the same name") for f, r in reasons.items())
    assert report["written"] == 1 and ".hidden.png" not in reasons  # hidden files are still not data

    with tarfile.open(tmp_path / "a.tar", "w") as tf:
        for name, data in [("ok.png", png(seed=1)), ("../evil.png", png(seed=2)), ("huge.png", bytes(60_000)),
                           ("ok.png", png(seed=5))]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    report = prepare(str(tmp_path / "a.tar"), tmp_path / "t.zip", PrepareOptions(resolution=16, workers=1),
                     progress=False)
    reasons = {s["file"]: s["reason"] for s in report["skipped"]}
    assert reasons["../evil.png"].startswith("unsafe name") and reasons["huge.png"].startswith("too large")
    assert any(f.startswith("ok.png") and r.startswith("another member has the same name") for f, r in reasons.items())
    assert report["written"] == 1


# ---- 24. channels, upscaling and sizes ----------------------------------------------------------

def test_greyscale_photos_keep_one_channel_and_upscaling_is_counted(tmp_path, capsys):
    for i in range(4):
        (tmp_path / "grey").mkdir(exist_ok=True)
        (tmp_path / "grey" / f"{i}.png").write_bytes(png(48 if i < 3 else 80, "L", seed=i))
    code = run_command(["data", "prepare", str(tmp_path / "grey"), "--out", str(tmp_path / "g.zip"), "--size", "64",
                        "--workers", "1"])
    out = capsys.readouterr().out
    assert code == 0 and read_info(tmp_path / "g.zip")["channels"] == 1
    assert "greyscale" in out and "3 images smaller than 64 px were upscaled" in out
    # one colour image among grey ones: RGB, the grey ones converted
    (tmp_path / "grey" / "colour.png").write_bytes(png(64, "RGB", seed=9))
    report = prepare(str(tmp_path / "grey"), tmp_path / "c.zip", PrepareOptions(resolution=32, workers=1),
                     progress=False)
    assert read_info(tmp_path / "c.zip")["channels"] == 3 and report["written"] == 5
    images = load_dataset(tmp_path / "c.zip", use_cache=False).images
    assert images.shape == (5, 32, 32, 3) and (images[:4, ..., 0] == images[:4, ..., 2]).all()


def test_a_size_that_is_not_a_power_of_two_is_prepared_with_a_note(tmp_path, capsys):
    write_images(tmp_path / "src", 2, size=60)
    code = run_command(["data", "prepare", str(tmp_path / "src"), "--out", str(tmp_path / "d.zip"), "--size", "48",
                        "--workers", "1"])
    out = capsys.readouterr().out
    assert code == 0 and read_info(tmp_path / "d.zip")["resolution"] == 48
    assert "not a power of two" in out


def test_temporary_files_a_killed_prepare_left_are_removed_next_time(tmp_path, capsys):
    """Point 1/3: a SIGKILLed prepare leaves its atomic writer's temporary files; the next run of the same
    --out removes them (stale ones only: a live prepare keeps writing its own)."""
    write_images(tmp_path / "src", 4)
    out = tmp_path / "set.zip"
    stale = [tmp_path / ".set.zip.abc123.tmp", tmp_path / ".set.report.json.def456.tmp"]
    fresh = tmp_path / ".set.zip.live99.tmp"
    for p in (*stale, fresh):
        p.write_bytes(b"half a file")
    old = time.time() - 2 * prepare_mod.STALE_TEMP_SECONDS
    for p in stale:
        os.utime(p, (old, old))
    prepare(str(tmp_path / "src"), out, PrepareOptions(resolution=16, workers=1), progress=False)
    assert [p.exists() for p in stale] == [False, False] and fresh.exists()
    assert "removed 2 temporary file(s)" in capsys.readouterr().err
