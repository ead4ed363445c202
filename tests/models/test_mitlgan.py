"""MITLGAN: composing pretrained generators, frozen parts, latent split, merges, save/load, compose CLI."""

from __future__ import annotations

import shutil

import pytest
import torch

from ganforge.artifacts import load_generator
from ganforge.checkpoint import load_checkpoint
from ganforge.cli import main
from ganforge.compose import compose, compose_model_config, initialise, load_part_weights
from ganforge.config import ModelConfig, TrainConfig
from ganforge.errors import ConfigError
from ganforge.models import build_generator, mitlgan
from ganforge.train import Trainer, train


def _train_part(out, data, family, latent_dim, steps=2):
    cfg = TrainConfig(data=str(data), out=str(out), steps=steps, batch_size=16, sample_every=100,
                      checkpoint_every=100, n_samples=4, precision="fp32")
    train(cfg, ModelConfig(family=family, width=8, latent_dim=latent_dim))
    return out


@pytest.fixture(scope="module")
def parts(tmp_path_factory, tiny_dataset):
    """Two pretrained 16 px grey parts of different families and latent sizes: dcgan (z 8), mlp (z 5)."""
    root = tmp_path_factory.mktemp("parts")
    return [_train_part(root / "fg", tiny_dataset, "dcgan", 8), _train_part(root / "bg", tiny_dataset, "mlp", 5)]


def _cfg(data, out, steps, **kw):
    return TrainConfig(data=str(data), out=str(out), steps=steps, batch_size=8, sample_every=100,
                       checkpoint_every=100, n_samples=4, precision="fp32", seed=3, **kw)


def _model(parts, data, merge="conv1x1", **kw):
    return compose_model_config(parts, data, merge=merge, width=8, blocks=2, **kw)


def test_latent_is_split_in_part_order(parts, tiny_dataset):
    cfg = _model(parts, tiny_dataset)
    assert cfg.latent_dim == 8 + 5
    assert [p["latent_slice"] for p in cfg.options["parts"]] == [[0, 8], [8, 13]]
    G = build_generator(cfg)
    load_part_weights(G)
    G.eval()
    z = torch.randn(4, 13)
    fg, _, _ = load_generator(parts[0])
    bg, _, _ = load_generator(parts[1])
    outs = G.part_outputs(z)
    # each part sees exactly its slice, and makes what 'ganforge generate' makes from its own run
    assert torch.equal(outs[0], fg(z[:, :8])) and torch.equal(outs[1], bg(z[:, 8:]))
    z2 = z.clone()
    z2[:, 8:] = torch.randn(4, 5)  # changing the second slice leaves the first part's images alone
    outs2 = G.part_outputs(z2)
    assert torch.equal(outs2[0], outs[0]) and not torch.equal(outs2[1], outs[1])


@pytest.mark.parametrize("merge", ["conv1x1", "sum", "alpha"])
def test_each_merge_makes_images_of_the_parts_size(parts, tiny_dataset, merge):
    cfg = _model(parts, tiny_dataset, merge=merge)
    G = build_generator(cfg)
    with torch.no_grad():
        x = G(torch.randn(3, cfg.latent_dim))
    assert x.shape == (3, 1, 16, 16) and x.min() >= -1 and x.max() <= 1
    seen = G.explain(torch.randn(3, cfg.latent_dim))
    assert [p.shape for p in seen["parts"]] == [(3, 1, 16, 16)] * 2
    assert (seen["composite"] is None) == (merge == "conv1x1")
    if merge == "alpha":
        assert seen["mask"].shape == (3, 2, 16, 16)
        assert torch.allclose(seen["mask"].sum(1), torch.ones(3, 16, 16), atol=1e-5)
    else:
        assert seen["mask"] is None
    if merge == "sum":
        assert torch.allclose(seen["composite"], (seen["parts"][0] + seen["parts"][1]).clamp(-1, 1))


def test_refiner_has_dense_blocks_at_a_quarter_resolution(parts, tiny_dataset):
    cfg = compose_model_config(parts, tiny_dataset, width=8, blocks=6, growth=4)
    G = build_generator(cfg)
    shapes = []
    hooks = [b.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape))) for b in G.refiner.dense]
    G(torch.randn(2, cfg.latent_dim))
    for h in hooks:
        h.remove()
    # each block's output is its input (32 + 4i channels) with 4 new channels concatenated
    assert shapes == [(2, 32 + 4 * (i + 1), 4, 4) for i in range(6)]


def _snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("merge", ["conv1x1", "alpha"])
def test_training_changes_merge_and_refiner_but_not_frozen_parts(parts, tiny_dataset, tmp_path, merge):
    trainer = Trainer(_cfg(tiny_dataset, tmp_path / "run", 3), _model(parts, tiny_dataset, merge=merge),
                      initialise=initialise)
    source = [load_checkpoint(mitlgan.Path(p["source"]))[p["weights"]] for p in trainer.model_cfg.options["parts"]]
    parts_before = _snapshot(trainer.G.parts)
    for i, part in enumerate(trainer.G.parts):  # the parts start as the pretrained generators
        for k, v in part.state_dict().items():
            assert torch.equal(v, source[i][k]), k
    merge_before, refiner_before = _snapshot(trainer.G.merge), _snapshot(trainer.G.refiner)
    for _ in range(3):
        trainer.train_step()
    for k, v in trainer.G.parts.state_dict().items():  # weights and batch-norm statistics alike
        assert torch.equal(v, parts_before[k]), f"frozen part tensor {k} changed"
    assert not any(p.requires_grad for p in trainer.G.parts.parameters())

    def changed(before, m):
        return [k for k, v in m.state_dict().items() if not torch.equal(v, before[k])]
    assert changed(merge_before, trainer.G.merge), "merge weights did not train"
    assert len(changed(refiner_before, trainer.G.refiner)) > len(refiner_before) // 2


def test_unfreeze_after_n_steps_and_exact_resume(parts, tiny_dataset, tmp_path):
    """Parts stay fixed for N steps, then train; a run stopped in between resumes to the same weights."""

    def model():
        return _model(parts, tiny_dataset, unfreeze_after=2)
    straight = compose(_cfg(tiny_dataset, tmp_path / "a", 4), model())
    compose(_cfg(tiny_dataset, tmp_path / "b", 1), model())
    early = load_checkpoint(tmp_path / "b" / "checkpoints" / "latest.pt")
    fg = load_checkpoint(mitlgan.Path(early["model_config"]["options"]["parts"][0]["source"]))["G"]
    assert all(torch.equal(early["G"][f"parts.0.{k}"], v) for k, v in fg.items())
    assert not bool(early["G"]["parts_unfrozen"])
    compose(_cfg(tiny_dataset, tmp_path / "b", 3), model(), resume=True)
    compose(_cfg(tiny_dataset, tmp_path / "b", 4), model(), resume=True)
    a = load_checkpoint(straight.run_dir / "checkpoints" / "latest.pt")
    b = load_checkpoint(tmp_path / "b" / "checkpoints" / "latest.pt")
    for net in ("G", "D"):
        for k in a[net]:
            assert torch.equal(a[net][k], b[net][k]), f"{net}.{k} differs after resume"
    assert bool(a["G"]["parts_unfrozen"])
    assert any(not torch.equal(a["G"][f"parts.0.{k}"], v) for k, v in fg.items() if v.is_floating_point())


def test_composed_checkpoint_loads_without_the_parts(parts, tiny_dataset, tmp_path):
    moved = tmp_path / "parts"
    for p in parts:
        shutil.copytree(p, moved / p.name)
    model = _model([moved / p.name for p in parts], tiny_dataset, merge="alpha")
    result = compose(_cfg(tiny_dataset, tmp_path / "run", 2), model)
    shutil.rmtree(moved)  # the composed checkpoint alone must suffice
    G, cfg, state = load_generator(result.run_dir)
    assert cfg.family == "mitlgan" and cfg.options["merge"] == "alpha"
    for k, v in G.state_dict().items():
        assert torch.equal(v, state["G"][k]), k
    z = torch.randn(3, cfg.latent_dim)
    G2, _, _ = load_generator(result.run_dir / "checkpoints" / "latest.pt")
    assert torch.equal(G(z), G2(z))


def test_parts_of_different_sizes_are_refused(parts, tiny_dataset, pokemon32, tmp_path):
    other = _train_part(tmp_path / "big", pokemon32, "dcgan", 4, steps=1)
    with pytest.raises(ConfigError, match="one size"):
        compose_model_config([parts[0], other], tiny_dataset)
    with pytest.raises(ConfigError, match="prepare the combined set at --size 16"):
        compose_model_config(parts, pokemon32)
    with pytest.raises(ConfigError, match="at least two"):
        compose_model_config(parts[:1], tiny_dataset)


def test_compose_cli_end_to_end(parts, tiny_dataset, tmp_path, capsys):
    out = tmp_path / "composed"
    argv = ["compose", "--part", str(parts[0]), "--part", str(parts[1]), "--data", str(tiny_dataset),
            "--out", str(out), "--steps", "2", "--batch-size", "8", "--refiner-width", "8", "--blocks", "2",
            "--critic-width", "8", "--sample-every", "1", "--n-samples", "4", "--precision", "fp32"]
    assert main(argv) == 0
    assert (out / "samples" / "latest.png").is_file() and (out / "loss.png").is_file()
    assert load_checkpoint(out / "checkpoints" / "latest.pt")["step"] == 2
    assert main(["compose", "--out", str(out), "--resume", "--steps", "3"]) == 0
    assert load_checkpoint(out / "checkpoints" / "latest.pt")["step"] == 3
    assert main(["generate", str(out), "--n", "4", "--out", str(tmp_path / "g.png")]) == 0
    assert (tmp_path / "g.png").is_file()
    # it is just another family: interpolation and the web app work on it unchanged
    assert main(["interpolate", str(out), "--seeds", "1,2", "--frames", "3", "--out", str(tmp_path / "m.gif")]) == 0
    assert (tmp_path / "m.gif").stat().st_size > 0
    from ganforge.web import create_app

    client = create_app(out).test_client()
    r = client.get(f"/api/runs/{out.name}/grid.png?seed=3&n=4")
    assert r.status_code == 200 and r.mimetype == "image/png"
    capsys.readouterr()
    # one part only: one line, exit code 1, nothing written
    assert main(["compose", "--part", str(parts[0]), "--data", str(tiny_dataset), "--out", str(tmp_path / "x"),
                 "--steps", "1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ganforge: error: ") and not (tmp_path / "x").exists()


def test_a_stylegan2_run_is_a_part(parts, tiny_dataset, tmp_path, one_thread):
    """compose --part takes a stylegan2 run (issue 19): the part makes its run's images (EMA weights, eval
    mode: no style mixing, w_avg untouched) from its slice of z, through training and a reload."""
    sg = tmp_path / "sg"
    train(TrainConfig(data=str(tiny_dataset), out=str(sg), loss="stylegan2", steps=1, batch_size=8, n_samples=4,
                      precision="fp32"),
          ModelConfig(family="stylegan2", latent_dim=8, width=4, options={"map_layers": 1}))
    out = tmp_path / "composed"
    argv = ["compose", "--part", str(sg), "--part", str(parts[1]), "--data", str(tiny_dataset), "--out", str(out),
            "--steps", "2", "--batch-size", "8", "--refiner-width", "8", "--blocks", "2", "--critic-width", "8",
            "--n-samples", "4", "--precision", "fp32"]
    assert main(argv) == 0
    G, cfg, _ = load_generator(out)
    assert cfg.options["parts"][0]["config"]["family"] == "stylegan2" and cfg.latent_dim == 8 + 5
    part, _, _ = load_generator(sg)
    part.eval()
    z = torch.randn(3, cfg.latent_dim)
    with torch.no_grad():
        assert torch.equal(G.part_outputs(z)[0], part(z[:, :8]))
    assert torch.equal(G.parts[0].w_avg, part.w_avg)  # two training steps of the composed run left it alone


@pytest.mark.slow
def test_experiment_runs_every_stage_and_reports(tiny_dataset, tmp_path):
    from ganforge.experiments.mitlgan import ExperimentOptions, run_experiment

    o = ExperimentOptions(foreground=str(tiny_dataset), background=str(tiny_dataset), combined=str(tiny_dataset),
                          out=str(tmp_path / "exp"), budget=0.03, width=8, latent_dim=6, refiner_width=8, blocks=2,
                          batch_size=8, precision="fp32", n_separation=3, metrics="c2st", eval_n=64)
    results = run_experiment(o, log=open(tmp_path / "log.txt", "w"))
    s = results["stats"]
    assert set(s) == {"baseline", "baseline-total", "mitlgan", "foreground", "background"}
    for name in ("baseline", "mitlgan", "foreground", "background"):  # everyone got B, the extension 3B
        assert s[name]["minutes"] >= 0.03 and s[name]["steps"] > 0
    assert s["baseline-total"]["minutes"] >= 0.09 and s["baseline-total"]["steps"] > s["baseline"]["steps"]
    assert s["mitlgan"]["minutes_with_parts"] == pytest.approx(
        s["mitlgan"]["minutes"] + s["foreground"]["minutes"] + s["background"]["minutes"], abs=0.011)
    exp = tmp_path / "exp"
    assert (exp / "separation.png").is_file() and (exp / "report.md").is_file()
    assert "baseline-total" in (exp / "report.md").read_text()
    assert (exp / "compare" / "report.html").is_file()
    for name in ("baseline", "baseline-total", "mitlgan"):  # every compared run evaluated the same way
        assert any(k.startswith("c2st") for k in results["metrics"][name]), results["metrics"][name]
    # the separation view has one row per part plus the output, one column per seed
    from PIL import Image
    assert Image.open(exp / "separation.png").size[1] == 2 + 3 * (16 + 2)
    # running it again continues: finished stages are kept, not retrained
    before = s["mitlgan"]["steps"]
    again = run_experiment(o, log=open(tmp_path / "log2.txt", "w"))
    assert again["stats"]["mitlgan"]["steps"] == before


def test_latent_tools_reach_through_frozen_parts(parts, tiny_dataset):
    """Projection and inpainting optimise z: gradients must flow through the frozen parts to the latent."""
    import numpy as np

    import ganforge.latent as L

    cfg = _model(parts, tiny_dataset, merge="alpha")
    torch.manual_seed(0)
    G = build_generator(cfg)
    mitlgan.init_weights(G)
    load_part_weights(G)
    G.eval().requires_grad_(False)
    target = L.render(G, L.sample_latents([4], cfg.latent_dim))[0]
    res = L.project(G, target, steps=25, restarts=2, pool=4)
    assert res.error < L.pixel_error(L.render(G, L.sample_latents([5], cfg.latent_dim))[0], target)
    mask = L.rectangle_mask(16, 4, 4, 8, 8)
    filled = L.inpaint(G, target, mask, steps=5, restarts=1, pool=2)
    assert np.array_equal(filled.image[~mask], target[~mask])
