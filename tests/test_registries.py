"""The registries are the only source of truth (issue 14 point 3): a family or a loss added to
``MODELS``/``LOSSES`` alone trains and generates; flags, choices and help come from them."""

import re
import subprocess
import sys
import types

import pytest
import torch
import torch.nn as nn

from ganforge import models
from ganforge.artifacts import load_generator
from ganforge.cli import build_parser, main
from ganforge.commands.train import family_options
from ganforge.config import ModelConfig, Option, TrainConfig
from ganforge.errors import ConfigError
from ganforge.losses import LOSSES, GANLoss
from ganforge.models import MODELS
from ganforge.runs import RunDir, read_jsonl


# ---- a throwaway family and loss, defined only here -----------------------------------------
def _toy_family() -> types.ModuleType:
    """A dense family with one option, ``toy_gain``, that scales G's output before tanh."""
    fam = types.ModuleType("toy_family")
    gain = Option("toy_gain", 1.0, "scales the generator's output before tanh")

    def check(cfg: ModelConfig) -> None:
        if cfg.resolution > 32:
            raise ConfigError("toy makes images up to 32 px")

    class Generator(nn.Module):
        def __init__(self, cfg: ModelConfig):
            super().__init__()
            self.cfg = cfg
            self.gain = float(gain.value(cfg))
            self.net = nn.Linear(cfg.latent_dim, cfg.channels * cfg.resolution**2)

        def forward(self, z, labels=None):
            c, r = self.cfg.channels, self.cfg.resolution
            return torch.tanh(self.gain * self.net(z.flatten(1))).view(-1, c, r, r)

    class Discriminator(nn.Module):
        def __init__(self, cfg: ModelConfig):
            super().__init__()
            self.cfg = cfg
            self.body = nn.Sequential(nn.Flatten(), nn.Linear(cfg.channels * cfg.resolution**2, 8), nn.LeakyReLU(0.2))
            self.head = nn.Linear(8, 1)

        def features(self, x):
            return self.body(x)

        def forward(self, x, labels=None):
            return self.head(self.body(x)).flatten()

    fam.Generator, fam.Discriminator, fam.check = Generator, Discriminator, check
    fam.OPTIONS = (gain,)
    fam.CONVOLUTIONAL = False
    return fam


class ToyLoss(GANLoss):
    """The hinge terms, plus a statistic that shows this loss was the one used."""

    name = "toy"

    def d_terms(self, real_logits, fake_logits):
        return (1 - real_logits).relu().mean() + (1 + fake_logits).relu().mean()

    def g_term(self, fake_logits):
        return -fake_logits.mean()

    def d_stats(self, real_logits, fake_logits):
        return {**super().d_stats(real_logits, fake_logits), "toy_stat": torch.tensor(42.0)}


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setitem(MODELS, "toy", _toy_family())
    monkeypatch.setitem(LOSSES, "toy", ToyLoss)


def test_a_family_and_a_loss_added_to_the_registries_train_and_generate(toy, tiny_dataset, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_dataset), "--out", str(run), "--model", "toy", "--loss", "toy",
                 "--toy-gain", "0.5", "--steps", "2", "--batch-size", "8", "--latent-dim", "4",
                 "--n-samples", "4", "--device", "cpu"]) == 0, capsys.readouterr().err
    config = RunDir(run).read_config()
    assert config["model"]["family"] == "toy" and config["model"]["options"] == {"toy_gain": 0.5}
    assert config["train"]["loss"] == "toy"
    log = read_jsonl(RunDir(run).log)
    assert [r["step"] for r in log] == [1, 2] and all(r["toy_stat"] == 42.0 for r in log)
    G = load_generator(run)[0]
    assert type(G).__module__ == __name__ and G.gain == 0.5  # the option reached the network

    assert main(["generate", str(run), "--n", "3", "--separate", "--out", str(tmp_path / "g")]) == 0
    assert sorted(p.name for p in (tmp_path / "g").iterdir()) == [f"seed00000{i}.png" for i in range(3)]


def test_an_option_of_another_family_is_an_error_that_names_its_families(toy, tmp_path, capsys):
    base = ["train", "--data", str(tmp_path / "d.zip"), "--out", str(tmp_path / "r")]
    assert main([*base, "--model", "resnet", "--d-norm", "layer"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("ganforge: error: --d-norm")
    assert re.search(r"\bdcgan\b", err) and re.search(r"\bacgan\b", err) and "resnet does not use it" in err
    assert not (tmp_path / "r").exists()
    assert main([*base, "--model", "dcgan", "--toy-gain", "2"]) == 1
    assert capsys.readouterr().err.strip() == "ganforge: error: --toy-gain is an option of toy; dcgan does not use it"


def _train_parser():
    """The train command's parser, with all its options."""
    return build_parser("train")._subparsers._group_actions[0].choices["train"]


def _action(parser, dest: str):
    return next(a for a in parser._actions if a.dest == dest)


def test_choices_come_from_the_registries(toy):
    p = _train_parser()
    assert list(_action(p, "loss").choices) == sorted(LOSSES)
    assert "toy" in _action(p, "loss").choices
    assert list(_action(p, "model").choices) == [n for n in MODELS if not models.is_composite(n)]
    assert "toy" in _action(p, "model").choices and "mitlgan" not in _action(p, "model").choices
    assert _action(p, "toy_gain").type is float


def _shown(value) -> str:
    return "on" if value is True else "off" if value is False else "none" if value in ("", None) else str(value)


def test_help_defaults_are_the_config_defaults(toy):
    """Every "(default: X)" in train's help is the config dataclass's default, or the family option's."""
    p = _train_parser()
    defaults = {**ModelConfig().to_dict(), **TrainConfig().to_dict()}
    defaults["model"] = defaults["family"]
    from_data = {"resolution", "channels"}  # 0 in the config: taken from the data set
    options = family_options()  # option name -> [(family, Option), ...]
    checked = 0
    for action in p._actions:
        m = re.search(r"\(default: ([^)]*)\)", action.help or "")
        if m is None:
            continue
        shown = m.group(1).split(",")[0]  # "0, none": the value, then what it means
        if action.dest in from_data:
            assert shown == "the data set's" and defaults[action.dest] == 0
        elif action.dest in options:
            users = options[action.dest]
            if len({_shown(o.default) for _, o in users}) == 1:
                assert shown == _shown(users[0][1].default), action.dest
            else:  # families that share an option with different defaults: each is named
                assert all(f"{name} {_shown(o.default)}" in action.help for name, o in users), action.help
        elif defaults.get(action.dest) is None:  # n_critic: each loss's own
            assert action.dest == "n_critic"
            for name, cls in LOSSES.items():
                assert f"{name} {cls.n_critic}" in action.help
        else:
            assert shown == _shown(defaults[action.dest]), (action.dest, m.group(1))
        checked += 1
    assert checked >= 35
    assert "toy_gain" in options and "(default: 1.0)" in _action(p, "toy_gain").help


def test_help_does_not_import_torch():
    code = "import sys; from ganforge.cli import build_parser; build_parser(''); print('torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"
