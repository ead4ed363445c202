"""Improved precision and recall (Kynkäänniemi et al. 2019), k = 3.

Each set's manifold is the union of balls around its points, each ball reaching that point's
k-th nearest neighbour in the same set. Precision: the fraction of generated samples inside
the real manifold (fidelity); recall: the fraction of real samples inside the generated
manifold (coverage). Distances are computed in chunks on torch, so 10k × 10k fits in memory.
"""

from __future__ import annotations

import numpy as np
import torch

from ganforge.metrics.registry import EvalContext, register


def pairwise_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # |a|² + |b|² - 2ab, in float64 so near-duplicates are not lost to cancellation.
    d2 = (a * a).sum(1, keepdim=True) + (b * b).sum(1)[None] - 2 * a @ b.T
    return d2.clamp_min_(0).sqrt_()


def knn_radii(x: torch.Tensor, k: int, chunk: int = 1024) -> torch.Tensor:
    """Distance from each point to its k-th nearest *other* point in the same set (N,)."""
    radii = []
    for i in range(0, len(x), chunk):
        d = pairwise_distances(x[i:i + chunk], x)
        radii.append(d.kthvalue(k + 1, dim=1).values)  # the smallest (k+1)-th counts the point itself
    return torch.cat(radii)


def coverage(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, chunk: int = 1024) -> float:
    """Fraction of ``points`` inside at least one ball (centre, radius)."""
    inside = []
    for i in range(0, len(points), chunk):
        d = pairwise_distances(points[i:i + chunk], centres)
        inside.append((d <= radii[None]).any(dim=1))
    return float(torch.cat(inside).double().mean())


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3,
                     device: str | torch.device = "cpu") -> tuple[float, float]:
    """(precision, recall) of generated features ``fake`` against ``real``, both (N, F); float64 on ``device``."""
    r = torch.as_tensor(np.asarray(real), dtype=torch.float64, device=device)
    f = torch.as_tensor(np.asarray(fake), dtype=torch.float64, device=device)
    if min(len(r), len(f)) <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} samples per set")
    precision = coverage(f, r, knn_radii(r, k))
    recall = coverage(r, f, knn_radii(f, k))
    return precision, recall


@register("pr", uses_features=True, score=lambda v: -(v["precision"] + v["recall"]) / 2,
          help="precision (fidelity) and recall (coverage), k=3 (higher is better)")
def _pr(ctx: EvalContext) -> dict:
    p, r = precision_recall(ctx.real_features, ctx.fake_features, device=ctx.device)
    return {"precision": p, "recall": r}
