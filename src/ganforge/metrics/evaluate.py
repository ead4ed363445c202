"""Evaluate a run (or a folder of images) against a data set: plain functions behind ``ganforge evaluate``.

Generated images are the images of seeds 0..n-1 (balanced labels for conditional models),
so two evaluations of one checkpoint see the same images. The real side is the data set:
its reference features come from the cache (``reference.py``); the two-sample test and
the discriminator diagnostic use ``n`` real images picked by a fixed seed.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganforge import __version__, models
from ganforge.artifacts import load_generator
from ganforge.checkpoint import discriminator_from_checkpoint, find_checkpoint
from ganforge.data.dataset import load_dataset
from ganforge.data.sources import IMAGE_SUFFIXES
from ganforge.device import resolve_device
from ganforge.errors import ConfigError, DataError, GanforgeError
from ganforge.metrics.features import load_extractor
from ganforge.metrics.reference import reference_features, reference_indices
from ganforge.metrics.registry import METRICS, EvalContext, compute, parse_metrics
from ganforge.progress import Task
from ganforge.runs import RunDir
from ganforge.sampling import generate, labels_for_seeds, latents_for_seeds
from ganforge.utils import STDERR, write_json_atomic

DEFAULT_METRICS = "fid,kid,pr,is,c2st"


class MetricError(GanforgeError):
    """A metric that cannot be computed on these inputs (too few images, wrong shapes...)."""


def needs_extractor(metrics: list[str]) -> bool:
    return any(METRICS[m].uses_features for m in metrics)


def evaluate_images(fake: np.ndarray, dataset, metrics: list[str], *, extractor=None, n_ref: int | None = None,
                    discriminator=None, device: str | torch.device = "cpu", seed: int = 0,
                    log=None) -> dict[str, float]:
    """Metrics of uint8 (N, H, W, C) generated images against a loaded data set.

    ``n_ref``: reference images (default: as many as generated, capped by the data set).
    Returns {"fid[inception]": ..., "kid[inception]": ..., "c2st_acc[pixels]": ..., ...}.
    """
    if needs_extractor(metrics) and extractor is None:
        raise ConfigError(f"{', '.join(m for m in metrics if METRICS[m].uses_features)} need --features")
    if extractor is not None:
        extractor.check(fake, "the generated images")
        extractor.check(dataset.images[:1], f"the images of {dataset.path}")
    n_ref = n_ref or len(fake)
    real = dataset.images[reference_indices(len(dataset), len(fake), seed + 1)]
    if real.shape[1:] != fake.shape[1:] and any(METRICS[m].pixels for m in metrics):
        raise DataError(f"generated images are {fake.shape[1:]} (H, W, C) but the data set's are {real.shape[1:]}; "
                        "the two-sample test and the discriminator need the same shape")
    ctx = EvalContext(np.asarray(real), fake, extractor, discriminator=discriminator, device=str(device), seed=seed,
                      log=log, real_features_fn=lambda: reference_features(dataset, extractor, n_ref, seed, log=log))
    results: dict[str, float] = {}
    for name in metrics:
        t0 = time.time()
        try:
            results.update(compute(name, ctx))
        except ValueError as e:
            raise MetricError(f"{name}: {e}") from None
        if log:
            print(f"ganforge: {name} done in {time.time() - t0:.1f} s", file=log, flush=True)
    return results


def generate_images(G: torch.nn.Module, model_cfg, n: int, first_seed: int = 0, batch_size: int = 64,
                    log=None) -> np.ndarray:
    """uint8 (n, H, W, C): the images of seeds first_seed..first_seed+n-1 (each seed's class, if conditional).
    ``log``: a stream for a progress line (None: quiet, as during training)."""
    seeds = range(first_seed, first_seed + n)
    z = latents_for_seeds(seeds, model_cfg.latent_dim)
    with Task("generate", n, "images", stream=log, enabled=log is not None) as shown:
        return generate(G, z, labels_for_seeds(seeds, model_cfg.num_classes), batch_size=batch_size,
                        progress=shown)


def load_image_folder(folder: str | Path, channels: int, limit: int | None = None) -> np.ndarray:
    """Images of a folder (recursively, sorted by path) as uint8 (N, H, W, channels); all one size."""
    folder = Path(folder)
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise DataError(f"no images in {folder}")
    paths = paths[:limit] if limit else paths
    mode = "L" if channels == 1 else "RGB"
    arrays, sizes = [], set()
    for p in paths:
        try:
            with Image.open(p) as img:
                img = img.convert("RGBA").convert(mode) if img.mode in ("P", "LA", "PA") else img.convert(mode)
                arrays.append(np.asarray(img).reshape(img.height, img.width, channels))
        except OSError as e:
            raise DataError(f"cannot read {p}: {e}") from None
        sizes.add(arrays[-1].shape[:2])
        if len(sizes) > 1:
            raise DataError(f"{folder} holds images of different sizes ({sorted(sizes)}); "
                            "resize them to one size first (e.g. ganforge data prepare)")
    return np.stack(arrays)


def _prepare(metrics: str | list[str], features: str | None, device: str, inception_weights: str | None):
    names = parse_metrics(metrics) if isinstance(metrics, str) else list(metrics)
    dev = resolve_device(device)
    extractor = load_extractor(features or "inception", dev, inception_weights) if needs_extractor(names) else None
    return names, dev, extractor


def _record(results: dict, *, source: dict, dataset, n: int, n_ref: int, extractor, seconds: float) -> dict:
    return {
        "metrics": results,
        "source": source,
        "data": {"path": str(dataset.path), "sha256": dataset.sha256},
        "n": n,
        "n_ref": min(n_ref, len(dataset)),
        "features": None if extractor is None else
        {"name": extractor.name, "identity": extractor.identity, "protocol": extractor.protocol},
        "seconds": round(seconds, 2),
        "ganforge_version": __version__,
    }


def evaluate_run(run: str | Path, metrics: str | list[str] = DEFAULT_METRICS, *, features: str | None = "inception",
                 n: int = 10_000, n_ref: int | None = None, data: str | None = None, device: str = "auto",
                 inception_weights: str | None = None, out: str | Path | None = None, seed: int = 0,
                 classifier: str | None = None, log=STDERR) -> dict:
    """Evaluate a run directory or checkpoint; writes the record as JSON to ``out`` (default
    RUN/evaluation.json) and returns it. ``classifier``: a two-domain translator's source-domain classifier
    (``ganforge.metrics.class_kept``)."""
    if n < 2:
        raise ConfigError("--n must be at least 2")
    t0 = time.time()
    names, dev, extractor = _prepare(metrics, features, device, inception_weights)
    ckpt = find_checkpoint(run)
    G, model_cfg, state = load_generator(ckpt, device=dev)
    if models.is_two_domain(model_cfg.family):  # per direction (translators) or per domain (CoGAN)
        from ganforge.metrics.translation import evaluate_two_domain

        return evaluate_two_domain(run, names, extractor, n=n, data=data, device=dev, out=out, seed=seed,
                                   classifier=classifier, log=log)
    data_path = data or state.get("dataset", {}).get("path")
    if not data_path:
        raise ConfigError("the checkpoint does not say which data set it was trained on; give --data")
    dataset = load_dataset(data_path)
    if dataset.sha256 != state.get("dataset", {}).get("sha256") and log:
        print(f"warning: {data_path} is not the data set this run was trained on", file=log)
    D = None
    if any(METRICS[m].needs_discriminator for m in names):
        D = discriminator_from_checkpoint(ckpt, dev, state=state)
    if log:
        print(f"ganforge: generating {n} images from {ckpt} (step {state.get('step')})", file=log, flush=True)
    with torch.random.fork_rng(devices=[]):
        fake = generate_images(G, model_cfg, n, log=log)
        results = evaluate_images(fake, dataset, names, extractor=extractor, n_ref=n_ref, discriminator=D,
                                  device=dev, seed=seed, log=log)
    run_dir = Path(run) if Path(run).is_dir() else None
    record = _record(results, source={"run": str(run_dir or ckpt), "checkpoint": str(ckpt), "step": state.get("step")},
                     dataset=dataset, n=n, n_ref=n_ref or n, extractor=extractor, seconds=time.time() - t0)
    out = Path(out) if out else (RunDir(run_dir).evaluation if run_dir else ckpt.with_suffix(".evaluation.json"))
    write_json_atomic(out, record)
    record["written_to"] = str(out)
    return record


def evaluate_folder(folder: str | Path, data: str, metrics: str | list[str] = DEFAULT_METRICS, *,
                    features: str | None = "inception", n: int | None = 10_000, n_ref: int | None = None,
                    device: str = "auto", inception_weights: str | None = None, out: str | Path | None = None,
                    seed: int = 0, log=STDERR) -> dict:
    """Evaluate a folder of images (e.g. from another tool) against a data set; JSON to ``out``
    (default FOLDER-evaluation.json beside the folder)."""
    t0 = time.time()
    names, dev, extractor = _prepare(metrics, features, device, inception_weights)
    for m in names:
        if METRICS[m].needs_discriminator:
            raise ConfigError(f"{m} needs a run's discriminator; it cannot evaluate a folder")
    dataset = load_dataset(data)
    fake = load_image_folder(folder, dataset.channels, limit=n)
    if len(fake) < 2:
        raise DataError(f"{folder} needs at least 2 images")
    with torch.random.fork_rng(devices=[]):
        results = evaluate_images(fake, dataset, names, extractor=extractor, n_ref=n_ref, device=dev, seed=seed,
                                  log=log)
    record = _record(results, source={"folder": str(folder)}, dataset=dataset, n=len(fake), n_ref=n_ref or len(fake),
                     extractor=extractor, seconds=time.time() - t0)
    folder = Path(folder)
    out = Path(out) if out else folder.parent / f"{folder.name}-evaluation.json"
    write_json_atomic(out, record)
    record["written_to"] = str(out)
    return record


def format_table(rows: dict[str, dict[str, float]]) -> str:
    """A plain-text table: one column per source (run), one row per metric key."""
    keys: list[str] = []
    for metrics in rows.values():
        keys += [k for k in metrics if k not in keys]
    names = list(rows)
    width = max([len(k) for k in keys] + [6])
    colw = [max(len(n), 10) for n in names]
    lines = ["metric".ljust(width) + "  " + "  ".join(n.rjust(w) for n, w in zip(names, colw))]
    for k in keys:
        cells = [format_value(rows[n].get(k)).rjust(w) for n, w in zip(names, colw)]
        lines.append(k.ljust(width) + "  " + "  ".join(cells))
    return "\n".join(lines)


def format_value(v) -> str:
    if v is None:
        return "-"
    v = float(v)
    if v != v:
        return "nan"
    if v == 0 or 1e-3 <= abs(v) < 1e5:
        return f"{v:.4g}" if abs(v) < 1 else f"{v:.2f}"
    return f"{v:.3e}"
