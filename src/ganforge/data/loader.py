"""Batches of real images for training: shuffled per epoch, resumable, shardable across processes.

The order is a pure function of (seed, epoch), so the loader's whole state is two
integers: resuming at (epoch, position) gives exactly the batches an uninterrupted
run would have seen. Under DDP every rank draws the same global batch indices and
keeps its own slice, so N processes with batch B/N see what one process with B sees.

``held_back=K`` keeps K images (evenly spaced through the data set, ``held_back_indices``) out of
every batch, for ``ganforge.health`` to compare D's scores on images it never trained on with
those on training images. The order is then a permutation of the other images; K = 0 is
bit-for-bit the loader without the option.

A two-domain data set is read by ``PairLoader``: one ``BatchLoader`` per domain over that
domain's images, each with its own shuffling stream, so a batch pairs images that are not
pairs (unpaired translation); its state is the two loaders' states.
"""

from __future__ import annotations

import numpy as np
import torch

from ganforge.data.dataset import Dataset
from ganforge.errors import DataError


class BatchLoader:
    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        *,
        seed: int = 0,
        device: torch.device | str = "cpu",
        rank: int = 0,
        world_size: int = 1,
        flip: bool = False,
        vflip: bool = False,
        channels_last: bool = False,
        held_back: int = 0,
        indices: np.ndarray | None = None,
        stream: int = 0,
    ):
        """``indices``: draw from these images of the data set only (one domain); ``stream``: which
        shuffling stream (0 is the one a plain data set has always had)."""
        if batch_size % world_size:
            raise DataError(f"batch size {batch_size} is not divisible by the {world_size} processes")
        if indices is not None and held_back:
            raise DataError("holding back images (--holdout) works on one-domain data sets only")
        if not 0 <= held_back < len(dataset):
            raise DataError(f"cannot hold back {held_back} of the data set's {len(dataset)} images")
        held = held_back_indices(len(dataset), held_back)
        # positions the order draws from -> image index (None: all images, index = position)
        self.kept: np.ndarray | None
        if indices is not None:  # one domain of a two-domain set
            self.kept = np.asarray(indices, dtype=np.int64)
        else:
            self.kept = np.setdiff1d(np.arange(len(dataset)), held) if held_back else None
        self.held_back = held
        n = len(dataset) if self.kept is None else len(self.kept)
        if n < batch_size:
            if indices is not None:
                what = f"domain {'AB'[stream] if stream < 2 else stream} has {n} images"
            else:
                what = f"the data set has {n} images" + (f" after holding back {held_back}" if held_back else "")
            raise DataError(f"{what}, fewer than the batch size {batch_size}")
        self.dataset = dataset
        self.stream = stream
        self.batch_size = batch_size            # global batch
        self.local_batch = batch_size // world_size
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.device = torch.device(device)
        self.flip, self.vflip = flip, vflip
        self.channels_last = channels_last
        self.epoch = 0
        self.position = 0                       # batches already taken in this epoch
        self.batches_per_epoch = n // batch_size  # last partial batch dropped
        self._order: torch.Tensor | None = None
        self._flips: torch.Tensor | None = None
        self._vflips: torch.Tensor | None = None

    def _plan_epoch(self) -> None:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch + 7_919_000_001 * self.stream)
        n = len(self.dataset) if self.kept is None else len(self.kept)
        self._order = torch.randperm(n, generator=g)
        self._flips = torch.rand(n, generator=g) < 0.5
        self._vflips = torch.rand(n, generator=g) < 0.5  # drawn after: horizontal flips unchanged

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self._order = None

    def __iter__(self):
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(images float (B_local, C, H, W) in [-1, 1] on the device, labels (B_local,) or None)."""
        if self.position >= self.batches_per_epoch:
            self.epoch += 1
            self.position = 0
            self._order = None
        if self._order is None:
            self._plan_epoch()
        assert self._order is not None and self._flips is not None and self._vflips is not None  # planned above
        start = self.position * self.batch_size + self.rank * self.local_batch
        pos = self._order[start : start + self.local_batch]
        idx = pos if self.kept is None else torch.from_numpy(self.kept[pos.numpy()])
        self.position += 1
        sorted_idx, where = torch.sort(idx)  # sorted reads are faster on memory-mapped arrays
        rows = torch.from_numpy(np.ascontiguousarray(self.dataset.images[sorted_idx.numpy()]))
        batch = torch.empty_like(rows)
        batch[where] = rows  # back to the planned order: batch[i] is image idx[i]
        if self.flip:
            f = self._flips[pos]
            batch[f] = batch[f].flip(2)  # (B, H, W, C): axis 2 is width
        if self.vflip:
            f = self._vflips[pos]
            batch[f] = batch[f].flip(1)  # axis 1 is height
        x = batch.to(self.device, non_blocking=True).permute(0, 3, 1, 2)  # NHWC storage -> NCHW view
        # uint8 -> float and the layout change in one copy straight into the requested memory
        # format, then scale in place: 2-4x faster on CPU than x.float().div_().sub_().contiguous()
        # (benchmarks/data_prepare.py measures the loader).
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        out = torch.empty(x.shape, dtype=torch.float32, device=x.device, memory_format=fmt)
        x = out.copy_(x).div_(127.5).sub_(1.0)  # the same arithmetic as before, bit for bit
        labels = None
        if self.dataset.labels is not None:
            labels = torch.from_numpy(self.dataset.labels[idx.numpy()]).to(self.device)
        return x, labels

    @property
    def epoch_progress(self) -> float:
        return self.epoch + self.position / self.batches_per_epoch


def held_back_indices(count: int, k: int) -> np.ndarray:
    """``k`` image indices spread evenly over ``count`` (sorted, distinct): a data set grouped by class
    or source folder gives up a few of each group, not one group's last images."""
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    return np.unique((np.arange(k) * count) // k + (count // (2 * k)))


class PairLoader:
    """Unpaired batches of a two-domain data set: ``next()`` gives (images (B_local, 2, C, H, W), labels).

    ``images[:, 0]`` are domain A's, ``images[:, 1]`` domain B's, drawn by two ``BatchLoader``s with
    their own shuffling (streams 0 and 1), so the i-th A and B images are unrelated. Stacking on
    dimension 1 keeps the batch dimension first: the trainer's micro-batches and DDP slices cut both
    domains alike. ``labels``: (B_local, 2) class ids when the set has classes, else None.
    """

    def __init__(self, dataset: Dataset, batch_size: int, **kwargs):
        kwargs.pop("channels_last", None)  # a 5-d batch has no channels-last layout; the models get 4-d slices
        self.dataset = dataset
        self.batch_size = batch_size
        self.held_back = np.zeros(0, dtype=np.int64)  # --holdout is refused for two-domain sets
        self.domains = [BatchLoader(dataset, batch_size, indices=dataset.domain_indices(d), stream=d, **kwargs)
                        for d in range(2)]

    def state_dict(self) -> dict:
        return {"A": self.domains[0].state_dict(), "B": self.domains[1].state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.domains[0].load_state_dict(state["A"])
        self.domains[1].load_state_dict(state["B"])

    def __iter__(self):
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        (a, la), (b, lb) = next(self.domains[0]), next(self.domains[1])
        # one data set's two domains: both have labels or neither has
        labels = None if la is None or lb is None else torch.stack([la, lb], 1)
        return torch.stack([a, b], 1), labels

    @property
    def epoch_progress(self) -> float:
        """Passes over the larger domain (the smaller one is seen more often), as CycleGAN counts epochs."""
        return min(d.epoch_progress for d in self.domains)


def make_loader(dataset: Dataset, batch_size: int, **kwargs) -> BatchLoader | PairLoader:
    """The loader a data set needs: ``PairLoader`` for a two-domain set, else ``BatchLoader``."""
    return PairLoader(dataset, batch_size, **kwargs) if dataset.domains else BatchLoader(dataset, batch_size, **kwargs)
