"""Run health: a training run watches itself and says, with the usual remedy, when it is going wrong.

Four detectors, each cheap and run where the numbers already are:

- **mode collapse** (at every sample grid): the structural diversity of the fixed-latent samples
  (1 - SSIM averaged over all pairs, in grey at 16 px; ``diversity``) against the same measure on
  evenly spaced images of the data set, taken once at start. Samples far less diverse than the
  data (``COLLAPSE_RATIO``) mean G maps many latents to a few pictures, however it tints them.
- **D overfitting** (at every sample grid): ADA's ``ada_rt`` (the share of training images D
  calls real), averaged over the steps since the last grid (one step's is one batch's, 1.0 by
  chance whenever D calls a small batch all real), when the loss logs it (Karras et al. 2020,
  "Training Generative Adversarial Networks with Limited Data", section 2.2); else,
  with ``--holdout K``, ADA's validation heuristic r_v = (D(train) - D(held)) / (D(train) - D(fake))
  on K images kept out of training (0: D scores unseen real images like training ones; 1: like
  fakes, it has memorised its set).
- **divergence** (every step): D has told every real and fake image apart for ``--diverge-steps``
  steps (``DivergenceWatch``; the warning ganforge has always given, in the same log record).
- **stalled run** (at every ``--eval-every`` evaluation): the tracked metric has not improved on
  its best for ``STALL_EVALS`` evaluations.

``HealthHook`` is a trainer hook (see "The contract" in ganforge.train). What it finds goes to
the progress line (a short ``health:`` note while a warning stands), a printed warning line when
a warning starts, the log (a ``health`` field in the next record), and ``RUN/health.json``
(``RunDir.health``, written atomically), which other commands and the web app read with
``read_health``. Its checks run under a forked RNG and leave both networks' buffers as they found
them (batch-norm statistics, spectral-norm vectors), so a run with them trains, and resumes,
exactly like one without.

``BudgetCheck`` is the plan's half (ganforge.plan): a hook for a set-up the user chose that
says once, early, when the budget will give it too few steps to learn.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ganforge import models
from ganforge.runs import RunDir, read_jsonl
from ganforge.sampling import from_uint8
from ganforge.utils import STDERR, write_json_atomic

COLLAPSE_RATIO = 0.5     # samples' diversity below this fraction of the data's: collapse. In the quality
                         # benchmark's runs, the three collapsed ones (one picture in many tints) measured
                         # 0.33-0.35 and 20 healthy ones 0.62-1.0 (benchmarks/collapse_measure.py)
COLLAPSE_AFTER = 1000    # steps before a G whose samples never were diverse counts as collapsed (an untrained
                         # G draws near-constant images; DCGAN's are diverse after a few hundred steps)
OVERFIT_RV = 0.5         # ADA's r_v above this: D scores held-back real images closer to fakes than to its training set
OVERFIT_RT = 0.9         # ADA's r_t above this (its target is 0.6): augmentation cannot keep D in check
STALL_EVALS = 5          # evaluations without a new best before a run counts as stalled
STALL_TOLERANCE = 0.01   # a new best must beat the old one by this relative margin
BUSY_SHARE = 0.7        # a run getting less of its threads' CPU time than this shares the machine
MIN_STEPS = 3000         # fewer steps than this in a budget rarely give more than blobs (issue 20's measurements)
DIVERSITY_IMAGES = 64    # images per diversity measure (the data's and the samples')
DIVERSITY_SIDE = 16      # images are compared at this many pixels a side (average-pooled)
SSIM_WINDOW = 5          # SSIM's local window at that size (the usual 11 px Gaussian is for full-size images)

REMEDIES = {
    "collapse": "usual remedies: --augment color,translation,cutout (or --augment ada), --r1-gamma 10, "
                "a lower --lr-d, or --loss hinge",
    "overfitting": "usual remedies: more augmentation (--augment color,translation,cutout or --augment ada), "
                   "--r1-gamma 10, a lower --lr-d, or more images",
    "stalled": "usual remedies: a lower --lr-g/--lr-d, --ema 0.999, or the budget plan's alternative "
               "(ganforge train --data DATA --minutes M --dry-run)",
}


@dataclass
class Finding:
    """What one detector measured at a step, and whether it warns."""

    check: str                  # "collapse", "overfitting", "divergence", "stalled", "budget"
    warning: bool
    measured: str               # what it measured, in words with the numbers
    value: float | None = None
    threshold: float | None = None
    remedy: str = ""
    step: int = 0

    @property
    def message(self) -> str:
        return f"{self.check}: {self.measured}" + (f"; {self.remedy}" if self.remedy and self.warning else "")


# ---- the measures ------------------------------------------------------------------------
def diversity(images: torch.Tensor) -> float:
    """Structural diversity of images (N, C, H, W) in [-1, 1]: 1 - SSIM (Wang et al. 2004, "Image
    Quality Assessment: From Error Visibility to Structural Similarity") averaged over all pairs, in
    grey at ``DIVERSITY_SIDE`` px; 0 for identical images.

    Odena et al. (2017, "Conditional Image Synthesis with Auxiliary Classifier GANs", section 4.2)
    measure a GAN's diversity with pairwise MS-SSIM for the same reason we use SSIM: a collapsed G
    often draws one picture in many colours and sizes, which a pixel distance counts as variety (our
    first measure, the RMS pixel distance at 8 px, scored such runs at 0.35-0.50 of the data's), while
    SSIM compares local structure and barely sees tint. Coarse, because collapse is the same picture
    over and over, and pixel noise in the data or an early G would swamp the measure at full size;
    single-scale, because 16 px leaves no room for MS-SSIM's coarser scales."""
    x = images.detach().float().mean(1, keepdim=True)
    side = min(DIVERSITY_SIDE, x.shape[-1])
    x = (F.adaptive_avg_pool2d(x, side) + 1) / 2  # SSIM's constants assume values in [0, 1]
    n = len(x)
    if n < 2:
        return 0.0
    first, second = torch.triu_indices(n, n, 1)
    return float(1 - pairwise_ssim(x, first, second).mean())


def pairwise_ssim(x: torch.Tensor, first: torch.Tensor, second: torch.Tensor,
                  window: int = SSIM_WINDOW) -> torch.Tensor:
    """SSIM of the image pairs (x[first[k]], x[second[k]]) of x (N, 1, H, W) in [0, 1], one number per
    pair: the mean over all ``window``-sized squares of luminance x contrast x structure, with a
    uniform window (a Gaussian one matters little at 16 px) and the paper's constants (K1 = 0.01,
    K2 = 0.03). Each image's local means and variances are computed once, not once per pair."""
    window = min(window, x.shape[-1])

    def local_mean(t: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(t, window, stride=1)

    mu = local_mean(x)
    var = local_mean(x * x) - mu ** 2
    mu_a, mu_b, var_a, var_b = mu[first], mu[second], var[first], var[second]
    cov = local_mean(x[first] * x[second]) - mu_a * mu_b
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return s.flatten(1).mean(1)


def evenly_spaced(count: int, k: int) -> np.ndarray:
    """``min(k, count)`` indices spread evenly over ``range(count)``."""
    k = min(k, count)
    return (np.arange(k) * count) // k


def data_diversity(data, device="cpu", k: int = DIVERSITY_IMAGES) -> float:
    """``diversity`` of ``k`` evenly spaced images of a data set: what the samples are judged against."""
    return diversity(HealthHook._images(data, evenly_spaced(len(data), k), device))


def collapse_finding(fake_diversity: float, real_diversity: float, step: int, peak: float = 0.0) -> Finding:
    """Warns when the samples are far less diverse than the data after they once were (``peak``, the
    highest ratio seen so far in this process), or after ``COLLAPSE_AFTER`` steps."""
    ratio = fake_diversity / real_diversity if real_diversity > 0 else 1.0
    judged = peak >= COLLAPSE_RATIO or step >= COLLAPSE_AFTER
    return Finding("collapse", judged and ratio < COLLAPSE_RATIO,
                   f"the fixed-latent samples' structural diversity (1 - SSIM between pairs) is "
                   f"{fake_diversity:.3f}, {ratio:.0%} of the data's {real_diversity:.3f}", ratio, COLLAPSE_RATIO,
                   REMEDIES["collapse"], step)


def overfit_from_rt(rt: float, step: int, steps: int = 1) -> Finding:
    """``rt``: ADA's r_t averaged over the last ``steps`` steps."""
    return Finding("overfitting", rt > OVERFIT_RT,
                   f"D calls {rt:.0%} of training images real over the last {steps} steps (ADA's r_t; its target "
                   "is 60%)", rt, OVERFIT_RT, REMEDIES["overfitting"], step)


def overfit_from_holdout(d_train: float, d_held: float, d_fake: float, step: int) -> Finding | None:
    """ADA's r_v from D's mean scores on training, held-back and generated images; None while D cannot
    tell training images from fakes (the ratio means nothing then)."""
    spread = d_train - d_fake
    if spread <= 1e-6:
        return None
    rv = (d_train - d_held) / spread
    return Finding("overfitting", rv > OVERFIT_RV,
                   f"D scores held-back real images {rv:.0%} of the way from its training images to fakes "
                   f"(ADA's r_v; mean D: training {d_train:.2f}, held back {d_held:.2f}, fakes {d_fake:.2f})",
                   rv, OVERFIT_RV, REMEDIES["overfitting"], step)


def stalled_finding(scores: list[float], metric: str, step: int, patience: int = STALL_EVALS) -> Finding | None:
    """Scores (lower is better) in evaluation order; None until there are more than ``patience``."""
    if len(scores) <= patience:
        return None
    before, recent = min(scores[:-patience]), min(scores[-patience:])
    stalled = not recent < before - STALL_TOLERANCE * abs(before)
    return Finding("stalled", stalled,
                   f"{metric} best {recent:.4g} over the last {patience} evaluations vs {before:.4g} before",
                   recent, before, REMEDIES["stalled"], step)


class DivergenceWatch:
    """D's accuracy at 100 % for ``steps`` steps in a row: the divergence warning (once per streak)."""

    def __init__(self, steps: int):
        self.steps = steps
        self.streak = 0
        self.finding: Finding | None = None

    def reset(self) -> None:
        self.streak = 0

    def update(self, stats: dict, step: int) -> str | None:
        """The warning text on the step the streak reaches ``steps``, else None."""
        self.streak = self.streak + 1 if (stats.get("d_acc") or 0) >= 0.9999 else 0
        if self.streak == self.steps:
            text = (f"D has told every real and fake image apart for {self.streak} steps: G gets little gradient "
                    "(try --augment, --loss hinge or wgan-gp, a lower --lr-d, or spectral norm)")
            self.finding = Finding("divergence", True, text, float(self.streak), float(self.steps), step=step)
            return text
        if self.finding is not None and self.finding.warning and self.streak == 0:
            self.finding = Finding("divergence", False, "D no longer tells every image apart", 0.0,
                                   float(self.steps), step=step)
        return None


# ---- the hook ----------------------------------------------------------------------------
@contextlib.contextmanager
def untouched(*modules: torch.nn.Module):
    """Run networks for a measurement only: no gradients, random streams forked, buffers (batch-norm
    statistics, spectral-norm vectors) put back as they were."""
    saved = [[(b, b.clone()) for b in m.buffers()] for m in modules]
    devices = [d for m in modules for p in m.parameters() for d in [p.device] if d.type == "cuda"][:1]
    try:
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            yield
    finally:
        with torch.no_grad():
            for buffer, value in (pair for pairs in saved for pair in pairs):
                buffer.copy_(value)


@dataclass
class HealthState:
    step: int = 0
    checks: dict = field(default_factory=dict)   # check -> Finding as a dict (the latest of each)
    seconds: float = 0.0                         # time spent in the checks so far

    @property
    def warnings(self) -> list[str]:
        return [c["message"] for c in self.checks.values() if c["warning"]]


def read_health(run_dir) -> dict | None:
    """A run's health.json ({"step", "checks": {name: finding}, "warnings": [...]}), or None."""
    path = RunDir(run_dir).health
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


class HealthHook:
    """Watches a run (rank 0) at every sample grid and evaluation; see the module docstring."""

    def __init__(self, trainer, out=STDERR):
        self.out = out
        self.state = HealthState()
        self.active: set[str] = set()  # checks warning now (a warning prints when it starts)
        self._divergence_seen: Finding | None = None
        self.real_diversity = 0.0
        self.peak_ratio = 0.0  # the samples' highest diversity / the data's so far
        self.held: torch.Tensor | None = None
        self.rt_sum, self.rt_steps = 0.0, 0  # ADA's r_t over the steps since the last grid
        if not trainer.is_main:
            return
        data, dev = trainer.data, trainer.runtime.device
        self.real_diversity = data_diversity(data, dev)
        held = trainer.loader.held_back
        if len(held):
            kept = trainer.loader.kept
            train_idx = kept[evenly_spaced(len(kept), len(held))]
            self.held, self.held_labels = self._images(data, held, dev), self._labels(data, held, dev)
            self.train, self.train_labels = self._images(data, train_idx, dev), self._labels(data, train_idx, dev)

    @staticmethod
    def _images(data, idx: np.ndarray, device) -> torch.Tensor:
        return from_uint8(data.images[np.sort(idx)], device)

    @staticmethod
    def _labels(data, idx: np.ndarray, device) -> torch.Tensor | None:
        return None if data.labels is None else torch.from_numpy(data.labels[np.sort(idx)]).long().to(device)

    def __call__(self, trainer) -> None:
        if not trainer.is_main:
            return
        t0 = time.time()
        rt = trainer.last_stats.get("ada_rt")
        if rt is not None:
            self.rt_sum, self.rt_steps = self.rt_sum + float(rt), self.rt_steps + 1
        findings: list[Finding] = []
        div = trainer.divergence.finding
        if div is not None and div is not self._divergence_seen:
            self._divergence_seen = div
            findings.append(div)
        if trainer.step % trainer.cfg.sample_every == 0:
            findings += self._sample_checks(trainer)
        if trainer.cfg.eval_every and trainer.step % trainer.cfg.eval_every == 0:
            stalled = self._stall_check(trainer)
            if stalled is not None:
                findings.append(stalled)
        if not findings:
            return
        self.state.seconds += time.time() - t0
        self._record(trainer, findings)

    def _sample_checks(self, trainer) -> list[Finding]:
        step = trainer.step
        if models.is_two_domain(trainer.model_cfg.family) or models.is_inpainter(trainer.model_cfg.family):
            # a translator's or inpainter's G takes images, not the fixed latents: only ADA's r_t speaks for it here
            overfit = self._overfit_since_last_grid(step)
            return [] if overfit is None else [overfit]
        G = trainer.G_ema if trainer.G_ema is not None else trainer.G
        n = min(DIVERSITY_IMAGES, len(trainer.fixed_z))
        z = trainer.fixed_z[:n].to(trainer.runtime.device)
        labels = None if trainer.fixed_labels is None else trainer.fixed_labels[:n].to(trainer.runtime.device)
        with untouched(G, trainer.D):
            was_training = G.training
            G.eval()  # as the sample grid is drawn
            fake = G(z, labels).float().clamp(-1, 1)
            G.train(was_training)
            found = [collapse_finding(diversity(fake), self.real_diversity, step, self.peak_ratio)]
            self.peak_ratio = max(self.peak_ratio, found[0].value)
            overfit = self._overfit_since_last_grid(step)
            if overfit is not None:
                found.append(overfit)
            elif self.held is not None:
                k = len(self.held)
                fake_labels = None if labels is None else labels[:k]
                d_train, d_held, d_fake = (float(trainer.D(x, y).float().mean())
                                           for x, y in ((self.train, self.train_labels),
                                                        (self.held, self.held_labels), (fake[:k], fake_labels)))
                f = overfit_from_holdout(d_train, d_held, d_fake, step)
                if f is not None:
                    found.append(f)
        return found

    def _overfit_since_last_grid(self, step: int) -> Finding | None:
        """The overfitting finding from ADA's r_t averaged since the last grid (None when the loss logs none)."""
        if not self.rt_steps:
            return None
        found = overfit_from_rt(self.rt_sum / self.rt_steps, step, self.rt_steps)
        self.rt_sum, self.rt_steps = 0.0, 0
        return found

    def _stall_check(self, trainer) -> Finding | None:
        from ganforge.metrics.registry import metric_score
        from ganforge.metrics.training import parse_metric_spec

        name, _ = parse_metric_spec(trainer.cfg.eval_metric)
        scores = []
        for record in read_jsonl(trainer.run.metrics):
            with contextlib.suppress(KeyError, TypeError, ValueError):
                scores.append(metric_score(name, {k: v for k, v in record.items() if k.startswith(name)}))
        return stalled_finding(scores, trainer.cfg.eval_metric, trainer.step)

    def _record(self, trainer, findings: list[Finding]) -> None:
        self.state.step = trainer.step
        note = {}
        for f in findings:
            self.state.checks[f.check] = {**asdict(f), "message": f.message}
            note[f.check] = {"warning": f.warning, "value": f.value}
            if f.warning and f.check not in self.active and f.check != "divergence":  # divergence prints itself
                print(f"\nwarning: step {f.step}: {f.message}", file=self.out, flush=True)
            (self.active.add if f.warning else self.active.discard)(f.check)
        trainer.log_notes["health"] = note
        trainer.health_note = ", ".join(sorted(self.active))
        with contextlib.suppress(OSError):  # health is advice: a full disk is the checkpoint's business
            write_json_atomic(trainer.run.health, {"step": self.state.step, "checks": self.state.checks,
                                                   "warnings": self.state.warnings,
                                                   "seconds": round(self.state.seconds, 3)})


class BudgetCheck:
    """Says once, early, when a chosen set-up will get fewer than ``MIN_STEPS`` steps in --minutes.

    Judged from the run's own step rate after ``after_s`` seconds of training (at least 3 steps past
    the first, or 1 once half the budget is spent), so it measures the real set-up on the real machine
    and costs nothing; the alternative it names is the budget plan, which measures candidates that
    fit. On a CPU it also says when the machine is busy: the share of its threads' time this process
    got (``cpu_clock``, the process's CPU seconds, against wall seconds x threads), since the same
    command on a quiet machine gets several times the steps, and a user who sees only noise should
    know that the budget, not ganforge, ran short.
    """

    def __init__(self, alternative: str, out=STDERR, after_s: float = 20.0, min_steps: int | None = None,
                 cpu_clock=time.process_time, threads: int | None = None):
        self.alternative, self.out, self.after_s, self.min_steps = alternative, out, after_s, min_steps
        self.cpu_clock, self.threads = cpu_clock, threads
        self.done = False
        self._start: tuple[int, float, float] | None = None

    def __call__(self, trainer) -> None:
        minutes = trainer.cfg.minutes
        if self.done or not trainer.is_main or not minutes:
            return
        if self._start is None:
            self._start = (trainer.step, trainer.elapsed, self.cpu_clock())  # after the first (warm-up) step
            return
        steps, seconds = trainer.step - self._start[0], trainer.elapsed - self._start[1]
        warmed_up = steps >= 3 and seconds >= min(self.after_s, 0.05 * 60 * minutes)
        # A run so slow that it never gets 3 steps past the first is the one that most needs the note:
        # by half its budget, one step's rate has to do.
        late = steps >= 1 and trainer.elapsed >= 0.5 * 60 * minutes
        if not (warmed_up or late):
            return
        self.done = True
        expected = trainer.step + (60 * minutes - trainer.elapsed) * steps / seconds
        least = self.min_steps if self.min_steps is not None else MIN_STEPS
        if expected >= least:
            return
        text = (f"at {seconds / steps:.2g} s per step, {minutes:g} minutes give about {expected:,.0f} steps, "
                f"and a GAN rarely learns more than blobs in under {least:,}; {self.alternative}")
        runtime = getattr(trainer, "runtime", None)
        if runtime is None or runtime.device.type == "cpu":
            threads = self.threads or torch.get_num_threads()
            share = (self.cpu_clock() - self._start[2]) / (seconds * threads)
            if share < BUSY_SHARE:
                text += (f". This CPU is busy: the run got {share:.0%} of its {threads} threads' time (other "
                         f"programs have the rest); on a quiet machine the same budget gives about "
                         f"{expected / max(share, 0.05):,.0f} steps")
        print(f"\nganforge: note: {text}", file=self.out, flush=True)
        trainer.log_notes["budget"] = {"expected_steps": round(expected), "message": text}
