"""ganforge's Python API: every task of the command line as a plain function.

The ``ganforge`` commands parse their flags and call these functions, so Python and the command
line share every rule. ``import ganforge`` gives them at the top level (loaded on first use, so
``import ganforge`` stays light)::

    import ganforge

    ganforge.prepare_dataset("photos/", "data/faces.zip", size=64)
    result = ganforge.train_run("data/faces.zip", "runs/faces", model="dcgan", steps=2000,
                            progress=lambda step, fraction, stats: print(step, stats.get("g_loss")))
    G = ganforge.load_generator("runs/faces")      # a run, a checkpoint, an export or a Hub folder
    images = G.generate(range(16))                 # uint8 (16, H, W, C), the same on every machine

Keyword options of ``train_run``/``resume_run`` are the ``ganforge train`` flags with underscores
(``lr_g=1e-4``, ``batch_size=32``, ``model="sngan"``, ``augment="color,translation"``...).
Errors are ``ganforge.errors.GanforgeError`` with a one-line message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganforge.errors import ConfigError, DataError

if TYPE_CHECKING:  # the heavy modules load when a function needs them, not on import
    import numpy as np
    from PIL import Image

    from ganforge.config import ModelConfig
    from ganforge.train import TrainResult

# Latent tools and the rest, re-exported here so one module is the whole API.
from ganforge.latent_tools import (  # noqa: E402,F401
    edit_strip,
    find_edit_directions,
    inpaint_photo,
    interpolate_video,
    midpoint_image,
    project_photo,
)
from ganforge.overview import describe_run, list_runs, summarise_run  # noqa: E402,F401

__all__ = [
    "prepare_dataset", "train_run", "resume_run", "load_generator", "Generator", "generate", "save_images", "evaluate",
    "fit_features", "compare", "interpolate_video", "midpoint_image", "project_photo", "find_edit_directions",
    "edit_strip", "inpaint_photo", "export_generator",
    "hub_push", "hub_pull", "list_runs", "summarise_run", "describe_run",
]

ProgressFn = Callable[[int, float, dict], Any]  # progress(step, budget fraction used, last step's statistics)


# ---- data ------------------------------------------------------------------------------------

# the online sources' own options (``ganforge data prepare``'s "online sources" group)
SOURCE_OPTIONS = {"min_box_area", "search_api", "licence", "download_workers", "timeout", "retries"}



def prepare_dataset(src: str | Path | None, out: str | Path, *, size: int | None = None, channels: int | None = None,
                    progress: bool = True, domains: str | dict | None = None, as_domains: bool = False,
                    **options: Any) -> dict:
    """Turn a folder, archive, URL list or named source (``fashion-mnist``, ``hf:...``) into a data-set file.

    ``options``: the other ``ganforge data prepare`` flags with underscores (``crop="face"``,
    ``labels="subfolders"``, ``limit=100``, ``dedup="near"``...); the online sources' own
    (``min_box_area``, ``search_api``, ``licence``, ``download_workers``, ``timeout``, ``retries``)
    go to the source. Returns the report (also written beside ``out`` as .report.json).

    A two-domain data set: ``domains="A=SRC,B=SRC"`` (or a dict {"A": SRC, "B": SRC}) with no ``src``,
    or ``as_domains=True`` with ``labels="subfolders"`` on a ``src`` holding exactly two subfolders.
    """
    from ganforge.data.prepare import PrepareOptions, prepare

    known = {f.name for f in fields(PrepareOptions)} - {"resolution", "channels", "source_options"}
    unknown = sorted(set(options) - known - SOURCE_OPTIONS)
    if unknown:
        raise ConfigError(f"unknown prepare option(s): {', '.join(unknown)}; choose from: "
                          f"{', '.join(sorted(known | SOURCE_OPTIONS))}")
    source_options = {k: options.pop(k) for k in list(options) if k in SOURCE_OPTIONS}
    opts = PrepareOptions(resolution=size, channels=channels, source_options=source_options or None, **options)
    if domains or as_domains:
        from ganforge.data.domains import (
            parse_domains,
            prepare_domains,
            prepare_subfolder_domains,
        )

        if domains and (src or as_domains):
            raise DataError("--domains names both sources itself: give no SRC and no --as-domains")
        if as_domains and (not src or opts.labels != "subfolders"):
            raise DataError("--as-domains needs SRC and --labels subfolders (SRC's two subfolders become the domains)")
        if domains:
            pairs = parse_domains(domains) if isinstance(domains, str) else list(domains.items())
            return prepare_domains(pairs, out, opts)
        return prepare_subfolder_domains(str(src), out, opts)
    if not src:
        raise DataError("give SRC (a folder, archive, URL list or named source), or --domains A=SRC,B=SRC")
    return prepare(str(src), out, opts, progress=progress)


# ---- training --------------------------------------------------------------------------------


def _watchers(progress: ProgressFn | None, should_stop: Callable[[], bool] | None) -> list:
    """Trainer hooks: ``progress`` after every step (rank 0), ``should_stop()`` asking for a clean stop."""
    def watch(trainer) -> None:
        if progress is not None and trainer.is_main:
            progress(trainer.step, trainer.budget_fraction(), dict(trainer.last_stats))
        if should_stop is not None and should_stop():
            trainer.stop_requested = "stop hook"

    return [watch] if progress is not None or should_stop is not None else []


def train_run(data: str | Path | None, out: str | Path, *, preset: str | dict | None = None,
              progress: ProgressFn | None = None, should_stop: Callable[[], bool] | None = None, hooks: Iterable = (),
              **options: Any) -> TrainResult:
    """Train a new run in ``out`` on data set ``data``; returns (run_dir, step, stopped_by).

    ``progress(step, fraction, stats)`` is called after every step with the budget fraction used
    and the step's losses; when ``should_stop()`` returns True the run saves a checkpoint and
    stops (``stopped_by == "stop hook"``; ``resume_run`` continues it). ``hooks``: more
    ``hook(trainer)`` callables. ``options``: ``ganforge train``'s flags (see the module docstring).
    """
    from ganforge.runconfig import resolve_configs
    from ganforge.train import train

    cfg, model_cfg = resolve_configs(out, data=None if data is None else str(data), preset=preset,
                                     options=options)
    return train(cfg, model_cfg, hooks=[*_watchers(progress, should_stop), *hooks])


def resume_run(out: str | Path, *, data: str | Path | None = None, progress: ProgressFn | None = None,
               should_stop: Callable[[], bool] | None = None, hooks: Iterable = (), **options: Any) -> TrainResult:
    """Continue the run in ``out`` from its latest checkpoint, e.g. with a larger ``steps`` budget.

    Only options that may change on resume are accepted (a budget, how often it samples/logs,
    the device...; ``ganforge train --help`` lists them); ``data`` when the data set moved.
    """
    from ganforge.runconfig import resolve_configs
    from ganforge.train import train

    preset = options.pop("preset", None)
    cfg, model_cfg = resolve_configs(out, data=None if data is None else str(data), preset=preset, resume=True,
                                     options=options)
    return train(cfg, model_cfg, resume=True, hooks=[*_watchers(progress, should_stop), *hooks])


# ---- generators ------------------------------------------------------------------------------


@dataclass
class Generator:
    """A loaded generator: ``module`` (torch, eval mode), its ``config``, ``info`` (step, data set) and
    the data set's class names (None for an unconditional model)."""

    module: Any
    config: ModelConfig
    info: dict
    classes: list[str] | None

    def generate(self, seeds: Iterable[int], class_: int | str | None = None, psi: float = 1.0) -> np.ndarray:
        """uint8 images (N, H, W, C) of ``seeds``: seed S gives the same image on every run and device.
        ``class_`` (conditional models): an id or name; by default seed S draws class S mod classes.
        ``psi`` < 1: truncation, in W for style-based families, toward the mean latent z for the others."""
        from ganforge.latent_tools import refuse_without_latents
        from ganforge.sampling import (
            generate,
            images_for_seeds,
            labels_for_seeds,
            resolve_class,
            truncates_in_w,
        )

        refuse_without_latents(self.config, self.info.get("run") or "this generator")
        seeds = list(seeds)
        cls = resolve_class(class_, self.classes, self.config.num_classes)
        if psi != 1 and not truncates_in_w(self.module):
            from ganforge.latent import mean_latent, sample_latents

            z = sample_latents(seeds, self.config.latent_dim, psi=psi, mean_latent=mean_latent(self.module))
            return generate(self.module, z, labels_for_seeds(seeds, self.config.num_classes, cls))
        return images_for_seeds(self.module, seeds, class_=cls, psi=psi)

    def grid(self, seeds: Iterable[int], class_: int | str | None = None) -> Image.Image:
        """The images of ``seeds`` as one PIL grid."""
        from ganforge.sampling import image_grid

        return image_grid(self.generate(seeds, class_))


def load_generator(path: str | Path, device: str = "cpu", ema: bool = True) -> Generator:
    """The generator of a run directory, a checkpoint, an export or a ``ganforge hub pull`` folder.
    ``ema``: a run's weight-averaged generator when it has one. ``device``: cpu, cuda or auto."""
    from ganforge import artifacts
    from ganforge.device import resolve_device

    G, cfg, info = artifacts.load_generator(path, device=resolve_device(device), ema=ema)
    return Generator(G, cfg, info, (info.get("dataset") or {}).get("classes"))


def generate(source: str | Path | Generator, seeds: Iterable[int], *, class_: int | str | None = None,
             device: str = "cpu", ema: bool = True, psi: float = 1.0) -> np.ndarray:
    """uint8 images (N, H, W, C) of ``seeds`` from a run/checkpoint/export path or a loaded ``Generator``
    (``psi``: truncation, see ``Generator.generate``)."""
    G = source if isinstance(source, Generator) else load_generator(source, device=device, ema=ema)
    return G.generate(seeds, class_, psi)


def save_images(images: np.ndarray, out: str | Path, *, seeds: Iterable[int] | None = None,
                separate: bool = False) -> Path:
    """Write images as one PNG grid ``out``, or (``separate``) one ``seedNNNNNN.png`` each into folder ``out``."""
    from ganforge.sampling import image_grid, to_pil
    from ganforge.utils import atomic_path

    out = Path(out)
    if separate:
        out.mkdir(parents=True, exist_ok=True)
        for seed, img in zip(seeds if seeds is not None else range(len(images)), images):
            with atomic_path(out / f"seed{seed:06d}.png") as tmp:
                to_pil(img).save(tmp, format="PNG")
    else:
        with atomic_path(out) as tmp:
            image_grid(images).save(tmp, format="PNG")
    return out


# ---- evaluation ------------------------------------------------------------------------------


def evaluate(source: str | Path, *, data: str | Path | None = None, metrics: str = "fid,kid,pr,is,c2st",
             features: str = "inception", n: int = 10_000, n_ref: int | None = None, device: str = "auto",
             inception_weights: str | None = None, out: str | Path | None = None,
             classifier: str | None = None) -> dict:
    """Metrics of a run's generator (a run directory or checkpoint), or of a folder of images (then
    ``data`` is required), against a data set; writes JSON (default RUN/evaluation.json) and returns
    the record (``record["metrics"]``: {"fid[inception]": ...}). ``classifier``: for a translator, a
    classifier of its source domain's classes (``class_kept``; default: one fitted on the fly)."""
    from ganforge.metrics.evaluate import evaluate_folder, evaluate_run
    from ganforge.runs import RunDir

    common: dict[str, Any] = dict(metrics=metrics, features=features, n=n, n_ref=n_ref, device=device,
                                  inception_weights=inception_weights, out=out)
    src = Path(source)
    if src.is_dir() and not RunDir.is_run(src) and not RunDir(src).checkpoints.is_dir():
        if not data:
            raise ConfigError("to evaluate a folder of images, give the data set to compare with: --data DATASET")
        return evaluate_folder(src, str(data), **common)
    return evaluate_run(src, data=None if data is None else str(data), classifier=classifier, **common)


def fit_features(data: str | Path, out: str | Path | None = None, **options: Any) -> Path:
    """Train a small classifier on a labelled data set: a domain feature extractor for FID/KID/PR
    (``features=NAME`` in ``evaluate``). ``options``: name, epochs, width, max_images, seed, device."""
    from ganforge.metrics.domain import fit_extractor

    return fit_extractor(str(data), out, **options)


def compare(runs: list[str | Path], out: str | Path, evaluate: dict | None = None, log=None) -> tuple[Path, Path]:
    """report.md and a self-contained report.html comparing runs; ``evaluate``: evaluate() options to run
    first; ``log``: a stream for progress lines."""
    from ganforge.metrics.report import compare_runs

    return compare_runs([str(r) for r in runs], out, evaluate=evaluate, log=log)


# ---- sharing ---------------------------------------------------------------------------------


def export_generator(source: str | Path, fmt: str, out: str | Path, ema: bool = True):
    """Write the generator of a run, checkpoint or export as safetensors, onnx or torchscript into
    folder ``out`` (ONNX and TorchScript are checked against PyTorch); returns the ExportResult."""
    from ganforge.artifacts import export_generator

    return export_generator(source, fmt, out, ema=ema)


def hub_push(run: str | Path, repo: str, **options: Any) -> str:
    """Upload a run (its generator, samples, model card) to a Hugging Face model repository; its URL."""
    from ganforge.hub import push

    return push(run, repo, **options)


def hub_pull(repo: str, out: str | Path, **options: Any) -> Path:
    """Download a ganforge model from the Hub into folder ``out`` (load it with ``load_generator(out)``)."""
    from ganforge.hub import pull

    return pull(repo, out, **options)
