"""The CLI in-process: help, the main commands, and one-line errors with exit code 1."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli, write_images
from ganforge.cli import main


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("data", "train", "generate", "serve"):
        assert cmd in out


def test_python_dash_m_works():
    r = subprocess.run([sys.executable, "-m", "ganforge", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("ganforge ")


def test_generate_is_deterministic_and_seeds_compose(capsys, trained_run, tmp_path):
    assert run_cli(capsys, "generate", str(trained_run), "--n", "4", "--seed", "5", "--out",
                   str(tmp_path / "a.png"))[0] == 0
    assert run_cli(capsys, "generate", str(trained_run), "--n", "4", "--seed", "5", "--out",
                   str(tmp_path / "b.png"))[0] == 0
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    run_cli(capsys, "generate", str(trained_run), "--n", "3", "--seed", "6", "--separate", "--out",
            str(tmp_path / "sep"))
    files = sorted((tmp_path / "sep").glob("*.png"))
    assert [f.name for f in files] == ["seed000006.png", "seed000007.png", "seed000008.png"]
    # seed 6 alone is the second image of the grid that starts at seed 5
    grid = np.asarray(Image.open(tmp_path / "a.png"))
    first_of_sep = np.asarray(Image.open(files[0]))
    assert np.array_equal(grid[2:34, 36:68], first_of_sep)


def test_prepare_and_train_from_the_command_line(capsys, tmp_path):
    write_images(tmp_path / "src", 40, size=20)
    (tmp_path / "src" / "broken.png").write_bytes(b"nope")
    code, out, _ = run_cli(capsys, "data", "prepare", str(tmp_path / "src"), "--out", str(tmp_path / "d.zip"),
                           "--size", "16", "--workers", "1")
    assert code == 0
    assert "41 files in, 40 images written" in out and "1 skipped (1 not an image)" in out
    code, out, _ = run_cli(capsys, "train", "--data", str(tmp_path / "d.zip"), "--out", str(tmp_path / "run"),
                           "--steps", "3", "--batch-size", "8", "--width", "8", "--n-samples", "4")
    assert code == 0
    assert "ganforge serve" in out and (tmp_path / "run" / "samples" / "latest.png").is_file()
    code, out, _ = run_cli(capsys, "train", "--out", str(tmp_path / "run"), "--resume", "--steps", "5")
    assert code == 0 and "step 5" in out


@pytest.mark.parametrize("case", ["empty", "no-images", "missing-ckpt", "corrupt-ckpt", "size-mismatch",
                                  "missing-data", "not-a-dataset", "resume-nothing",
                                  "resume-corrupt-config"])
def test_errors_are_one_line_with_exit_code_1(capsys, tmp_path, case, trained_run, pokemon32):
    if case == "empty":
        (tmp_path / "e").mkdir()
        argv = ["data", "prepare", str(tmp_path / "e"), "--out", str(tmp_path / "o.zip")]
    elif case == "no-images":
        (tmp_path / "t").mkdir()
        (tmp_path / "t" / "readme.txt").write_text("x")
        argv = ["data", "prepare", str(tmp_path / "t"), "--out", str(tmp_path / "o.zip")]
    elif case == "missing-ckpt":
        argv = ["generate", str(tmp_path / "nope"), "--out", str(tmp_path / "o.png")]
    elif case == "corrupt-ckpt":
        (tmp_path / "bad.pt").write_bytes(b"\x80\x04garbage" * 10)
        argv = ["generate", str(tmp_path / "bad.pt"), "--out", str(tmp_path / "o.png")]
    elif case == "size-mismatch":
        argv = ["train", "--data", str(pokemon32), "--out", str(tmp_path / "r"), "--resolution", "64", "--steps", "1"]
    elif case == "missing-data":
        argv = ["train", "--data", str(tmp_path / "none.zip"), "--out", str(tmp_path / "r"), "--steps", "1"]
    elif case == "not-a-dataset":
        (tmp_path / "x.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
        argv = ["train", "--data", str(tmp_path / "x.zip"), "--out", str(tmp_path / "r"), "--steps", "1"]
    elif case == "resume-corrupt-config":
        (tmp_path / "r").mkdir()
        (tmp_path / "r" / "config.json").write_text('{"train": ')  # torn write
        argv = ["train", "--out", str(tmp_path / "r"), "--resume"]
    else:
        argv = ["train", "--out", str(tmp_path / "r"), "--resume"]
    code, out, err = run_cli(capsys, *argv)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ganforge: error: "), err
    assert "Traceback" not in err
    assert not (tmp_path / "o.zip").exists() and not (tmp_path / "o.png").exists()
    assert not (tmp_path / "r" / "checkpoints").exists()


def test_a_pickle_with_code_is_refused(capsys, tmp_path):
    """weights_only loading: a checkpoint that would run code on unpickling is rejected, not executed."""
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("EXECUTED",))

    import torch

    torch.save({"format": "ganforge-checkpoint", "payload": Evil()}, tmp_path / "evil.pt",
               _use_new_zipfile_serialization=True)
    code, out, err = run_cli(capsys, "generate", str(tmp_path / "evil.pt"), "--out", str(tmp_path / "o.png"))
    assert code == 1 and "EXECUTED" not in out
    del pickle
