"""Two-domain data sets (issue 16 point 1): prepare, load, show, unpaired resumable batches."""

import json
import zipfile

import numpy as np
import pytest
import torch

from conftest import run_cli, write_images
from ganforge.data.dataset import load_dataset
from ganforge.data.domains import (
    parse_domains,
    prepare_domains,
    prepare_subfolder_domains,
)
from ganforge.data.loader import BatchLoader, PairLoader, make_loader
from ganforge.data.prepare import PrepareOptions
from ganforge.errors import DataError


@pytest.fixture(scope="module")
def two_domain(tmp_path_factory):
    root = tmp_path_factory.mktemp("domains")
    write_images(root / "src" / "cats", 20, size=24, mode="RGB", seed=1)
    write_images(root / "src" / "dogs", 12, size=24, mode="L", seed=2)
    out = root / "cd.zip"
    report = prepare_domains([("cats", str(root / "src" / "cats")), ("dogs", str(root / "src" / "dogs"))], out,
                             PrepareOptions(resolution=16, workers=1), progress=False)
    return root, out, report


def test_parse_domains_keeps_commas_inside_a_source():
    assert parse_domains("A=photos/,B=emoji:faces,people") == [("A", "photos/"), ("B", "emoji:faces,people")]
    for bad in ("photos/", "A=x", "A=x,B=y,C=z", "A=x,A=y"):
        with pytest.raises(DataError):
            parse_domains(bad)


def test_round_trip_keeps_each_domain_its_count_report_and_provenance(two_domain):
    root, out, report = two_domain
    ds = load_dataset(out, use_cache=False)
    assert [d["key"] for d in ds.domains] == ["A", "B"] and [d["name"] for d in ds.domains] == ["cats", "dogs"]
    assert [d["count"] for d in ds.domains] == [20, 12] and len(ds) == 32
    assert ds.channels == 3  # the grey domain was written as RGB to match the colour one
    assert list(ds.domain_indices(0)) == list(range(20)) and list(ds.domain_indices(1)) == list(range(20, 32))
    assert all(r["source"].startswith("img") for r in ds.info["items"])
    assert ds.info["version"] == 2 and ds.labels is None
    saved = json.loads(out.with_suffix(".report.json").read_text())
    assert saved["per_domain"] == {"A": {"name": "cats", "count": 20}, "B": {"name": "dogs", "count": 12}}
    assert saved["domains"]["A"]["used"] == 20 and saved["domains"]["B"]["seen"] == 12
    assert report["written"] == 32


def test_one_domain_sets_are_still_version_1_and_load_as_before(tiny_dataset):
    with zipfile.ZipFile(tiny_dataset) as zf:
        assert json.loads(zf.read("dataset.json"))["version"] == 1
    ds = load_dataset(tiny_dataset)
    assert ds.domains is None and isinstance(make_loader(ds, 8), BatchLoader)


def test_subfolders_as_domains_and_the_cli(tmp_path, capsys):
    write_images(tmp_path / "src" / "horses", 10, size=20, seed=3)
    write_images(tmp_path / "src" / "zebras", 9, size=20, seed=4)
    out = tmp_path / "hz.zip"
    code, stdout, err = run_cli(capsys, "data", "prepare", tmp_path / "src", "--labels", "subfolders", "--as-domains",
                                "--out", out, "--size", "16", "--workers", "1")
    assert code == 0, err
    assert "domains: A (horses) 10, B (zebras) 9" in stdout
    ds = load_dataset(out, use_cache=False)
    assert [d["count"] for d in ds.domains] == [10, 9] and ds.classes is None
    code, stdout, err = run_cli(capsys, "data", "show", out, "--out", tmp_path / "sheet.png")
    assert code == 0 and "domain A (horses): 10 images" in stdout and "domain B (zebras): 9 images" in stdout
    assert (tmp_path / "sheet.png").is_file()

    write_images(tmp_path / "three" / "c", 3, seed=5)
    write_images(tmp_path / "three" / "d", 3, seed=6)
    write_images(tmp_path / "three" / "e", 3, seed=7)
    with pytest.raises(DataError, match="exactly two subfolders"):
        prepare_subfolder_domains(str(tmp_path / "three"), tmp_path / "x.zip", PrepareOptions(resolution=16, workers=1),
                                  progress=False)
    code, _, err = run_cli(capsys, "data", "prepare", "--out", tmp_path / "y.zip", "--as-domains")
    assert code == 1 and err.count("\n") == 1
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    domains = f"A={tmp_path / 'src' / 'horses'},B={tmp_path / 'empty'}"
    code, _, err = run_cli(capsys, "data", "prepare", "--domains", domains,
                           "--out", tmp_path / "z.zip", "--size", "16", "--workers", "1")
    last = err.strip().splitlines()[-1]  # after domain A's progress line
    assert code == 1 and last.startswith("ganforge: error: domain B (B): no image files") and "details in" not in last


def test_unpaired_batches_come_from_both_domains_and_resume_exactly(two_domain):
    _, out, _ = two_domain
    ds = load_dataset(out)
    loader = PairLoader(ds, 4, seed=3)
    first = [next(loader)[0] for _ in range(4)]
    assert first[0].shape == (4, 2, 3, 16, 16)
    a_pixels = {tuple(x.flatten()[:8].tolist()) for b in first for x in b[:, 0]}
    b_pixels = {tuple(x.flatten()[:8].tolist()) for b in first for x in b[:, 1]}
    a_all = {tuple(torch.from_numpy(np.array(ds.images[i])).permute(2, 0, 1).float().div(127.5).sub(1)
                   .flatten()[:8].tolist()) for i in range(20)}
    assert a_pixels <= a_all and not (b_pixels & a_all)  # each half only from its own domain
    state = loader.state_dict()
    rest = [next(loader)[0] for _ in range(7)]  # B (12 images, 3 batches) wraps into new epochs first
    again = PairLoader(ds, 4, seed=3)
    again.load_state_dict(state)
    assert all(torch.equal(x, y) for x, y in zip(rest, [next(again)[0] for _ in range(7)]))
    assert loader.domains[1].epoch > loader.domains[0].epoch  # each domain shuffles on its own
    assert 0 < loader.epoch_progress < 1 + 1e-9 + loader.domains[1].epoch  # counted by the larger domain


def test_a_domain_smaller_than_the_batch_is_a_clear_error(two_domain):
    with pytest.raises(DataError, match="domain B has 12 images"):
        PairLoader(load_dataset(two_domain[1]), 16)
