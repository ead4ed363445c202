"""StyleGAN2 (issue 19): shapes, the layers' arithmetic, truncation in W, style mixing, and its
loss's lazy regularisers through the generic trainer with exact resume."""

import math

import numpy as np
import pytest
import torch

from ganforge.config import ModelConfig, TrainConfig
from ganforge.ema import HalfLifeEMA
from ganforge.models import build_discriminator, build_generator
from ganforge.models.stylegan2 import (
    EqualConv2d,
    EqualLinear,
    minibatch_stddev,
    modulated_conv2d,
    num_ws,
    ws_of_resolution,
)
from ganforge.runs import RunDir, read_jsonl
from ganforge.train import Trainer, train


def _cfg(resolution=16, channels=1, **options) -> ModelConfig:
    return ModelConfig(family="stylegan2", resolution=resolution, channels=channels, latent_dim=16, width=4,
                       options={"map_layers": 2, **options})


@pytest.mark.parametrize("resolution", [16, 32, 64, 128, 256])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_at_every_resolution(resolution, channels, one_thread):
    G, D = build_generator(_cfg(resolution, channels)), build_discriminator(_cfg(resolution, channels))
    G.eval()
    z = torch.randn(3, 16)
    ws = G.mapping(z)
    assert ws.shape == (3, num_ws(resolution), 16) == (3, 2 * int(math.log2(resolution)) - 2, 16)
    with torch.no_grad():
        x = G(z)
        assert x.shape == (3, channels, resolution, resolution)
        assert D(x).shape == (3,) and D.features(x).shape == (3, D.n_features)
    assert len(G.synthesis_net.noise_layers()) == num_ws(resolution) // 2 * 2 - 1


def test_every_w_index_is_read_by_exactly_the_layers_of_its_block():
    # each conv has its own w; a block's toRGB shares the next block's first index
    read = [i for r in (4, 8, 16, 32) for i in ws_of_resolution(r)]
    assert sorted(set(read)) == list(range(num_ws(32)))


def test_demodulation_keeps_unit_variance():
    torch.manual_seed(0)
    x = torch.randn(8, 64, 16, 16)
    weight = torch.randn(32, 64, 3, 3) * 5       # any scale: demodulation undoes it
    styles = torch.rand(8, 64) * 3 + 0.1          # any positive styles
    y = modulated_conv2d(x, weight, styles)[..., 1:-1, 1:-1]  # away from the zero padding
    assert y.var().item() == pytest.approx(1.0, abs=0.1)
    assert modulated_conv2d(x, weight, styles, demodulate=False)[..., 1:-1, 1:-1].var().item() > 10


def test_equalised_learning_rate_scales_weights_at_run_time():
    torch.manual_seed(0)
    fc = EqualLinear(256, 8, lr_mul=0.01, bias_init=1.0)
    assert fc.weight.std().item() == pytest.approx(100, rel=0.1)  # stored as N(0, 1) / lr_mul
    x = torch.randn(4, 256)
    expected = x @ (fc.weight * 0.01 / math.sqrt(256)).T + fc.bias * 0.01
    assert torch.allclose(fc(x), expected)
    assert torch.allclose(fc.bias * 0.01, torch.ones(8))
    conv = EqualConv2d(16, 4, 3, act=False)
    assert conv.weight.std().item() == pytest.approx(1.0, rel=0.2)
    xi = torch.randn(2, 16, 8, 8)
    assert torch.allclose(conv(xi), torch.nn.functional.conv2d(xi, conv.weight / math.sqrt(16 * 9), conv.bias,
                                                               padding=1), atol=1e-6)


def test_psi_zero_gives_the_image_of_w_avg_for_every_seed():
    G = build_generator(_cfg(32, 3))
    G.w_avg.copy_(torch.randn(16))  # as if trained
    G.eval()
    with torch.no_grad():
        images = G(torch.randn(5, 16), psi=0.0)
        of_w_avg = G.synthesis(G.w_avg.reshape(1, 1, -1).expand(1, G.num_ws, -1)).clamp(-1, 1)
        untruncated = G(torch.randn(5, 16))
    assert torch.allclose(images, of_w_avg.expand_as(images), atol=1e-5)  # batch 5 vs 1: other conv algorithms
    assert not torch.allclose(untruncated[0], untruncated[1])


def test_eval_mode_is_deterministic_and_training_mode_tracks_w_avg():
    G = build_generator(_cfg())
    z = torch.randn(4, 16)
    G.eval()
    with torch.no_grad():
        assert torch.equal(G(z), G(z))  # fixed noise maps: a seed is one image
    assert torch.equal(G.w_avg, torch.zeros(16))
    G.train()
    with torch.no_grad():
        G(z)
    assert not torch.equal(G.w_avg, torch.zeros(16)) and "w_avg" in G.state_dict()


def test_coarse_styles_from_one_seed_fix_the_coarse_layers_output():
    """The mixing grid's structure: the images that take their coarse ws from seed A share A's 4×4
    and 8×8 features (the pose), whatever their fine ws."""
    G = build_generator(_cfg(32, 3)).eval()
    wa, wb, wc = (G.mapping(torch.randn(1, 16)) for _ in range(3))
    coarse = ws_of_resolution(8).stop  # ws 0..3 drive the 4×4 and 8×8 blocks
    feats = []
    hook = G.synthesis_net.blocks[1].register_forward_hook(lambda m, i, o: feats.append(o[0]))
    with torch.no_grad():
        for fine in (wb, wc):
            G.synthesis(torch.cat([wa[:, :coarse], fine[:, coarse:]], 1))
        G.synthesis(wb)
    hook.remove()
    assert torch.allclose(feats[0], feats[1])
    assert not torch.allclose(feats[0], feats[2])


def test_minibatch_stddev_groups_divide_any_batch():
    x = torch.randn(6, 3, 4, 4)
    y = minibatch_stddev(x, 4)  # groups of 3
    assert y.shape == (6, 4, 4, 4) and torch.equal(y[:, :3], x)


def test_half_life_ema_ramps_up_then_keeps_its_half_life():
    ema = HalfLifeEMA(torch.nn.Linear(2, 2), 10_000, 32)
    assert ema.decay_at(1) < 1e-5                             # the first images are copied
    assert ema.decay_at(100_000) == pytest.approx(0.5 ** (32 / 10_000))
    assert ema.decay_at(10) < ema.decay_at(100) < ema.decay_at(10_000)


def _train_cfg(data, out, steps, **kw):
    return TrainConfig(data=str(data), out=str(out), loss="stylegan2", steps=steps, batch_size=8, seed=3,
                       lr_g=0.002, lr_d=0.002, beta1=0.0, beta2=0.99, r1_gamma=0.1, pl_weight=2.0, ema_kimg=0.1,
                       sample_every=1000, checkpoint_every=1000, n_samples=4, precision="fp32", device="cpu", **kw)


@pytest.mark.slow
def test_lazy_regularisers_run_on_their_schedule_and_resume_is_exact(tiny_dataset, tmp_path, one_thread):
    steps = 18  # R1 at iterations 0 and 16, path length at 0, 4, 8, 12, 16
    straight = Trainer(_train_cfg(tiny_dataset, tmp_path / "straight", steps), _cfg())
    straight.fit()
    log = read_jsonl(RunDir(tmp_path / "straight").log)
    assert [r["step"] for r in log if "r1" in r] == [1, 17]
    assert [r["step"] for r in log if "pl_penalty" in r] == [1, 5, 9, 13, 17]
    assert float(straight.loss.pl_mean) > 0

    train(_train_cfg(tiny_dataset, tmp_path / "resumed", 6), _cfg())
    resumed = Trainer(_train_cfg(tiny_dataset, tmp_path / "resumed", steps), _cfg(), resume=True)
    assert resumed.step == 6 and float(resumed.loss.pl_mean) > 0
    resumed.fit()
    assert torch.equal(resumed.loss.pl_mean, straight.loss.pl_mean)
    for name in ("G", "D", "G_ema"):
        a, b = getattr(straight, name).state_dict(), getattr(resumed, name).state_dict()
        for key in a:
            assert torch.equal(a[key], b[key]), f"{name}.{key} differs after resume"


@pytest.fixture(scope="module")
def sg2_checkpoint(tmp_path_factory):
    """A stylegan2 run's checkpoint with a non-zero w_avg (two training forwards), no training."""
    from ganforge.checkpoint import save_checkpoint

    cfg = _cfg(16, 3)
    torch.manual_seed(0)
    G = build_generator(cfg)
    with torch.no_grad():
        G(torch.randn(8, 16))
    path = tmp_path_factory.mktemp("sg2") / "g.pt"
    save_checkpoint(path, {"model_config": cfg.to_dict(), "G": G.state_dict(), "G_ema": None, "step": 0,
                           "dataset": {}})
    return path


def test_generate_psi_zero_draws_one_image_for_every_seed(sg2_checkpoint, tmp_path, capsys):
    from PIL import Image

    from conftest import run_cli

    code, _, _ = run_cli(capsys, "generate", sg2_checkpoint, "--n", "4", "--psi", "0", "--separate",
                         "--out", tmp_path / "g")
    assert code == 0
    images = [np.asarray(Image.open(p)) for p in sorted((tmp_path / "g").glob("*.png"))]
    assert len(images) == 4 and all(np.array_equal(images[0], im) for im in images)


def test_mix_grid_rows_and_columns(sg2_checkpoint, tmp_path, capsys):
    from conftest import run_cli
    from ganforge.artifacts import load_generator
    from ganforge.latent.mix import layer_range, mix_styles

    G, _, _ = load_generator(sg2_checkpoint)
    from ganforge.models.stylegan2 import layer_groups

    assert layer_groups(16) == {"coarse": range(0, 4), "middle": range(4, 6), "fine": range(6, 6)}
    assert layer_groups(256) == {"coarse": range(0, 4), "middle": range(4, 8), "fine": range(8, 14)}  # the paper's
    assert layer_range(G, "coarse") == range(0, 4) and layer_range(G, "1-2") == range(1, 3)
    cells = mix_styles(G, [1, 2], [3, 4, 5], layer_range(G, "0-5"))  # every layer from the column seed
    grid = cells.reshape(3, 4, *cells.shape[1:])
    for r in (1, 2):
        for c in (1, 2, 3):
            assert np.array_equal(grid[r, c], grid[0, c])  # all of the column's styles: the column's image
    cells = mix_styles(G, [1, 2], [3, 4, 5], layer_range(G, "4-5"))
    grid = cells.reshape(3, 4, *cells.shape[1:])
    assert not np.array_equal(grid[1, 1], grid[0, 1]) and not np.array_equal(grid[1, 1], grid[1, 0])
    code, out, _ = run_cli(capsys, "mix", sg2_checkpoint, "--rows", "1,2", "--cols", "3,4,5", "--layers", "coarse",
                           "--out", tmp_path / "mix.png")
    assert code == 0 and (tmp_path / "mix.png").is_file() and "2x3" in out
    code, _, err = run_cli(capsys, "mix", sg2_checkpoint, "--rows", "1", "--cols", "2", "--layers", "fine",
                           "--out", tmp_path / "x.png")
    assert code == 1 and "fine" in err  # a 16 px model has no fine layers: one line, no traceback


@pytest.mark.parametrize("fmt", ["safetensors", "torchscript", pytest.param("onnx", marks=pytest.mark.slow)])
def test_exports_take_z_and_a_truncation_with_the_mapping_inside(sg2_checkpoint, tmp_path, fmt):
    import json

    from ganforge.artifacts import export_generator, load_generator
    from ganforge.export import TOLERANCE, load_exported
    from ganforge.sampling import images_for_seeds, latents_for_seeds

    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    result = export_generator(sg2_checkpoint, fmt, tmp_path / fmt)
    meta = json.loads(result.config_path.read_text())
    assert [i["name"] for i in meta["inputs"]] == ["z", "psi"]
    G, cfg, _ = load_generator(sg2_checkpoint)
    E, _, _ = load_exported(tmp_path / fmt)
    z = latents_for_seeds(range(3), cfg.latent_dim)
    with torch.no_grad():
        for psi in (1.0, 0.5, 0.0):
            assert (E(z, None, psi=psi) - G(z, None, psi=psi)).abs().max() <= TOLERANCE
    assert np.array_equal(images_for_seeds(E, [0, 1], psi=0.0)[0], images_for_seeds(E, [0, 1], psi=0.0)[1])


def test_w_projection_recovers_a_w_generated_image_better_than_z_projection(one_thread):
    from ganforge.latent.optimise import render
    from ganforge.latent.project import project, project_w
    from ganforge.latent.spaces import in_space

    # an untrained generator (width 8): its images vary little with z, so this holds for most seeds, not all
    torch.manual_seed(0)
    G = build_generator(ModelConfig(family="stylegan2", resolution=16, channels=3, latent_dim=16, width=8,
                                    options={"map_layers": 2}))
    with torch.no_grad():
        G(torch.randn(64, 16))
    G.eval()
    S = in_space(G, "w")
    for seed in (123, 7):
        target = render(S, S.from_z(torch.randn(1, 16, generator=torch.Generator().manual_seed(seed))))[0]
        in_w = project_w(S, target, steps=100, n_stats=1000)
        in_z = project(G, target, steps=100, restarts=1, pool=4)
        assert in_w.error < in_z.error / 3
    assert in_w.latent.shape == (16,) and len(in_w.noise_maps) == len(G.synthesis_net.noise_layers())


def test_spaces_wrap_a_style_based_generator_and_refuse_others():
    from ganforge.errors import GanforgeError
    from ganforge.latent.spaces import in_space

    G = build_generator(_cfg(16, 3)).eval()
    assert in_space(G, "z") is G
    W, Wp = in_space(G, None), in_space(G, "w+")
    assert W.space == "w" and W.cfg.latent_dim == 16 and Wp.cfg.latent_dim == 16 * G.num_ws
    z = torch.randn(2, 16)
    with torch.no_grad():
        assert torch.allclose(W(W.from_z(z)), G(z), atol=1e-5) and torch.allclose(Wp(Wp.from_z(z)), G(z), atol=1e-5)
        assert torch.allclose(W(W.from_z(z, psi=0.0)), W(W.mean_latent()[None]).expand(2, -1, -1, -1), atol=1e-5)
    with pytest.raises(GanforgeError, match="style-based"):
        in_space(build_generator(ModelConfig(family="dcgan", resolution=16, channels=1, width=4)), "w")


def test_latent_commands_work_in_w_and_files_record_their_space(sg2_checkpoint, tmp_path, capsys):
    from conftest import run_cli
    from ganforge.latent.sample import latent_space

    run = sg2_checkpoint
    assert run_cli(capsys, "generate", run, "--n", "1", "--seed", "5", "--out", tmp_path / "photo.png")[0] == 0
    code, _, _ = run_cli(capsys, "project", run, tmp_path / "photo.png", "--steps", "5", "--out", tmp_path / "p.npz",
                         "--no-discriminator")
    assert code == 0 and latent_space(tmp_path / "p.npz") == "w"
    code, _, _ = run_cli(capsys, "midpoint", run, tmp_path / "p.npz", "3", "--space", "w", "--out", tmp_path / "m.png")
    assert code == 0 and latent_space(tmp_path / "m.npz") == "w"
    code, _, err = run_cli(capsys, "midpoint", run, tmp_path / "p.npz", "3", "--space", "z",
                           "--out", tmp_path / "x.png")
    assert code == 1 and "--space w" in err  # a W latent is refused in z by one line
    code, _, _ = run_cli(capsys, "midpoint", run, "1", "2", "--space", "w+", "--out", tmp_path / "mp.png")
    assert code == 0 and latent_space(tmp_path / "mp.npz") == "w+"
    code, out, _ = run_cli(capsys, "directions", run, "--k", "2", "--samples", "64", "--out", tmp_path / "d.npz")
    assert code == 0 and "pca-w" in out
    code, _, _ = run_cli(capsys, "edit", run, "--latent", "4", "--direction", "0", "--directions", tmp_path / "d.npz",
                         "--layers", "coarse", "--steps", "3", "--out", tmp_path / "e.png")
    assert code == 0 and (tmp_path / "e.png").is_file()
    code, _, _ = run_cli(capsys, "interpolate", run, "--seeds", "1,2", "--frames", "3", "--out", tmp_path / "f.gif")
    assert code == 0


def test_the_family_brings_its_training_defaults_under_flags_and_presets(tmp_path, capsys):
    import json

    from conftest import run_cli

    code, out, _ = run_cli(capsys, "train", "--model", "stylegan2", "--data", "d.zip", "--out", tmp_path / "r",
                           "--dry-run")
    train_cfg = json.loads(out)["train"]
    assert code == 0 and train_cfg["loss"] == "stylegan2" and (train_cfg["beta1"], train_cfg["beta2"]) == (0.0, 0.99)
    assert train_cfg["ema_kimg"] == 10.0 and train_cfg["lr_g"] == 0.002
    code, out, _ = run_cli(capsys, "train", "--model", "stylegan2", "--data", "d.zip", "--out", tmp_path / "r",
                           "--loss", "hinge", "--lr-g", "0.001", "--dry-run")
    train_cfg = json.loads(out)["train"]
    assert train_cfg["loss"] == "hinge" and train_cfg["lr_g"] == 0.001 and train_cfg["beta1"] == 0.0
    code, out, _ = run_cli(capsys, "train", "--data", "d.zip", "--out", tmp_path / "r", "--dry-run")
    assert json.loads(out)["train"]["loss"] == "bce"  # other families keep the global defaults

