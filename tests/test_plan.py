"""The budget plan (ganforge.plan): choice from a fixed table and injected step times, the CLI's
--dry-run, and the one-time note when a chosen set-up gets too few steps."""

from __future__ import annotations

import io
import json
import math

import pytest

from conftest import run_cli
from ganforge import health, plan

TABLE = {
    "provisional": False,
    "candidates": {
        "fast": {"family": "dcgan", "width": 8, "batch_size": 16},
        "slow": {"family": "resnet", "width": 8, "batch_size": 16},
        "future": {"family": "no-such-family-yet", "width": 8, "batch_size": 16},
    },
    "cases": [
        {"data": "small", "count": 1000, "resolution": 16, "metric": "fid", "results": [
            {"candidate": "fast", "images": 16_000, "score": 80.0},
            {"candidate": "fast", "images": 160_000, "score": 60.0},
            {"candidate": "slow", "images": 16_000, "score": 120.0},
            {"candidate": "slow", "images": 160_000, "score": 40.0},
            {"candidate": "future", "images": 16_000, "score": 1.0},
        ]},
        {"data": "big", "count": 100_000, "resolution": 64, "metric": "fid", "results": [
            {"candidate": "slow", "images": 16_000, "score": 10.0},
        ]},
    ],
}


class FixedMeter:
    """A step meter that reports a fixed step time: the plan's choosing without timing anything."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def seconds_per_step(self, seconds: float) -> float:
        return self.seconds

    def close(self) -> None:
        pass


def test_unknown_families_are_skipped():
    assert [c.name for c in plan.candidates(TABLE)] == ["fast", "slow"]


def test_estimate_interpolates_in_log_images_and_never_extrapolates_gains():
    case = TABLE["cases"][0]
    assert plan.estimate_score(case, "slow", 16_000) == pytest.approx(120.0)
    assert plan.estimate_score(case, "slow", 50_596) == pytest.approx(80.0, abs=0.01)  # the geometric middle
    assert plan.estimate_score(case, "slow", 10**7) == pytest.approx(40.0)  # beyond the last: held
    assert plan.estimate_score(case, "slow", 4_000) == pytest.approx(240.0)  # before the first: 1/sqrt(images)
    assert plan.estimate_score(case, "missing", 16_000) is None


def test_repeat_seeds_are_each_read_on_their_own_curve_and_averaged():
    """Two seeds measured at interleaved image counts: the estimate is the mean of each seed's own reading,
    not a zigzag between the seeds' points."""
    case = {"results": [{"candidate": "c", "images": 1_000, "score": 100.0, "seed": 0},
                        {"candidate": "c", "images": 100_000, "score": 10.0, "seed": 0},
                        {"candidate": "c", "images": 2_000, "score": 50.0, "seed": 1},
                        {"candidate": "c", "images": 200_000, "score": 30.0, "seed": 1}]}

    def read(images, i0, s0, i1, s1):  # one seed's curve, interpolated in log(images)
        return s0 + (s1 - s0) * math.log(images / i0) / math.log(i1 / i0)

    for images in (10_000, 20_000, 90_000):
        expected = (read(images, 1_000, 100.0, 100_000, 10.0) + read(images, 2_000, 50.0, 200_000, 30.0)) / 2
        assert plan.estimate_score(case, "c", images) == pytest.approx(expected)
    assert plan.estimate_score(case, "c", 10**6) == pytest.approx((10.0 + 30.0) / 2)  # each held at its last


@pytest.mark.parametrize("minutes, chosen, bigger", [
    (2.0, "fast", "slow"),   # slow: 32,000 images (~96), fast: 320,000 (60); with 4x slow sees 128,000 (~48)
    (10.0, "slow", "slow"),  # slow gets 160,000 images: 40 beats fast's 60
])
def test_choice_for_step_times_and_budgets(minutes, chosen, bigger):
    p = plan.choose(TABLE, {"fast": 0.006, "slow": 0.06}, minutes, count=1000, resolution=16)
    assert p.chosen.candidate.name == chosen
    assert p.with_4x.candidate.name == bigger
    assert p.chosen.steps == int(60 * minutes / p.chosen.step_seconds)


def test_the_nearest_case_decides():
    p = plan.choose(TABLE, {"fast": 0.006, "slow": 0.06}, 1.0, count=90_000, resolution=64)
    assert p.case["data"] == "big"
    assert p.chosen.candidate.name == "slow"  # the only one measured there; fast has no score
    assert p.options[-1].score is None


def test_a_plan_with_nothing_measured_is_a_one_line_error():
    from ganforge.errors import ConfigError

    with pytest.raises(ConfigError, match="no candidate"):
        plan.choose(TABLE, {}, 1.0, count=1000, resolution=16)


def test_plan_lines_say_choice_steps_and_the_4x_choice():
    text = "\n".join(plan.choose(TABLE, {"fast": 0.006, "slow": 0.06}, 2.0, 1000, 16).lines())
    assert "plan: fast" in text and "20,000 steps" in text and "with 8 minutes: slow" in text


def test_the_shipped_table_is_the_benchmarks_and_every_candidate_can_be_built():
    table = plan.load_table()
    assert table["provisional"] is False and "quality_per_time.py" in table["source"]
    buildable = {c.name for c in plan.candidates(table)}
    assert buildable == set(table["candidates"]) and "dcgan" in {c.family for c in plan.candidates(table)}
    for case in table["cases"]:  # every candidate the plan measures has a score somewhere
        assert case["sha256"] and case["results"]
        assert {r["candidate"] for r in case["results"]} <= buildable
    assert buildable <= {r["candidate"] for case in table["cases"] for r in case["results"]}


@pytest.mark.slow
def test_the_step_meter_uses_the_trainer_and_leaves_nothing(tiny_dataset, tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    meter = plan.StepMeter(plan.Candidate("c", "dcgan", width=8, batch_size=16), str(tiny_dataset), "cpu")
    try:
        assert meter.trainer.step == 1  # its warm-up step
        assert meter.seconds_per_step(0.05) > 0 and meter.trainer.step > 1
    finally:
        meter.close()
    assert not list(tmp_path.glob("ganforge-plan-*"))


def test_a_burst_of_other_work_while_measuring_slows_no_candidate_alone(tiny_dataset, monkeypatch):
    """Two identical set-ups on the real trainer, on a clock where the machine is busy (steps 10x slower) for
    most of the first of three turns of the 12 s of measuring: timed in turns, both read the quiet step time,
    where timed one after the other the first read 0.018 s and the second 0.01."""
    from types import SimpleNamespace

    from ganforge.train import Trainer

    now, burst = [0.0], 0.75 * plan.MEASURE_SECONDS / plan.MEASURE_ROUNDS  # most of the first turn

    def step(self):
        now[0] += 0.1 if now[0] < burst else 0.01

    monkeypatch.setattr(Trainer, "train_step", step)
    monkeypatch.setattr(plan, "time", SimpleNamespace(perf_counter=lambda: now[0]))
    same = {"family": "dcgan", "width": 8, "batch_size": 16}
    p = plan.make_plan(str(tiny_dataset), 10, table={"provisional": False, "candidates": {"a": same, "b": same},
                                                     "cases": []})
    assert [o.step_seconds for o in p.options] == pytest.approx([0.01, 0.01])
    assert now[0] >= plan.MEASURE_SECONDS  # both were timed for the whole measurement, in turns


def test_every_meter_built_is_closed_and_one_refusing_a_step_is_skipped(tiny_dataset, monkeypatch):
    from ganforge.errors import DataError

    closed = []

    class Meter(FixedMeter):
        def __init__(self, name):
            super().__init__(0.01)
            self.name, self.steps = name, 0

        def seconds_per_step(self, seconds):
            self.steps += 1
            if self.name == "b" and self.steps == 2:
                raise DataError("b's step does not fit")
            return self.seconds

        def close(self):
            closed.append(self.name)

    same = {"family": "dcgan", "width": 8, "batch_size": 16}
    table = {"provisional": False, "candidates": {"a": same, "b": same, "c": same}, "cases": []}
    err = io.StringIO()
    p = plan.make_plan(str(tiny_dataset), 10, table=table, open_meter=lambda c, data, device: Meter(c.name), out=err)
    assert [o.candidate.name for o in p.options] == ["a", "c"] and "skipping b: b's step does not fit" in err.getvalue()
    assert sorted(closed) == ["a", "b", "c"]

    closed.clear()

    def third_fails(c, data, device):
        if c.name == "c":
            raise RuntimeError("out of memory")
        return Meter(c.name)

    with pytest.raises(RuntimeError):
        plan.make_plan(str(tiny_dataset), 10, table=table, open_meter=third_fails, out=err)
    assert sorted(closed) == ["a", "b"]


@pytest.fixture
def fixed_plan(monkeypatch):
    """The CLI's plan from this file's TABLE and fixed step times, whatever the shipped table holds."""
    monkeypatch.setattr(plan, "load_table", lambda path=None: TABLE)
    monkeypatch.setattr(plan, "StepMeter",
                        lambda candidate, data, device: FixedMeter({"fast": 0.01, "slow": 1.0}[candidate.name]))


def test_dry_run_prints_the_plan_and_writes_nothing(capsys, tiny_dataset, tmp_path, fixed_plan):
    out = tmp_path / "run"
    code, stdout, _ = run_cli(capsys, "train", "--data", tiny_dataset, "--out", out, "--minutes", 10, "--dry-run")
    assert code == 0
    lines = stdout.splitlines()
    assert lines[0].startswith("plan: fast") and any("with 40 minutes" in x for x in lines)
    resolved = json.loads(stdout[stdout.index("{"):])
    assert resolved["model"]["family"] == "dcgan" and resolved["model"]["width"] == 8
    assert not out.exists()


def test_flags_override_the_plan(capsys, tiny_dataset, tmp_path, fixed_plan):
    code, stdout, _ = run_cli(capsys, "train", "--data", tiny_dataset, "--out", tmp_path / "r", "--minutes", 10,
                              "--preset", "auto", "--batch-size", 8, "--dry-run")
    assert code == 0 and json.loads(stdout[stdout.index("{"):])["train"]["batch_size"] == 8


def test_the_plan_refuses_before_measuring_what_training_would_refuse(capsys, tiny_dataset, tmp_path, monkeypatch):
    def no_measuring(*args):
        raise AssertionError("measured")

    monkeypatch.setattr(plan, "StepMeter", no_measuring)
    (tmp_path / "r" / "checkpoints").mkdir(parents=True)
    (tmp_path / "r" / "checkpoints" / "latest.pt").write_bytes(b"")
    code, _, err = run_cli(capsys, "train", "--data", tiny_dataset, "--out", tmp_path / "r", "--minutes", 5)
    assert code != 0 and "already holds a run" in err
    monkeypatch.setenv("WORLD_SIZE", "2")
    code, _, err = run_cli(capsys, "train", "--data", tiny_dataset, "--out", tmp_path / "s", "--minutes", 5)
    assert code != 0 and "--dry-run first" in err


def test_preset_auto_needs_minutes(capsys, tiny_dataset, tmp_path):
    code, _, err = run_cli(capsys, "train", "--data", tiny_dataset, "--out", tmp_path / "r", "--preset", "auto")
    assert code != 0 and "--minutes" in err and "Traceback" not in err


@pytest.mark.slow
def test_a_short_budget_note_appears_once(capsys, tiny_dataset, tmp_path, monkeypatch):
    monkeypatch.setattr(health, "MIN_STEPS", 10**9)  # whatever this machine's speed, the budget is short
    # 6 s of budget: the note comes after 3 steps past the first, or by 3 s with one (a very busy machine)
    code, _, err = run_cli(capsys, "train", "--data", tiny_dataset, "--out", tmp_path / "r", "--model", "dcgan",
                           "--width", 8, "--batch-size", 16, "--minutes", 0.1)
    assert code == 0
    assert err.count("a GAN rarely learns") == 1
    assert "ganforge train --data" in err  # the alternative
    records = [json.loads(x) for x in (tmp_path / "r" / "log.jsonl").read_text().splitlines()]
    assert sum("budget" in r for r in records) == 1


class FakeTrainer:
    def __init__(self):
        from types import SimpleNamespace

        self.cfg = SimpleNamespace(minutes=1.0)
        self.is_main, self.step, self.elapsed, self.log_notes = True, 0, 0.0, {}


def test_budget_check_judges_from_the_rate_after_warm_up_and_speaks_once(capsys):
    import io

    out = io.StringIO()
    check, t = health.BudgetCheck("try the plan", out=out, after_s=1.0, min_steps=3000), FakeTrainer()
    for _ in range(50):  # 0.1 s a step: 600 steps in a minute
        t.step += 1
        t.elapsed += 0.1
        check(t)
    assert out.getvalue().count("about 600 steps") == 1
    fast, t = health.BudgetCheck("x", out=out, after_s=1.0, min_steps=3000), FakeTrainer()
    for _ in range(200):  # 0.01 s a step after a slow first one (which is not the rate): 6,000 in a minute
        t.step += 1
        t.elapsed += 0.01 if t.step > 1 else 5.0
        fast(t)
    assert fast.done and "budget" not in t.log_notes



def test_budget_check_speaks_before_the_end_of_a_run_too_slow_for_its_warm_up():
    import io

    # 10 s a step in a 30 s budget: three steps in all, never 3 after the first. The run most in need of the
    # note must still hear it, by half its budget.
    out, t = io.StringIO(), FakeTrainer()
    t.cfg.minutes = 0.5
    check = health.BudgetCheck("try the plan", out=out, min_steps=3000)
    said_at = None
    while t.elapsed < 30:
        t.step += 1
        t.elapsed += 10.0
        check(t)
        if said_at is None and out.getvalue():
            said_at = t.elapsed
    assert said_at == 20.0 and out.getvalue().count("about 3 steps") == 1
    assert t.log_notes["budget"]["expected_steps"] == 3


def test_budget_check_says_when_the_cpu_is_busy_and_what_a_quiet_machine_would_give():
    import io

    for share, busy in ((0.25, True), (0.95, False)):
        out, t, clock = io.StringIO(), FakeTrainer(), {"cpu": 0.0}
        check = health.BudgetCheck("x", out=out, after_s=1.0, min_steps=3000, threads=2,
                                   cpu_clock=lambda clock=clock: clock["cpu"])
        for _ in range(50):  # 0.1 s a step (600 in the minute), of which the process ran share x 2 threads
            t.step, t.elapsed = t.step + 1, t.elapsed + 0.1
            clock["cpu"] += 0.1 * 2 * share
            check(t)
        said = out.getvalue()
        assert "about 600 steps" in said
        assert ("This CPU is busy: the run got 25% of its 2 threads' time" in said) is busy
        assert ("a quiet machine the same budget gives about 2,400 steps" in said) is busy

def test_benchmark_results_replace_the_provisional_table():
    shipped = {"provisional": True, "source": "typed in", "candidates": {"dcgan-w32-b64": {"family": "dcgan"}},
               "cases": [{"provisional": True, "data": "typed", "count": 60000, "resolution": 32,
                          "results": [{"candidate": "dcgan-w32-b64", "images": 9000, "score": 50.0}]}]}
    case = {"data": "mine", "sha256": "abc", "count": 500, "resolution": 64, "metric": "fid[x]",
            "results": [{"candidate": "fast", "images": 1000, "score": 90.0}]}
    table = plan.add_case(shipped, case, {"fast": TABLE["candidates"]["fast"]}, "benchmark run")
    assert table["provisional"] is False and table["source"] == "benchmark run"
    assert [c["data"] for c in table["cases"]] == ["mine"]  # the typed-in case is gone
    assert "fast" in table["candidates"] and "dcgan-w32-b64" in table["candidates"]
    longer = {**case, "results": [{"candidate": "fast", "images": 8000, "score": 50.0}]}
    rerun = {**case, "results": [{"candidate": "fast", "images": 1010, "score": 80.0}]}
    table = plan.add_case(plan.add_case(table, longer, {}, "b"), rerun, {}, "c")
    assert sorted((r["images"], r["score"]) for r in table["cases"][0]["results"]) == [(1010, 80.0), (8000, 50.0)]
    assert shipped["provisional"] is True  # the input is not changed
    other_seed = {**case, "results": [{"candidate": "fast", "images": 1020, "score": 70.0, "seed": 1}]}
    table = plan.add_case(table, other_seed, {}, "d")  # a repeat seed joins the first; it replaces nothing
    assert sorted((r.get("seed", 0), r["images"]) for r in table["cases"][0]["results"]) == [
        (0, 1010), (0, 8000), (1, 1020)]


def test_a_data_set_smaller_than_a_batch_gets_smaller_batches(tmp_path):
    from conftest import write_images
    from ganforge.data.prepare import PrepareOptions, prepare

    write_images(tmp_path / "src", 40, size=16, mode="L")
    prepare(str(tmp_path / "src"), tmp_path / "d.zip", PrepareOptions(resolution=16, channels=1, workers=1),
            progress=False)
    seen = []
    p = plan.make_plan(str(tmp_path / "d.zip"), 5, table=TABLE,
                       open_meter=lambda c, data, device: seen.append(c.batch_size) or FixedMeter(0.01))
    assert seen == [16, 16] and p.chosen.candidate.batch_size == 16  # the table's 16 fit 40 images
    seen.clear()
    p = plan.make_plan(str(tmp_path / "d.zip"), 5, table={**TABLE, "candidates": {
        "fast": {**TABLE["candidates"]["fast"], "batch_size": 64}}},
        open_meter=lambda c, data, device: seen.append(c.batch_size) or FixedMeter(0.01))
    assert seen == [32] and p.chosen.candidate.batch_size == 32
