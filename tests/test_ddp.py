"""Data-parallel training with torchrun on 2 CPU processes (gloo) against one process.

What makes the comparison meaningful: the same global batch (16 = 2 x 8), the same seed,
float32 (no autocast), and synchronised batch norm. The loader and the latents are
already global-then-sliced, so the only per-rank quantity left in a DCGAN step is batch
norm's statistics: with --sync-bn they cover the global batch and the two runs agree to
float rounding; without it each rank normalises its own 8 images and the runs drift apart
measurably (checked below, so the tolerance is known to be able to fail). Dropout,
augmentation and penalties draw per-rank random numbers, so those runs are compared with
2-process runs only: a resumed one against one that never stopped.

How the processes are launched, so that a slow or stuck run fails clearly instead of flaking:
- ``torchrun --standalone``: its rendezvous store binds a port the OS picks (port 0) and the
  workers reuse that store, so there is no fixed or pre-picked port for parallel test runs to
  collide on (torch 2.13: ``run.py`` sets the endpoint to localhost:0, the agent shares its store);
- every launch has a generous time limit (``GANFORGE_DDP_TEST_TIMEOUT``, default 600 s; a launch
  takes ~10 s on an idle 2-core machine). On timeout the workers, which torchrun starts in their
  own sessions, get SIGABRT first (``PYTHONFAULTHANDLER`` prints every thread's stack into their
  log) and are then killed with the launcher, so none outlives the test;
- each rank's stdout/stderr goes to its own file (``--log-dir``/``--redirects``); a failure
  message holds the command, the exit status or time-out, and the tail of every rank's log.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ganforge.checkpoint import load_checkpoint, save_checkpoint
from ganforge.runs import read_jsonl

pytestmark = pytest.mark.slow

TIMEOUT_S = float(os.environ.get("GANFORGE_DDP_TEST_TIMEOUT", 600))
# set by torchrun for its workers; inherited by a test run started under a launcher, they would
# make the single-process runs join a process group
LAUNCHER_VARS = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK", "GROUP_WORLD_SIZE",
                 "ROLE_RANK", "ROLE_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def _descendants(pid: int) -> list[int]:
    """Process ids below ``pid`` (from /proc; torchrun puts its workers in sessions of their own)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _signal_all(pids: list[int], sig: int) -> None:
    for p in pids:
        try:
            os.kill(p, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _tail(text: str, n: int = 2500) -> str:
    return text if len(text) <= n else "..." + text[-n:]


def _train(out, data, nproc: int, *extra: str) -> str:
    """Run ``ganforge train`` on ``nproc`` processes; returns rank 0's output (stderr), fails clearly."""
    args = ["-m", "ganforge", "train", "--out", str(out), "--data", str(data), "--model", "dcgan", "--width", "8",
            "--latent-dim", "8", "--batch-size", "16", "--precision", "fp32", "--seed", "1",
            "--sample-every", "1000", "--checkpoint-every", "1000", "--n-samples", "4", *extra]
    log_dir = Path(f"{out}-logs-{time.monotonic_ns()}")
    if nproc > 1:
        args = ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc),
                "--log-dir", str(log_dir), "--redirects", "3"] + args
    env = {k: v for k, v in os.environ.items() if k not in LAUNCHER_VARS and not k.startswith("TORCHELASTIC_")}
    env.update(OMP_NUM_THREADS="1", PYTHONFAULTHANDLER="1")
    cmd = [sys.executable, *args]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = proc.communicate(timeout=TIMEOUT_S)
        status = None if proc.returncode == 0 else f"exit status {proc.returncode}"
    except subprocess.TimeoutExpired:
        workers = _descendants(proc.pid) if nproc > 1 else [proc.pid]
        _signal_all(workers, signal.SIGABRT)  # faulthandler prints each worker's stacks to its stderr
        time.sleep(3)
        proc.kill()
        _signal_all(workers, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        status = (f"no result within {TIMEOUT_S:.0f} s (GANFORGE_DDP_TEST_TIMEOUT); where each process was "
                  "then is in its stderr below (faulthandler stacks after SIGABRT)")
    if status is None:
        if nproc > 1:
            rank0 = sorted(log_dir.rglob("0/stderr.log"))
            stderr += "".join(p.read_text() for p in rank0)
        shutil.rmtree(log_dir, ignore_errors=True)
        return stderr
    parts = [f"{nproc}-process training failed after {time.monotonic() - t0:.0f} s: {status}",
             "command: " + " ".join(cmd), "--- launcher stdout ---\n" + _tail(stdout),
             "--- launcher stderr ---\n" + _tail(stderr)]
    parts += [f"--- {p.relative_to(log_dir)} ---\n" + _tail(p.read_text(errors="replace"))
              for p in sorted(log_dir.rglob("*.log")) if p.stat().st_size]
    pytest.fail("\n".join(parts), pytrace=False)


def _max_diff(a, b) -> float:
    a = load_checkpoint(a / "checkpoints" / "latest.pt")
    b = load_checkpoint(b / "checkpoints" / "latest.pt")
    assert a["step"] == b["step"]
    return max((a[n][k].float() - b[n][k].float()).abs().max().item() for n in ("G", "D") for k in a[n])


def test_two_processes_match_one_with_the_same_global_batch(tmp_path, tiny_dataset):
    _train(tmp_path / "one", tiny_dataset, 1, "--steps", "4")
    _train(tmp_path / "two", tiny_dataset, 2, "--steps", "4", "--sync-bn")
    _train(tmp_path / "local-bn", tiny_dataset, 2, "--steps", "4")
    assert _max_diff(tmp_path / "one", tmp_path / "two") < 1e-5
    # per-rank batch norm (no --sync-bn) is not the same computation: the tolerance can fail
    assert _max_diff(tmp_path / "one", tmp_path / "local-bn") > 1e-4
    one, two = read_jsonl(tmp_path / "one" / "log.jsonl"), read_jsonl(tmp_path / "two" / "log.jsonl")
    assert [r["step"] for r in two] == [1, 2, 3, 4]  # rank 0 alone writes
    for a, b in zip(one, two):  # logged losses are global-batch means
        assert a["d_loss"] == pytest.approx(b["d_loss"], abs=1e-5)
        assert a["g_loss"] == pytest.approx(b["g_loss"], abs=1e-5)

    # resume on a different number of processes: 2 -> 1 continues like the 1-process run
    # (rank 0 keeps its saved streams, which are the single-process ones; rank 1's go unused)
    text = _train(tmp_path / "two", tiny_dataset, 1, "--steps", "6", "--resume")
    assert "resuming a 2-process checkpoint on 1 process" in text
    _train(tmp_path / "one", tiny_dataset, 1, "--steps", "6", "--resume")
    assert _max_diff(tmp_path / "one", tmp_path / "two") < 1e-5


def test_gradient_accumulation_under_ddp_matches(tmp_path, tiny_dataset):
    """2 processes x 2 micro-batches of 4 with an MLP (no batch norm; dropout off) = 1 process with 16."""
    _train(tmp_path / "one", tiny_dataset, 1, "--steps", "3", "--model", "mlp", "--dropout", "0")
    _train(tmp_path / "acc", tiny_dataset, 2, "--steps", "3", "--model", "mlp", "--dropout", "0", "--grad-accum", "2")
    assert _max_diff(tmp_path / "one", tmp_path / "acc") < 1e-5


def test_resumed_two_process_run_equals_uninterrupted_one(tmp_path, tiny_dataset):
    """Every rank's own random streams (dropout: torch's generator; DiffAugment: its generator) are
    saved and given back, so 2 processes stopped at step 3 and resumed end where 2 processes that
    never stopped end. A checkpoint without rank 1's streams (as ganforge wrote them before) resumes
    with rank 1 reseeded, which the output says, and ends measurably elsewhere: so the tolerance can fail."""
    # mlp's D has dropout 0.3; flips are planned from (seed, epoch), identical on every rank
    recipe = ("--model", "mlp", "--augment", "color,translation,cutout", "--flip")
    _train(tmp_path / "straight", tiny_dataset, 2, "--steps", "6", *recipe)
    _train(tmp_path / "resumed", tiny_dataset, 2, "--steps", "3", *recipe)

    latest = tmp_path / "resumed" / "checkpoints" / "latest.pt"
    state = load_checkpoint(latest)  # weights_only=True: per-rank states are plain tensors in lists/dicts
    ranks = state["rng"]["ranks"]
    assert state["rng"]["world_size"] == 2 and len(ranks) == 2
    assert torch.equal(ranks[0]["torch"], state["rng"]["torch"])
    assert torch.equal(ranks[0]["augment"], state["rng"]["augment"])
    for stream in ("torch", "augment"):  # two different streams, both used
        assert not torch.equal(ranks[0][stream], ranks[1][stream])
    shutil.copytree(tmp_path / "resumed", tmp_path / "rank0-only")
    del state["rng"]["ranks"]
    save_checkpoint(tmp_path / "rank0-only" / "checkpoints" / "latest.pt", state)

    _train(tmp_path / "resumed", tiny_dataset, 2, "--steps", "6", *recipe, "--resume")
    assert _max_diff(tmp_path / "straight", tmp_path / "resumed") < 1e-6

    text = _train(tmp_path / "rank0-only", tiny_dataset, 2, "--steps", "6", *recipe, "--resume")
    assert "rank 1 starts new streams seeded from (seed 1, rank, step 3)" in text
    assert _max_diff(tmp_path / "straight", tmp_path / "rank0-only") > 1e-4


def test_ada_under_two_processes_adapts_one_p_and_resumes_exactly(tmp_path, tiny_dataset):
    """ADA's p is adjusted from r_t averaged over ranks (every rank keeps the same p) and is checkpointed
    with its partial interval: 2 processes stopped mid-interval and resumed end as an uninterrupted pair."""
    recipe = ("--augment", "ada", "--ada-kimg", "0.05", "--ada-interval", "2", "--lr-d", "0.001")  # D overfits at once
    _train(tmp_path / "straight", tiny_dataset, 2, "--steps", "5", *recipe)
    _train(tmp_path / "resumed", tiny_dataset, 2, "--steps", "3", *recipe)
    assert load_checkpoint(tmp_path / "resumed" / "checkpoints" / "latest.pt")["ada"]["rt_steps"] == 1
    _train(tmp_path / "resumed", tiny_dataset, 2, "--steps", "5", *recipe, "--resume")
    assert _max_diff(tmp_path / "straight", tmp_path / "resumed") < 1e-6
    straight, resumed = (read_jsonl(tmp_path / run / "log.jsonl") for run in ("straight", "resumed"))
    assert [r["ada_p"] for r in straight] == [r["ada_p"] for r in resumed]
    assert straight[-1]["ada_p"] > 0
