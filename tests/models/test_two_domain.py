"""CycleGAN, CoGAN and DTN (issue 16 points 2, 3 and 7): the papers' properties and ordinary runs."""

import pytest
import torch

from conftest import labelled_two_domain, two_domain_set
from ganforge.checkpoint import load_checkpoint
from ganforge.config import ModelConfig, TrainConfig
from ganforge.errors import ConfigError
from ganforge.losses.cyclegan import CycleGANLoss, HistoryBuffer
from ganforge.losses.dtn import DTNLoss
from ganforge.models import build_discriminator, build_generator, resolved_options
from ganforge.runs import RunDir, read_jsonl
from ganforge.train import train


@pytest.fixture(scope="module")
def pair32(tmp_path_factory):
    return two_domain_set(tmp_path_factory.mktemp("pair"), "ab32.zip", 12, 10)


def _cfg(family, **options):
    return ModelConfig(family=family, resolution=32, channels=3, latent_dim=8, width=4, options=options)


def test_cyclegan_cycle_and_identity_losses_are_zero_for_identity_generators():
    cfg = _cfg("cyclegan")
    G, D = build_generator(cfg), build_discriminator(cfg)
    G.a2b, G.b2a = torch.nn.Identity(), torch.nn.Identity()
    real = torch.rand(3, 2, 3, 32, 32) * 2 - 1
    _, stats = CycleGANLoss(family_options=resolved_options(cfg)).g_step(G, D, real, None, None)
    assert stats["cycle"] == 0 and stats["identity"] == 0


def test_cyclegan_networks_are_the_papers():
    G = build_generator(_cfg("cyclegan"))
    assert sum(type(m).__name__ == "ResidualBlock" for m in G.a2b) == 6
    assert sum(type(m).__name__ == "ResidualBlock" for m in build_generator(
        ModelConfig(family="cyclegan", resolution=256, channels=3, width=2)).a2b) == 9
    assert any(isinstance(m, torch.nn.ReflectionPad2d) for m in G.modules())
    assert any(isinstance(m, torch.nn.InstanceNorm2d) for m in G.modules())
    D = build_discriminator(_cfg("cyclegan"))
    la, lb = D(torch.zeros(2, 3, 32, 32), torch.zeros(5, 3, 32, 32))
    assert la.shape == (2, 4) and lb.shape == (5, 4)  # 2x2 patches at 32 px


def test_history_buffer_fills_then_swaps_half_the_time_and_restores():
    buf = HistoryBuffer(4, seed=0)
    first = torch.arange(4.0).view(4, 1)
    assert torch.equal(buf.query(first), first)  # not full yet: the new images themselves
    new = torch.arange(100.0, 300.0).view(200, 1)
    out = buf.query(new)
    swapped = (out != new).sum().item()
    assert 70 < swapped < 130  # about half the time a stored image is returned instead of the new one
    assert set(out[out != new].tolist()) <= set(range(0, 300))  # ... one that was stored before
    state = buf.state_dict()
    again = HistoryBuffer(4, seed=5)
    again.load_state_dict(state)
    x = torch.rand(20, 1)
    assert torch.equal(buf.query(x), again.query(x))
    assert torch.equal(HistoryBuffer(0).query(x), x)


def test_cogan_shared_layers_are_one_tensor_moved_by_both_heads():
    cfg = _cfg("cogan")
    G, D = build_generator(cfg), build_discriminator(cfg)
    shared = G.shared[0].weight
    assert sum(p is shared for p in G.parameters()) == 1
    pair = G(torch.randn(2, 8))
    assert pair.shape == (2, 3, 32, 64) and D(pair).shape == (2, 2)
    # a loss on domain A's half alone and one on B's alone both reach the one shared tensor
    for half in (slice(0, 32), slice(32, 64)):
        G.zero_grad()
        G(torch.randn(2, 8))[..., half].sum().backward()
        assert shared.grad is not None and shared.grad.abs().sum() > 0
    before = shared.detach().clone()
    opt = torch.optim.SGD(G.parameters(), lr=0.1)
    opt.step()
    assert not torch.equal(before, G.shared[0].weight)  # one update moves the layer both domains use


def test_dtn_const_loss_is_zero_when_g_encodes_like_its_input():
    cfg = _cfg("dtn")
    G, D = build_generator(cfg), build_discriminator(cfg)
    G.g = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Unflatten(1, (1, 1, 1)))  # placeholder, replaced below

    class Identity(torch.nn.Module):  # G(x) = x: f(G(x)) = f(x) exactly
        def forward(self, real, mode="translate"):
            a, b = real[:, 0], real[:, 1]
            return {"g_src": a, "g_tgt": b, "f_src": G.frozen_f(a), "f_g_src": G.frozen_f(a)}

    loss = DTNLoss(family_options=resolved_options(cfg))
    loss.iterations = loss.encoder_steps
    _, stats = loss.g_step(Identity(), D, torch.rand(2, 2, 3, 32, 32) * 2 - 1, None, None)
    assert stats["l_const"] == 0 and stats["l_tid"] == 0
    assert [p.name for p in loss.phases()] == ["d_loss", "g_loss"]
    assert [p.name for p in DTNLoss(family_options=resolved_options(cfg)).phases()] == ["f_loss"]  # f is fitted first


def test_dtn_const_loss_does_not_depend_on_the_scale_of_f():
    # g starts with batch norm, so the auto-encoder leaves f's scale free (it shrank to ~0.01): a plain
    # squared error then made alpha * L_CONST vanish beside the GAN term
    cfg = _cfg("dtn")
    G, D = build_generator(cfg), build_discriminator(cfg)

    class Darken(torch.nn.Module):  # a fixed translation G(x) = x / 2, so f(G(x)) != f(x)
        def forward(self, real, mode="translate"):
            a, b = real[:, 0], real[:, 1]
            return {"g_src": a / 2, "g_tgt": b, "f_src": G.frozen_f(a), "f_g_src": G.frozen_f(a / 2)}

    loss = DTNLoss(family_options=resolved_options(cfg))
    loss.iterations = loss.encoder_steps
    real = torch.rand(4, 2, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    consts = []
    for scale in (1.0, 0.01):  # f's last layer scaled: f's outputs, hence f(x) and f(G(x)), scale with it
        with torch.no_grad():
            G.f[-1].weight.mul_(scale)
            G.f[-1].bias.mul_(scale)
        consts.append(loss.g_step(Darken(), D, real, None, None)[1]["l_const"].item())
    assert consts[0] > 0
    assert consts[1] == pytest.approx(consts[0], rel=1e-4)


def _train(data, out, family, steps, **options):
    ema = options.pop("ema", 0.0)
    cfg = TrainConfig(data=str(data), out=str(out), loss=family, batch_size=4, steps=steps, device="cpu", ema=ema,
                      sample_every=2, checkpoint_every=100, n_samples=4, precision="fp32", channels_last="off")
    return train(cfg, _cfg(family, **options), out=open("/dev/null", "w"))


@pytest.mark.parametrize("family,options", [("cyclegan", {"pool_size": 3}), ("cogan", {"ema": 0.9}),
                                            ("dtn", {"encoder_steps": 2})])
def test_each_family_trains_samples_and_resumes_exactly(pair32, tmp_path, family, options, one_thread):
    whole = tmp_path / "whole"
    _train(pair32, whole, family, 4, **options)
    half = tmp_path / "half"
    _train(pair32, half, family, 2, **options)
    cfg = TrainConfig.from_dict(RunDir(half).read_config()["train"])
    cfg.steps, cfg.out = 4, str(half)
    train(cfg, ModelConfig.from_dict(RunDir(half).read_config()["model"]), resume=True, out=open("/dev/null", "w"))
    a, b = (load_checkpoint(RunDir(r).latest_checkpoint) for r in (whole, half))
    for side in ("G", "D") + (("G_ema",) if a["G_ema"] is not None else ()):
        for k in a[side]:
            assert torch.equal(a[side][k], b[side][k]), (side, k)
    assert RunDir(whole).latest_samples.is_file()
    log = read_jsonl(RunDir(whole).log)
    assert [r["step"] for r in log] == [1, 2, 3, 4]
    if family == "cyclegan":
        assert {"cycle", "identity", "d_loss"} <= set(log[-1])
        assert a["opt_G"]["param_groups"][0]["lr"] == pytest.approx(2e-4 * 0.5)  # 3/4 of the budget at the last step
    if family == "dtn":
        assert "f_loss" in log[0] and "l_const" in log[-1]


def test_a_two_domain_family_needs_a_two_domain_set_and_its_own_loss(pair32, tiny_dataset, tmp_path):
    cfg = TrainConfig(data=str(tiny_dataset), out=str(tmp_path / "x"), loss="cogan", batch_size=4, steps=1,
                      device="cpu")
    with pytest.raises(ConfigError, match="two domains"):
        train(cfg, ModelConfig(family="cogan", latent_dim=8, width=4), out=open("/dev/null", "w"))
    cfg = TrainConfig(data=str(pair32), out=str(tmp_path / "y"), loss="bce", batch_size=4, steps=1, device="cpu")
    with pytest.raises(ConfigError, match="own loss"):
        train(cfg, _cfg("cyclegan"), out=open("/dev/null", "w"))
    cfg = TrainConfig(data=str(tiny_dataset), out=str(tmp_path / "z"), loss="cyclegan", batch_size=4, steps=1,
                      device="cpu")
    with pytest.raises(ConfigError):
        train(cfg, ModelConfig(family="dcgan", latent_dim=8, width=4), out=open("/dev/null", "w"))


@pytest.fixture(scope="module")
def labelled_pair32(tmp_path_factory):
    return labelled_two_domain(tmp_path_factory.mktemp("labelled"))


@pytest.mark.slow  # three short runs: ~15 s on a shared CPU
def test_dtn_fits_f_as_a_classifier_of_a_labelled_source_then_freezes_it(labelled_pair32, pair32, tmp_path,
                                                                         one_thread):
    from ganforge.data.dataset import load_dataset
    from ganforge.metrics.domain import predict

    data = load_dataset(labelled_pair32)
    fitted = tmp_path / "fitted"
    _train(labelled_pair32, fitted, "dtn", 30, encoder_steps=30)  # auto: the source has classes
    model = RunDir(fitted).read_config()["model"]
    assert model["options"]["source_classes"] == 2  # the data set's classes: dark and light (B has none)
    log = read_jsonl(RunDir(fitted).log)
    assert {"f_class", "f_acc", "f_rec"} <= set(log[0]) and log[-1]["f_class"] < log[0]["f_class"]

    G = build_generator(ModelConfig.from_dict(model))
    G.load_state_dict(load_checkpoint(RunDir(fitted).latest_checkpoint)["G"])
    G.eval()

    class Classifier(torch.nn.Module):  # f then the head, as the metrics' classifiers are called
        def forward(self, x):
            features = G.f(x).flatten(1)
            return features, G.head(features)

    a = data.domain_indices(0)
    _, logits = predict(Classifier(), data.images[a])
    assert (logits.argmax(1) == data.labels[a]).mean() >= 0.9  # chance: 0.5 (two classes, 8 images each)

    # after the encoder phase f and its head never move again, whatever the GAN phase does; exact resume holds
    cfg = TrainConfig.from_dict(RunDir(fitted).read_config()["train"])
    cfg.steps = 33
    train(cfg, ModelConfig.from_dict(model), resume=True, out=open("/dev/null", "w"))
    after = load_checkpoint(RunDir(fitted).latest_checkpoint)["G"]
    moved = [k for k in after if not torch.equal(after[k], G.state_dict()[k])]
    assert moved and all(k.startswith("g.") for k in moved)
    whole = tmp_path / "whole"
    _train(labelled_pair32, whole, "dtn", 33, encoder_steps=30)
    straight = load_checkpoint(RunDir(whole).latest_checkpoint)
    assert all(torch.equal(straight["G"][k], after[k]) for k in after)


def test_dtn_encoder_choice_follows_the_source_domains_labels(labelled_pair32, pair32, tmp_path):
    from ganforge.data.dataset import load_dataset
    from ganforge.train import model_config_for_data

    auto = model_config_for_data(_cfg("dtn"), load_dataset(pair32))  # no labels: the auto-encoder
    assert "source_classes" not in auto.options and build_generator(auto).head is None
    forced = model_config_for_data(_cfg("dtn", encoder="autoencoder"), load_dataset(labelled_pair32))
    assert build_generator(forced).head is None
    with pytest.raises(ConfigError, match="needs class labels on the source domain"):
        model_config_for_data(_cfg("dtn", encoder="classifier"), load_dataset(pair32))
