"""Evaluate a two-domain run (issue 16 point 5): translators per direction, CoGAN per domain.

For a translator (CycleGAN both ways, DTN from A to B), per direction X -> Y, on ``n`` source images
of domain X (a fixed random choice) and ``n`` real images of Y:

- ``fid[E]/x2y``, ``kid[E]/x2y`` (the metrics asked for, on extractor E): translated X against real Y,
  and the same for the untranslated X (``.../x_vs_y``): the distance a translation starts from, so a
  reader sees how much of it the translation closed;
- ``cycle_l1/x2y`` (CycleGAN): mean |F(G(x)) - x| on the [-1, 1] scale;
- ``f_const/a2b`` (DTN): mean ||f(G(x)) - f(x)||^2 / mean ||f(x)||^2, the paper's L_CONST made relative;
- ``target_rate/x2y`` when the extractor's classes are the two domains (``ganforge features fit`` on the
  two-domain set fits one): the fraction of translated images it classifies as domain Y (the untranslated
  sources' rate is ``target_rate/x_vs_y``).
- ``class_kept/x2y`` when X's images carry class labels: the fraction of translations a classifier of X's
  own classes assigns their source's class (``class_kept/x_vs_y``: on the untranslated sources); see
  ``ganforge.metrics.class_kept``.

For CoGAN: the pairs of seeds 0..n-1 are split, and the A halves are compared with domain A, the B
halves with domain B (``fid[E]/a``, ``fid[E]/b``).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from ganforge import __version__, models
from ganforge.artifacts import load_generator
from ganforge.checkpoint import find_checkpoint
from ganforge.data.dataset import Dataset, load_dataset
from ganforge.errors import ConfigError
from ganforge.metrics.class_kept import class_kept, class_targets, source_classifier
from ganforge.metrics.reference import reference_indices
from ganforge.metrics.registry import METRICS, EvalContext, compute
from ganforge.runs import RunDir
from ganforge.sampling import from_uint8, generate, latents_for_seeds, to_uint8
from ganforge.utils import STDERR, write_json_atomic

DIRECTIONS = {"a2b": (0, 1), "b2a": (1, 0)}


def _domain_pick(data: Dataset, d: int, n: int, seed: int) -> np.ndarray:
    """Indices of ``n`` images of domain ``d`` (a fixed random choice), in order."""
    idx = data.domain_indices(d)
    return np.sort(idx[reference_indices(len(idx), n, seed)])


def _domain_sample(data: Dataset, d: int, n: int, seed: int) -> np.ndarray:
    return np.asarray(data.images[_domain_pick(data, d, n, seed)])


@torch.no_grad()
def _batched(fn, x: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    return torch.cat([fn(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])


def _distances(real: np.ndarray, fake: np.ndarray, names: list[str], extractor, device, seed: int, log) -> dict:
    ctx = EvalContext(real, fake, extractor, device=str(device), seed=seed, log=log)
    out: dict[str, float] = {}
    for name in names:
        out.update(compute(name, ctx))
    return out


def _target_rate(extractor, images: np.ndarray, target_name: str) -> float | None:
    classes = getattr(extractor, "classes", None)
    if not classes or target_name not in classes or len(classes) != 2:
        return None
    _, probs = extractor.extract(images)
    return float((probs.argmax(1) == classes.index(target_name)).mean())


def evaluate_two_domain(run: str | Path, metrics: list[str], extractor, *, n: int = 1000, data: str | None = None,
                        device: str | torch.device = "cpu", out: str | Path | None = None, seed: int = 0,
                        classifier: str | None = None, log=STDERR) -> dict:
    """Evaluate a CycleGAN, DTN or CoGAN run; writes the record to ``out`` (default RUN/evaluation.json).
    ``classifier``: a classifier of a source domain's classes for ``class_kept`` (else one is fitted)."""
    t0 = time.time()
    for m in metrics:
        if METRICS[m].needs_discriminator:
            raise ConfigError(f"{m} is not defined for a two-domain run; use fid, kid, pr or c2st")
    ckpt = find_checkpoint(run)
    G, cfg, state = load_generator(ckpt, device=device)
    data_path = data or (state.get("dataset") or {}).get("path")
    if not data_path:
        raise ConfigError("the checkpoint does not say which data set it was trained on; give --data")
    dataset = load_dataset(data_path)
    if not dataset.domains:
        raise ConfigError(f"{data_path} is not a two-domain data set; give the run's own with --data")
    names = [d["name"] for d in dataset.domains]
    n = min(n, *(d["count"] for d in dataset.domains))
    results: dict[str, float] = {}
    classifiers: dict[str, dict] = {}
    family = models.family(cfg.family)
    with torch.random.fork_rng(devices=[]):
        if models.is_translator(cfg.family):
            for direction in getattr(family, "DIRECTIONS", ("a2b", "b2a")):
                src, dst = DIRECTIONS[direction]
                x_name, y_name = "ab"[src], "ab"[dst]
                picked = _domain_pick(dataset, src, n, seed + src)
                source = np.asarray(dataset.images[picked])
                target = _domain_sample(dataset, dst, n, seed + dst)
                x = from_uint8(source, device)
                y = _batched(lambda b, d=direction: family.translate(G, b, d), x)
                translated = to_uint8(y)
                log and print(f"ganforge: {direction}: {n} {names[src]} -> {names[dst]}", file=log, flush=True)
                for k, v in _distances(target, translated, metrics, extractor, device, seed, log).items():
                    results[f"{k}/{direction}"] = v
                for k, v in _distances(target, source, metrics, extractor, device, seed, log).items():
                    results[f"{k}/{x_name}_vs_{y_name}"] = v
                if hasattr(family, "cycle"):
                    back = _batched(lambda b, d=direction: family.cycle(G, b, d), x)
                    results[f"cycle_l1/{direction}"] = float((back - x).abs().mean())
                if hasattr(family, "f_constancy"):
                    results[f"f_const/{direction}"] = float(family.f_constancy(G, x, y))
                if extractor is not None:
                    rate = _target_rate(extractor, translated, names[dst])
                    start = _target_rate(extractor, source, names[dst])
                    if rate is not None and start is not None:
                        results[f"target_rate/{direction}"] = rate
                        results[f"target_rate/{x_name}_vs_{y_name}"] = start
                found = source_classifier(dataset, src, classifier, device, log)
                if found is not None and dataset.labels is not None:  # the source carries classes: are they kept?
                    clf, fitted = found
                    targets = class_targets(clf, dataset, dataset.labels[picked])
                    kept, ceiling = class_kept(clf, translated, targets), class_kept(clf, source, targets)
                    if kept is not None and ceiling is not None:
                        results[f"class_kept/{direction}"] = kept
                        results[f"class_kept/{x_name}_vs_{y_name}"] = ceiling
                        classifiers[direction] = {"name": clf.name, "identity": clf.identity, "fitted_here": fitted,
                                                  "classes": clf.classes, "images": int((targets >= 0).sum())}
        else:  # CoGAN: pairs of seeds, each half against its domain
            pairs = generate(G, latents_for_seeds(range(n), cfg.latent_dim))  # the seeds evaluate uses
            r = cfg.resolution
            for d, half in enumerate((pairs[:, :, :r], pairs[:, :, r:])):
                real = _domain_sample(dataset, d, n, seed + d)
                for k, v in _distances(real, np.ascontiguousarray(half), metrics, extractor, device, seed, log).items():
                    results[f"{k}/{'ab'[d]}"] = v
    run_dir = Path(run) if Path(run).is_dir() else None
    record = {
        "metrics": results,
        "source": {"run": str(run_dir or ckpt), "checkpoint": str(ckpt), "step": state.get("step"),
                   "family": cfg.family},
        "data": {"path": str(dataset.path), "sha256": dataset.sha256, "domains": names},
        "n": n,
        "features": None if extractor is None else
        {"name": extractor.name, "identity": extractor.identity, "protocol": extractor.protocol},
        **({"classifiers": classifiers} if classifiers else {}),
        "seconds": round(time.time() - t0, 2),
        "ganforge_version": __version__,
    }
    out = Path(out) if out else (RunDir(run_dir).evaluation if run_dir else ckpt.with_suffix(".evaluation.json"))
    write_json_atomic(out, record)
    record["written_to"] = str(out)
    return record
