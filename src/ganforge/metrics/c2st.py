"""Classifier two-sample test (Lopez-Paz & Oquab 2017) on pixels.

Train a small CNN to tell real from generated images on half of each set and report its
accuracy on the other, held-out half. Under the null hypothesis (one distribution) the
held-out accuracy is Binomial(n, ½)/n, so the one-sided binomial p-value says how likely
an accuracy this high is by chance. About 50 % means the classifier cannot tell them
apart; near 100 % means it always can. Needs no downloaded weights.

Two things keep the classifier from failing silently on small sets, where it once scored
exactly 50 % on Fashion-MNIST against uniform noise: it trains for at least ``MIN_STEPS``
optimiser steps however few images there are, and its BatchNorm statistics are recomputed
on the training half before it is tested (``domain.recalibrate_batch_norm``): the running
averages of a few steps left it answering one class for every image. Sets with fewer than
``MIN_PER_SIDE`` images are refused.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.special import betainc

from ganforge.metrics.domain import (
    SmallCNN,
    predict,
    recalibrate_batch_norm,
    train_classifier,
)
from ganforge.metrics.registry import EvalContext, register

MIN_PER_SIDE = 20   # images per set: 10 to train on and 10 to test, where 16 of 20 right gives p = 0.006
MAX_PER_SIDE = 2500  # images per set used by the registered metric (half train, half test): under the
#                     null the held-out accuracy then has a std of 1 %
MIN_STEPS = 50      # optimiser steps however small the sets: 5 epochs of 20 images are 5 steps
STOP_LOSS = 0.01    # training stops early once its loss is below this: the sets are told apart already
# The classifier's width: 8 trains 2.2x faster than 16 on 64 px images with about the same power (it
# told real 64 px faces from the same faces plus noise of std 6, or half-blurred, at held-out
# accuracies 0.996 and 0.901 against 0.998 and 0.920 for 16, from 1,000 images per set); the full-size
# first stage stays: downsampling 2x first (strided or space-to-depth) dropped the noise case to 0.55.


def binomial_p_value(correct: int, n: int) -> float:
    """P(X >= correct) for X ~ Binomial(n, ½): the chance of doing this well by guessing.

    Through the identity P(X >= k) = I_½(k, n - k + 1) (regularised incomplete beta), which keeps
    its relative precision far into the tail; scipy.special, not scipy.stats (1.7 s to import).
    """
    if not n:
        return math.nan
    return 1.0 if correct <= 0 else float(betainc(correct, n - correct + 1, 0.5))


def classifier_two_sample_test(a: np.ndarray, b: np.ndarray, *, epochs: float = 5, width: int = 8, seed: int = 0,
                               device: str | torch.device = "cpu", log=None) -> dict:
    """Test uint8 (N, H, W, C) sets ``a`` and ``b`` of one shape; returns
    {"accuracy", "p_value", "n_test", "n_train"}. Uses equally many images of each set, at least
    ``MIN_PER_SIDE``. ``log``: a stream for progress lines."""
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"the two sets differ in shape: {a.shape[1:]} vs {b.shape[1:]}")
    m = min(len(a), len(b))
    if m < MIN_PER_SIDE:
        raise ValueError(f"the two-sample test needs at least {MIN_PER_SIDE} images per set, not {m}: half of each "
                         "set trains the classifier and the other half tests it, and fewer cannot decide")
    rng = np.random.default_rng(seed)
    ia, ib = rng.permutation(len(a))[:m], rng.permutation(len(b))[:m]
    half = m // 2
    train_x = np.concatenate([a[np.sort(ia[:half])], b[np.sort(ib[:half])]])
    train_y = np.concatenate([np.zeros(half, np.int64), np.ones(half, np.int64)])
    test_x = np.concatenate([a[np.sort(ia[half:])], b[np.sort(ib[half:])]])
    test_y = np.concatenate([np.zeros(m - half, np.int64), np.ones(m - half, np.int64)])
    net = SmallCNN(a.shape[-1], 2, width=width, feature_dim=4 * width)
    train_classifier(net, train_x, train_y, epochs=epochs, batch_size=min(64, len(train_x)), seed=seed,
                     device=device, min_steps=MIN_STEPS, stop_loss=STOP_LOSS, log=log, what="c2st: ")
    recalibrate_batch_norm(net, train_x, seed=seed, device=device)
    _, logits = predict(net, test_x, device=device)
    correct = int((logits.argmax(1) == test_y).sum())
    return {"accuracy": correct / len(test_y), "p_value": binomial_p_value(correct, len(test_y)),
            "n_test": len(test_y), "n_train": len(train_y)}


@register("c2st", uses_features=False, pixels=True, score=lambda v: abs(v["c2st_acc"] - 0.5),
          help="classifier two-sample test on pixels: held-out accuracy (50% = indistinguishable) and p-value")
def _c2st(ctx: EvalContext) -> dict:
    r = classifier_two_sample_test(ctx.real_images[:MAX_PER_SIDE], ctx.fake_images[:MAX_PER_SIDE],
                                   seed=ctx.seed, device=ctx.device, log=ctx.log)
    return {"c2st_acc[pixels]": r["accuracy"], "c2st_p[pixels]": r["p_value"]}
