"""Runtime choices: precision, memory format and the fused Adam switch."""

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
