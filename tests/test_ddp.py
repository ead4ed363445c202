"""Data-parallel training with torchrun on 2 CPU processes (gloo) against one process.

What makes the comparison meaningful: the same global batch (16 = 2 x 8), the same seed,
float32 (no autocast), and synchronised batch norm. The loader and the latents are
already global-then-sliced, so the only per-rank quantity left in a DCGAN step is batch
norm's statistics: with --sync-bn they cover the global batch and the two runs agree to
float rounding; without it each rank normalises its own 8 images and the runs drift apart
measurably (checked below, so the tolerance is known to be able to fail). No dropout, no
augmentation and no gradient penalty here: those draw per-rank random numbers.
"""

import os
import subprocess
import sys

import pytest
import torch

from ganforge.checkpoint import load_checkpoint
from ganforge.runs import read_jsonl

pytestmark = pytest.mark.slow


def _train(out, data, nproc: int, *extra: str) -> None:
    args = ["-m", "ganforge", "train", "--out", str(out), "--data", str(data), "--model", "dcgan", "--width", "8",
            "--latent-dim", "8", "--batch-size", "16", "--precision", "fp32", "--seed", "1",
            "--sample-every", "1000", "--checkpoint-every", "1000", "--n-samples", "4", *extra]
    if nproc > 1:
        args = ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc)] + args
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


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
    _train(tmp_path / "two", tiny_dataset, 1, "--steps", "6", "--resume")
    _train(tmp_path / "one", tiny_dataset, 1, "--steps", "6", "--resume")
    assert _max_diff(tmp_path / "one", tmp_path / "two") < 1e-5


def test_gradient_accumulation_under_ddp_matches(tmp_path, tiny_dataset):
    """2 processes x 2 micro-batches of 4 with an MLP (no batch norm; dropout off) = 1 process with 16."""
    _train(tmp_path / "one", tiny_dataset, 1, "--steps", "3", "--model", "mlp", "--dropout", "0")
    _train(tmp_path / "acc", tiny_dataset, 2, "--steps", "3", "--model", "mlp", "--dropout", "0", "--grad-accum", "2")
    assert _max_diff(tmp_path / "one", tmp_path / "acc") < 1e-5
