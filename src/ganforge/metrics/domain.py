"""Domain feature extractors: a small CNN classifier trained on a labelled data set.

Inception features mean little for 32×32 grey garments, and they need a downloaded
file. A classifier trained on the data set's own labels gives features that capture
what distinguishes its classes; FID/KID/precision/recall on its penultimate layer are
always reported with its name (``fid[fashion-mnist-cnn]``), since they are comparable
only between evaluations that used the very same extractor file.

The file is a plain dict of tensors and values (loads with ``weights_only=True``)::

    format, version   "ganforge-extractor", 1
    name              e.g. "fashion-mnist-cnn"
    arch              {"channels", "resolution", "num_classes", "width", "feature_dim"}
    state_dict        the network's weights
    classes           class names of the data set
    domain            the domain (A or B) of a two-domain set it was fitted on alone, or None
    data              {"path", "sha256", "count"} of the data set it was trained on
    val_accuracy      accuracy on the held-out 10 % of that data set
"""

from __future__ import annotations

import math
import pickle
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ganforge.checkpoint import save_torch_file
from ganforge.data.dataset import load_dataset
from ganforge.device import resolve_device
from ganforge.errors import ConfigError, DataError, GanforgeError
from ganforge.paths import cache_dir
from ganforge.progress import Task
from ganforge.sampling import from_uint8
from ganforge.utils import STDERR

FORMAT = "ganforge-extractor"
VERSION = 1


class ExtractorError(GanforgeError):
    """A feature-extractor file that is missing, unreadable or does not fit the images."""


class SmallCNN(nn.Module):
    """Three conv stages (width, 2·width, 4·width channels; each two 3×3 convs + BN + ReLU, then 2×2
    max pool), global average pool, a ``feature_dim`` ReLU layer (the features) and a linear head.

    ``forward(x)`` takes float (N, C, R, R) in [-1, 1] and returns (features (N, feature_dim),
    logits (N, num_classes)). Also the classifier of the two-sample test (num_classes = 2).
    """

    def __init__(self, channels: int, num_classes: int, width: int = 32, feature_dim: int = 128):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = channels
        for c_out in (width, 2 * width, 4 * width):
            for _ in range(2):
                layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
                c_in = c_out
            layers.append(nn.MaxPool2d(2))
        self.body = nn.Sequential(*layers)
        self.feature = nn.Sequential(nn.Linear(c_in, feature_dim), nn.ReLU())
        self.head = nn.Linear(feature_dim, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.feature(self.body(x).mean(dim=(2, 3)))
        return f, self.head(f)


def to_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float in [-1, 1], the scale the generators produce."""
    return images.float().div(127.5).sub(1.0)


def train_classifier(net: nn.Module, images: np.ndarray, labels: np.ndarray, *, epochs: float, batch_size: int = 128,
                     lr: float = 2e-3, seed: int = 0, device: torch.device | str = "cpu", min_steps: int = 1,
                     stop_loss: float | None = None, log=None, what: str = "") -> nn.Module:
    """Train ``net`` (a SmallCNN) with Adam and cross-entropy on uint8 (N, H, W, C) images.

    ``epochs`` passes over the images, but at least ``min_steps`` optimiser steps (a small set
    gives only a few steps per epoch). ``stop_loss``: stop after ``min_steps`` once the training
    loss (a moving average over about ten steps) is below it, as the classes are then told apart
    already. Draws all randomness from its own generator, so it leaves torch's global RNG
    untouched (evaluation during training must not change the training run). Prints progress to
    ``log`` about every tenth of the steps. Returns ``net`` in eval mode.
    """
    device = torch.device(device)
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the weight init
        for m in net.modules():
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()  # type: ignore[operator]  # hasattr above
    net.to(device).train()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    n = len(images)
    batch_size = min(batch_size, n)
    steps_per_epoch = max(1, n // batch_size)
    total = max(1, min_steps, int(round(epochs * steps_per_epoch)))
    warm = max(1, total // 10)  # linear warm-up, then cosine decay to 0: robust at any number of steps
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    y_all = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    step, smooth, done = 0, None, False
    shown = Task(what.rstrip(": ") or "fit", total, "steps", stream=log, enabled=bool(log))
    while step < total and not done:
        order = torch.randperm(n, generator=g)
        for i in range(steps_per_epoch):
            if step >= total or done:
                break
            idx = order[i * batch_size:(i + 1) * batch_size].sort().values.numpy()
            x = from_uint8(images[idx], device)
            y = y_all[idx].to(device)
            loss = F.cross_entropy(net(x)[1], y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            smooth = loss.item() if smooth is None else 0.9 * smooth + 0.1 * loss.item()
            done = stop_loss is not None and step >= min_steps and smooth < stop_loss
            shown.update(step, loss=smooth)
    shown.close()
    if log and done:
        print(f"  {what}stopped at step {step}: the training loss is below {stop_loss:g}", file=log, flush=True)
    return net.eval()


@torch.no_grad()
def recalibrate_batch_norm(net: nn.Module, images: np.ndarray, *, batch_size: int = 128, seed: int = 0,
                           device="cpu") -> nn.Module:
    """Set every BatchNorm layer's running mean and variance to their averages over ``images``.

    In eval mode BatchNorm normalises with running averages (momentum 0.1) that lag the weights;
    after the few steps a small training set gives they are far off, and a classifier can then
    answer one class for every image. Recomputing them with the final weights is "precise BN"
    (Wu & Johnson 2021, "Rethinking 'Batch' in BatchNorm"). The images go in a fixed random order:
    a batch of one class only would miss the variance between the classes. Returns ``net`` in
    eval mode.
    """
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a plain average over the batches below
    net.train()
    order = np.random.default_rng(seed).permutation(len(images))
    for i in range(0, len(images), batch_size):
        idx = np.sort(order[i:i + batch_size])
        net(from_uint8(images[idx], device))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    return net.eval()


@torch.no_grad()
def predict(net: nn.Module, images: np.ndarray, *, batch_size: int = 256,
            device="cpu") -> tuple[np.ndarray, np.ndarray]:
    """(features (N, F) float32, logits (N, K) float32) of uint8 (N, H, W, C) images."""
    feats, logits = [], []
    for i in range(0, len(images), batch_size):
        f, lg = net(from_uint8(images[i:i + batch_size], device))
        feats.append(f.float().cpu())
        logits.append(lg.float().cpu())
    return torch.cat(feats).numpy(), torch.cat(logits).numpy()


def domains_as_classes(data):
    """A two-domain data set whose labels are its domains (A = 0, B = 1, named as the domains): an extractor
    fitted on it tells the domains apart, and its class probabilities say which domain an image looks like."""
    labels = np.full(len(data), -1, dtype=np.int64)
    for d in range(2):
        labels[data.domain_indices(d)] = d
    return replace(data, labels=labels, info={**data.info, "classes": [d["name"] for d in data.domains]})


def domain_number(data, domain: str) -> int:
    """0 or 1 for a two-domain data set's domain given as A, B or its name; a one-line error otherwise."""
    if not data.domains:
        raise DataError(f"{data.path.name} holds one domain; --domain is for a two-domain data set")
    for d, entry in enumerate(data.domains):
        if domain in (entry.get("key"), entry.get("name")):
            return d
    names = ", ".join(f"{e.get('key')} ({e.get('name')})" for e in data.domains)
    raise DataError(f"{data.path.name} has no domain {domain!r}; its domains are {names}")


def fit_extractor(data_path: str | Path, out: str | Path | None = None, *, name: str | None = None,
                  epochs: float = 3, width: int = 32, feature_dim: int = 128, batch_size: int = 128,
                  max_images: int | None = None, seed: int = 0, device: str = "auto", domain: str | None = None,
                  min_steps: int = 1, stop_loss: float | None = None, log=STDERR) -> Path:
    """Train a SmallCNN on a labelled ganforge data set and save it; returns the file's path.

    10 % of the images (a fixed random split) are held out and the accuracy on them is saved
    in the file and printed, so a user sees whether the features mean anything. A two-domain set
    without classes is fitted on its domains (they are the classes); ``domain`` (A, B or its name)
    fits on that domain's own labelled images only (a classifier of the source domain's classes, for
    ``evaluate``'s class preservation). ``min_steps`` and ``stop_loss``: as in ``train_classifier``
    (a small set gives few steps per epoch); with ``min_steps`` > 1 the batch-norm statistics are
    recomputed with the final weights (``recalibrate_batch_norm``).
    """
    data = load_dataset(data_path)
    only = None if domain is None else domain_number(data, domain)
    key = None if only is None else str((data.domains or [])[only]["key"])  # "A" or "B"
    if only is None and data.domains and (data.labels is None or len(data.classes or ()) < 2):
        data = domains_as_classes(data)  # its domains are the classes
    if data.labels is None or not data.classes or len(data.classes) < 2:
        raise DataError(f"{data_path} has no class labels; prepare it with labels (e.g. --labels subfolders, "
                        "or the built-in fashion-mnist) to fit a feature extractor")
    if epochs <= 0 or width < 1 or feature_dim < 1:
        raise ConfigError("epochs, width and feature dim must be positive")
    dev = resolve_device(device)
    labels = np.asarray(data.labels)
    if only is not None:  # the other domain's images are not this classifier's business
        labels = np.where(np.isin(np.arange(len(labels)), data.domain_indices(only)), labels, -1)
        if len(set(labels[labels >= 0].tolist())) < 2:
            raise DataError(f"domain {key} of {data_path} carries fewer than two classes; "
                            "prepare it with labels (--labels subfolders) to fit a classifier of its classes")
    keep = np.flatnonzero(labels >= 0)
    rng = np.random.default_rng(seed)
    keep = rng.permutation(keep)
    if max_images:
        keep = keep[:max_images]
    n_val = max(1, len(keep) // 10)
    val_idx, train_idx = np.sort(keep[:n_val]), np.sort(keep[n_val:])
    if len(train_idx) < 2:
        raise DataError(f"{data_path} has too few labelled images to fit a classifier")
    name = name or f"{Path(data_path).stem}{'' if key is None else '-' + key}-cnn"
    if not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise ConfigError(f"extractor name {name!r} may hold only letters, digits, '-', '_' and '.'")
    out = Path(out) if out else cache_dir("extractors") / f"{name}.pt"
    arch = {"channels": data.channels, "resolution": data.resolution, "num_classes": len(data.classes),
            "width": width, "feature_dim": feature_dim}
    net = SmallCNN(data.channels, len(data.classes), width, feature_dim)
    log and print(f"ganforge: fitting {name} on {len(train_idx)} images of {data_path} ({len(data.classes)} classes), "
          f"{epochs} epochs on {dev}", file=log, flush=True)
    train_classifier(net, data.images[train_idx], labels[train_idx], epochs=epochs, batch_size=batch_size,
                     seed=seed, device=dev, log=log, what="features fit: ", min_steps=min_steps, stop_loss=stop_loss)
    if min_steps > 1:
        recalibrate_batch_norm(net, data.images[train_idx], batch_size=batch_size, seed=seed, device=dev)
    _, logits = predict(net, data.images[val_idx], device=dev)
    acc = float((logits.argmax(1) == labels[val_idx]).mean())
    log and print(f"ganforge: held-out accuracy {acc:.4f} on {len(val_idx)} images", file=log, flush=True)
    state = {"format": FORMAT, "version": VERSION, "name": name, "arch": arch,
             "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
             "classes": list(data.classes), "val_accuracy": acc, "epochs": epochs,
             "data": {"path": str(data.path), "sha256": data.sha256, "count": len(data)},
             "domain": key}
    save_torch_file(out, state)  # the same bytes for the same fit: the file's SHA-256 is the identity
    return out


def find_extractor_file(spec: str) -> Path:
    """A path to an extractor file, or the name of one saved in the cache by ``features fit``."""
    p = Path(spec).expanduser()
    if p.is_file():
        return p
    cached = cache_dir("extractors") / f"{spec}.pt"
    if cached.is_file():
        return cached
    known = sorted(q.stem for q in cache_dir("extractors").glob("*.pt"))
    raise ExtractorError(f"no feature extractor {spec!r}: not a file, nor a name in the cache "
                         f"({', '.join(known) or 'none yet'}); make one with: ganforge features fit --data DATASET")


def load_extractor_file(path: str | Path) -> dict:
    """The saved dict, checked; never unpickles code."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as e:
        raise ExtractorError(f"{path} is not a readable feature extractor "
                             f"({str(e).strip().splitlines()[0][:120]})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ExtractorError(f"{path} is not a ganforge feature extractor (make one with: ganforge features fit)")
    if int(state.get("version", 0)) > VERSION:
        raise ExtractorError(f"{path} was written by a newer ganforge; upgrade ganforge")
    return state


def build_from_state(state: dict) -> SmallCNN:
    a = state["arch"]
    net = SmallCNN(a["channels"], a["num_classes"], a["width"], a["feature_dim"])
    net.load_state_dict(state["state_dict"])
    return net.eval().requires_grad_(False)

