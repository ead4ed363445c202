"""--logger tensorboard / wandb: what the trainer reports, read back from the event files (or a stand-in W&B)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import sys
import tempfile
import types
from pathlib import Path

import pytest

from ganforge.config import ModelConfig, TrainConfig
from ganforge.errors import ConfigError
from ganforge.train import train

pytest.importorskip("tensorboardX")


def read_events(folder: Path) -> dict:
    """{"scalars": {tag: [(step, value)]}, "images": [step], "texts": [step]} as TensorBoard's reader sees
    the event files of ``folder``: files in the order they were written, and a session-start marker
    (``purge_step``) dropping what earlier files hold at or past its step."""
    from tensorboardX.proto.event_pb2 import Event, SessionLog

    events = []
    for path in folder.glob("events.out.tfevents.*"):
        data, pos, file_events = path.read_bytes(), 0, []
        while pos < len(data):  # TFRecord: length (u64), its CRC (u32), the record, its CRC (u32)
            (length,) = struct.unpack("<Q", data[pos:pos + 8])
            file_events.append(Event.FromString(data[pos + 12:pos + 12 + length]))
            pos += 12 + length + 4
        events.append(file_events)
    events.sort(key=lambda es: es[0].wall_time)
    seen: dict = {"scalars": {}, "images": [], "texts": []}
    for event in (e for es in events for e in es):
        if event.HasField("session_log") and event.session_log.status == SessionLog.START:
            for tag, points in seen["scalars"].items():
                seen["scalars"][tag] = [p for p in points if p[0] < event.step]
            seen["images"] = [s for s in seen["images"] if s < event.step]
            seen["texts"] = [s for s in seen["texts"] if s < event.step]
        for value in event.summary.value:
            if value.HasField("image"):
                seen["images"].append(event.step)
            elif value.metadata.plugin_data.plugin_name == "text":
                seen["texts"].append(event.step)
            else:
                seen["scalars"].setdefault(value.tag, []).append((event.step, value.simple_value))
    return seen


def _cfg(out: Path, data: Path, steps: int, logger: str = "tensorboard") -> TrainConfig:
    return TrainConfig(data=str(data), out=str(out), steps=steps, batch_size=16, n_samples=4, sample_every=2,
                       checkpoint_every=4, logger=logger)


MODEL = dict(family="dcgan", width=8, latent_dim=8)


def test_tensorboard_holds_every_logged_statistic_samples_and_config(tmp_path, tiny_dataset):
    train(_cfg(tmp_path / "r", tiny_dataset, 4), ModelConfig(**MODEL))
    seen = read_events(tmp_path / "r" / "tensorboard")
    for tag in ("train/d_loss", "train/g_loss", "train/d_real", "train/d_fake", "train/d_acc", "train/img_per_s",
                "train/lr_g", "train/lr_d"):
        assert [s for s, _ in seen["scalars"][tag]] == [1, 2, 3, 4], tag
    assert seen["scalars"]["train/lr_g"][0][1] == pytest.approx(2e-4)
    assert seen["images"] == [2, 4, 4]  # every grid, and the final one
    assert seen["texts"] == [0]


def test_tensorboard_resume_continues_the_stream_without_duplicated_or_missing_steps(tmp_path, tiny_dataset):
    run = tmp_path / "r"
    train(_cfg(run, tiny_dataset, 6), ModelConfig(**MODEL))
    # as if the process died at step 6 with its last checkpoint at step 4: steps 5 and 6 are redone
    shutil.copy(run / "checkpoints" / "step-0000004.pt", run / "checkpoints" / "latest.pt")
    train(_cfg(run, tiny_dataset, 8), ModelConfig(**MODEL), resume=True)
    seen = read_events(run / "tensorboard")
    assert len(list((run / "tensorboard").glob("events.out.tfevents.*"))) == 2
    assert [s for s, _ in seen["scalars"]["train/d_loss"]] == list(range(1, 9))
    from ganforge.runs import read_jsonl

    logged = {r["step"]: r["d_loss"] for r in read_jsonl(run / "log.jsonl")}
    assert [v for _, v in seen["scalars"]["train/d_loss"]] == pytest.approx([logged[s] for s in range(1, 9)])
    assert seen["texts"] == [0, 4]  # the configuration at the start of each session


def test_evaluation_metrics_reach_the_logger(tmp_path, tiny_dataset):
    cfg = _cfg(tmp_path / "r", tiny_dataset, 4)
    cfg.eval_every, cfg.eval_metric, cfg.eval_n = 2, "c2st", 32
    train(cfg, ModelConfig(**MODEL))
    seen = read_events(tmp_path / "r" / "tensorboard")
    assert [s for s, _ in seen["scalars"]["eval/c2st_acc_pixels"]] == [2, 4]


def test_a_missing_logger_package_is_one_line(tmp_path, tiny_dataset, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(ConfigError, match=r"pip install 'ganforge\[tensorboard\]'"):
        train(_cfg(tmp_path / "r", tiny_dataset, 2), ModelConfig(**MODEL))
    assert not (tmp_path / "r").exists()  # refused before anything was written
    monkeypatch.setitem(sys.modules, "wandb", None)
    with pytest.raises(ConfigError, match=r"pip install 'ganforge\[wandb\]'"):
        train(_cfg(tmp_path / "r", tiny_dataset, 2, "wandb"), ModelConfig(**MODEL))


class FakeWandb(types.ModuleType):
    """The part of the wandb package the logger uses, recording the calls (wandb is not installed here)."""

    def __init__(self):
        super().__init__("wandb")
        self.inits: list[dict] = []
        self.logged: list[tuple[int, dict]] = []
        self.config: dict = {}
        self.finished = 0

    def init(self, **kwargs):
        self.inits.append(kwargs)
        fake = self

        class Config:
            def update(self, values, allow_val_change=False):
                fake.config.update(values)

        class Run:
            config = Config()

            def log(self, values, step):
                fake.logged.append((step, values))

            def finish(self):
                fake.finished += 1

        return Run()

    class Image:
        def __init__(self, image):
            self.size = image.size


def test_wandb_runs_offline_with_the_same_content_and_resumes_the_same_run(tmp_path, tiny_dataset, monkeypatch):
    fake = FakeWandb()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    run = tmp_path / "r"
    train(_cfg(run, tiny_dataset, 4, "wandb"), ModelConfig(**MODEL))
    train(_cfg(run, tiny_dataset, 6, "wandb"), ModelConfig(**MODEL), resume=True)
    assert [i["mode"] for i in fake.inits] == ["offline", "offline"]
    assert fake.inits[0]["id"] == fake.inits[1]["id"] and fake.inits[1]["resume"] == "allow"
    assert fake.inits[0]["dir"] == str(run)
    steps = [step for step, values in fake.logged if "train/d_loss" in values]
    assert steps == [1, 2, 3, 4, 5, 6]
    assert [step for step, values in fake.logged if "samples" in values] == [2, 4, 4, 6, 6]
    assert fake.config["model"]["family"] == "dcgan" and fake.finished == 2
    monkeypatch.setenv("WANDB_MODE", "online")  # the user's choice wins
    train(_cfg(tmp_path / "o", tiny_dataset, 1, "wandb"), ModelConfig(**MODEL))
    assert fake.inits[-1]["mode"] == "online"


def read_wandb_log(path: Path) -> list:
    """The records (wandb's protocol buffers) of an offline run's transaction log ``run-ID.wandb``: a 7-byte
    header (``:W&B``, magic, version), then LevelDB's log format: 32 KiB blocks of chunks, each a CRC (u32),
    a length (u16) and a kind (full, first, middle, last) before its bytes; a block's tail under 7 bytes is
    padding."""
    from wandb.proto.wandb_internal_pb2 import Record

    data = path.read_bytes()
    assert data[:4] == b":W&B", path
    block, pos, records, pieces = 32768, 7, [], b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:
            pos += block - pos % block
            continue
        length, kind = struct.unpack("<HB", data[pos + 4:pos + 7])
        if length == kind == 0:  # zeros: the end of what was written
            break
        pieces += data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # full, last
            records.append(Record.FromString(pieces))
            pieces = b""
    return records


def _item(item) -> tuple[str, object]:
    """A history or config item as (key, value): a JSON text in wandb 0.31, typed fields in later versions."""
    fields = {f.name: v for f, v in item.ListFields()}
    key = fields.pop("key", "") or ".".join(fields.pop("nested_key", []))
    fields.pop("nested_key", None)
    return key, json.loads(fields["value_json"]) if "value_json" in fields else next(iter(fields.values()), None)


@pytest.mark.slow
def test_real_wandb_runs_offline_locally_and_resume_continues_the_same_run(tmp_path, tiny_dataset, monkeypatch):
    wandb = pytest.importorskip("wandb")
    monkeypatch.delenv("WANDB_MODE", raising=False)  # ganforge's default must be offline
    monkeypatch.setenv("WANDB_ERROR_REPORTING", "")  # recorded, so what ganforge sets is undone afterwards
    monkeypatch.delenv("WANDB_ERROR_REPORTING")
    for name in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR", "WANDB_ARTIFACT_DIR"):
        monkeypatch.setenv(name, str(tmp_path / "wandb-home" / name.lower()))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # wandb-core's port file
    # No network: this process's sockets may not leave the machine, and wandb-core (a separate process, which
    # Python cannot patch) is pointed at a local server that must see no connection.
    attempts = []
    real_connect = socket.socket.connect

    def connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            attempts.append(address)
            raise OSError("no network in this test")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    server = socket.create_server(("127.0.0.1", 0))
    server.setblocking(False)
    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{server.getsockname()[1]}")
    run = tmp_path / "r"
    try:
        train(_cfg(run, tiny_dataset, 4, "wandb"), ModelConfig(**MODEL))
        train(_cfg(run, tiny_dataset, 6, "wandb"), ModelConfig(**MODEL), resume=True)
        assert os.environ["WANDB_ERROR_REPORTING"] == "false"
    finally:
        wandb.teardown()  # stops wandb-core, which was started with this test's environment
    assert attempts == []
    with pytest.raises(BlockingIOError):
        server.accept()
    server.close()

    sessions = sorted((run / "wandb").glob("offline-run-*"))  # named by the second each session started
    assert len(sessions) == 2
    run_id = (run / ".wandb-id").read_text().strip()
    assert [s.name.rsplit("-", 1)[1] for s in sessions] == [run_id, run_id]
    from ganforge.runs import read_jsonl

    logged = {r["step"]: r for r in read_jsonl(run / "log.jsonl")}
    history: list[tuple[int, dict]] = []
    configs = []
    for session in sessions:
        (log,) = session.glob("run-*.wandb")
        for record in read_wandb_log(log):
            kind = record.WhichOneof("record_type")
            if kind == "run":
                assert record.run.run_id == run_id
            elif kind == "history":
                history.append((record.history.step.num, dict(map(_item, record.history.item))))
            elif kind == "config":
                configs.append(dict(map(_item, record.config.update)))
    assert [step for step, _ in history] == [1, 2, 3, 4, 5, 6]  # each step once, across both sessions
    for step, values in history:
        assert values["train/d_loss"] == pytest.approx(logged[step]["d_loss"])
        assert values["train/g_loss"] == pytest.approx(logged[step]["g_loss"])
        assert values["train/lr_g"] == pytest.approx(2e-4)
    assert [step for step, values in history if "samples" in values or "samples._type" in values] == [2, 4, 6]
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["family"] == "dcgan" and config["train"]["logger"] == "wandb"
    assert [{k: v for k, v in c.items() if not k.startswith("_")} for c in configs] == [config, config]


def test_numbers_keeps_finite_statistics_under_tag_names():
    from ganforge.loggers import numbers

    record = {"step": 3, "d_loss": 1.5, "skipped": ["g_loss"], "g_loss": None, "nan": float("nan"), "ok": True,
              "fid[inception]": 12.0, "p": 0}
    assert numbers(record) == {"d_loss": 1.5, "fid_inception": 12.0, "p": 0.0}
