"""CPU and GPU parity: a checkpoint written on a GPU loads, samples and resumes on CPU, and vice versa.

The CPU side runs everywhere: a checkpoint whose tensors are tagged ``cuda:0`` (what ``torch.save``
writes for CUDA tensors; plain ``torch.load`` refuses it without a GPU) is made by rewriting the
storage locations in a CPU checkpoint. The GPU side runs only where CUDA is available.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from ganforge.artifacts import load_generator
from ganforge.checkpoint import load_checkpoint
from ganforge.config import ModelConfig, TrainConfig
from ganforge.sampling import generate, latents_for_seeds
from ganforge.train import train

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def tag_as_cuda(src: Path, dst: Path) -> None:
    """Copy checkpoint ``src`` to ``dst`` with every tensor's storage location rewritten to cuda:0."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name.endswith("/data.pkl"):
                # pickled location string 'cpu' (BINUNICODE, memoised once) -> 'cuda:0'
                assert data.count(b"X\x03\x00\x00\x00cpu") == 1
                data = data.replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")
            zout.writestr(name, data)


@pytest.fixture(scope="module")
def cpu_run(tmp_path_factory, tiny_dataset):
    out = tmp_path_factory.mktemp("parity") / "run"
    train(TrainConfig(data=str(tiny_dataset), out=str(out), steps=3, batch_size=8, n_samples=4, device="cpu"),
          ModelConfig(family="dcgan", width=8))
    return out


def images(path, device="cpu") -> np.ndarray:
    G, cfg, _ = load_generator(path, device=device)
    return generate(G, latents_for_seeds(range(6), cfg.latent_dim))


def test_a_cuda_checkpoint_loads_and_samples_on_cpu(cpu_run, tmp_path):
    tagged = tmp_path / "cuda.pt"
    tag_as_cuda(cpu_run / "checkpoints" / "latest.pt", tagged)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):  # proof that the file really claims CUDA tensors
            torch.load(tagged, weights_only=True)
    else:
        assert torch.load(tagged, weights_only=True)["G"]["net.0.weight"].device.type == "cuda"
    state = load_checkpoint(tagged)
    assert state["G"]["net.0.weight"].device.type == "cpu"
    assert np.array_equal(images(tagged), images(cpu_run))


def test_a_cuda_run_resumes_on_cpu(cpu_run, tmp_path, tiny_dataset):
    run = tmp_path / "run"
    shutil.copytree(cpu_run, run)
    tag_as_cuda(cpu_run / "checkpoints" / "latest.pt", run / "checkpoints" / "latest.pt")
    cfg = TrainConfig(data=str(tiny_dataset), out=str(run), steps=5, batch_size=8, n_samples=4, device="cpu")
    train(cfg, ModelConfig(family="dcgan", width=8), resume=True)
    state = load_checkpoint(run / "checkpoints" / "latest.pt")
    assert state["step"] == 5
    assert all(v.device.type == "cpu" for v in state["opt_G"]["state"][0].values() if torch.is_tensor(v))


@cuda
def test_gpu_run_samples_on_cpu_and_cpu_run_on_gpu(cpu_run, tmp_path, tiny_dataset):
    gpu_run = tmp_path / "gpu"
    train(TrainConfig(data=str(tiny_dataset), out=str(gpu_run), steps=3, batch_size=8, n_samples=4, device="cuda"),
          ModelConfig(family="dcgan", width=8))
    raw = torch.load(gpu_run / "checkpoints" / "latest.pt", weights_only=True, map_location=None)
    assert raw["G"]["net.0.weight"].device.type == "cuda"  # the file really holds CUDA tensors
    for run in (gpu_run, cpu_run):
        on_cpu, on_gpu = images(run, "cpu"), images(run, "cuda")
        # same latents, same weights; convolution kernels differ in the last float bits
        assert np.abs(on_cpu.astype(int) - on_gpu).max() <= 1


@cuda
def test_cpu_run_resumes_on_gpu_and_back(cpu_run, tmp_path, tiny_dataset):
    run = tmp_path / "run"
    shutil.copytree(cpu_run, run)
    model = ModelConfig(family="dcgan", width=8)
    train(TrainConfig(data=str(tiny_dataset), out=str(run), steps=5, batch_size=8, n_samples=4, device="cuda"),
          model, resume=True)
    train(TrainConfig(data=str(tiny_dataset), out=str(run), steps=7, batch_size=8, n_samples=4, device="cpu"),
          model, resume=True)
    assert load_checkpoint(run / "checkpoints" / "latest.pt")["step"] == 7
