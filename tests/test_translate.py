"""``ganforge translate`` and ``generate`` on two-domain runs (issue 16 point 4)."""

import zipfile

import pytest
from PIL import Image

from conftest import run_cli


@pytest.fixture(scope="module")
def runs(two_domain_runs):
    return two_domain_runs


def test_translate_files_folders_and_zips_both_ways(runs, tmp_path, capsys):
    root, out = runs
    with zipfile.ZipFile(tmp_path / "in.zip", "w") as zf:
        zf.write(root / "a" / "img000.png", "x/one.png")
    code, stdout, err = run_cli(capsys, "translate", out["cyclegan"], root / "a" / "img001.png", root / "b",
                                tmp_path / "in.zip", "--direction", "b2a", "--out", tmp_path / "t")
    assert code == 0, err
    names = sorted(p.name for p in (tmp_path / "t").iterdir())
    assert len(names) == 10 and "one.png" in names and "10 image(s) translated b2a" in stdout
    assert Image.open(tmp_path / "t" / "one.png").size == (32, 32)  # prepared as the data set: 40 px -> 32
    code, _, err = run_cli(capsys, "translate", out["dtn"], root / "a", "--out", tmp_path / "d")
    assert code == 0, err
    assert len(list((tmp_path / "d").iterdir())) == 8


def test_translate_errors_are_one_line(runs, tmp_path, capsys, trained_run):
    root, out = runs
    (tmp_path / "bad.png").write_bytes(b"not an image")
    cases = [(trained_run, root / "a", "a2b", "not a translator"),
             (out["cogan"], root / "a", "a2b", "not a translator"),
             (out["cyclegan"], tmp_path / "bad.png", "a2b", "cannot"), (out["dtn"], root / "a", "b2a", "one way"),
             (out["cyclegan"], tmp_path / "missing.png", "a2b", "no image")]
    for run, image, direction, message in cases:
        code, _, err = run_cli(capsys, "translate", run, image, "--direction", direction, "--out", tmp_path / "o")
        assert code == 1 and message in err and err.count("\n") == 1, err


def test_generate_on_a_cogan_run_writes_pairs_side_by_side(runs, tmp_path, capsys):
    _, out = runs
    code, _, err = run_cli(capsys, "generate", out["cogan"], "--n", "2", "--separate", "--out", tmp_path / "g")
    assert code == 0, err
    assert Image.open(tmp_path / "g" / "seed000000.png").size == (64, 32)


def test_export_safetensors_of_each_family_and_translate_from_it(runs, tmp_path, capsys):
    root, out = runs
    for family in ("cyclegan", "dtn", "cogan"):
        code, _, err = run_cli(capsys, "export", out[family], "--format", "safetensors", "--out", tmp_path / family)
        assert code == 0, err
    code, _, err = run_cli(capsys, "translate", tmp_path / "cyclegan", root / "a", "--out", tmp_path / "t")
    assert code == 0, err
    assert len(list((tmp_path / "t").iterdir())) == 8


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
@pytest.mark.parametrize("fmt", ["torchscript", pytest.param("onnx", marks=pytest.mark.slow)])
def test_translators_export_as_onnx_and_torchscript_one_file_per_direction(runs, tmp_path, capsys, fmt):
    import json

    import numpy as np
    import torch

    from ganforge.artifacts import load_generator
    from ganforge.export import CONFIG_NAME, TOLERANCE, load_exported
    from ganforge.models import family

    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    root, out = runs
    for name, ways in (("cyclegan", ["a2b", "b2a"]), ("dtn", ["a2b"])):
        code, stdout, err = run_cli(capsys, "export", out[name], "--format", fmt, "--out", tmp_path / name)
        assert code == 0 and "checked against PyTorch" in stdout, err
        meta = json.loads((tmp_path / name / CONFIG_NAME).read_text())
        suffix = ".onnx" if fmt == "onnx" else ".torchscript.pt"
        assert meta["directions"] == ways and meta["files"] == {d: f"generator.{d}{suffix}" for d in ways}
        assert meta["inputs"][0]["shape"] == ["batch", 3, 32, 32] and meta["check"]["max_abs_error"] <= TOLERANCE
        G, cfg, _ = load_generator(out[name])
        E, _, _ = load_exported(tmp_path / name)
        x = torch.rand(5, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1  # batch 5: not traced
        with torch.no_grad():
            for d in ways:
                ref = family(name).translate(G, x, d)
                assert (E.translate(x, d) - ref).abs().max() <= TOLERANCE, (name, d)
            assert (E.translate(x, "a2b") - E.translate(x.flip(0), "a2b").flip(0)).abs().max() <= TOLERANCE
        # ganforge translate takes the export and writes the run's images (to within one uint8 step)
        for src, dst in ((out[name], "from-run"), (tmp_path / name, "from-export")):
            code, _, err = run_cli(capsys, "translate", src, root / "a", "--direction", ways[-1],
                                   "--out", tmp_path / name / dst)
            assert code == 0, err
        for png in sorted((tmp_path / name / "from-run").iterdir()):
            a = np.asarray(Image.open(png), dtype=int)
            b = np.asarray(Image.open(tmp_path / name / "from-export" / png.name), dtype=int)
            assert np.abs(a - b).max() <= 1, png
    code, _, err = run_cli(capsys, "translate", tmp_path / "dtn", root / "a", "--direction", "b2a",
                           "--out", tmp_path / "o")
    assert code == 1 and "a2b only" in err and err.count("\n") == 1


def test_evaluate_a_translation_run_per_direction_with_a_fitted_domain_extractor(runs, tmp_path, capsys):
    root, out = runs
    ext = tmp_path / "ab-cnn.pt"
    code, _, err = run_cli(capsys, "features", "fit", "--data", root / "ab.zip", "--out", ext, "--epochs", "1",
                           "--device", "cpu")
    assert code == 0, err
    import json

    for family, keys in (("cyclegan", ["fid[ab-cnn]/a2b", "fid[ab-cnn]/b2a", "fid[ab-cnn]/a_vs_b", "cycle_l1/a2b",
                                       "cycle_l1/b2a", "target_rate/a2b", "kid[ab-cnn]/b2a"]),
                         ("dtn", ["fid[ab-cnn]/a2b", "f_const/a2b", "target_rate/a_vs_b"]),
                         ("cogan", ["fid[ab-cnn]/a", "fid[ab-cnn]/b"])):
        code, _, err = run_cli(capsys, "evaluate", out[family], "--metrics", "fid,kid", "--features", ext, "--n", "8",
                               "--device", "cpu")
        assert code == 0, err
        metrics = json.loads((out[family] / "evaluation.json").read_text())["metrics"]
        assert set(keys) <= set(metrics), (family, sorted(metrics))
        if family == "dtn":
            assert not any(k.endswith("/b2a") for k in metrics)


def test_the_web_app_refuses_latents_for_a_translator_in_one_line(runs):
    from ganforge.web import create_app

    root, out = runs
    app = create_app(root, {"TESTING": True})
    with app.test_request_context():
        from werkzeug.exceptions import BadRequest

        from ganforge.web.generators import get_generator

        with pytest.raises(BadRequest, match="translator"):
            get_generator("cyclegan")
        G, cfg = get_generator("cogan")  # a CoGAN draws (pairs) from latents
        assert cfg.family == "cogan"


def test_compare_puts_translation_runs_side_by_side(runs, tmp_path, capsys):
    import json

    root, out = runs
    ext = tmp_path / "ab-cnn.pt"
    assert run_cli(capsys, "features", "fit", "--data", root / "ab.zip", "--out", ext, "--epochs", "1",
                   "--device", "cpu")[0] == 0
    code, _, err = run_cli(capsys, "compare", out["cyclegan"], out["dtn"], out["cogan"], "--out", tmp_path / "cmp",
                           "--metrics", "fid", "--features", ext, "--n", "8", "--device", "cpu")
    assert code == 0, err
    table = json.loads((tmp_path / "cmp" / "comparison.json").read_text())["table"]
    assert set(table) == {"cyclegan", "dtn", "cogan"}
    assert {"fid[ab-cnn]/a2b", "fid[ab-cnn]/a_vs_b"} <= set(table["cyclegan"]) & set(table["dtn"])
    assert "cycle_l1/b2a" in table["cyclegan"] and "f_const/a2b" in table["dtn"]
    assert {"fid[ab-cnn]/a", "fid[ab-cnn]/b"} <= set(table["cogan"])
    md = (tmp_path / "cmp" / "report.md").read_text()
    row = next(line for line in md.splitlines() if line.startswith("| fid[ab-cnn]/a2b |"))
    assert row.count(" - ") == 1  # a value for cyclegan and dtn; the cogan column has none
    assert "NOT comparable" not in md  # one data set, extractor and n for all three
    assert md.count("![") >= 3  # every run's sample grid


def test_latent_tools_refuse_a_translator_in_one_line(runs, tmp_path, capsys):
    """A translator's G takes images: generate and the latent tools say so instead of failing inside G."""
    _, out = runs
    code, _, err = run_cli(capsys, "generate", out["cyclegan"], "--n", 2, "--out", tmp_path / "g.png")
    assert code == 1 and "translator" in err and "ganforge translate" in err and "Traceback" not in err
    assert not (tmp_path / "g.png").exists()
