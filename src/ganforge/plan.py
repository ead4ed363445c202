"""The budget plan: which set-up to train on this data set, on this device, in ``--minutes``.

``ganforge train --data DATA --minutes M`` without ``--model`` (or with ``--preset auto``):

1. **Measure.** Each candidate set-up in the plan table (a family, its training recipe from
   ganforge.presets, a width, a batch size, an augmentation policy) is built by the trainer
   itself (``ganforge.train.Trainer`` in a temporary folder) and its ``train_step`` timed on this
   device and data, in turns with the others (``time_in_turn``), about 12 s for all (three steps each
   at least). Candidates whose family or recipe this ganforge lacks are skipped, so a table written
   by a newer benchmark still works.
2. **Estimate** the steps, and images, the budget gives each candidate.
3. **Choose** from the quality the benchmark measured (``benchmarks/quality_per_time.py
   --write-plan-table``): in the table's case nearest to this data set (size, resolution), each
   candidate's score (FID: lower is better) at the number of images it would see, interpolated
   between the benchmark's measurements in log(images) (the mean over seeds, each seed's curve read
   alone). Beyond its last measurement a candidate
   keeps that score (no assumed gain); before its first, the score is assumed to worsen as
   1/sqrt(images) (a GAN early in training improves roughly so; a stated assumption, not a
   measurement). Candidates the table has no score for rank last, those reaching ``MIN_STEPS``
   steps first among them.

``choose`` is a pure function of the table, the step times and the budget, so it is tested
without timing anything; ``make_plan`` adds the measuring.
"""

from __future__ import annotations

import contextlib
import json
import math
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from ganforge.config import ModelConfig, TrainConfig
from ganforge.errors import ConfigError, GanforgeError
from ganforge.health import MIN_STEPS
from ganforge.utils import STDERR

TABLE_PATH = Path(__file__).with_name("plan_table.json")
MEASURE_SECONDS = 12.0      # all candidates' timing together (plus a warm-up step each; longer where a
MEASURE_ROUNDS = 3          # step outlasts its share of a turn: each is timed for a step at least, per turn)
EARLY_EXPONENT = 0.5        # before a candidate's first measurement: score * (first images / images) ** this


@dataclass(frozen=True)
class Candidate:
    """One set-up the plan can choose: a family trained with a preset's recipe at a width and batch size."""

    name: str
    family: str
    preset: str | None = None  # a name in ganforge.presets: loss, critic steps, optimiser, model options
    width: int = 32
    batch_size: int = 64
    augment: str = ""

    def preset_values(self) -> dict:
        """{"model": ..., "train": ...} as a preset gives them, sized to the data set by the trainer."""
        from ganforge.presets import PRESETS

        base = PRESETS.get(self.preset, {}) if self.preset else {}
        model = {**base.get("model", {}), "family": self.family, "width": self.width, "resolution": 0,
                 "channels": 0}
        train = {**base.get("train", {}), "batch_size": self.batch_size, "augment": self.augment}
        return {"model": model, "train": train}

    def configs(self, data: str, out: str, device: str = "auto") -> tuple[TrainConfig, ModelConfig]:
        values = self.preset_values()
        model = ModelConfig.from_dict(values["model"])
        cfg = TrainConfig.from_dict({**values["train"], "data": data, "out": out, "device": device})
        return cfg, model

    def flags(self) -> str:
        """The train flags that give this set-up by hand."""
        parts = [f"--model {self.family}", f"--width {self.width}", f"--batch-size {self.batch_size}"]
        if self.preset:
            parts.insert(0, f"--preset {self.preset}")
        if self.augment:
            parts.append(f"--augment {self.augment}")
        return " ".join(parts)


@dataclass
class Option:
    """A candidate under a budget: its measured step time and what the table expects of it."""

    candidate: Candidate
    step_seconds: float
    steps: int
    images: int
    score: float | None  # estimated score (lower is better), None where the table has no measurement


@dataclass
class Plan:
    chosen: Option
    with_4x: Option           # what 4x the budget would choose
    options: list[Option]     # every measured candidate, best first
    minutes: float
    case: dict = field(default_factory=dict)  # the table case the scores came from
    provisional: bool = False

    def lines(self) -> list[str]:
        c, o = self.chosen.candidate, self.chosen
        metric = self.case.get("metric", "score")
        why = (f"the benchmark's best for about {o.images:,} images on {self.case.get('data', 'its data')} "
               f"({self.case.get('count', '?')} images, {self.case.get('resolution', '?')} px): "
               f"{metric} ~{o.score:.3g}" if o.score is not None else "the table has no measurement of it")
        out = [f"plan: {c.name} ({c.flags()}) for {self.minutes:g} minutes",
               f"  expected: about {o.steps:,} steps ({o.step_seconds:.3g} s each, measured here), "
               f"{o.images:,} images; chosen as {why}"]
        others = ", ".join(f"{x.candidate.name} {x.steps:,} steps" + (f" ~{x.score:.3g}" if x.score is not None else "")
                           for x in self.options[1:])
        if others:
            out.append(f"  others: {others}")
        if o.steps < MIN_STEPS:
            out.append(f"  note: even this set-up gets fewer than {MIN_STEPS:,} steps in the budget; expect blobs, "
                       "or give it more minutes")
        w = self.with_4x
        out.append(f"  with {4 * self.minutes:g} minutes: {w.candidate.name} ({w.steps:,} steps)")
        if self.provisional:
            out.append("  (the plan table is provisional: few measurements; see ganforge/plan_table.json)")
        return out


# ---- the table ---------------------------------------------------------------------------
def load_table(path: str | Path | None = None) -> dict:
    path = Path(path) if path else TABLE_PATH
    try:
        table = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read the plan table {path}: {e}") from None
    if not isinstance(table.get("candidates"), dict) or not isinstance(table.get("cases"), list):
        raise ConfigError(f"{path} is not a plan table (it needs 'candidates' and 'cases')")
    return table


def candidates(table: dict, *, conditional_ok: bool = False) -> list[Candidate]:
    """The table's candidates this ganforge can build: known family and preset, unconditional unless allowed."""
    from ganforge import models
    from ganforge.presets import PRESETS

    found = []
    for name, spec in table["candidates"].items():
        family, preset = spec.get("family"), spec.get("preset")
        if family not in models.MODELS or models.is_composite(family) or (preset and preset not in PRESETS):
            continue  # written by a benchmark of a newer ganforge, or a family needing parts
        if models.is_conditional(family) and not conditional_ok:
            continue
        found.append(Candidate(name, family, preset, int(spec.get("width", 32)), int(spec.get("batch_size", 64)),
                               spec.get("augment", "")))
    return found


def nearest_case(table: dict, count: int, resolution: int) -> dict:
    """The table case whose data set is nearest in size and resolution (both on log scales)."""
    if not table["cases"]:
        return {}

    def distance(case: dict) -> float:
        return (abs(math.log(max(count, 1) / max(case.get("count", 1), 1)))
                + abs(math.log2(max(resolution, 1) / max(case.get("resolution", 1), 1))))

    return min(table["cases"], key=distance)


def estimate_score(case: dict, candidate: str, images: float) -> float | None:
    """The candidate's score in ``case`` after ``images`` images (see the module docstring), or None.

    A candidate measured with several seeds has one curve per seed (``seed`` in its results; none: seed 0),
    each measured at its own image counts: each curve is read at ``images`` and the readings averaged, so
    that the estimate does not jump between seeds where their points interleave."""
    curves: dict[int, list[tuple[float, float]]] = {}
    for r in case.get("results", []):
        if r.get("candidate") == candidate and r.get("score") is not None and r.get("images", 0) > 0:
            curves.setdefault(int(r.get("seed", 0)), []).append((r["images"], r["score"]))
    if not curves:
        return None
    readings = [_read_curve(sorted(points), max(images, 1.0)) for points in curves.values()]
    return sum(readings) / len(readings)


def _read_curve(points: list[tuple[float, float]], images: float) -> float:
    """One seed's score after ``images``: interpolated in log(images), held beyond the last point, and
    worsening as images ** -EARLY_EXPONENT before the first."""
    if images <= points[0][0]:
        return points[0][1] * (points[0][0] / images) ** EARLY_EXPONENT
    for (i0, s0), (i1, s1) in zip(points, points[1:]):
        if images <= i1:
            f = math.log(images / i0) / math.log(i1 / i0) if i1 > i0 else 1.0
            return s0 + f * (s1 - s0)
    return points[-1][1]


def add_case(table: dict | None, case: dict, candidates: dict[str, dict], source: str) -> dict:
    """``table`` with a benchmark's ``case`` (``{"data", "sha256", "count", "resolution", "metric",
    "results": [{"candidate", "images", "score", ...}]}``) and the ``candidates`` it measured added.

    Results of the same candidate and seed at about the same number of images on the same data set are
    replaced (a rerun), others kept (a longer budget adds a point to the curve, another seed a curve); a
    provisional case (typed in by hand) is dropped once the benchmark has written one."""
    table = json.loads(json.dumps(table)) if table else {"candidates": {}, "cases": []}
    table["candidates"].update(candidates)
    cases = [c for c in table["cases"] if not c.get("provisional")]
    same = next((c for c in cases if c.get("sha256") == case.get("sha256") and c.get("metric") == case.get("metric")),
                None)
    if same is None:
        cases.append(case)
    else:
        def key(r: dict) -> tuple:
            return r["candidate"], int(r.get("seed", 0)), round(math.log2(max(r["images"], 1)))

        new = {key(r) for r in case["results"]}
        same["results"] = [r for r in same["results"] if key(r) not in new] + case["results"]
    table["cases"] = cases
    table["provisional"] = False
    table["source"] = source
    table["min_steps"] = MIN_STEPS
    return table


# ---- choosing ----------------------------------------------------------------------------
def rank(table: dict, step_seconds: dict[str, float], cands: list[Candidate], minutes: float, count: int,
         resolution: int) -> tuple[list[Option], dict]:
    """Every measured candidate as an ``Option`` under the budget, best first, and the case used."""
    case = nearest_case(table, count, resolution)
    options = []
    for c in cands:
        t = step_seconds.get(c.name)
        if t is None or not t > 0:
            continue
        steps = int(60 * minutes / t)
        options.append(Option(c, t, steps, steps * c.batch_size, estimate_score(case, c.name, steps * c.batch_size)))
    # measured quality first; a candidate the table never measured only by whether it gets enough steps
    options.sort(key=lambda o: (o.score is None, o.score if o.score is not None else 0.0, o.steps < MIN_STEPS,
                                o.step_seconds))
    return options, case


def choose(table: dict, step_seconds: dict[str, float], minutes: float, count: int, resolution: int,
           cands: list[Candidate] | None = None) -> Plan:
    """The plan for measured ``step_seconds`` (candidate name -> seconds per step): a pure function."""
    cands = candidates(table) if cands is None else cands
    options, case = rank(table, step_seconds, cands, minutes, count, resolution)
    if not options:
        raise ConfigError("the budget plan has no candidate it could measure on this data set; choose a --model")
    bigger, _ = rank(table, step_seconds, cands, 4 * minutes, count, resolution)
    return Plan(options[0], bigger[0], options, minutes, case, bool(table.get("provisional")))


# ---- measuring ---------------------------------------------------------------------------
class StepMeter:
    """One candidate's trainer (``ganforge.train.Trainer``, the trainer's own step), built once in a temporary
    run folder with one warm-up step (first-call allocations, kernel choices), and kept while the candidates
    are timed in turn; ``close`` lets go of it and the folder."""

    def __init__(self, candidate: Candidate, data: str, device: str = "auto"):
        from ganforge.train import Trainer

        self._folder = tempfile.TemporaryDirectory(prefix="ganforge-plan-")
        try:
            cfg, model = candidate.configs(data, str(Path(self._folder.name) / "run"), device)
            self.trainer = Trainer(cfg, model)
        except BaseException:
            self._folder.cleanup()
            raise
        try:
            self._step()
        except BaseException:
            self.close()
            raise

    def _step(self) -> None:
        self.trainer.train_step()
        self.trainer.step += 1  # phases with ``every`` (lazy regularisation) run on their own steps

    def seconds_per_step(self, seconds: float) -> float:
        """Steps for about ``seconds`` (at least one); their mean duration."""
        self._wait_for_device()  # the work queued before (another candidate's) is not this one's
        n, t0 = 0, time.perf_counter()
        while n == 0 or time.perf_counter() - t0 < seconds:
            self._step()
            n += 1
        self._wait_for_device()
        return (time.perf_counter() - t0) / n

    def _wait_for_device(self) -> None:
        if self.trainer.runtime.device.type == "cuda":
            import torch

            torch.cuda.synchronize(self.trainer.runtime.device)

    def close(self) -> None:
        try:
            self.trainer.release()
        finally:
            self._folder.cleanup()


def time_in_turn(meters: dict[str, StepMeter], seconds: float, rounds: int = MEASURE_ROUNDS
                 ) -> tuple[dict[str, float], dict[str, GanforgeError]]:
    """Seconds per step of each meter (name -> a ``StepMeter``), from about ``seconds`` of timing each:
    ``rounds`` turns in which every candidate steps for ``seconds / rounds`` (one step at least), and the
    median of a candidate's turns; with the candidates whose step refused (a ``GanforgeError``: it does not
    fit this data set), each left out of the later turns. Other work that takes the machine for less than a
    turn (a few seconds: a build, a test suite starting) then slows one turn of the candidates it overlaps and
    the median leaves that turn out; timed once each, one after another, all of it fell on whichever candidate
    it met (on 2 busy cores a FastGAN step once measured 12 s, the plan forecast 149 steps, and the run made
    7,729). Load that lasts is in every turn, and in the estimate, as it will be in the run."""
    readings: dict[str, list[float]] = {name: [] for name in meters}
    refused: dict[str, GanforgeError] = {}
    turns = max(rounds, 1)
    for _ in range(turns):
        for name, meter in meters.items():
            if name not in refused:
                try:
                    readings[name].append(meter.seconds_per_step(seconds / turns))
                except GanforgeError as e:
                    refused[name] = e
    times = {name: statistics.median(values) for name, values in readings.items() if name not in refused}
    return times, refused


def make_plan(data: str, minutes: float, device: str = "auto", *, table: dict | None = None,
              open_meter: Callable[[Candidate, str, str], StepMeter] | None = None, out=STDERR) -> Plan:
    """Measure the table's candidates on ``data`` and ``device`` (all built first, then timed in turn:
    ``time_in_turn``) and choose for ``minutes``."""
    from ganforge.data.dataset import load_dataset

    if not minutes or minutes <= 0:
        raise ConfigError("the budget plan needs a time budget: add --minutes M")
    table = load_table() if table is None else table
    open_meter = open_meter or StepMeter
    dataset = load_dataset(data)
    cands = candidates(table, conditional_ok=False)
    largest = 2 ** int(math.log2(len(dataset)))  # a batch must fit in the data set (a few dozen images)
    cands = [c if c.batch_size <= largest else replace(c, batch_size=largest) for c in cands]
    print(f"ganforge: plan: measuring {len(cands)} set-ups for about {MEASURE_SECONDS:.0f} s ...", file=out, flush=True)

    def skip(name: str, error: GanforgeError) -> None:  # a candidate that does not fit this data set
        print(f"ganforge: plan: skipping {name}: {str(error).splitlines()[0]}", file=out, flush=True)

    with contextlib.ExitStack() as built:  # every meter built is closed, whatever happens
        meters: dict[str, StepMeter] = {}
        for c in cands:
            try:
                meters[c.name] = open_meter(c, data, device)
                built.callback(meters[c.name].close)
            except GanforgeError as e:  # size, channels
                skip(c.name, e)
        times, refused = time_in_turn(meters, MEASURE_SECONDS / max(len(meters), 1))
    for name, refusal in refused.items():
        skip(name, refusal)
    return choose(table, times, minutes, len(dataset), dataset.resolution, cands)
