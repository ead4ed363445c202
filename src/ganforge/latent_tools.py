"""The latent tools as the commands run them: from a run (or checkpoint/export) to files on disk.

``ganforge interpolate``, ``midpoint``, ``project``, ``directions``, ``edit`` and ``inpaint`` are
thin wrappers around these (and ``ganforge.api`` exports them): each loads the generator, names
latents by seed or ``.npz`` file, calls the plain functions of ``ganforge.latent`` and writes its
outputs, returning what it wrote and measured. For a style-based run (stylegan2) they work in W
by default (``space="w"``, or ``"w+"``, or ``"z"``): a seed's latent is then its mapped w, and
``.npz`` files record their space. Imports are inside the functions: ``ganforge.api``
imports this module and ``import ganforge`` stays light.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ganforge.errors import GanforgeError
from ganforge.runs import RunDir

if TYPE_CHECKING:
    from ganforge.config import ModelConfig


class LoadedModel:
    """A run's generator seen from a latent space, its config and class names, and how latents are
    named for it (seed or .npz)."""

    def __init__(self, run: str | Path, *, class_: int | str | None = None, psi: float = 1.0, device: str = "cpu",
                 ema: bool = True, space: str | None = None):
        from ganforge.artifacts import load_generator
        from ganforge.device import resolve_device
        from ganforge.latent import mean_latent, resolve_class
        from ganforge.latent.spaces import in_space, space_of

        self.run = run
        self.device = resolve_device(device)
        G, cfg, self.state = load_generator(run, device=self.device, ema=ema)
        refuse_without_latents(cfg, run)
        # z: G itself; w, w+: a StyleSpace view whose latents are there (None: the run's default space)
        self.G: Any = in_space(G, space)
        self.space = space_of(self.G)
        self.cfg = cast("ModelConfig", self.G.cfg)  # latent_dim is the space's
        self.classes = (self.state.get("dataset") or {}).get("classes")
        self.num_classes = int(self.cfg.num_classes or 0)
        self.class_id = resolve_class(None if class_ is None else str(class_), self.classes, self.num_classes) \
            if self.num_classes else None
        if class_ is not None and not self.num_classes:
            raise GanforgeError("--class needs a conditional model; this run is unconditional")
        self.psi = psi
        self.mean = mean_latent(self.G) if psi != 1.0 and self.space == "z" else None  # W: from_z truncates

    def latent(self, spec: str | int):
        """(z (1, D), labels (1,) or None) of a seed or .npz; the chosen class overrides a saved one."""
        import torch

        from ganforge.latent import labels_for_seeds, resolve_latent
        from ganforge.latent.sample import latent_space

        spec = str(spec)
        if spec.endswith(".npz") and latent_space(spec) != self.space:
            raise GanforgeError(f"{spec} holds a latent in {latent_space(spec)}, but this command works in "
                                f"{self.space}; add --space {latent_space(spec)}")
        if self.space != "z" and not spec.endswith(".npz"):  # a seed: its z, mapped (and truncated) into W
            z, labels = resolve_latent(spec, self.G.G.cfg.latent_dim)
            z = self.G.from_z(z, self.psi)
        else:
            z, labels = resolve_latent(spec, self.cfg.latent_dim, psi=self.psi, mean=self.mean)
        if self.num_classes:
            if self.class_id is not None:
                labels = torch.tensor([self.class_id])
            elif labels is None:
                seed = int(spec[5:] if spec.startswith("seed:") else spec) if not spec.endswith(".npz") else 0
                labels = labels_for_seeds([seed], self.num_classes)
        else:
            labels = None
        return z, labels

    def discriminator(self, use: bool = True):
        from ganforge.latent import load_discriminator

        return load_discriminator(self.run, self.device, state=self.state) if use else None

    def labels_tensor(self):
        import torch

        return None if self.class_id is None else torch.tensor([self.class_id])

    def photo(self, path: str | Path):
        from ganforge.latent import data_params, load_photo

        return load_photo(path, self.cfg.resolution, self.cfg.channels, data_params(self.run))


def refuse_without_latents(cfg: ModelConfig, run: str | Path) -> None:
    """An inpainter's or a translator's G takes images: it has no latent space for the latent tools."""
    from ganforge import models

    if cfg.family not in models.MODELS or models.draws_from_latents(cfg.family):
        return
    if models.is_inpainter(cfg.family):
        raise GanforgeError(f"{run} is an inpainter run: it fills holes in photos ('ganforge inpaint RUN PHOTO "
                            "--mask MASK'), it has no latent space to draw, morph, project or edit")
    raise GanforgeError(f"{run} is a {cfg.family} translator: it maps images of one domain to the other "
                        "('ganforge translate RUN IMAGES'), it has no latent space to draw, morph, project or edit")


def _sibling(path: Path, suffix: str) -> Path:
    return path.with_name(path.stem + suffix)


def _nearest_key(k: int, frames: int, loop: bool):
    import torch

    segments = k if loop else k - 1
    pos = torch.arange(frames, dtype=torch.float64) * segments / (frames if loop else frames - 1)
    return pos.round().long() % k


def interpolate_video(run: str | Path, keyframes: list, out: str | Path, *, frames: int = 60, mode: str = "sine",
                      loop: bool = False, fps: float = 24.0, class_: int | str | None = None, psi: float = 1.0,
                      device: str = "cpu", ema: bool = True, space: str | None = None) -> Path:
    """A morph through keyframes (seeds or .npz files) written as a GIF, MP4 or folder of PNG frames.

    ``keyframes``: one path (``[1, 2, 3]``) or several (``[[1, 2], [3, 4]]``: a grid video of paths).
    Returns the path written.
    """
    import torch

    from ganforge.latent import grid_frames, interpolate, write_video
    from ganforge.latent.video import video_kind
    from ganforge.progress import Task
    from ganforge.sampling import generate

    video_kind(out)  # reject an unusable out before any work
    if frames < 2:
        raise GanforgeError("--frames must be at least 2")
    groups = [keyframes] if keyframes and not isinstance(keyframes[0], (list, tuple)) else keyframes
    m = LoadedModel(run, class_=class_, psi=psi, device=device, ema=ema, space=space)
    videos = []
    with Task("interpolate", frames * len(groups), "frames") as shown:
        for specs in groups:
            if len(specs) < 2:
                raise GanforgeError(f"keyframes {specs!r}: give at least two, separated by commas")
            keys = [m.latent(s) for s in specs]
            z = torch.cat([k[0] for k in keys])
            path = interpolate(z, frames, mode=mode, loop=loop)
            labels = None
            if m.num_classes:
                # The class cannot morph continuously; each frame takes the class of its nearer keyframe.
                labels = torch.cat([k[1] for k in keys])[_nearest_key(len(specs), frames, loop)]
            videos.append(generate(m.G, path, labels, batch_size=16, progress=shown))
    video = videos[0] if len(videos) == 1 else grid_frames(videos)
    return write_video(video, out, fps=fps)


@dataclass
class Written:
    """What a tool wrote (``files``, the first is the main one) and what it measured."""

    files: list[Path]
    values: dict[str, Any] = field(default_factory=dict)


def midpoint_image(run: str | Path, a: str | int, b: str | int, out: str | Path, *, mode: str = "slerp",
                   class_: int | str | None = None, psi: float = 1.0, device: str = "cpu", ema: bool = True,
                   space: str | None = None) -> Written:
    """The latent halfway between A and B: its image (``out``, a PNG), the latent (.npz beside it) and a
    strip A | midpoint | B (-strip.png)."""
    import numpy as np
    import torch

    from ganforge.latent import midpoint, render, save_latents
    from ganforge.latent.figures import save_png, strip

    out = Path(out)
    if out.suffix.lower() != ".png":
        raise GanforgeError("--out must be a .png file")
    m = LoadedModel(run, class_=class_, psi=psi, device=device, ema=ema, space=space)
    (za, la), (zb, lb) = m.latent(a), m.latent(b)
    mid = midpoint(za, zb, mode=mode)
    if la is not None and lb is not None and int(la) != int(lb) and m.class_id is None:
        raise GanforgeError("A and B have different classes; choose the midpoint's with --class")
    images = render(m.G, torch.cat([za, mid, zb]), None if la is None else la.expand(3))
    save_png(images[1], out)
    save_latents(out.with_suffix(".npz"), mid, la, image=images[1], space=np.array(m.space))
    save_png(strip(images), _sibling(out, "-strip.png"))
    return Written([out, out.with_suffix(".npz"), _sibling(out, "-strip.png")])


def project_photo(run: str | Path, photo: str | Path, out: str | Path, *, steps: int = 300, restarts: int = 4,
                  lr: float | None = None, seed: int = 0, use_discriminator: bool = True, feature_weight: float = 0.1,
                  reg_weight: float = 0.01, class_: int | str | None = None, psi: float = 1.0, device: str = "cpu",
                  ema: bool = True, space: str | None = None) -> Written:
    """Embed a photo: the latent whose image matches it (``out``, .npz), its image, a side-by-side and
    the error curve beside it. ``values``: pixel MSE (``error``) and ``psnr``.

    In z: ``restarts`` starts optimised side by side (``lr`` default 0.05). In w or w+: StyleGAN2's
    projector, from the mean w with the noise maps (one start: ``restarts`` and ``reg_weight`` do not
    apply; ``lr`` default 0.1)."""
    import numpy as np

    from ganforge.latent import project, save_latents
    from ganforge.latent.figures import plot_curve, save_png, strip
    from ganforge.progress import Task

    out = Path(out)
    if out.suffix != ".npz":
        raise GanforgeError("--out must be a .npz file")
    m = LoadedModel(run, class_=class_, psi=psi, device=device, ema=ema, space=space)
    target = m.photo(photo)
    with Task("project", steps, "steps") as shown:
        if m.space == "z":
            res = project(m.G, target, steps=steps, restarts=restarts, D=m.discriminator(use_discriminator),
                          feature_weight=feature_weight, reg_weight=reg_weight, labels=m.labels_tensor(),
                          lr=lr or 0.05, seed=seed, progress=shown.callback())
        else:
            from ganforge.latent.project import project_w

            res = project_w(m.G, target, steps=steps, D=m.discriminator(use_discriminator),
                            feature_weight=feature_weight, lr=lr or 0.1, seed=seed, progress=shown.callback())
    save_latents(out, res.latent, None if res.label is None else np.array([res.label]), image=res.image,
                 target=target, losses=np.asarray(res.losses), space=np.array(m.space))
    save_png(res.image, _sibling(out, ".png"))
    save_png(strip([target, res.image]), _sibling(out, "-compare.png"), scale=max(1, 256 // m.cfg.resolution))
    curves = {f"restart {i}": res.restart_losses[:, i] for i in range(res.restart_losses.shape[1])}
    plot_curve(curves, _sibling(out, "-curve.png"), title=f"projection loss (final pixel MSE {res.error:.4f})")
    return Written([out, _sibling(out, ".png"), _sibling(out, "-compare.png"), _sibling(out, "-curve.png")],
                   {"error": res.error, "psnr": res.psnr})


def _labelled(data):
    import numpy as np

    keep = np.nonzero(data.labels >= 0)[0]
    if len(keep) > 5000:  # a linear classifier on D's features needs no more
        keep = np.sort(np.random.default_rng(0).choice(keep, 5000, replace=False))
    return np.asarray(data.images[keep]), data.labels[keep]


def _as_array(img):
    import numpy as np

    a = np.asarray(img)
    return a if a.ndim == 3 else a[..., None]


def find_edit_directions(run: str | Path, out: str | Path | None = None, *, k: int = 10, samples: int = 5000,
                         method: str = "pca-activations", layer: str | None = None, classes: bool = False,
                         class_: int | str | None = None, device: str = "cpu", ema: bool = True,
                         space: str | None = None) -> Written:
    """Editing directions (GANSpace PCA, or with ``classes`` one per class of the run's labelled data
    set) saved to ``out`` (default RUN/directions.npz) with a preview PNG beside it. In w or w+ the
    PCA is GANSpace's of w (``method`` and ``layer`` apply in z only).

    ``values``: ``names``, ``scores`` (explained variance or accuracy), ``what`` (which of the two),
    ``inert`` (directions that leave seed 0's image unchanged), ``count`` and ``shown`` (the
    preview's seed and class)."""
    import torch

    from ganforge.latent import class_directions, feature_classifier, find_directions, load_discriminator
    from ganforge.latent.figures import save_png
    from ganforge.sampling import image_grid

    m = LoadedModel(run, class_=class_, device=device, ema=ema, space=space)
    out = Path(out) if out else RunDir.of(run).directions
    if out.suffix != ".npz":
        raise GanforgeError("--out must be a .npz file")
    if classes:
        from ganforge.data.dataset import load_dataset

        if m.num_classes:
            # A conditional model takes its class from the label, not from a region of the latent space.
            raise GanforgeError(f"--classes finds latent directions toward classes of an unconditional model; this "
                                f"{m.cfg.family} run takes the class as an input: choose it with --class instead")
        data_path = (m.state.get("dataset") or {}).get("path")
        if not m.classes or not data_path or not Path(data_path).is_file():
            raise GanforgeError("--classes needs the run's labelled data set (prepared with --labels subfolders)")
        data = load_dataset(data_path)
        images, labels = _labelled(data)
        classify = feature_classifier(load_discriminator(run, m.device, state=m.state), images, labels)
        dirs = class_directions(m.G, classify, m.classes, n_samples=samples)
    elif m.space != "z":
        from ganforge.latent.spaces import w_directions

        dirs = w_directions(m.G, k, samples)
    else:
        dirs = find_directions(m.G, k, samples, method, layer=layer, labels=m.class_id)
    dirs.save(out)
    z, labels = m.latent("0")  # the preview's seed 0, in the class seed 0 draws (or the chosen class)
    rows = [_along(m, z[0], dirs, i, torch.linspace(-2, 2, 7).tolist(), labels) for i in range(len(dirs))]
    preview = _sibling(out, ".png")
    save_png(_as_array(image_grid(torch.cat([torch.from_numpy(r) for r in rows]).numpy(), ncols=7)), preview)
    shown = "" if labels is None else f", class {m.classes[int(labels[0])] if m.classes else int(labels[0])}"
    return Written([out, preview], {
        "names": dirs.names or [f"{dirs.method} {i}" for i in range(len(dirs))],
        "scores": dirs.explained_variance.tolist(),
        "what": "accuracy" if dirs.method == "class" else "explained variance",
        "inert": [i for i, r in enumerate(rows) if (r == r[:1]).all()],  # -2..2 sd leaves every pixel as it is
        "count": len(dirs), "shown": shown})


def _along(m: LoadedModel, latent, dirs, i: int, amounts: list[float], labels, layers: range | None = None):
    """The images of direction ``i``: in z along the unit vector, in W by the direction's standard
    deviation (and only in the ws of ``layers`` when given)."""
    from ganforge.latent import edit

    if dirs.method != "pca-w":
        return edit(m.G, latent, dirs.vectors[i], amounts, labels)
    from ganforge.latent.spaces import edit_layers

    scale = 1.0 if dirs.scales is None else float(dirs.scales[i])
    return edit_layers(m.G, latent, dirs.vectors[i], amounts, layers, scale=scale)


def edit_strip(run: str | Path, latent: str | int, direction: int, amounts: list[float], out: str | Path, *,
               directions: str | Path | None = None, layers: str | None = None, class_: int | str | None = None,
               psi: float = 1.0, device: str = "cpu", ema: bool = True, space: str | None = None) -> Written:
    """Move a latent along saved direction ``direction`` by ``amounts`` (standard deviations) and write the
    images as a strip PNG. ``layers`` (W directions only: coarse, middle, fine or A-B) edits only those
    ws, as GANSpace's layer-wise edits."""
    from ganforge.latent import Directions
    from ganforge.latent.figures import save_png, strip

    m = LoadedModel(run, class_=class_, psi=psi, device=device, ema=ema, space=space)
    dirs = Directions.load(directions or RunDir.of(run).directions)
    if not 0 <= direction < len(dirs):
        raise GanforgeError(f"--direction must be in 0..{len(dirs) - 1} (the file holds {len(dirs)})")
    in_w = dirs.method == "pca-w"
    if in_w != (m.space != "z"):
        raise GanforgeError(f"the direction file holds directions in {'W' if in_w else 'z'}, but this command "
                            f"works in {m.space}; add --space {'w' if in_w else 'z'}")
    if not in_w and dirs.vectors.shape[1] != m.cfg.latent_dim:
        raise GanforgeError("the direction file was made for a model with another latent size")
    if layers and not in_w:
        raise GanforgeError("--layers needs directions in W (a stylegan2 run's 'ganforge directions')")
    ws = None
    if layers:
        from ganforge.latent.mix import layer_range

        ws = layer_range(m.G.G, layers)
    z, labels = m.latent(latent)
    images = _along(m, z[0], dirs, direction, amounts, labels, ws)
    save_png(strip(images), out)
    return Written([Path(out)], {"count": len(images)})


def inpaint_photo(run: str | Path, photo: str | Path, mask: str | Path, out: str | Path, *, steps: int = 300,
                  restarts: int = 4, lr: float | None = None, seed: int = 0, use_discriminator: bool = True,
                  context_radius: int = 3, prior_weight: float = 0.003, blend: str = "poisson",
                  class_: int | str | None = None, psi: float = 1.0, device: str = "cpu", ema: bool = True,
                  space: str | None = None) -> Written:
    """Fill the white part of ``mask`` in a photo (semantic inpainting); writes ``out`` (PNG) and
    -compare.png. ``values``: the masked fraction and the MSE inside the mask against the photo."""
    import numpy as np

    from ganforge.latent import data_params, inpaint, load_mask, load_photo, pixel_error
    from ganforge.latent.figures import save_png, strip
    from ganforge.progress import Task

    out = Path(out)
    if out.suffix.lower() != ".png":
        raise GanforgeError("--out must be a .png file")
    if _is_inpainter_run(run):
        if class_ is not None or psi != 1.0 or space is not None:
            raise GanforgeError("an inpainter run fills the hole in one pass: --class, --psi and --space do not apply")
        return _inpaint_in_one_pass(run, photo, mask, out, device=device, ema=ema)
    m = LoadedModel(run, class_=class_, psi=psi, device=device, ema=ema, space=space)
    params = data_params(run)
    image, note = load_photo(photo, m.cfg.resolution, m.cfg.channels, params, with_note=True)
    hole = load_mask(mask, m.cfg.resolution, params, note)
    with Task("inpaint", steps, "steps") as shown:
        res = inpaint(m.G, image, hole, steps=steps, restarts=restarts, D=m.discriminator(use_discriminator),
                      context_radius=context_radius, prior_weight=prior_weight, blend=blend,
                      labels=m.labels_tensor(), lr=lr or 0.05, seed=seed, progress=shown.callback(),
                      reg_weight=0.0 if m.space != "z" else 0.01)  # the shell prior is z's
    save_png(res.image, out)
    masked = np.where(hole[..., None], np.uint8(128), image)
    save_png(strip([masked, res.generated, res.image]), _sibling(out, "-compare.png"),
             scale=max(1, 256 // m.cfg.resolution))
    return Written([out, _sibling(out, "-compare.png")],
                   {"masked": float(hole.mean()), "mse": pixel_error(res.image, image, hole)})


def _is_inpainter_run(run: str | Path) -> bool:
    """Whether ``run`` (a run directory, checkpoint or export) holds an inpainter: the family its
    config.json records, or (a loose checkpoint, an export) the one its generator was built as."""
    from ganforge import models
    from ganforge.artifacts import load_generator
    from ganforge.errors import ConfigError
    from ganforge.export import is_export

    family = None
    if not is_export(run):
        try:
            family = RunDir.of(run).read_config().get("model", {}).get("family")
        except (ConfigError, OSError, ValueError):
            family = None
    if family is None:
        family = load_generator(run, device="cpu")[1].family
    return family in models.MODELS and models.is_inpainter(family)


def _inpaint_in_one_pass(run: str | Path, photo: str | Path, mask: str | Path, out: Path, *, device: str,
                         ema: bool) -> Written:
    """``inpaint_photo`` for an inpainter run: its G fills the hole in one forward pass."""
    import time

    import numpy as np

    from ganforge.artifacts import load_generator
    from ganforge.device import resolve_device
    from ganforge.latent import data_params, inpaint_once, load_mask, load_photo, pixel_error
    from ganforge.latent.figures import save_png, strip

    G, cfg, _ = load_generator(run, device=resolve_device(device), ema=ema)
    params = data_params(run)
    image, note = load_photo(photo, cfg.resolution, cfg.channels, params, with_note=True)
    hole = load_mask(mask, cfg.resolution, params, note)
    t0 = time.perf_counter()
    filled = inpaint_once(G, image, hole)
    seconds = time.perf_counter() - t0
    save_png(filled, out)
    masked = np.where(hole[..., None], np.uint8(128), image)
    save_png(strip([masked, filled]), _sibling(out, "-compare.png"), scale=max(1, 256 // cfg.resolution))
    return Written([out, _sibling(out, "-compare.png")],
                   {"masked": float(hole.mean()), "mse": pixel_error(filled, image, hole), "seconds": seconds})
