"""Runtime choices: precision, memory format and the fused Adam switch."""

import os

import pytest
import torch

from ganforge import device
from ganforge.config import TrainConfig
from ganforge.device import resolve_runtime
from ganforge.errors import ConfigError


def test_cpu_auto_is_float32_channels_last_without_amx(monkeypatch):
    monkeypatch.setattr(device, "cpu_has_amx", lambda: False)
    rt = resolve_runtime("cpu")
    assert (rt.amp_dtype, rt.channels_last) == (None, True)
    assert resolve_runtime("cpu", convolutional=False).channels_last is False
    monkeypatch.setattr(device, "cpu_has_amx", lambda: True)
    assert resolve_runtime("cpu").amp_dtype == torch.bfloat16


def test_fused_adam_switch(monkeypatch):
    assert resolve_runtime("cpu", fused_adam="off").fused_adam is False
    assert resolve_runtime("cpu", fused_adam="auto").fused_adam is device.fused_adam_works("cpu")
    monkeypatch.setattr(device, "fused_adam_works", lambda _: False)
    assert resolve_runtime("cpu", fused_adam="auto").fused_adam is False
    with pytest.raises(ConfigError, match="no fused Adam"):
        resolve_runtime("cpu", fused_adam="on")
    with pytest.raises(ConfigError, match="fused_adam"):
        TrainConfig(data="d.zip", out="r", steps=1, fused_adam="yes").validate()


@pytest.mark.skipif(not device.fused_adam_works("cpu"), reason="this torch has no fused Adam on CPU")
def test_fused_adam_makes_the_same_update_as_plain_adam():
    torch.manual_seed(0)
    params = [torch.randn(64, 32), torch.randn(32)]
    grads = [[torch.randn_like(p) for p in params] for _ in range(5)]
    results = []
    for fused in (False, True):
        ps = [p.clone().requires_grad_(True) for p in params]
        opt = device.Runtime(torch.device("cpu"), None, False, fused).adam(ps, lr=1e-2, betas=(0.5, 0.999))
        for g in grads:
            for p, gi in zip(ps, g):
                p.grad = gi.clone()
            opt.step()
        results.append([p.detach() for p in ps])
    moved = (results[0][0] - params[0]).abs().max()
    assert moved > 1e-3  # the updates did something
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.slow  # a fresh interpreter that imports torch and trains one step: ~10 s
def test_train_command_makes_every_cpu_thread_flush_denormals_while_it_trains(tiny_dataset, tmp_path):
    """Denormal floats (below 1.2e-38) slow x86 arithmetic 10-100x; a saturating D can make them. The train
    command turns flush-to-zero on before torch starts its worker threads, so every thread of the run computes
    them as 0 (a flag set later would reach only the main thread: half of a two-thread product would stay
    denormal), and gives the calling thread its IEEE setting back when it returns."""
    import subprocess
    import sys

    script = (
        "import torch\n"
        "import ganforge.train as T\n"
        "from ganforge.cli import main\n"
        "seen, step = [], T.Trainer.train_step\n"
        "def timed(self):\n"
        "    x = torch.full((1 << 22,), 1e-39)\n"  # denormal inputs, enough elements to split over the threads
        "    seen.append(int((x * 1.0).count_nonzero()))\n"
        "    return step(self)\n"
        "T.Trainer.train_step = timed\n"
        f"assert main(['train', '--data', {str(tiny_dataset)!r}, '--model', 'dcgan', '--width', '8', "
        f"'--batch-size', '8', '--steps', '2', '--out', {str(tmp_path / 'run')!r}]) == 0\n"
        "print(torch.get_num_threads(), len(seen), max(seen), int((torch.tensor([1e-39]) * 1.0).count_nonzero()))\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    threads, steps, nonzero, after = map(int, done.stdout.split()[-4:])
    assert threads == 2 and steps == 2
    assert nonzero == 0, f"{nonzero} denormal results were not flushed to zero during training"
    assert after == 1  # the calling thread computes denormals again once the command is done


def test_denormals_flushed_restores_the_threads_setting():
    from ganforge.device import denormals_flushed, flushing_denormals

    assert not flushing_denormals()
    with denormals_flushed():
        assert flushing_denormals() == torch.set_flush_denormal(True)  # (False where the CPU has no such mode)
        with denormals_flushed():
            pass
        assert flushing_denormals() == torch.set_flush_denormal(True)  # a nested exit keeps the outer setting
    assert not flushing_denormals()
