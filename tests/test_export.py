"""ganforge export: safetensors, ONNX and TorchScript exports load back and give the run's images."""

from __future__ import annotations

import json
import shutil
import struct

import numpy as np
import pytest
import torch

from ganforge.artifacts import export_generator, load_generator
from ganforge.checkpoint import load_checkpoint
from ganforge.cli import main
from ganforge.errors import CheckpointError
from ganforge.export import CONFIG_NAME, TOLERANCE, load_exported
from ganforge.sampling import generate, latents_for_seeds


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, tiny_dataset):
    """A DCGAN trained for 3 steps on 16 px grey images."""
    from ganforge.config import ModelConfig, TrainConfig
    from ganforge.train import train

    out = tmp_path_factory.mktemp("export") / "run"
    train(TrainConfig(data=str(tiny_dataset), out=str(out), steps=3, batch_size=8, n_samples=4),
          ModelConfig(family="dcgan", width=8))
    return out


def images_of(path, seeds=range(7, 12)) -> np.ndarray:
    G, cfg, _ = load_generator(path)
    return generate(G, latents_for_seeds(list(seeds), cfg.latent_dim))


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_safetensors_export_loads_back_with_the_same_weights_and_images(tiny_run, tmp_path, capsys):
    code, out, _ = cli(capsys, "export", tiny_run, "--format", "safetensors", "--out", tmp_path / "st")
    assert code == 0 and "generator.safetensors" in out
    file = tmp_path / "st" / "generator.safetensors"
    # a safetensors file is an 8-byte header length, a JSON header, raw bytes: no pickle anywhere
    (n,) = struct.unpack("<Q", file.read_bytes()[:8])
    header = json.loads(file.read_bytes()[8 : 8 + n])
    assert json.loads(header["__metadata__"]["model_config"])["family"] == "dcgan"
    meta = json.loads((tmp_path / "st" / CONFIG_NAME).read_text())
    assert meta["step"] == 3 and meta["model_config"]["resolution"] == 16
    assert meta["inputs"][0]["shape"] == ["batch", 100]

    state = load_checkpoint(tiny_run / "checkpoints" / "latest.pt")
    G, cfg, _ = load_exported(tmp_path / "st")
    for k, v in G.state_dict().items():
        assert torch.equal(v, state["G"][k]), k
    assert np.array_equal(images_of(tmp_path / "st"), images_of(tiny_run))

    # the .safetensors file alone carries its config in its metadata
    shutil.copy(file, tmp_path / "alone.safetensors")
    assert np.array_equal(images_of(tmp_path / "alone.safetensors"), images_of(tiny_run))

    # `ganforge generate` takes the export folder and writes the very same PNG as from the run
    assert cli(capsys, "generate", tiny_run, "--n", "4", "--seed", "3", "--out", tmp_path / "a.png")[0] == 0
    assert cli(capsys, "generate", tmp_path / "st", "--n", "4", "--seed", "3", "--out", tmp_path / "b.png")[0] == 0
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
def test_torchscript_export_matches_pytorch_on_any_batch(tiny_run, tmp_path):
    result = export_generator(tiny_run, "torchscript", tmp_path / "ts")
    assert result.path.name == "generator.torchscript.pt" and result.max_abs_error <= TOLERANCE
    module = torch.jit.load(str(result.path))
    G, cfg, _ = load_generator(tiny_run)
    z = torch.randn(5, cfg.latent_dim)  # traced with batch 2: the batch axis must stay dynamic
    with torch.no_grad():
        assert (module(z) - G(z)).abs().max() <= TOLERANCE
    assert np.abs(images_of(tmp_path / "ts").astype(int) - images_of(tiny_run)).max() <= 1


@pytest.mark.slow  # the first ONNX export in a process imports the exporter: ~10 s
def test_onnx_export_runs_in_onnxruntime_with_a_dynamic_batch(tiny_run, tmp_path, capsys):
    ort = pytest.importorskip("onnxruntime")
    code, out, _ = cli(capsys, "export", tiny_run, "--format", "onnx", "--out", tmp_path / "onnx")
    assert code == 0 and "checked against PyTorch" in out
    session = ort.InferenceSession(str(tmp_path / "onnx" / "generator.onnx"), providers=["CPUExecutionProvider"])
    (inp,), (outp,) = session.get_inputs(), session.get_outputs()
    assert inp.name == "z" and outp.name == "images"
    assert isinstance(inp.shape[0], str) and inp.shape[1] == 100  # symbolic batch dimension
    G, cfg, _ = load_generator(tiny_run)
    for n in (1, 6):
        z = latents_for_seeds(range(n), cfg.latent_dim)
        got = session.run(["images"], {"z": z.numpy()})[0]
        with torch.no_grad():
            assert got.shape == (n, 1, 16, 16)
            assert np.abs(got - G(z).numpy()).max() <= TOLERANCE
    meta = json.loads((tmp_path / "onnx" / CONFIG_NAME).read_text())
    assert meta["check"]["max_abs_error"] <= TOLERANCE and meta["weights_format"] == "onnx"
    assert np.abs(images_of(tmp_path / "onnx").astype(int) - images_of(tiny_run)).max() <= 1


def test_bad_exports_are_one_line_errors(tiny_run, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    code, _, err = cli(capsys, "export", tiny_run, "--out", tmp_path / "file")
    assert code == 1 and err.count("\n") == 1 and "is a file" in err
    code, _, err = cli(capsys, "export", tmp_path / "nope", "--out", tmp_path / "o")
    assert code == 1 and "no run directory" in err and not (tmp_path / "o").exists()

    export_generator(tiny_run, "safetensors", tmp_path / "st")
    meta_path = tmp_path / "st" / CONFIG_NAME
    meta = json.loads(meta_path.read_text())
    for change, message in [({"version": 99}, "newer than"), ({"file": "../run/x.safetensors"}, "not there"),
                            ({"format": "other"}, "not a ganforge export")]:
        meta_path.write_text(json.dumps({**meta, **change}))
        with pytest.raises(CheckpointError, match=message):
            load_generator(tmp_path / "st")
    meta_path.write_text(json.dumps(meta))
    (tmp_path / "st" / "generator.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}......")
    code, _, err = cli(capsys, "generate", tmp_path / "st", "--out", tmp_path / "g.png")
    assert code == 1 and "not a readable safetensors file" in err and err.count("\n") == 1
    assert not (tmp_path / "g.png").exists()


@pytest.fixture(scope="module")
def conditional_checkpoint(tmp_path_factory):
    """A checkpoint of an (untrained) class-conditional resnet generator: G(z, labels)."""
    from ganforge.checkpoint import save_checkpoint
    from ganforge.config import ModelConfig
    from ganforge.models import build_generator

    cfg = ModelConfig(family="cgan", resolution=16, channels=3, width=8, latent_dim=12, num_classes=3)
    torch.manual_seed(0)
    G = build_generator(cfg)
    with torch.no_grad():  # as if trained: class embeddings start equal (identity conditional norms)
        for p in G.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    path = tmp_path_factory.mktemp("cgan") / "cgan.pt"
    save_checkpoint(path, {"model_config": cfg.to_dict(), "step": 0, "G": G.state_dict(), "G_ema": None})
    return path


@pytest.mark.parametrize("fmt", ["safetensors", "torchscript", pytest.param("onnx", marks=pytest.mark.slow)])
def test_conditional_generators_export_with_a_labels_input(conditional_checkpoint, tmp_path, fmt):
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    result = export_generator(conditional_checkpoint, fmt, tmp_path / fmt)
    meta = json.loads(result.config_path.read_text())
    assert [i["name"] for i in meta["inputs"]] == ["z", "labels"] and meta["inputs"][1]["range"] == [0, 2]
    G, cfg, _ = load_generator(conditional_checkpoint)
    E, _, _ = load_exported(tmp_path / fmt)
    z = latents_for_seeds(range(4), cfg.latent_dim)
    labels = torch.tensor([0, 1, 2, 1])
    with torch.no_grad():
        ref = G(z, labels)
        assert (E(z, labels) - ref).abs().max() <= TOLERANCE
        assert (E(z, torch.tensor([2, 2, 2, 2])) - ref).abs().max() > 1e-3  # the labels do matter


@pytest.fixture(scope="module", params=["fastgan", "r3gan"])
def small_data_checkpoint(request, tmp_path_factory):
    """A checkpoint of an (untrained, perturbed) FastGAN or R3GAN generator at 32 px: spectral norm,
    GLU, noise injection with a fixed map (FastGAN), grouped convs and bilinear upsampling (R3GAN)."""
    from ganforge.checkpoint import save_checkpoint
    from ganforge.config import ModelConfig
    from ganforge.models import build_generator

    cfg = ModelConfig(family=request.param, resolution=32, channels=3, width=4, latent_dim=12)
    torch.manual_seed(0)
    G = build_generator(cfg)
    with torch.no_grad():  # as if trained: the noise strengths and zero-initialised convs move off 0 ...
        for p in G.parameters():
            p.add_(torch.randn_like(p) * 0.1)
        for m in G.modules():  # ... and batch norm's statistics are those of G's features
            if isinstance(m, torch.nn.BatchNorm2d):
                m.momentum = None  # a plain average: one pass sets them
        G(torch.randn(64, cfg.latent_dim))
    path = tmp_path_factory.mktemp(request.param) / f"{request.param}.pt"
    save_checkpoint(path, {"model_config": cfg.to_dict(), "step": 0, "G": G.state_dict(), "G_ema": None})
    return path


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
@pytest.mark.parametrize("fmt", ["safetensors", "torchscript", pytest.param("onnx", marks=pytest.mark.slow)])
def test_small_data_families_export_in_every_format(small_data_checkpoint, tmp_path, fmt):
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    export_generator(small_data_checkpoint, fmt, tmp_path / fmt)
    G, cfg, _ = load_generator(small_data_checkpoint)
    E, _, _ = load_exported(tmp_path / fmt)
    z = latents_for_seeds(range(3), cfg.latent_dim)
    with torch.no_grad():
        assert (E(z) - G(z)).abs().max() <= TOLERANCE
    assert np.abs(images_of(tmp_path / fmt).astype(int) - images_of(small_data_checkpoint)).max() <= 1
