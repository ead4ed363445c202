"""Data-parallel training on PyTorch's own engine: process groups from torchrun, DDP, synchronised BN.

``torchrun --nproc-per-node N [--nnodes M ...] -m ganforge train ...`` starts N×M copies of
ganforge with ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``/``MASTER_PORT`` set;
``init_from_env`` joins them into one process group (gloo on CPU, NCCL on CUDA, each
process on GPU ``LOCAL_RANK``). Every rank draws the same global batch of images and
latents and keeps its slice (see ``BatchLoader`` and ``Trainer.sample_z``), so N processes
with batch B/N compute the gradient of one process with batch B.

Batch norm normalises with per-process statistics unless synchronised (``--sync-bn``):
on CUDA with ``torch.nn.SyncBatchNorm``; on CPU, where PyTorch's SyncBatchNorm refuses
to run, with ``GlobalBatchNorm2d`` below (statistics summed by a differentiable
all-reduce, so gradients are those of one big batch).
"""

from __future__ import annotations

import datetime
import os
import sys
from dataclasses import dataclass
from typing import NoReturn

import torch
import torch.distributed as dist
import torch.nn as nn


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    enabled: bool = False  # started by torchrun (even with one process: the same code path, DDP included)


def env_info() -> DistInfo:
    """What torchrun put in the environment (a single plain process when nothing is set)."""
    return DistInfo(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                    int(os.environ.get("LOCAL_RANK", 0)), "WORLD_SIZE" in os.environ)


def is_on() -> bool:
    return dist.is_available() and dist.is_initialized()


def init_from_env(device: str = "auto") -> tuple[DistInfo, str]:
    """Join the process group torchrun describes; returns (info, device name for this rank).

    ``device`` is the user's choice (auto | cpu | cuda | cuda:N); under torchrun a CUDA
    device becomes ``cuda:LOCAL_RANK`` so each process drives its own GPU.
    """
    info = env_info()
    if not info.enabled:
        return info, device
    use_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if use_cuda:
        torch.cuda.set_device(info.local_rank)
        device = f"cuda:{info.local_rank}"
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo", timeout=datetime.timedelta(minutes=30))
    return info, device


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def exit_worker(code: int) -> NoReturn:
    """End a torchrun worker whose work is done, skipping the interpreter's teardown.

    About one finished 2-process CPU run in 50 had a rank abort while the process exited
    ("terminate called without an active exception", exit code -6: a C++ thread of the Gloo/
    c10d machinery destroyed while still running), after the process group was destroyed and
    every file was written, so torchrun reported a failed job for a run that had succeeded.
    Nothing is left to clean up by then, so the worker flushes its output and leaves at once.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def any_true(flag: bool, device: torch.device) -> bool:
    """True on every rank when ``flag`` is true on any rank (a no-op in a single process)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def gather_objects(obj) -> list:
    """``[obj of rank 0, obj of rank 1, ...]`` on every rank: one collective call that every rank
    must make (``[obj]`` in a single process). For small picklable things such as RNG states."""
    if not is_on() or dist.get_world_size() == 1:
        return [obj]
    out: list = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def mean_over_ranks(stats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Average 0-d statistics over processes (one all-reduce), so logs describe the global batch."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1 or not stats:
        return stats
    keys = list(stats)  # the same order on every rank
    values = torch.stack([stats[k].detach().float().reshape(()) for k in keys])
    dist.all_reduce(values)
    values /= dist.get_world_size()
    return dict(zip(keys, values.unbind()))


class _AllReduceSum(torch.autograd.Function):
    """Sum over processes; its gradient is the sum of every process's upstream gradient."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics cover the batch of every process (any backend, CPU too).

    Sums of x and x² over (N, H, W) are all-reduced by a differentiable all-reduce, so the backward pass is that of
    batch norm on the global batch.
    Same parameters and buffers as nn.BatchNorm2d: checkpoints move freely between the two.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        xf = x.float()
        local = torch.stack([xf.sum((0, 2, 3)), xf.square().sum((0, 2, 3))])        # (2, C)
        count = torch.tensor([float(x.shape[0] * x.shape[2] * x.shape[3])], device=x.device)
        sums = _AllReduceSum.apply(local)
        dist.all_reduce(count)
        n = count.item()
        mean = sums[0] / n
        var = (sums[1] / n - mean.square()).clamp_min(0)                           # biased, as BN normalises
        if self.track_running_stats:
            with torch.no_grad():
                # track_running_stats: BatchNorm made these buffers (its stub types them optional)
                assert self.num_batches_tracked is not None and self.running_mean is not None
                assert self.running_var is not None
                self.num_batches_tracked.add_(1)
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.lerp_(mean.detach(), m)
                self.running_var.lerp_(var.detach() * n / max(n - 1, 1), m)      # unbiased, as BN stores
        y = (xf - mean.view(1, -1, 1, 1)) * torch.rsqrt(var.view(1, -1, 1, 1) + self.eps)
        if self.affine:
            y = y * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        return y.to(x.dtype)


def convert_sync_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """Every BatchNorm2d becomes a synchronised one (torch's SyncBatchNorm on CUDA, GlobalBatchNorm2d elsewhere)."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    for name, child in module.named_children():
        if type(child) is nn.BatchNorm2d:
            new = GlobalBatchNorm2d(child.num_features, child.eps, child.momentum, child.affine,
                                    child.track_running_stats)
            new.load_state_dict(child.state_dict())
            new.to(next(iter(child.state_dict().values())).device)
            setattr(module, name, new)
        else:
            convert_sync_batchnorm(child, device)
    return module


def wrap_ddp(module: nn.Module, device: torch.device, find_unused_parameters: bool = False) -> nn.Module:
    """DistributedDataParallel on this rank's device; parameters are broadcast from rank 0 here.
    ``find_unused_parameters``: some updates leave parameters without gradients (a frozen part)."""
    ids = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids, find_unused_parameters=find_unused_parameters)


def unwrap(module: nn.Module) -> nn.Module:
    return module.module if isinstance(module, nn.parallel.DistributedDataParallel) else module

