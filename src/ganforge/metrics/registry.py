"""The metric registry and what a metric is computed from.

A metric is a function ``fn(ctx: EvalContext) -> dict[str, float]`` registered by name with
``@register(name, ...)``. Metrics that work on extractor features return bare keys ("fid")
that the registry suffixes with the extractor's name ("fid[inception]"); the others return
their full keys ("c2st_acc[pixels]", "d_acc[diagnostic]"). ``score`` turns a result into one
number where lower is better, used to keep the ``best`` checkpoint during training.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ganforge.errors import ConfigError


@dataclass
class EvalContext:
    """Real and generated images (uint8 (N, H, W, C)) and what is derived from them, computed once.

    ``real_features`` come from the reference cache (``reference.reference_features``) when
    the caller passes a loader for them; generated features are computed on first use.
    """

    real_images: np.ndarray
    fake_images: np.ndarray
    extractor: object | None = None            # features.FeatureExtractor
    real_features_fn: Callable[[], np.ndarray] | None = None
    discriminator: object | None = None        # the run's D, for the diagnostic
    device: str = "cpu"
    seed: int = 0
    log: object | None = None                  # a stream for progress lines of long metrics
    _cache: dict = field(default_factory=dict)

    def need_extractor(self, metric: str):
        if self.extractor is None:
            raise ConfigError(f"{metric} needs a feature extractor (--features inception|NAME|PATH)")
        return self.extractor

    @property
    def real_features(self) -> np.ndarray:
        if "real" not in self._cache:
            if self.real_features_fn is not None:
                self._cache["real"] = self.real_features_fn()
            else:
                self._cache["real"] = self.need_extractor("this metric").extract(self.real_images, log=self.log)[0]
        return self._cache["real"]

    def _fake(self) -> tuple[np.ndarray, np.ndarray]:
        if "fake" not in self._cache:
            self._cache["fake"] = self.need_extractor("this metric").extract(self.fake_images, log=self.log)
        return self._cache["fake"]

    @property
    def fake_features(self) -> np.ndarray:
        return self._fake()[0]

    @property
    def fake_probs(self) -> np.ndarray:
        return self._fake()[1]


@dataclass
class Metric:
    name: str
    fn: Callable[[EvalContext], dict]
    uses_features: bool            # keys get the extractor's name appended
    score: Callable[[dict], float] | None  # lower is better, for the best checkpoint; None: it cannot rank runs
    help: str
    pixels: bool = False                 # compares images pixel for pixel: real and generated must match in shape
    needs_discriminator: bool = False    # reads the run's discriminator (so it cannot judge a folder of images)


METRICS: dict[str, Metric] = {}


def register(name: str, *, uses_features: bool, score: Callable[[dict], float] | None, help: str,
             pixels: bool = False, needs_discriminator: bool = False):
    def wrap(fn):
        METRICS[name] = Metric(name, fn, uses_features, score, help, pixels, needs_discriminator)
        return fn
    return wrap


def parse_metrics(text: str) -> list[str]:
    """"fid,kid" -> ["fid", "kid"], each checked against the registry."""
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise ConfigError("no metrics given")
    for n in names:
        if n not in METRICS:
            raise ConfigError(f"unknown metric {n!r}; choose from: {', '.join(METRICS)}")
    return names


def compute(name: str, ctx: EvalContext) -> dict[str, float]:
    """Run one registered metric; keys carry the extractor's name where features were used."""
    metric = METRICS[name]
    values = metric.fn(ctx)
    if metric.uses_features:
        ext = ctx.need_extractor(name).name
        values = {f"{k}[{ext}]": v for k, v in values.items()}
    return {k: float(v) for k, v in values.items()}


def metric_score(name: str, values: dict) -> float:
    """The metric's one number, lower is better, from keys with or without the extractor suffix."""
    score = METRICS[name].score
    if score is None:
        raise ValueError(f"{name} is not a quality measure ({METRICS[name].help})")
    bare = {k.split("[", 1)[0]: v for k, v in values.items()}
    return float(score(bare))
