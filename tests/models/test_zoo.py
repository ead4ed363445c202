"""The model zoo in training: conditional families, presets, resume with the new state, robustness."""

import json
import math

import numpy as np
import pytest
import torch

from conftest import labelled_dataset
from ganforge.artifacts import load_generator
from ganforge.checkpoint import load_checkpoint
from ganforge.cli import main
from ganforge.config import ModelConfig, TrainConfig
from ganforge.models import build_discriminator, build_generator
from ganforge.runs import read_jsonl
from ganforge.train import Trainer, TrainingDiverged, train


@pytest.fixture(scope="module")
def dark_bright(tmp_path_factory):
    """128 grey 16x16 images in two classes that differ in brightness: 'bright' (~200) and 'dark' (~50)."""
    return labelled_dataset(tmp_path_factory.mktemp("labelled"), {"bright": (160, 240), "dark": (10, 90)}, 64)


def _cfg(data, out, **kw):
    base = dict(data=str(data), out=str(out), steps=4, batch_size=16, seed=3, sample_every=1000,
                checkpoint_every=1000, n_samples=4, precision="fp32")
    return TrainConfig(**{**base, **kw})


# ---- conditional families ----------------------------------------------------------------
@pytest.mark.parametrize("family", ["cgan", "acgan"])
def test_conditional_generators_use_the_label(family):
    cfg = ModelConfig(family=family, resolution=16, channels=1, latent_dim=8, width=8, num_classes=3)
    G = build_generator(cfg).eval()
    from ganforge.models.cgan import ConditionalBatchNorm

    for m in G.modules():  # conditional norms start equal for every class (gain 1, shift 0): as if trained
        if isinstance(m, ConditionalBatchNorm):
            torch.nn.init.normal_(m.gain.weight, 1.0, 0.1)
            torch.nn.init.normal_(m.bias.weight, 0.0, 0.1)
    z = torch.randn(1, 8).expand(3, 8)
    with torch.no_grad():
        x = G(z, torch.tensor([0, 1, 1]))
        again = G(z, torch.tensor([0, 1, 1]))
    assert not torch.allclose(x[0], x[1])   # same latent, other class: other image
    assert torch.equal(x[1], x[2])          # same latent, same class: same image
    assert torch.equal(x, again)
    with pytest.raises(ValueError, match="conditional"):
        G(z, None)


def test_projection_discriminator_scores_depend_on_the_label():
    cfg = ModelConfig(family="cgan", resolution=16, channels=1, latent_dim=8, width=8, num_classes=3)
    D = build_discriminator(cfg).eval()
    x = torch.randn(1, 1, 16, 16).expand(3, 1, 16, 16)
    with torch.no_grad():
        scores = D(x, torch.tensor([0, 1, 2]))
    assert len(set(scores.tolist())) == 3


def test_acgan_discriminator_returns_class_logits_on_request():
    cfg = ModelConfig(family="acgan", resolution=16, channels=1, latent_dim=8, width=8, num_classes=4)
    D = build_discriminator(cfg)
    x = torch.randn(2, 1, 16, 16)
    logits, classes = D(x, with_classes=True)
    assert logits.shape == (2,) and classes.shape == (2, 4)
    assert torch.equal(D(x), logits)


def test_num_classes_comes_from_the_data_set(tmp_path, dark_bright, tiny_dataset):
    trainer = Trainer(_cfg(dark_bright, tmp_path / "c"), ModelConfig(family="cgan", width=8, latent_dim=8))
    assert trainer.model_cfg.num_classes == 2
    with pytest.raises(Exception, match="conditional model but .* has no classes"):
        Trainer(_cfg(tiny_dataset, tmp_path / "u"), ModelConfig(family="acgan", width=8, latent_dim=8))


@pytest.mark.slow
def test_a_trained_acgan_draws_the_class_asked_for(tmp_path, dark_bright):
    """After a short run on dark vs bright images, G's class 'bright' is brighter than its class 'dark'."""
    train(_cfg(dark_bright, tmp_path / "r", steps=60, batch_size=32, lr_g=1e-3, lr_d=1e-3),
          ModelConfig(family="acgan", width=8, latent_dim=8))
    G, cfg, state = load_generator(tmp_path / "r")
    classes = state["dataset"]["classes"]
    z = torch.randn(64, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        bright = G(z, torch.full((64,), classes.index("bright"))).mean().item()
        dark = G(z, torch.full((64,), classes.index("dark"))).mean().item()
    assert bright > dark + 0.3, (bright, dark)


def test_generate_class_flag(tmp_path, dark_bright, trained_run, capsys):
    train(_cfg(dark_bright, tmp_path / "r", steps=2), ModelConfig(family="cgan", width=8, latent_dim=8))
    assert main(["generate", str(tmp_path / "r"), "--class", "dark", "--n", "4", "--out", str(tmp_path / "g.png")]) == 0
    assert (tmp_path / "g.png").is_file()
    assert main(["generate", str(tmp_path / "r"), "--class", "cat", "--n", "4", "--out", str(tmp_path / "x.png")]) == 1
    assert "unknown class 'cat'; this model knows: bright, dark" in capsys.readouterr().err
    assert main(["generate", str(trained_run), "--class", "dark", "--out", str(tmp_path / "y.png")]) == 1
    assert "--class needs a conditional model" in capsys.readouterr().err


# ---- presets ------------------------------------------------------------------------------
def test_preset_list_and_priority(tmp_path, tiny_dataset, capsys):
    assert main(["train", "--preset", "list"]) == 0
    listed = capsys.readouterr().out
    for name in ("spiders-dcgan-64", "faces-dcgan-128", "mitlgan-wgan-gp-128", "mnist-dense", "mnist-conv"):
        assert name in listed
    assert main(["train", "--preset", "sngan-32", "--data", str(tiny_dataset), "--out", str(tmp_path / "r"),
                 "--loss", "bce", "--dry-run"]) == 0
    resolved = json.loads(capsys.readouterr().out)
    assert resolved["model"]["family"] == "resnet" and resolved["train"]["n_critic"] == 5
    assert resolved["train"]["loss"] == "bce"  # the flag wins over the preset
    assert main(["train", "--preset", "nope", "--data", "x", "--out", "y"]) == 1


@pytest.mark.parametrize("preset,family,loss", [("fastgan-small-data", "fastgan", "hinge"),
                                                ("r3gan-cifar-32", "r3gan", "rpgan"),
                                                ("r3gan-small-data", "r3gan", "rpgan")])
def test_small_data_presets_resolve_to_valid_set_ups(tmp_path, tiny_rgb32, capsys, preset, family, loss):
    from ganforge.models import validate

    assert main(["train", "--preset", preset, "--data", str(tiny_rgb32), "--out", str(tmp_path / "r"),
                 "--dry-run"]) == 0
    resolved = json.loads(capsys.readouterr().out)
    assert resolved["model"]["family"] == family and resolved["train"]["loss"] == loss
    model = ModelConfig.from_dict({**resolved["model"], "resolution": 32, "channels": 3})
    validate(model)
    if loss == "rpgan":
        assert resolved["train"]["r1_gamma"] > 0 and resolved["train"]["r2_gamma"] > 0


# ---- every family with every loss, and exact resume with the new state -----------------------
@pytest.mark.parametrize("family,loss", [("resnet", "hinge"), ("resnet", "wgan-gp"), ("cgan", "hinge"),
                                         ("acgan", "lsgan"), ("dcgan", "wgan-gp"), ("mlp", "lsgan")])
def test_families_train_with_losses(tmp_path, dark_bright, family, loss):
    options = {"d_norm": "layer"} if family == "dcgan" else {}
    result = train(_cfg(dark_bright, tmp_path / "r", steps=2, loss=loss),
                   ModelConfig(family=family, width=8, latent_dim=8, options=options))
    records = read_jsonl(result.run_dir / "log.jsonl")
    assert len(records) == 2 and all(math.isfinite(r["d_loss"]) and math.isfinite(r["g_loss"]) for r in records)
    if loss == "wgan-gp":
        assert "gp" in records[0]
    if family == "acgan":
        assert "d_ac" in records[0] and "g_ac" in records[0]


@pytest.mark.parametrize("family,extra", [
    ("resnet", dict(loss="hinge", augment="color,translation,cutout", ema=0.9)),
    ("acgan", dict(loss="wgan-gp", n_critic=2, r1_gamma=1.0, ema=0.5, ema_start=3)),
])
def test_resume_is_exact_with_ema_augmentation_and_penalties(tmp_path, dark_bright, family, extra):
    model = dict(family=family, width=8, latent_dim=8)
    train(_cfg(dark_bright, tmp_path / "straight", steps=6, checkpoint_every=2, **extra), ModelConfig(**model))
    train(_cfg(dark_bright, tmp_path / "resumed", steps=3, checkpoint_every=2, **extra), ModelConfig(**model))
    train(_cfg(dark_bright, tmp_path / "resumed", steps=6, checkpoint_every=2, **extra), ModelConfig(**model),
          resume=True)
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "latest.pt")
    b = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "latest.pt")
    for net in ("G", "D", "G_ema"):
        assert a[net] is not None
        for name in a[net]:
            assert torch.equal(a[net][name], b[net][name]), f"{net}.{name}"
    assert not all(torch.equal(a["G"][k], a["G_ema"][k]) for k in a["G"])  # the average lags G
    G, _, _ = load_generator(tmp_path / "straight")  # sampling uses the average
    assert all(torch.equal(v, a["G_ema"][k]) for k, v in G.state_dict().items())


def test_every_rank_resumes_its_own_random_streams_or_a_seeded_new_one(tmp_path, tiny_dataset):
    """In-process check of what tests/test_ddp.py runs with torchrun: rank r takes rng["ranks"][r];
    a rank the checkpoint has no state for is reseeded from (seed, rank, step), and rank 0 says so."""
    import io

    from ganforge.checkpoint import save_checkpoint
    from ganforge.train import stream_seed

    cfg, model = _cfg(tiny_dataset, tmp_path / "r", steps=2, augment="color"), ModelConfig(family="mlp", width=8,
                                                                                          latent_dim=8)
    with torch.random.fork_rng(devices=[]):
        train(cfg, model, out=io.StringIO())
        path = tmp_path / "r" / "checkpoints" / "latest.pt"
        state = load_checkpoint(path)  # weights_only=True
        assert state["rng"]["world_size"] == 1 and len(state["rng"]["ranks"]) == 1
        # as if two processes had saved it: rank 1's streams differ from rank 0's
        rank1 = {"torch": torch.Generator().manual_seed(11).get_state(),
                 "augment": torch.Generator().manual_seed(12).get_state()}
        state["rng"]["ranks"].append(rank1)
        save_checkpoint(path, state)

        t1 = Trainer(cfg, model, resume=True, rank=1, world_size=2, out=io.StringIO())
        assert torch.equal(torch.get_rng_state(), rank1["torch"])
        assert torch.equal(t1.augment_gen.get_state(), rank1["augment"])
        t0 = Trainer(cfg, model, resume=True, rank=0, world_size=2, out=io.StringIO())
        assert torch.equal(torch.get_rng_state(), state["rng"]["ranks"][0]["torch"])
        assert torch.equal(t0.augment_gen.get_state(), state["rng"]["ranks"][0]["augment"])

        out = io.StringIO()
        Trainer(cfg, model, resume=True, rank=0, world_size=4, out=out)
        assert "ranks 2-3 start new streams seeded from (seed 3, rank, step 2)" in out.getvalue()
        t3 = Trainer(cfg, model, resume=True, rank=3, world_size=4, out=io.StringIO())
        assert torch.equal(torch.get_rng_state(),
                           torch.Generator().manual_seed(stream_seed(3, 3, 2, "torch")).get_state())
        assert torch.equal(t3.augment_gen.get_state(),
                           torch.Generator().manual_seed(stream_seed(3, 3, 2, "augment")).get_state())
    seeds = {stream_seed(3, r, s, k) for r in range(3) for s in (2, 5) for k in ("torch", "augment")}
    assert len(seeds) == 12 and all(0 <= x < 2**63 for x in seeds)


def test_gradient_accumulation_gives_the_full_batch_gradient(tmp_path, tiny_dataset):
    trainer = Trainer(_cfg(tiny_dataset, tmp_path / "r", grad_accum=4),
                      ModelConfig(family="mlp", width=8, latent_dim=8))
    net = torch.nn.Linear(3, 1)
    x, z = torch.randn(8, 3), torch.randn(8, 3)
    target = (net(x) ** 2).mean()
    full = torch.autograd.grad(target, net.weight)[0]
    before = net.weight.detach().clone()
    opt = torch.optim.SGD(net.parameters(), lr=1.0)
    stats = trainer._update(opt, trainer.scaler_D, net,
                            lambda r, zz, y: ((net(r) ** 2).mean(), {"x": (net(r) ** 2).mean()}),
                            x, z, None, "x")
    assert torch.allclose(before - net.weight.detach(), full, atol=1e-6)  # one SGD step of lr 1
    assert stats["x"].item() == pytest.approx(target.item(), rel=1e-5)     # stats are micro-batch means


# ---- robustness -------------------------------------------------------------------------------
def _poison(trainer, bad_steps, again=False):
    """Make D's loss NaN on the given (1-based) step numbers (once each, or ``again`` after rollbacks too)."""
    original = trainer.loss.d_loss
    bad_steps = set(bad_steps)

    def d_loss(*args):
        loss, stats = original(*args)
        if trainer.step + 1 in bad_steps:
            if not again:
                bad_steps.discard(trainer.step + 1)
            loss = loss * float("nan")
            stats = {**stats, "d_loss": loss.detach()}
        return loss, stats

    trainer.loss.d_loss = d_loss


def test_non_finite_steps_are_skipped_then_rolled_back(tmp_path, tiny_dataset):
    import io

    out = io.StringIO()
    trainer = Trainer(_cfg(tiny_dataset, tmp_path / "r", steps=8, checkpoint_every=3),
                      ModelConfig(family="dcgan", width=8, latent_dim=8), out=out)
    _poison(trainer, {2, 5, 6, 7})  # 2: one bad step, skipped; 5-7: three in a row -> back to step 3
    # (no checkpoint at step 6: it is never written in the middle of failures)
    d_before = {k: v.clone() for k, v in trainer.D.state_dict().items()}
    result = trainer.fit()
    assert result.step == 8
    records = read_jsonl(tmp_path / "r" / "log.jsonl")
    assert [r["step"] for r in records if "skipped" in r] == [2]  # 5 and 6 were undone by the rollback
    assert [r for r in records if "rolled_back" in r] == [{"step": 3, "rolled_back": 1, "from_step": 7}]
    assert [r["step"] for r in records if "d_loss" in r] == list(range(1, 9))
    assert records[1]["d_loss"] is None and records[1]["skipped"] == ["d_loss"]
    assert "rolled back to step 3" in out.getvalue()
    state = load_checkpoint(tmp_path / "r" / "checkpoints" / "latest.pt")
    assert all(torch.isfinite(t).all() for t in state["D"].values() if t.is_floating_point())
    assert any(not torch.equal(d_before[k], state["D"][k]) for k in d_before)


def test_persistent_nans_give_up_with_the_good_checkpoint_kept(tmp_path, tiny_dataset):
    trainer = Trainer(_cfg(tiny_dataset, tmp_path / "r", steps=50, checkpoint_every=2, max_bad_steps=2,
                           max_rollbacks=2),
                      ModelConfig(family="dcgan", width=8, latent_dim=8))
    _poison(trainer, set(range(3, 100)), again=True)
    with pytest.raises(TrainingDiverged, match="after 2 rollbacks"):
        trainer.fit()
    state = load_checkpoint(tmp_path / "r" / "checkpoints" / "latest.pt")
    assert state["step"] == 2
    assert all(torch.isfinite(t).all() for t in state["G"].values() if t.is_floating_point())


def test_divergence_warning_when_d_wins_for_long(tmp_path, tiny_dataset):
    import io

    out = io.StringIO()
    trainer = Trainer(_cfg(tiny_dataset, tmp_path / "r", steps=6, diverge_steps=3),
                      ModelConfig(family="dcgan", width=8, latent_dim=8), out=out)
    original = trainer.loss.d_loss
    trainer.loss.d_loss = lambda *a: (lambda loss, s: (loss, {**s, "d_acc": torch.tensor(1.0)}))(*original(*a))
    trainer.fit()
    warned = [r["step"] for r in read_jsonl(tmp_path / "r" / "log.jsonl") if "warning" in r]
    assert warned == [3]
    assert "D has told every real and fake image apart for 3 steps" in out.getvalue()


def test_a_seed_draws_class_seed_mod_k_and_unlabelled_sampling_is_refused():
    """One rule (issue 14, point 1): seed s draws class s mod K; no other rule hides in generate()."""
    from ganforge.sampling import generate, images_for_seeds, latents_for_seeds

    G = build_generator(ModelConfig(family="acgan", resolution=16, channels=1, latent_dim=8, width=8, num_classes=3))
    seeds = [7, 8, 9, 10]
    expected = generate(G, latents_for_seeds(seeds, 8), torch.tensor([1, 2, 0, 1]))
    assert np.array_equal(images_for_seeds(G, seeds), expected)
    with pytest.raises(ValueError, match="labels"):
        generate(G, latents_for_seeds(seeds, 8))


# ---- benchmarks/quality_per_time.py -------------------------------------------------------
def test_quality_benchmark_scores_through_ganforge_evaluation(tmp_path, dark_bright):
    """The benchmark's FID/KID are ganforge evaluate's numbers on a domain extractor, fitted once into
    the cache by name; conditional families get a per-class FID."""
    import importlib.util
    from pathlib import Path

    from ganforge.data.dataset import load_dataset
    from ganforge.metrics.evaluate import evaluate_run
    from ganforge.paths import cache_dir

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "quality_per_time.py"
    spec = importlib.util.spec_from_file_location("quality_per_time", script)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)

    data = load_dataset(dark_bright)
    cpu = torch.device("cpu")
    with torch.random.fork_rng(devices=[]):
        ext, info = bench.get_extractor("db-cnn", data, cpu, fit_epochs=2, fit_max_images=None)
    assert info["fitted_now"] and info["name"] == "db-cnn" and info["fitted_on"]["same_as_benchmark_data"]
    assert Path(info["file"]) == cache_dir("extractors") / "db-cnn.pt"  # where --features db-cnn finds it
    assert info["identity"].startswith("db-cnn:") and len(info["identity"]) == len("db-cnn:") + 64
    _, again = bench.get_extractor("db-cnn", data, cpu, fit_epochs=2, fit_max_images=None)
    assert not again["fitted_now"] and again["identity"] == info["identity"]
    with pytest.raises(Exception, match="no feature extractor"):  # a missing path is an error, not a fit
        bench.get_extractor(str(tmp_path / "missing.pt"), data, cpu, fit_epochs=2, fit_max_images=None)

    train(_cfg(dark_bright, tmp_path / "cgan", steps=2), ModelConfig(family="cgan", width=8, latent_dim=8))
    row = bench.evaluate(tmp_path / "cgan", data, ext, 40, cpu)
    record = evaluate_run(tmp_path / "cgan", "fid,kid", features="db-cnn", n=40, device="cpu", log=None,
                          out=tmp_path / "evaluation.json")
    for key in ("fid[db-cnn]", "kid[db-cnn]", "kid_std[db-cnn]"):
        assert row[key] == pytest.approx(record["metrics"][key], rel=1e-4, abs=1e-9)
    by_class = row["fid_by_class[db-cnn]"]
    assert set(by_class) == {"bright", "dark"} and all(v >= 0 for v in by_class.values())
    assert row["fid_per_class[db-cnn]"] == pytest.approx(np.mean(list(by_class.values())), rel=1e-4)


def _quality_benchmark():
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "quality_per_time.py"
    spec = importlib.util.spec_from_file_location("quality_per_time", script)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_quality_benchmark_snapshots_g_at_even_moments_of_the_budget():
    """--curve-points 4 over one minute: copies of G (its EMA when there is one) after 15, 30 and 45 s of
    training, each frozen at that moment, then the run's end from its checkpoint."""
    from types import SimpleNamespace

    bench = _quality_benchmark()
    snaps = bench.Snapshots(minutes=1.0, points=4)
    G, ema = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    t = SimpleNamespace(elapsed=0.0, step=0, G=G, G_ema=None, model_cfg=ModelConfig(family="dcgan"))
    for step in range(1, 61):  # a step a second
        t.step, t.elapsed = step, float(step)
        if step == 40:
            t.G_ema = ema  # (an EMA starting late: the snapshot after it is of the EMA)
        with torch.no_grad():
            G.weight.fill_(step), ema.weight.fill_(-step)
        snaps(t)
    assert [(s, n) for s, n, _ in snaps.taken] == [(15.0, 15), (30.0, 30), (45.0, 45)]
    assert [float(m.weight.detach()[0, 0]) for _, _, m in snaps.taken] == [15.0, 30.0, -45.0]


def _kept_result(path, data, sha, fid, *, seed=0, identity="db-cnn:1"):
    """A kept quality_per_time.py document of one dcgan run (a curve of two points) and the plan's run of it."""
    import json

    run = {"family": "dcgan", "plan": False, "setup": "dcgan-w8-b8", "recipe": "family defaults", "width": 8,
           "batch_size": 8, "augment": "", "seed": seed, "steps": 40, "train_seconds": 60.0, "fid[db-cnn]": fid,
           "curve": [{"minutes": 0.5, "steps": 20, "images": 160, "fid": 2 * fid},
                     {"minutes": 1.0, "steps": 40, "images": 320, "fid": fid}]}
    doc = {"benchmark": "quality_per_time", "data": "x.zip", "data_sha256": sha, "count": len(data),
           "minutes_per_family": 1.0, "seed": seed, "device": "cpu", "torch_threads": 2,
           "features": {"name": "db-cnn", "identity": identity},
           "results": [run, {**run, "plan": True, "setup": "auto: dcgan-w8-b8"}]}
    path.write_text(json.dumps(doc))
    return str(path)


def test_kept_results_join_the_plan_table_under_the_kept_data_hash(tmp_path, dark_bright, monkeypatch):
    """--from-results adds earlier runs to the plan table without training: each seed's curve, the auto
    plan's run not as a candidate, under the kept hash a same_content document maps a re-made file to;
    results of another data set or another extractor are refused in one line."""
    import json

    bench = _quality_benchmark()
    data = bench.load_dataset(dark_bright)
    kept = _kept_result(tmp_path / "kept.json", data, "kept-sha", 10.0)
    remade = _kept_result(tmp_path / "remade.json", data, data.sha256, 8.0, seed=1)
    same = tmp_path / "same.json"
    same.write_text(json.dumps({"benchmark": "same_content", "why": "test",
                                "data_sha256": {data.sha256: "kept-sha"}}))
    table = tmp_path / "table.json"

    def run(*files):
        monkeypatch.setattr("sys.argv", ["quality_per_time.py", "--data", str(dark_bright), "--from-results", *files,
                                         "--write-plan-table", str(table)])
        return bench.main()

    assert run(kept, remade, str(same)) == 0
    written = json.loads(table.read_text())
    [case] = written["cases"]
    assert (case["sha256"], case["count"], case["resolution"]) == ("kept-sha", len(data), data.resolution)
    assert case["metric"] == "fid[db-cnn]" and "--from-results" in written["source"]
    assert sorted((r["seed"], r["images"], r["score"]) for r in case["results"]) == [
        (0, 160, 20.0), (0, 320, 10.0), (1, 160, 16.0), (1, 320, 8.0)]
    assert list(written["candidates"]) == ["dcgan-w8-b8"] and written["candidates"]["dcgan-w8-b8"]["preset"] is None

    with pytest.raises(SystemExit, match="kept.json measured another data set"):
        run(kept, remade)  # without the same_content document "kept-sha" is not this file
    other = _kept_result(tmp_path / "other.json", data, data.sha256, 9.0, identity="db-cnn:2")
    with pytest.raises(SystemExit, match="different extractors"):
        run(remade, other)
    monkeypatch.setattr("sys.argv", ["quality_per_time.py", "--data", str(dark_bright), "--from-results", kept])
    with pytest.raises(SystemExit, match="--write-plan-table"):
        bench.main()


@pytest.mark.slow
def test_quality_benchmark_curves_plot_and_plan_table(tmp_path, dark_bright, monkeypatch, capsys):
    """End to end at toy size: each set-up with its own augmentation, FID over time in the JSON, the PNG,
    and the plan table's candidates keeping the augmentation they were measured with."""
    import json

    bench = _quality_benchmark()
    data = bench.load_dataset(dark_bright)
    with torch.random.fork_rng(devices=[]):
        bench.get_extractor("db-cnn", data, torch.device("cpu"), fit_epochs=1, fit_max_images=None)
    table, png = tmp_path / "table.json", tmp_path / "fid.png"
    monkeypatch.setattr("sys.argv", ["quality_per_time.py", "--data", str(dark_bright), "--features", "db-cnn",
                                     "--families", "dcgan,dcgan+translation", "--width", "8", "--batch-size", "8",
                                     "--minutes", "0.05", "--n-eval", "32", "--curve", str(png), "--seed", "5",
                                     "--probe-seconds", "0.01",
                                     "--runs", str(tmp_path / "runs"), "--write-plan-table", str(table)])
    assert bench.main() == 0
    report = json.loads(capsys.readouterr().out)
    rows = report["results"]
    assert [r["setup"] for r in rows] == ["dcgan-w8-b8", "dcgan-w8-b8-translation"]
    assert [r["augment"] for r in rows] == ["", "translation"] and report["seed"] == 5
    assert isinstance(report["cpu_amx"], bool)
    for r in rows:
        assert len(r["machine_probe_ms"]) == 2 and all(ms > 0 for ms in r["machine_probe_ms"])  # before, after
        assert r["runtime"] == json.loads((tmp_path / "runs" / r["family"] / "config.json").read_text())["runtime"]
        assert r["runtime"].startswith("cpu ")
        curve = r["curve"]
        assert 1 <= len(curve) <= 4  # 3 snapshots when the steps are short enough, then the end
        assert curve[-1]["steps"] == r["steps"] and curve[-1]["fid"] == r["fid[db-cnn]"]
        assert [p["steps"] for p in curve] == sorted(p["steps"] for p in curve)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    written = json.loads(table.read_text())
    assert written["candidates"]["dcgan-w8-b8-translation"]["augment"] == "translation"
    assert written["candidates"]["dcgan-w8-b8"]["augment"] == ""
    assert written["candidates"]["dcgan-w8-b8"]["preset"] is None  # the family's defaults: a plan can build it
    from ganforge.plan import candidates

    assert {c.name for c in candidates(written)} == set(written["candidates"])
    case = next(c for c in written["cases"] if c["sha256"] == data.sha256)
    assert len(case["results"]) == sum(len(r["curve"]) for r in rows)
