"""``hf:`` through huggingface_hub and pyarrow, against the fake Hub on 127.0.0.1 (tests/fake_hub.py).

Real Parquet files (pyarrow) of real PNGs (Pillow), as ``datasets.push_to_hub`` and the Hub's Parquet
export write them, and an imagefolder repository; never the internet.
"""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from fake_hub import FakeHub, Repo, isolate_hub
from ganforge.cli import main
from ganforge.data.dataset import load_dataset, read_info
from ganforge.data.prepare import PrepareOptions, prepare
from ganforge.errors import DataError

pytest.importorskip("huggingface_hub")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

CARD = """---
license: cc-by-4.0
dataset_info:
  features:
  - name: image
    dtype: image
  - name: label
    dtype:
      class_label:
        names:
          '0': cat
          '1': dog
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*
  - split: test
    path: data/test-*
---

# Pets
"""


@pytest.fixture(autouse=True)
def offline_hub_settings(tmp_path, monkeypatch):
    isolate_hub(monkeypatch, tmp_path / "hf-home")
    monkeypatch.delenv("GANFORGE_HF_API", raising=False)


@pytest.fixture
def hub(monkeypatch):
    with FakeHub() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server


def png(value: int, size=(24, 20)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (value, 255 - value, 7)).save(buf, format="PNG")
    return buf.getvalue()


def parquet(rows: list[tuple[bytes | None, int]], class_names: list[str] | None = None) -> bytes:
    """A Parquet file as ``datasets`` writes it: an Image struct {bytes, path} and an int label, two rows a group."""
    image = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    table = pa.table({"image": pa.array([None if b is None else {"bytes": b, "path": f"{i}.png"}
                                         for i, (b, _) in enumerate(rows)], image),
                      "label": pa.array([label for _, label in rows], pa.int64())})
    if class_names:
        features = {"image": {"_type": "Image"}, "label": {"_type": "ClassLabel", "names": class_names}}
        table = table.replace_schema_metadata({"huggingface": json.dumps({"info": {"features": features}})})
    buf = io.BytesIO()
    pq.write_table(table, buf, row_group_size=2)
    return buf.getvalue()


def pets() -> Repo:
    return Repo({
        ".gitattributes": b"*.parquet filter=lfs diff=lfs merge=lfs -text\n",
        "README.md": CARD.encode(),
        "data/train-00000-of-00002.parquet": parquet([(png(0), 0), (png(40), 1), (png(80), 0)]),
        "data/train-00001-of-00002.parquet": parquet([(png(120), 1), (None, 0), (png(160), 1)]),
        "data/test-00000-of-00001.parquet": parquet([(png(200), 1)]),
    })


def opts(**kw) -> PrepareOptions:
    kw.setdefault("resolution", 16)
    kw.setdefault("workers", 1)
    return PrepareOptions(**kw)


def test_parquet_with_a_class_label_named_in_the_card(hub, tmp_path):
    repo = hub.datasets["someone/pets"] = pets()
    report = prepare("hf:someone/pets", tmp_path / "pets.zip", opts(), progress=False)
    assert (report["seen"], report["written"], report["skipped_count"]) == (6, 5, 1)
    assert report["per_class"] == {"cat": 2, "dog": 3}
    assert report["skipped"] == [{"file": "data/train-00001-of-00002.parquet[1]", "reason": "row has no image bytes"}]
    ds = load_dataset(tmp_path / "pets.zip")
    assert ds.classes == ["cat", "dog"] and list(ds.labels) == [0, 1, 0, 1, 1]
    assert [int(v) for v in ds.images[:, 8, 8, 0]] == [0, 40, 80, 120, 160]  # file and row order kept
    info = read_info(tmp_path / "pets.zip")
    assert info["source"] == "hf:someone/pets/default:train"
    item = info["items"][4]
    assert item["url"] == f"{hub.url}/datasets/someone/pets/resolve/{repo.sha}/data/train-00001-of-00002.parquet"
    assert {k: item[k] for k in ("hf_dataset", "hf_config", "hf_split", "hf_revision", "hf_file", "hf_row",
                                 "licence")} == {
        "hf_dataset": "someone/pets", "hf_config": "default", "hf_split": "train", "hf_revision": repo.sha,
        "hf_file": "data/train-00001-of-00002.parquet", "hf_row": 2, "licence": "cc-by-4.0"}
    assert report["source_stats"]["splits"] == ["test", "train"]

    report = prepare("hf:someone/pets:test", tmp_path / "test.zip", opts(), progress=False)
    assert report["written"] == 1 and read_info(tmp_path / "test.zip")["items"][0]["hf_split"] == "test"


def test_limit_stops_reading_and_downloading(hub, tmp_path):
    hub.datasets["someone/pets"] = pets()
    report = prepare("hf:someone/pets", tmp_path / "two.zip", opts(limit=2), progress=False)
    assert report["written"] == 2 and report["seen"] == 2
    fetched = {path.rsplit("/", 1)[-1] for method, path in hub.requests if method == "GET" and "/resolve/" in path}
    assert fetched == {"README.md", "train-00000-of-00002.parquet"}  # the second file is never downloaded


def test_a_script_data_set_is_read_from_the_hubs_parquet_export(hub, tmp_path):
    repo = hub.datasets["someone/flowers"] = Repo({"README.md": b"# Flowers\n", "flowers.py": b"# a loading script\n"})
    export = repo.refs["refs/convert/parquet"] = Repo({
        "default/train/0000.parquet": parquet([(png(10), 2), (png(20), 0)], ["daisy", "rose", "tulip"]),
        "default/partial-validation/0000.parquet": parquet([(png(30), 1)], ["daisy", "rose", "tulip"]),
    })
    report = prepare("hf:someone/flowers", tmp_path / "f.zip", opts(), progress=False)
    assert report["per_class"] == {"daisy": 1, "tulip": 1}  # names from the files' own metadata
    items = read_info(tmp_path / "f.zip")["items"]
    assert items[0]["hf_revision"] == export.sha and items[0]["hf_file"] == "default/train/0000.parquet"
    assert prepare("hf:someone/flowers/default:validation", tmp_path / "v.zip", opts(),
                   progress=False)["per_class"] == {"rose": 1}


def test_imagefolder_classes_from_folders(hub, tmp_path):
    repo = hub.datasets["someone/shapes"] = Repo({
        "README.md": b"---\nlicense: mit\n---\n",
        "data/train/circle/a.png": png(10), "data/train/circle/b.png": png(20),
        "data/train/square/c.png": png(30), "data/train/square/notes.txt": b"not an image",
        "data/test/square/d.png": png(40),
    })
    report = prepare("hf:someone/shapes", tmp_path / "s.zip", opts(), progress=False)
    assert report["written"] == 3 and report["per_class"] == {"circle": 2, "square": 1}
    info = read_info(tmp_path / "s.zip")
    assert info["classes"] == ["circle", "square"] and info["source"] == "hf:someone/shapes/default:train"
    item = info["items"][2]
    assert (item["hf_file"], item["hf_revision"], item["licence"]) == ("data/train/square/c.png", repo.sha, "mit")
    assert item["url"].endswith(f"/datasets/someone/shapes/resolve/{repo.sha}/data/train/square/c.png")
    assert prepare("hf:someone/shapes:test", tmp_path / "t.zip", opts(), progress=False)["written"] == 1


def test_a_missing_split_names_the_splits(hub, tmp_path):
    hub.datasets["someone/pets"] = pets()
    with pytest.raises(DataError) as e:
        prepare("hf:someone/pets:valid", tmp_path / "x.zip", opts(), progress=False)
    assert str(e.value) == "hf:someone/pets: no split 'valid' (splits: test, train)"


def test_a_missing_data_set_is_a_one_line_error(hub, tmp_path, capsys):
    code = main(["data", "prepare", "hf:someone/nothing", "--out", str(tmp_path / "x.zip"), "--size", "16"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("ganforge: error: hf:someone/nothing: ") and "HTTP 404" in last


def test_a_gated_data_set_takes_the_token_from_hf_token(hub, tmp_path, monkeypatch):
    hub.datasets["someone/pets"] = pets()
    hub.datasets["someone/pets"].gated = True
    with pytest.raises(DataError, match=r"HTTP 401.*HF_TOKEN"):
        prepare("hf:someone/pets", tmp_path / "x.zip", opts(), progress=False)
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    assert prepare("hf:someone/pets", tmp_path / "p.zip", opts(), progress=False)["written"] == 5


@pytest.mark.parametrize("content", ["no image column", "not Parquet"])
def test_an_unreadable_parquet_file_is_a_one_line_error(hub, tmp_path, content):
    if content == "not Parquet":
        data = b"PAR1 this is not a parquet file"
    else:
        buf = io.BytesIO()
        pq.write_table(pa.table({"text": ["a", "b"]}), buf)
        data = buf.getvalue()
    hub.datasets["someone/odd"] = Repo({"data/train-00000-of-00001.parquet": data})
    with pytest.raises(DataError) as e:
        prepare("hf:someone/odd", tmp_path / "x.zip", opts(), progress=False)
    message = str(e.value)
    assert message.startswith("hf:someone/odd: cannot read data/train-00000-of-00001.parquet: ") and "\n" not in message
    assert content != "no image column" or message.endswith("no image column (a struct of bytes and path)")
