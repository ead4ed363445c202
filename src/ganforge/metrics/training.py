"""Evaluation during training: ``--eval-every N --eval-metric NAME[EXTRACTOR]``.

``EvalHook`` is appended to ``Trainer.hooks``. Every N steps it generates ``eval_n`` images
(seeds 0..n-1, so every evaluation sees the same latents), computes the metric against the
training data set, appends a record to ``RUN/metrics.jsonl``, redraws ``RUN/metrics.png``
beside ``loss.png``, and saves ``checkpoints/best.pt`` (+ ``best.json``) when the metric
improves. It runs under a forked RNG and outside the timed part of the step, so a run with
evaluation trains exactly like one without.

``metrics.jsonl`` records look like ``{"step": 500, "time": 61.2, "n": 2000,
"fid[inception]": 41.3}`` (other keys of the metric, e.g. ``kid_std[...]``, too).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from ganforge.checkpoint import save_checkpoint
from ganforge.errors import ConfigError, GanforgeError
from ganforge.metrics.evaluate import evaluate_images, generate_images
from ganforge.metrics.features import load_extractor
from ganforge.metrics.registry import METRICS, metric_score
from ganforge.metrics.report import plot_metric_curves
from ganforge.runs import RunDir, read_jsonl, truncate_jsonl
from ganforge.utils import STDERR, write_json_atomic


def parse_metric_spec(spec: str) -> tuple[str, str | None]:
    """"fid" -> ("fid", "inception"); "fid[fashion-mnist-cnn]" -> ("fid", "fashion-mnist-cnn");
    "c2st" -> ("c2st", None). Raises ConfigError for unknown metrics or ones that cannot rank."""
    name, _, rest = spec.partition("[")
    extractor = rest[:-1] if rest.endswith("]") else (rest or None)
    if name not in METRICS:
        raise ConfigError(f"unknown --eval-metric {name!r}; choose from: {', '.join(METRICS)}")
    if METRICS[name].score is None:
        raise ConfigError(f"{name} is not a quality measure ({METRICS[name].help}); it cannot pick the best "
                          "checkpoint")
    if METRICS[name].uses_features:
        return name, extractor or "inception"
    if extractor:
        raise ConfigError(f"{name} does not use a feature extractor; drop [{extractor}]")
    return name, None


def read_metrics(run_dir: str | Path) -> list[dict]:
    """The records of a run's metrics.jsonl (empty when it has none)."""
    return read_jsonl(RunDir(run_dir).metrics)


class EvalHook:
    def __init__(self, trainer, out=STDERR):
        cfg = trainer.cfg
        self.every, self.n = cfg.eval_every, cfg.eval_n
        self.name, features = parse_metric_spec(cfg.eval_metric)
        self.out = out
        self.extractor = None
        if features:
            # Loaded now, so missing weights stop the run before it trains, not after an hour.
            self.extractor = load_extractor(features, trainer.runtime.device)
        run = trainer.run
        self.path = run.metrics
        self.plot = run.metrics_plot
        self.best_json = run.best_json
        self.best_ckpt = run.best_checkpoint
        self.best_score = float("inf")
        if trainer.is_main:
            truncate_jsonl(self.path, trainer.step)  # on resume, records past the checkpoint will be redone
            if self.best_json.is_file():
                try:
                    best = json.loads(self.best_json.read_text())
                    if best.get("metric") == cfg.eval_metric:
                        self.best_score = float(best["score"])
                except (OSError, ValueError, KeyError):
                    pass

    def __call__(self, trainer) -> None:
        if trainer.step % self.every:
            return
        rank_rngs = trainer.rank_rng_states()  # collective (every rank is here): a best.pt resumes like latest.pt
        if not trainer.is_main:
            return
        t0 = time.time()
        G = getattr(trainer, "G_ema", None) or trainer.G
        try:
            cuda = [trainer.runtime.device] if trainer.runtime.device.type == "cuda" else []
            with torch.random.fork_rng(devices=cuda):
                fake = generate_images(G, trainer.model_cfg, self.n)
                values = evaluate_images(fake, trainer.data, [self.name], extractor=self.extractor,
                                         device=trainer.runtime.device)
        except (GanforgeError, ValueError, RuntimeError) as e:
            # A failed evaluation (too few images, out of memory...) must not end hours of training.
            print(f"\nganforge: warning: evaluation at step {trainer.step} failed: {str(e).splitlines()[0]}",
                  file=self.out, flush=True)
            return
        record = {"step": trainer.step, "time": round(trainer.elapsed, 3), "n": self.n, **values}
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        trainer.logger.scalars(trainer.step, values, "eval/")
        score = metric_score(self.name, values)
        improved = score < self.best_score
        if improved:
            self.best_score = score
            save_checkpoint(self.best_ckpt, trainer.state_dict(rank_rngs))
            write_json_atomic(self.best_json, {"metric": trainer.cfg.eval_metric, "step": trainer.step,
                                               "score": score, "values": values})
        plot_metric_curves({"": read_jsonl(self.path)}, self.plot)
        shown = ", ".join(f"{k} {v:.4g}" for k, v in values.items())
        print(f"\nganforge: step {trainer.step}: {shown} ({time.time() - t0:.1f} s)"
              + ("; new best checkpoint" if improved else ""), file=self.out, flush=True)
