import pytest
import torch
import torch.nn as nn

from ganforge.ema import EMA


def _net(value: float) -> nn.Module:
    net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(value)
    return net


def test_update_arithmetic():
    G = _net(1.0)
    ema = EMA(G, decay=0.9, warmup=False)
    with torch.no_grad():
        for p in G.parameters():
            p.fill_(2.0)
        G[1].running_mean.fill_(5.0)
    ema.update(G, step=1)
    for p in ema.model.parameters():
        assert torch.allclose(p, torch.full_like(p, 0.9 * 1.0 + 0.1 * 2.0))
    assert torch.equal(ema.model[1].running_mean, torch.full((2,), 5.0))  # buffers are copied, not averaged
    with torch.no_grad():
        for p in G.parameters():
            p.fill_(4.0)
    ema.update(G, step=2)
    for p in ema.model.parameters():
        assert torch.allclose(p, torch.full_like(p, 0.9 * 1.1 + 0.1 * 4.0))


def test_before_start_the_average_copies_g():
    G = _net(1.0)
    ema = EMA(G, decay=0.99, start=10, warmup=False)
    with torch.no_grad():
        for p in G.parameters():
            p.fill_(3.0)
    ema.update(G, step=5)
    assert all(torch.equal(p, torch.full_like(p, 3.0)) for p in ema.model.parameters())
    with torch.no_grad():
        for p in G.parameters():
            p.fill_(4.0)
    ema.update(G, step=10)
    assert all(torch.allclose(p, torch.full_like(p, 0.99 * 3 + 0.01 * 4)) for p in ema.model.parameters())


def test_the_average_is_a_separate_frozen_copy():
    G = _net(1.0)
    ema = EMA(G, decay=0.5)
    assert not any(p.requires_grad for p in ema.model.parameters())
    assert not ema.model.training
    with pytest.raises(ValueError):
        EMA(G, decay=1.0)


def test_warmup_ramps_the_decay_so_short_runs_are_not_stuck_at_the_initial_weights():
    ema = EMA(_net(0.0), decay=0.999)
    assert ema.decay_at(0) == pytest.approx(0.1)           # (1 + 0) / (10 + 0)
    assert ema.decay_at(90) == pytest.approx(91 / 100)
    assert ema.decay_at(100_000) == 0.999                  # capped at the requested decay
    G = _net(0.0)
    ema = EMA(G, decay=0.999)
    with torch.no_grad():
        for p in G.parameters():
            p.fill_(1.0)
    for step in range(1, 301):
        ema.update(G, step)
    # after 300 updates toward weights of 1, the average has moved most of the way (no warm-up: 26 %)
    assert all((p > 0.9).all() for p in ema.model.parameters())
