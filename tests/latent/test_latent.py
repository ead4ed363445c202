"""Latent tools: seeds, interpolation, videos, projection, directions, editing, inpainting."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge.latent as L
from ganforge.artifacts import load_generator
from ganforge.config import ModelConfig
from ganforge.errors import GanforgeError
from ganforge.models import build_discriminator, build_generator
from ganforge.sampling import latents_for_seeds


@pytest.fixture(scope="module")
def run_models(trained_run):
    G, cfg, state = load_generator(trained_run)
    D = L.load_discriminator(trained_run, state=state)
    return G, D, cfg


# ---- sampling -----------------------------------------------------------------------------------
def test_seeds_are_deterministic_and_truncation_pulls_to_the_mean():
    a = L.sample_latents([3, 5, 3], 64)
    assert torch.equal(a, L.sample_latents([3, 5, 3], 64))
    assert torch.equal(a[0], a[2]) and not torch.equal(a[0], a[1])
    assert torch.equal(a, latents_for_seeds([3, 5, 3], 64))  # the same latents `generate` uses
    assert torch.allclose(L.sample_latents([3], 64, psi=0.5), a[:1] * 0.5)
    mean = torch.full((64,), 2.0)
    assert torch.allclose(L.sample_latents([3], 64, psi=0.0, mean_latent=mean), mean[None])
    assert torch.allclose(L.sample_latents([3], 64, psi=0.25, mean_latent=mean), mean + 0.25 * (a[:1] - mean))


def test_class_labels_for_conditional_models():
    assert L.labels_for_seeds([1, 2], 0) is None
    lab = L.labels_for_seeds(range(200), 10)
    assert torch.equal(lab, L.labels_for_seeds(range(200), 10)) and lab.min() >= 0 and lab.max() <= 9
    assert len(set(lab.tolist())) == 10  # seeds spread over the classes
    assert L.labels_for_seeds([1, 2], 10, class_=4).tolist() == [4, 4]
    assert L.resolve_class("cat", ["cat", "dog"], 2) == 0 and L.resolve_class("1", None, 2) == 1
    with pytest.raises(GanforgeError):
        L.resolve_class("bird", ["cat", "dog"], 2)
    with pytest.raises(GanforgeError):
        L.labels_for_seeds([1], 10, class_=10)


def test_latent_files_round_trip(tmp_path):
    z = L.sample_latents([1, 2], 8)
    L.save_latents(tmp_path / "z.npz", z, torch.tensor([3, 4]), image=np.zeros((4, 4, 3), np.uint8))
    z2, lab = L.load_latents(tmp_path / "z.npz", 8)
    assert torch.equal(z, z2) and lab.tolist() == [3, 4]
    z3, lab3 = L.resolve_latent(str(tmp_path / "z.npz"), 8)
    assert torch.equal(z3, z[:1]) and lab3.tolist() == [3]
    assert torch.equal(L.resolve_latent("seed:2", 8)[0], z[1:])
    with pytest.raises(GanforgeError, match="size 8"):
        L.load_latents(tmp_path / "z.npz", 9)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(GanforgeError):
        L.load_latents(tmp_path / "bad.npz")


# ---- interpolation ------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["linear", "slerp", "sine"])
def test_interpolation_hits_the_keyframes(mode):
    keys = L.sample_latents([1, 7, 42], 32)
    path = L.interpolate(keys, 21, mode=mode)
    assert path.shape == (21, 32)
    assert torch.equal(path[0], keys[0]) and torch.equal(path[10], keys[1]) and torch.equal(path[-1], keys[2])
    loop = L.interpolate(keys, 30, mode=mode, loop=True)
    assert torch.equal(loop[0], keys[0]) and torch.equal(loop[10], keys[1]) and torch.equal(loop[20], keys[2])
    assert not torch.equal(loop[-1], keys[0])  # a loop does not repeat its first frame
    assert (loop[1:] - loop[:-1]).norm(dim=1).min() > 0


def test_slerp_keeps_norms_and_sine_eases():
    keys = L.sample_latents([1, 7], 32)
    keys = keys / keys.norm(dim=1, keepdim=True) * 5.0
    path = L.interpolate(keys, 50, mode="slerp")
    assert torch.allclose(path.norm(dim=1), torch.full((50,), 5.0), atol=1e-4)
    assert L.interpolate(keys, 50, mode="linear").norm(dim=1).min() < 4.5  # linear cuts the corner
    assert torch.allclose(L.midpoint(keys[0], keys[1]).norm(), torch.tensor(5.0), atol=1e-4)
    assert torch.allclose(L.midpoint(keys[0], keys[1], mode="linear"), keys.mean(0))
    lin = (L.interpolate(keys, 41, "linear")[1:] - L.interpolate(keys, 41, "linear")[:-1]).norm(dim=1)
    sine = (L.interpolate(keys, 41, "sine")[1:] - L.interpolate(keys, 41, "sine")[:-1]).norm(dim=1)
    assert sine[0] < 0.1 * lin[0] and sine[-1] < 0.1 * lin[-1] and sine[20] > lin[20]  # slow ends, fast middle


def test_interpolation_rejects_bad_input():
    with pytest.raises(GanforgeError):
        L.interpolate(torch.zeros(2, 4), 10, mode="cubic")
    with pytest.raises(GanforgeError):
        L.interpolate(torch.zeros(2, 4), 0)


# ---- videos -------------------------------------------------------------------------------------
def _distinct_frames(t: int, size: int = 24, channels: int = 3) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (t, size, size, channels), dtype=np.uint8)


@pytest.mark.parametrize("name", ["morph.gif", "morph.mp4", "frames"])
def test_videos_decode_to_the_requested_frame_count(tmp_path, name):
    frames = _distinct_frames(17)
    out = L.write_video(frames, tmp_path / name, fps=12)
    decoded = L.read_video(out)
    assert decoded.shape == (17, 24, 24, 3)
    if name != "morph.mp4":  # lossless up to the GIF palette
        assert np.abs(decoded.astype(int) - frames).mean() < (20 if name.endswith("gif") else 1e-9)


@pytest.mark.parametrize("channels", [1, 3])
def test_gif_keeps_repeated_frames_and_loops(tmp_path, channels):
    frames = _distinct_frames(6, channels=channels)
    frames[3] = frames[2]  # a still moment: must stay two frames
    out = L.write_video(frames, tmp_path / "still.gif", fps=10)
    decoded = L.read_video(out)
    assert len(decoded) == 6 and np.array_equal(decoded[2], decoded[3])
    with Image.open(out) as im:
        assert im.n_frames == 6 and im.info.get("loop") == 0 and im.info.get("duration") == 100
    if channels == 1:
        assert np.array_equal(decoded[..., :1], frames)  # grey GIFs are exact


def test_grey_and_odd_sized_mp4_and_grid_video(tmp_path):
    grey = _distinct_frames(5, size=15, channels=1)
    assert L.read_video(L.write_video(grey, tmp_path / "g.mp4")).shape == (5, 16, 16, 3)  # padded to even
    grid = L.grid_frames([_distinct_frames(4), _distinct_frames(4), _distinct_frames(4)], ncols=3, padding=2)
    assert grid.shape == (4, 24 + 4, 3 * 24 + 8, 3)
    with pytest.raises(GanforgeError):
        L.write_video(grey, tmp_path / "x.avi")
    with pytest.raises(GanforgeError):
        L.write_video(grey.astype(np.float32), tmp_path / "x.gif")


# ---- projection ---------------------------------------------------------------------------------
def test_projection_recovers_an_image_of_the_model(run_models):
    G, D, cfg = run_models
    target = L.render(G, L.sample_latents([1234], cfg.latent_dim))[0]
    # The error of doing nothing: the best of many random latents.
    baseline = min(L.pixel_error(img, target) for img in L.render(G, L.sample_latents(range(64), cfg.latent_dim)))
    steps_seen = []
    res = L.project(G, target, steps=80, restarts=2, D=D, progress=lambda s, n, loss: steps_seen.append((s, n, loss)))
    assert res.error < 0.15 * baseline and res.error < 2e-3, (res.error, baseline)
    assert res.image.shape == target.shape and res.latent.shape == (cfg.latent_dim,)
    assert len(res.losses) == 80 and res.losses[-1] < 0.3 * res.losses[0]
    assert [s for s, _, _ in steps_seen] == list(range(1, 81)) and steps_seen[-1][1] == 80
    stopped = L.project(G, target, steps=50, restarts=2, progress=lambda s, n, loss: s < 7)
    assert len(stopped.losses) == 7  # returning False from progress stops early
    assert torch.equal(L.project(G, target, steps=5, restarts=2, D=D).latent,
                       L.project(G, target, steps=5, restarts=2, D=D).latent)  # deterministic by seed


def test_projection_rejects_a_wrong_size(run_models):
    G, _, _ = run_models
    with pytest.raises(GanforgeError, match="uint8"):
        L.project(G, np.zeros((10, 10, 3), np.uint8), steps=1)


def test_photo_is_prepared_like_the_training_data(tmp_path):
    from ganforge.data.dataset import load_dataset
    from ganforge.data.prepare import PrepareOptions, prepare

    rng = np.random.default_rng(1)
    (tmp_path / "src").mkdir()
    Image.fromarray(rng.integers(0, 256, (50, 70, 3), dtype=np.uint8)).save(tmp_path / "src" / "a.png")
    opts = PrepareOptions(resolution=16, channels=3, crop_fraction=0.6, workers=1)
    prepare(str(tmp_path / "src"), tmp_path / "d.zip", opts, progress=False)
    expected = load_dataset(tmp_path / "d.zip").images[0]
    params = {"crop": "center", "crop_fraction": 0.6, "background": "white"}
    assert np.array_equal(L.load_photo(tmp_path / "src" / "a.png", 16, 3, params), expected)
    assert not np.array_equal(L.load_photo(tmp_path / "src" / "a.png", 16, 3, {}), expected)


# ---- directions and editing ---------------------------------------------------------------------
@pytest.mark.parametrize("method", ["pca-activations", "pca-latent"])
def test_directions_are_orthonormal(run_models, method, tmp_path):
    G, _, cfg = run_models
    dirs = L.find_directions(G, k=6, n_samples=400, method=method)
    v = dirs.vectors.double()
    assert v.shape == (6, cfg.latent_dim)
    assert torch.allclose(v @ v.T, torch.eye(6, dtype=torch.float64), atol=1e-5)
    ev = dirs.explained_variance
    assert (ev[:-1] >= ev[1:]).all() and 0 < ev.sum() <= 1
    back = L.Directions.load(dirs.save(tmp_path / "d.npz"))
    assert torch.equal(back.vectors, dirs.vectors) and back.method == method


def test_activation_directions_follow_the_first_layer():
    # A linear first layer with one dominant input direction: PCA of its activations must find it.
    cfg = ModelConfig(family="mlp", resolution=8, channels=1, latent_dim=16, width=4).validate()
    G = build_generator(cfg)
    with torch.no_grad():
        first = G.net[0]
        first.weight.mul_(0.01)
        first.weight[:, 5] = torch.randn(first.weight.shape[0]) * 10  # latent axis 5 dominates
    dirs = L.find_directions(G, k=3, n_samples=500, method="pca-activations")
    assert dirs.vectors[0].abs().argmax() == 5 and dirs.vectors[0].abs()[5] > 0.9


def test_edit_moves_along_the_direction(run_models):
    G, _, cfg = run_models
    z = L.sample_latents([3], cfg.latent_dim)[0]
    d = L.find_directions(G, k=2, n_samples=300).vectors[0]
    strip = L.edit(G, z, d, [-2, 0, 2])
    assert strip.shape == (3, cfg.resolution, cfg.resolution, cfg.channels)
    assert np.array_equal(strip[1], L.render(G, z[None])[0])
    assert not np.array_equal(strip[0], strip[2])


def test_class_directions_point_toward_the_class(run_models):
    G, _, cfg = run_models
    # "Class 1" = brighter than the median sample: the direction must brighten images.
    z = L.sample_latents(range(300), cfg.latent_dim)
    with torch.no_grad():
        median = G(z).mean(dim=(1, 2, 3)).median()

    def classify(x):
        return (x.mean(dim=(1, 2, 3)) > median).long()

    dirs = L.class_directions(G, classify, ["dark", "bright"], n_samples=600)
    assert dirs.names == ["dark", "bright"] and dirs.explained_variance[1] > 0.7
    assert torch.allclose(dirs.vectors.norm(dim=1), torch.ones(2), atol=1e-5)
    imgs = L.edit(G, z[0], dirs.vectors[1], [-3, 3]).astype(float)
    assert imgs[1].mean() > imgs[0].mean()


# ---- inpainting ---------------------------------------------------------------------------------
@pytest.mark.parametrize("blend", ["poisson", "paste"])
def test_inpainting_keeps_known_pixels_and_fills_the_hole(run_models, blend):
    G, D, cfg = run_models
    image = L.render(G, L.sample_latents([77], cfg.latent_dim))[0]
    mask = L.rectangle_mask(cfg.resolution, 8, 10, 14, 12)
    res = L.inpaint(G, image, mask, steps=60, restarts=2, D=D, blend=blend)
    assert np.array_equal(res.image[~mask], image[~mask])
    baseline = np.mean([L.pixel_error(img, image, mask)
                        for img in L.render(G, L.sample_latents(range(100, 132), cfg.latent_dim))])
    assert L.pixel_error(res.image, image, mask) < 0.3 * baseline
    assert len(res.losses) == 60


def test_poisson_blend_is_exact_on_a_smooth_image():
    # Blending a shifted copy of a linear ramp must give the ramp back: only gradients are used.
    ramp = np.tile(np.linspace(20, 200, 16), (16, 1))[..., None].round().astype(np.uint8)
    mask = L.rectangle_mask(16, 4, 4, 8, 8)
    out = L.poisson_blend(ramp, np.clip(ramp.astype(int) + 40, 0, 255).astype(np.uint8), mask)
    assert np.abs(out.astype(int) - ramp).max() <= 1


def test_masks():
    free = L.free_form_mask(64, seed=3)
    assert free.shape == (64, 64) and 0.15 <= free.mean() <= 0.35
    assert np.array_equal(free, L.free_form_mask(64, seed=3))
    G = build_generator(ModelConfig(family="dcgan", resolution=16, channels=1, width=4).validate())
    img = np.zeros((16, 16, 1), np.uint8)
    with pytest.raises(GanforgeError, match="no pixels"):
        L.inpaint(G, img, np.zeros((16, 16), bool), steps=1)
    with pytest.raises(GanforgeError, match="whole image"):
        L.inpaint(G, img, np.ones((16, 16), bool), steps=1)


def test_conditional_generators_get_their_labels():
    """A conditional family (G(z, labels)) is driven with labels throughout."""
    seen = []

    class CondG(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.cfg = ModelConfig(family="dcgan", resolution=8, channels=1, latent_dim=4, num_classes=3)
            self.emb = torch.nn.Embedding(3, 4)
            self.lin = torch.nn.Linear(4, 64)

        def forward(self, z, labels=None):
            assert labels is not None and labels.shape == (z.shape[0],)
            seen.append(labels.clone())
            return torch.tanh(self.lin(z + self.emb(labels))).view(-1, 1, 8, 8)

    G = CondG()
    target = L.render(G, L.sample_latents([5], 4), torch.tensor([2]))[0]
    res = L.project(G, target, steps=30, restarts=2, labels=2, pool=4)
    assert res.label == 2 and all((s == 2).all() for s in seen)
    seen.clear()
    res = L.project(G, target, steps=30, restarts=3, pool=4)
    assert res.label in (0, 1, 2) and len(torch.cat(seen).unique()) > 1
    assert L.edit(G, res.latent, torch.ones(4), [0, 1], labels=1).shape == (2, 8, 8, 1)
    assert L.find_directions(G, 2, 64, labels=1).vectors.shape == (2, 4)


@pytest.mark.parametrize("family", sorted(__import__("ganforge.models", fromlist=["MODELS"]).MODELS))
def test_every_family_projects_inpaints_and_edits(family):
    """Every registered family, conditional ones with their labels, through each latent tool."""
    from ganforge.models import init_weights, is_conditional, is_inpainter, is_two_domain

    if family == "mitlgan":
        pytest.skip("composed of pretrained parts: tests/test_mitlgan.py runs the latent tools on one")
    if is_two_domain(family):
        pytest.skip("two-domain families: translators take images, a CoGAN's pairs are tested in test_two_domain.py")
    if is_inpainter(family):
        pytest.skip("an inpainter fills holes in one pass, without latents: tests/models/test_inpainter.py")
    k = 3 if is_conditional(family) else 0
    r = _smallest_resolution(family)
    cfg = ModelConfig(family=family, resolution=r, channels=3, latent_dim=16, width=8, num_classes=k).validate()
    torch.manual_seed(0)
    G, D = build_generator(cfg), build_discriminator(cfg)
    init_weights(G)
    _calibrate_batch_norm(G, k)
    labels = L.labels_for_seeds([4], k)
    target = L.render(G, L.sample_latents([4], 16), labels)[0]
    res = L.project(G, target, steps=25, restarts=2, D=D, pool=4, labels=None if labels is None else int(labels))
    assert res.error < L.pixel_error(L.render(G, L.sample_latents([5], 16), labels)[0], target)
    mask = L.rectangle_mask(r, r // 4, r // 4, r // 2, r // 2)
    filled = L.inpaint(G, target, mask, steps=10, restarts=2, D=D, pool=2,
                       labels=None if labels is None else int(labels))
    assert np.array_equal(filled.image[~mask], target[~mask])
    dirs = L.find_directions(G, k=3, n_samples=64, labels=None if labels is None else int(labels))
    assert torch.allclose(dirs.vectors @ dirs.vectors.T, torch.eye(3), atol=1e-5)
    assert L.edit(G, res.latent, dirs.vectors[0], [-1, 1], labels).shape == (2, r, r, 3)


@torch.no_grad()
def _calibrate_batch_norm(G, num_classes: int) -> None:
    """Batch norm's statistics of G's own features, as after training: at initialisation (mean 0,
    variance 1) a generator with small initial weights (FastGAN's) draws one flat grey image for every z."""
    norms = [m for m in G.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.momentum = None  # a plain average: one pass sets them
    G.train()
    G(torch.randn(64, G.cfg.latent_dim), torch.arange(64) % num_classes if num_classes else None)
    for m in norms:
        m.momentum = 0.1


def _smallest_resolution(family: str) -> int:
    """16 px, or the smallest size the family makes (FastGAN and R3GAN start at 32)."""
    from ganforge.errors import ConfigError
    from ganforge.models import family as family_module

    for r in (16, 32):
        try:
            family_module(family).check(ModelConfig(family=family, resolution=r, channels=3))
            return r
        except ConfigError:
            continue
    return 64


def test_mask_follows_the_photos_face_crop():
    # A face crop cannot be detected on a mask: the photo's box is reused.
    arr = np.zeros((60, 80), np.uint8)
    arr[10:30, 40:60] = 255  # exactly the "face" box
    mask = L.load_mask(Image.fromarray(arr), 8, {"crop": "face", "face_margin": 0.0}, {"face": [40, 10, 60, 30]})
    assert mask.shape == (8, 8) and mask.all()
    centre = L.load_mask(Image.fromarray(arr), 8, {"crop": "center"})
    assert 0 < centre.mean() < 1
