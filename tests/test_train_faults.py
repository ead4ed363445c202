"""Training under faults and bad input (issue 15, points 6-12): a full disk, two trainers on one run,
SIGKILL, leftovers of an interrupted write, resume with changed settings, hostile options and
checkpoints, budgets shorter than a step. Each ends in one line and exit code 1, or trains on,
and nothing already written is lost."""

from __future__ import annotations

import errno
import io
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import write_images
from ganforge.checkpoint import load_checkpoint
from ganforge.cli import build_parser, main
from ganforge.config import ModelConfig, TrainConfig
from ganforge.progress import Progress
from ganforge.runs import RunDir, read_jsonl
from ganforge.train import Trainer, train

TINY_MODEL = ["--width", "8", "--latent-dim", "8", "--batch-size", "16", "--n-samples", "4"]


def train_argv(data, out, *extra: str) -> list[str]:
    return ["train", "--data", str(data), "--out", str(out), *TINY_MODEL, *extra]


def run_cli(capsys, argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def error_lines(err: str) -> list[str]:
    assert "Traceback" not in err, err
    return [line for line in err.splitlines() if line.startswith("ganforge: error: ")]


def steps_logged(run_dir) -> list[int]:
    return [r["step"] for r in read_jsonl(RunDir(run_dir).log) if "rolled_back" not in r]


@pytest.fixture(scope="module")
def base_run(tmp_path_factory, tiny_dataset) -> Path:
    """A 4-step run on the tiny data set, copied by tests that change or resume it."""
    out = tmp_path_factory.mktemp("faults") / "base"
    assert main(train_argv(tiny_dataset, out, "--steps", "4", "--checkpoint-every", "2")) == 0
    return out


def copy_run(base_run, tmp_path) -> Path:
    return Path(shutil.copytree(base_run, tmp_path / "run"))


def ganforge_process(*argv: str) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "ganforge", *argv], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


# ---- 6: disk full while writing a checkpoint ---------------------------------------------------------
class FillingDisk:
    """A file on a disk that fills up after ``room`` bytes: its writes then fail with ENOSPC, as real
    ones do (torch's zip writer then raises a RuntimeError of its own, chained to that OSError)."""

    def __init__(self, f, room: int = 1000):
        self.f, self.room = f, room

    def write(self, data) -> int:
        self.room -= len(data)
        if self.room < 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self.f.write(data)

    def flush(self) -> None:
        self.f.flush()


@pytest.mark.parametrize("how", ["save-raises", "disk-fills"])
def test_disk_full_while_checkpointing_is_one_line_and_keeps_the_last_checkpoint(capsys, tmp_path, tiny_dataset,
                                                                                monkeypatch, one_thread, how):
    real_save = torch.save
    calls = []

    def save_until_the_disk_is_full(obj, f, *args, **kwargs):
        calls.append(f)
        if len(calls) == 4:  # 1: step 0's latest.pt; 2, 3: step 3's latest.pt and step-0000003.pt; 4: step 6's
            if how == "save-raises":
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            f = FillingDisk(f)
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_until_the_disk_is_full)
    out = tmp_path / "r"
    code, _, err = run_cli(capsys, train_argv(tiny_dataset, out, "--steps", "9", "--checkpoint-every", "3",
                                              "--sample-every", "1000"))
    assert code == 1
    [line] = error_lines(err)
    assert "no space left on device while writing" in line and "latest.pt" in line, line
    assert line.endswith("the last good checkpoint is step 3"), line
    run = RunDir(out)
    assert load_checkpoint(run.latest_checkpoint)["step"] == 3
    assert steps_logged(out) == list(range(1, 7))  # the log as it was: every step trained, none torn
    assert not list(run.checkpoints.glob(".*.tmp"))


# ---- 7: two trainers on one run directory -------------------------------------------------------------
def test_a_second_trainer_on_the_same_run_is_refused_naming_the_first(tmp_path, tiny_dataset, one_thread):
    out = tmp_path / "r"
    run = RunDir(out)
    first = Trainer(TrainConfig(data=str(tiny_dataset), out=str(out), steps=1, batch_size=16, n_samples=4),
                    ModelConfig(width=8, latent_dim=8))
    config_before = run.config.read_bytes()
    second = ganforge_process(*train_argv(tiny_dataset, out, "--steps", "1"))
    stdout, stderr = second.communicate(timeout=300)
    assert second.returncode == 1, stderr
    [line] = error_lines(stderr)
    assert f"PID {os.getpid()}" in line, line
    assert run.locked_by() == os.getpid()
    assert run.config.read_bytes() == config_before and not run.latest_checkpoint.exists()
    first.fit()  # the first trains on, and lets go when it is done
    assert run.locked_by() is None
    assert load_checkpoint(run.latest_checkpoint)["step"] == 1


# ---- 8: SIGKILL loses no logged step up to the checkpoint ---------------------------------------------
def test_sigkill_then_resume_keeps_every_logged_step_once(tmp_path, tiny_dataset):
    out = tmp_path / "r"
    run = RunDir(out)
    first = ganforge_process(*train_argv(tiny_dataset, out, "--steps", "100000", "--checkpoint-every", "3",
                                         "--sample-every", "100000"))
    deadline = time.monotonic() + 300
    try:
        while not run.checkpoint_at(6).exists():  # two periodic checkpoints: well into training
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "no checkpoint at step 6 within 300 s"
            time.sleep(0.05)
    finally:
        first.kill()  # SIGKILL: no handler runs, buffers are not flushed
        first.communicate()
    assert first.returncode == -signal.SIGKILL
    saved = load_checkpoint(run.latest_checkpoint)["step"]
    assert saved >= 6 and saved % 3 == 0
    assert steps_logged(out)[:saved] == list(range(1, saved + 1))  # nothing lost up to the checkpoint
    assert run.locked_by() is None  # the kernel released the dead trainer's lock
    assert main(train_argv(tiny_dataset, out, "--resume", "--steps", str(saved + 2))) == 0
    assert steps_logged(out) == list(range(1, saved + 3))  # and nothing twice


# ---- 9: temporary files of an interrupted write -------------------------------------------------------
def test_leftover_temporary_files_are_removed_at_the_next_start(tmp_path, base_run, tiny_dataset, one_thread):
    out = copy_run(base_run, tmp_path)
    run = RunDir(out)
    leftovers = [run.checkpoints / ".latest.pt.k2j4h1.tmp", run.checkpoints / ".step-0000004.pt.a8d7f0.tmp",
                 run.samples / ".latest.png.x1y2z3.tmp", out / ".log.jsonl.q9w8e7.tmp"]
    for path in leftovers:
        path.write_bytes(b"half a file")
    others = [out / ".evaluation.json.r5t6y7.tmp", out / "notes.tmp"]  # not the trainer's: another command may own them
    for path in others:
        path.write_bytes(b"someone else's")
    said = io.StringIO()
    train(TrainConfig(data=str(tiny_dataset), out=str(out), steps=5, batch_size=16, n_samples=4),
          ModelConfig(width=8, latent_dim=8), resume=True, out=said)
    assert not [p for p in leftovers if p.exists()]
    assert all(p.exists() for p in others)
    assert "removed 4 temporary file(s)" in said.getvalue()


# ---- 10: resume refuses what would change the run -------------------------------------------------
@pytest.fixture(scope="module")
def other_dataset(tmp_path_factory) -> Path:
    """Like tiny_dataset (16 px grey), other images."""
    from ganforge.data.prepare import PrepareOptions, prepare

    root = tmp_path_factory.mktemp("other")
    write_images(root / "src", 32, size=16, mode="L", seed=1)
    prepare(str(root / "src"), root / "other16.zip", PrepareOptions(resolution=16, channels=1, workers=1),
            progress=False)
    return root / "other16.zip"


@pytest.mark.parametrize("flag,value", [("--data", "OTHER"), ("--loss", "hinge"), ("--batch-size", "32"),
                                        ("--width", "16"), ("--lr-g", "0.001"), ("--seed", "5"),
                                        ("--augment", "translation"), ("--d-norm", "layer"),
                                        ("--ema-kimg", "5")])
def test_resume_refuses_a_change_that_alters_the_run(capsys, tmp_path, base_run, other_dataset, flag, value):
    out = copy_run(base_run, tmp_path)
    value = str(other_dataset) if value == "OTHER" else value
    before = load_checkpoint(RunDir(out).latest_checkpoint)
    code, _, err = run_cli(capsys, ["train", "--out", str(out), "--resume", "--steps", "6", flag, value])
    assert code == 1
    [line] = error_lines(err)
    assert flag in line, line
    assert load_checkpoint(RunDir(out).latest_checkpoint)["step"] == before["step"] == 4


def test_resume_allows_budget_intervals_runtime_and_a_moved_data_set(capsys, tmp_path, base_run, tiny_dataset):
    out = copy_run(base_run, tmp_path)
    moved = Path(shutil.copy(tiny_dataset, tmp_path / "moved.zip"))  # same bytes, another path
    code, _, err = run_cli(capsys, ["train", "--out", str(out), "--resume", "--data", str(moved), "--steps", "6",
                                    "--sample-every", "1", "--checkpoint-every", "1", "--log-every", "1",
                                    "--n-samples", "9", "--device", "cpu", "--precision", "fp32",
                                    "--max-bad-steps", "5", "--eval-n", "100"])
    assert code == 0, err
    assert load_checkpoint(RunDir(out).latest_checkpoint)["step"] == 6


def test_train_help_says_which_options_may_change_on_resume(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "may change on resume" in text and "--checkpoint-every" in text
    assert "fixed for the run" in text and "--batch-size" in text and "--loss" in text


# ---- 11: hostile options and checkpoints ------------------------------------------------------------
def float_options() -> list[str]:
    parser = build_parser()
    train_parser = parser._subparsers._group_actions[0].choices["train"]
    return [a.option_strings[0] for a in train_parser._actions if a.type is float]


def test_every_float_option_is_covered():
    assert {"--lr-g", "--lr-d", "--beta1", "--minutes", "--epochs", "--ema", "--dropout"} <= set(float_options())


@pytest.mark.parametrize("option", float_options())
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_float_option_that_is_not_finite_is_one_line(capsys, tmp_path, tiny_dataset, option, value):
    from ganforge.models import families_using

    out = tmp_path / "r"
    users = families_using(option[2:].replace("-", "_"))  # a family option: give a family that reads it
    family = ["--model", users[0]] if users else []
    code, _, err = run_cli(capsys, train_argv(tiny_dataset, out, "--steps", "1", *family, f"{option}={value}"))
    assert code == 1
    [line] = error_lines(err)
    assert option in line and "finite" in line, line
    assert not out.exists()


@pytest.mark.parametrize("where", ["file", "under-a-file"])
def test_out_that_is_not_a_directory_is_one_line(capsys, tmp_path, tiny_dataset, where):
    target = tmp_path / "a-file"
    target.write_text("x")
    out = target if where == "file" else target / "run"
    code, _, err = run_cli(capsys, train_argv(tiny_dataset, out, "--steps", "1"))
    assert code == 1
    [line] = error_lines(err)
    assert str(out) in line and "not a directory" in line, line
    assert target.read_text() == "x"


def crafted(base_run, tmp_path, case: str) -> Path:
    state = load_checkpoint(RunDir(base_run).latest_checkpoint)
    if case in ("no-G", "no-model_config", "no-opt_D"):
        del state[case[3:]]
    elif case == "G-shape":
        name = next(iter(state["G"]))
        state["G"][name] = torch.zeros(3, 3)
    elif case == "D-shape":
        name = next(iter(state["D"]))
        state["D"][name] = torch.zeros(3, 3)
    elif case == "bad-model_config":
        state["model_config"] = dict(state["model_config"], width="wide")
    path = tmp_path / f"{case}.pt"
    torch.save(state, path)
    return path


CRAFTED = ["no-G", "no-model_config", "no-opt_D", "G-shape", "D-shape", "bad-model_config"]


@pytest.mark.parametrize("case", CRAFTED)
@pytest.mark.parametrize("command", ["resume", "generate", "export"])
def test_a_crafted_checkpoint_is_one_line(capsys, tmp_path, base_run, tiny_dataset, command, case):
    ckpt = crafted(base_run, tmp_path, case)
    if command == "resume":
        out = copy_run(base_run, tmp_path)
        shutil.copy(ckpt, RunDir(out).latest_checkpoint)
        argv = ["train", "--out", str(out), "--resume", "--steps", "6"]
    elif command == "generate":
        argv = ["generate", str(ckpt), "--n", "2", "--out", str(tmp_path / "g.png")]
    else:
        argv = ["export", str(ckpt), "--out", str(tmp_path / "exported")]
    code, _, err = run_cli(capsys, argv)
    if command != "resume" and case in ("no-opt_D", "D-shape"):  # G alone is all they need
        assert code == 0, err
        return
    assert code == 1
    assert len(error_lines(err)) == 1, err


class NotATensor:
    """Pickled by reference: loading it would import and call code."""


def test_an_unsafe_checkpoint_is_refused_in_plain_words(capsys, tmp_path):
    torch.save({"format": "ganforge-checkpoint", "G": NotATensor()}, tmp_path / "pickled.pt")
    code, _, err = run_cli(capsys, ["generate", str(tmp_path / "pickled.pt"), "--out", str(tmp_path / "o.png")])
    assert code == 1
    [line] = error_lines(err)
    assert "ganforge will not unpickle it" in line, line
    assert "weights_only" not in line and "torch." not in line and "Re-running" not in line, line


# ---- 12: budgets and the progress line ------------------------------------------------------------------
class _Stream:
    def __init__(self):
        self.text = ""

    def write(self, s):
        self.text += s

    def flush(self):
        pass


@pytest.mark.parametrize("fraction", [1.0, 1.7, 40.0])
def test_the_progress_line_never_shows_a_negative_eta(fraction):
    stream = _Stream()
    Progress(stream, interval=0).update(step=1, total_fraction=fraction, elapsed=30.0, images_per_s=10.0, stats={})
    assert "ETA 0:00" in stream.text and "-" not in stream.text, stream.text


def test_a_minutes_budget_shorter_than_a_step_trains_one_step_and_says_so(tmp_path, tiny_dataset, one_thread):
    said = io.StringIO()
    result = train(TrainConfig(data=str(tiny_dataset), out=str(tmp_path / "r"), minutes=1e-9, batch_size=16,
                               n_samples=4), ModelConfig(width=8, latent_dim=8), out=said)
    assert result.step == load_checkpoint(RunDir(result.run_dir).latest_checkpoint)["step"] == 1
    assert "shorter than one step" in said.getvalue() and "trained one step" in said.getvalue(), said.getvalue()
    assert "ETA -" not in said.getvalue()
