"""The trainer's contract with a loss (issue 14 point 7): a loss's extra phase on its own schedule
(a lazy regulariser) runs when ``every`` says, its statistics are logged, the loss's own state is
checkpointed and restored, and resume stays exact."""

import pytest
import torch

from ganforge.checkpoint import load_checkpoint
from ganforge.config import ModelConfig, TrainConfig
from ganforge.losses import LOSSES, Phase
from ganforge.losses.bce import NonSaturatingLoss
from ganforge.runs import RunDir, read_jsonl
from ganforge.train import Trainer, train

EVERY = 2


class LazyRegularisedLoss(NonSaturatingLoss):
    """BCE plus a third phase on D's side every ``EVERY`` iterations: a penalty on D's real scores
    (scaled by EVERY, as a lazy regulariser is), with a counter of its runs as the loss's state."""

    name = "lazy-test"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.runs = torch.zeros((), dtype=torch.long)

    def phases(self):
        return [*super().phases(), Phase("lazy_reg", "D", self.regularise, every=EVERY)]

    def regularise(self, G, D, real, z, labels):
        self.runs += 1
        penalty = D(real, labels).float().square().mean()
        return EVERY * penalty, {"lazy_reg": penalty.detach(), "lazy_runs": self.runs.clone().float()}

    def state_dict(self):
        return {"runs": self.runs.clone()}

    def load_state_dict(self, state):
        self.runs = state["runs"].clone()


@pytest.fixture
def lazy_loss(monkeypatch):
    monkeypatch.setitem(LOSSES, LazyRegularisedLoss.name, LazyRegularisedLoss)


def _cfg(data, out, steps):
    return TrainConfig(data=str(data), out=str(out), loss=LazyRegularisedLoss.name, steps=steps, batch_size=16,
                       seed=7, sample_every=1000, checkpoint_every=1000, n_samples=4, precision="fp32",
                       device="cpu")


def _model():
    return ModelConfig(family="dcgan", width=8, latent_dim=8)


def test_a_phase_every_k_iterations_runs_on_those_only_and_is_logged(lazy_loss, tiny_dataset, tmp_path, one_thread):
    train(_cfg(tiny_dataset, tmp_path / "r", 4), _model())
    log = read_jsonl(RunDir(tmp_path / "r").log)
    assert [r["step"] for r in log] == [1, 2, 3, 4]
    assert [r["step"] for r in log if "lazy_reg" in r] == [1, 3]  # iterations 0 and 2
    assert [r["lazy_runs"] for r in log if "lazy_runs" in r] == [1.0, 2.0]
    assert all("d_loss" in r and "g_loss" in r for r in log)  # the loss's own phases still run every step
    assert int(load_checkpoint(RunDir(tmp_path / "r").latest_checkpoint)["loss"]["runs"]) == 2


def test_the_loss_state_is_restored_and_resume_is_exact_with_the_extra_phase(lazy_loss, tiny_dataset, tmp_path,
                                                                            one_thread):
    straight = Trainer(_cfg(tiny_dataset, tmp_path / "straight", 4), _model())
    straight.fit()

    train(_cfg(tiny_dataset, tmp_path / "resumed", 2), _model())
    resumed = Trainer(_cfg(tiny_dataset, tmp_path / "resumed", 4), _model(), resume=True)
    assert resumed.step == 2 and int(resumed.loss.runs) == 1  # the regulariser ran at iteration 0 only
    resumed.fit()
    assert int(resumed.loss.runs) == int(straight.loss.runs) == 2

    for name in ("G", "D"):
        a, b = getattr(straight, name).state_dict(), getattr(resumed, name).state_dict()
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), f"{name}.{key} differs after resume"
    assert _losses(tmp_path / "resumed") == _losses(tmp_path / "straight")


def _losses(run) -> list[dict]:
    """The run's log records without the wall-clock figures."""
    return [{k: v for k, v in r.items() if k not in ("time", "img_per_s")} for r in read_jsonl(RunDir(run).log)]
