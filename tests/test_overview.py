"""ganforge runs / show: a run at a glance from its small files and its lock."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli
from ganforge.config import ModelConfig, TrainConfig
from ganforge.overview import format_runs, list_runs, summarise_run, tail_jsonl
from ganforge.runs import RunDir
from ganforge.train import train


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_dataset):
    """A folder with a finished run (4 of 4 steps) and a stopped one (2 of 6 steps: budget raised later)."""
    root = tmp_path_factory.mktemp("runs")
    for name, steps in (("done", 4), ("halfway", 2)):
        train(TrainConfig(data=str(tiny_dataset), out=str(root / name), steps=steps, batch_size=16, n_samples=4,
                          sample_every=2, checkpoint_every=2), ModelConfig(family="dcgan", width=8, latent_dim=8))
    config = json.loads((root / "halfway" / "config.json").read_text())
    config["train"]["steps"] = 6  # as if Ctrl-C had stopped a 6-step run at step 2
    (root / "halfway" / "config.json").write_text(json.dumps(config))
    (root / "not-a-run").mkdir()
    return root


def test_runs_lists_family_data_step_images_and_state(runs):
    rows = {r.path.rsplit("/", 1)[-1]: r for r in list_runs(runs)}
    assert set(rows) == {"done", "halfway"}
    done, half = rows["done"], rows["halfway"]
    assert (done.family, done.dataset, done.step, done.state) == ("dcgan", "tiny16.zip", 4, "finished")
    assert done.images_seen == 4 * 16  # one real batch per step
    assert (half.step, half.state, half.health) == (2, "stopped", "ok")  # the health checks found nothing


def test_a_locked_run_is_running_with_its_pid(runs):
    import os

    lock = RunDir(runs / "done").lock_for_training()
    try:
        s = summarise_run(runs / "done")
        assert (s.state, s.pid) == ("running", os.getpid())
    finally:
        lock.release()
    assert summarise_run(runs / "done").state == "finished"


def test_metrics_and_health_show_when_the_run_has_them(runs, tmp_path):
    import shutil

    run = tmp_path / "r"
    shutil.copytree(runs / "done", run)
    (run / "metrics.jsonl").write_text(json.dumps({"step": 4, "time": 1.0, "n": 100, "fid": 123.4}) + "\n")
    (run / "health.json").write_text(json.dumps({"step": 4, "checks": {
        "collapse": {"warning": True, "message": "m"}, "overfitting": {"warning": False, "message": "m"}}}))
    s = summarise_run(run)
    assert s.metrics == {"fid": 123.4} and s.health == "warning: collapse"
    out = format_runs(list_runs(run))
    assert "HEALTH" in out and "warning" in out and "fid 123.4" in out
    with open(run / "log.jsonl", "a") as f:  # a health note in the log is not the last training record
        f.write(json.dumps({"step": 4, "health": {"collapse": {"warning": False, "value": 0.9}}}) + "\n")
    (run / "health.json").unlink()
    s = summarise_run(run)
    assert (s.health, s.step, s.images_seen) == ("ok", 4, 64)


def test_runs_command_table_and_json(runs, capsys):
    code, out, _ = run_cli(capsys, "runs", runs)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:6] == ["RUN", "FAMILY", "DATA", "STEP", "IMAGES", "STATE"]
    assert "HEALTH" in lines[0]  # every run made now records its health checks
    assert any(line.startswith("done ") and "finished" in line for line in lines)
    code, out, _ = run_cli(capsys, "runs", runs, "--json")
    assert {r["state"] for r in json.loads(out)} == {"finished", "stopped"}


def test_show_prints_config_last_log_lines_and_where_things_are(runs, capsys):
    code, out, _ = run_cli(capsys, "show", runs / "halfway", "--lines", "1")
    assert code == 0
    assert "dcgan on tiny16.zip, step 2" in out and "stopped" in out
    assert "model: family=dcgan" in out
    assert "last 1 log record(s)" in out and "step 2" in out
    assert str(RunDir(runs / "halfway").latest_samples) in out
    assert str(RunDir(runs / "halfway").latest_checkpoint) in out
    assert "ganforge train --out" in out and "--resume" in out


def test_show_refuses_a_folder_that_is_no_run_in_one_line(runs, capsys):
    code, _, err = run_cli(capsys, "show", runs / "not-a-run")
    assert code == 1 and "not a run directory" in err and len(err.strip().splitlines()) == 1


def test_tail_jsonl_reads_the_end_and_skips_a_torn_line(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps({"step": i}) + "\n" for i in range(1, 2001)) + '{"step": 20')
    assert [r["step"] for r in tail_jsonl(path, 3, block=64)] == [1998, 1999, 2000]
    assert tail_jsonl(tmp_path / "none.jsonl", 3) == []
