"""ganforge reproduce: theses listed, data found or refused clearly, a tiny-budget run writes both reports."""

import json
import zipfile

import pytest

from conftest import run_cli, write_images
from ganforge.errors import DataError
from ganforge.experiments import theses


def test_list_describes_every_thesis(capsys):
    code, out, _ = run_cli(capsys, "reproduce", "--list")
    assert code == 0
    for name in ("faces", "mitlgan", "dogs", "cats", "spiders"):
        assert f"{name}: " in out
    assert "mnist-dense" in out and "dogs-dcgan-64" in out


def test_the_command_knows_the_same_theses():
    from ganforge.commands.reproduce import THESES

    assert THESES == tuple(theses.THESES)


def test_missing_data_is_one_clear_line(tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(capsys, "reproduce", "spiders", "--out", tmp_path / "s")
    assert code != 0 and "spider" in err and "--data" in err and "Traceback" not in err
    monkeypatch.setattr(theses, "SHARED_DATA", [tmp_path / "nowhere"])
    code, _, err = run_cli(capsys, "reproduce", "faces", "--out", tmp_path / "f")
    assert code != 0 and "anime-faces-64.zip not found" in err
    code, _, err = run_cli(capsys, "reproduce", "mitlgan", "--out", tmp_path / "m", "--data", tmp_path)
    assert code != 0 and "foreground-SIZE.zip" in err or "foreground-" in err


def test_dogs_take_only_the_dogs_folder_of_a_zip(tmp_path):
    write_images(tmp_path / "catsdogs" / "dogs", 3, size=20)
    write_images(tmp_path / "catsdogs" / "cats", 2, size=20, seed=1)
    z = tmp_path / "cd.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for p in (tmp_path / "catsdogs").rglob("*.png"):
            zf.write(p, p.relative_to(tmp_path).as_posix())
    out = theses._extract_subfolder(z, "dogs", tmp_path / "dogs-src")
    assert len(list(out.iterdir())) == 3
    with pytest.raises(DataError, match="no folder named"):
        theses._extract_subfolder(z, "spiders", tmp_path / "x")


def test_tiny_reproduce_of_the_cats_thesis_writes_reports(tmp_path, capsys):
    write_images(tmp_path / "src", 48, size=28, mode="L")
    out = tmp_path / "r"
    code, stdout, err = run_cli(capsys, "reproduce", "cats", "--data", tmp_path / "src", "--out", out,
                                "--budget", "0.005", "--batch-size", "16", "--width", "8", "--metrics", "")
    assert code == 0, err
    results = json.loads((out / "results.json").read_text())
    assert list(results["stats"]) == ["thesis: dense GAN", "thesis: convolutional GAN",
                                      "ganforge today: dcgan nets, hinge, spectral norm, DiffAugment, EMA"]
    assert [s["family"] for s in results["stats"].values()] == ["mlp", "dcgan", "dcgan"]
    assert all(s["steps"] >= 1 for s in results["stats"].values())
    md = (out / "report.md").read_text()
    assert "## The thesis's reported figures" in md and theses.NOT_AVAILABLE in md
    assert "thesis: dense GAN | mlp" in md
    page = (out / "report.html").read_text()
    assert "<table>" in page and "data:image/png;base64," in page and "Traceback" not in page
    # the data set was prepared at the thesis's 28 px, not padded to 32
    assert json.loads((out / "runs" / "mnist-conv" / "config.json").read_text())["model"]["resolution"] == 28


@pytest.mark.slow
def test_reproduce_evaluates_every_run_alike(tmp_path, capsys):
    write_images(tmp_path / "src", 48, size=32)
    out = tmp_path / "r"
    code, _, err = run_cli(capsys, "reproduce", "faces", "--data", tmp_path / "src", "--out", out, "--budget", "0.005",
                           "--batch-size", "16", "--width", "8", "--size", "32", "--eval-n", "24")
    assert code == 0, err
    results = json.loads((out / "results.json").read_text())
    assert all("c2st_acc[pixels]" in row for row in results["metrics"].values())
    assert "c2st_acc[pixels]" in (out / "report.md").read_text()
