"""Confidence intervals for rates (k successes in n trials), honest at small n.

The percentile bootstrap of a rate collapses to a point when every answer agrees (4 of 4
gives [1, 1]), claiming certainty from four answers. The Clopper–Pearson interval
(Clopper & Pearson 1934) inverts two one-sided binomial tests, so it covers the true rate
with at least the stated probability at every n: 4 of 4 gives [0.40, 1].
"""

from __future__ import annotations

from scipy.special import betaincinv


def clopper_pearson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """The exact (Clopper–Pearson) interval of a rate ``successes / n``; None when n is 0.

    Bounds are quantiles of Beta distributions: lower = Beta(k, n - k + 1) at α/2 (0 when
    k = 0), upper = Beta(k + 1, n - k) at 1 - α/2 (1 when k = n).
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in 0..n, not {successes} of {n}")
    if n == 0:
        return None
    alpha = 1 - confidence
    lower = 0.0 if successes == 0 else float(betaincinv(successes, n - successes + 1, alpha / 2))
    upper = 1.0 if successes == n else float(betaincinv(successes + 1, n - successes, 1 - alpha / 2))
    return lower, upper
