"""ganforge hub push/pull against a fake Hub on 127.0.0.1 (tests/fake_hub.py); never the internet."""

from __future__ import annotations

import json

import pytest

from fake_hub import FakeHub, Repo, isolate_hub
from ganforge.cli import main
from ganforge.hub import latest_metrics

pytest.importorskip("huggingface_hub")


@pytest.fixture(autouse=True)
def offline_hub_settings(tmp_path, monkeypatch):
    isolate_hub(monkeypatch, tmp_path / "hf-home")


@pytest.fixture(scope="module")
def run_with_metrics(tmp_path_factory, tiny_dataset):
    from ganforge.config import ModelConfig, TrainConfig
    from ganforge.train import train

    run = tmp_path_factory.mktemp("runs") / "tiny"
    train(TrainConfig(data=str(tiny_dataset), out=str(run), steps=2, batch_size=8, n_samples=4),
          ModelConfig(family="dcgan", width=8))
    records = [{"step": 1, "time": 3.5, "n": 64, "fid[fashion-mnist-cnn]": 80.5, "kid[fashion-mnist-cnn]": 0.08,
                "kid_std[fashion-mnist-cnn]": 0.01},
               {"step": 2, "fid[fashion-mnist-cnn]": 61.25},
               {"step": 2, "metric": "c2st", "extractor": "tiny-cnn", "value": 0.73, "p_value": 1e-4}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return run


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_latest_metrics_reads_both_record_shapes_and_keeps_extractor_names():
    got = latest_metrics([{"step": 1, "fid[inception]": 10.0, "elapsed": 3.0},
                          {"step": 4, "fid[inception]": 8.0, "fid[mnist-cnn]": 2.0},
                          {"step": 5, "metric": "kid", "extractor": "inception", "value": 0.01}, {"broken": "x"}])
    assert {(r["metric"], r["extractor"], r["value"], r["step"]) for r in got} == {
        ("fid", "inception", 8.0, 4), ("fid", "mnist-cnn", 2.0, 4), ("kid", "inception", 0.01, 5)}
    (kid,) = latest_metrics([{"step": 2, "n": 500, "kid[x]": 0.5, "kid_std[x]": 0.1}])
    assert (kid["metric"], kid["extractor"], kid["value"], kid["std"]) == ("kid", "x", 0.5, 0.1)


def test_push_then_pull_gives_the_same_generator_and_a_model_card(run_with_metrics, tmp_path, capsys):
    local = str(run_with_metrics.parents[2])  # the session's temporary folder: data set and run live below it
    with FakeHub() as hub:
        code, out, err = cli(capsys, "hub", "push", run_with_metrics, "someone/tiny-dcgan", "--token", "t0k",
                             "--endpoint", hub.url)
        assert code == 0, err
        files = hub.repos["someone/tiny-dcgan"].files
        assert set(files) == {"README.md", "ganforge-export.json", "generator.safetensors", "samples.png", "loss.png",
                              "metrics.jsonl", "training.json"}
        # binary files went through the LFS batch API and PUT, as on the real Hub
        assert any(p.endswith(".git/info/lfs/objects/batch") for _, p in hub.requests)
        assert hub.lfs[__import__("hashlib").sha256(files["generator.safetensors"]).hexdigest()]
        assert hub.model_cards[-1]["library_name"] == "ganforge" and "dcgan" in hub.model_cards[-1]["tags"]

        card = files["README.md"].decode()
        assert "| fid | fashion-mnist-cnn | 61.25 | 2 |" in card       # the last value, with its extractor
        assert "| kid | fashion-mnist-cnn | 0.08 ± 0.01 | 1 |" in card
        assert "| c2st | tiny-cnn | 0.73 | 2 |" in card
        assert "![Samples: seeds 0 to 15](samples.png)" in card and "| dcgan | 100 | 8 |" in card
        assert "128 |" in card  # the data set's image count
        for name, data in files.items():  # no local paths leave the machine
            if name.endswith((".md", ".json", ".jsonl")):
                assert local not in data.decode(), name

        code, out, err = cli(capsys, "hub", "pull", "someone/tiny-dcgan", "--out", tmp_path / "pulled",
                             "--endpoint", hub.url)
        assert code == 0, err
    assert (tmp_path / "pulled" / "generator.safetensors").read_bytes() == files["generator.safetensors"]
    assert cli(capsys, "generate", run_with_metrics, "--n", "6", "--out", tmp_path / "a.png")[0] == 0
    assert cli(capsys, "generate", tmp_path / "pulled", "--n", "6", "--out", tmp_path / "b.png")[0] == 0
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_a_stylegan2_run_goes_to_the_hub_with_its_mapping_and_truncation(tiny_dataset, tmp_path, capsys):
    """issue 19: the pushed export holds the mapping network and w_avg, so the pulled folder truncates in W
    as the run does."""
    from ganforge.config import ModelConfig, TrainConfig
    from ganforge.train import train

    run = tmp_path / "sg"
    train(TrainConfig(data=str(tiny_dataset), out=str(run), loss="stylegan2", steps=2, batch_size=8, n_samples=4,
                      precision="fp32"),
          ModelConfig(family="stylegan2", latent_dim=8, width=4, options={"map_layers": 1}))
    with FakeHub() as hub:
        code, _, err = cli(capsys, "hub", "push", run, "someone/tiny-sg2", "--token", "t", "--endpoint", hub.url)
        assert code == 0, err
        assert "stylegan2" in hub.model_cards[-1]["tags"]
        meta = json.loads(hub.repos["someone/tiny-sg2"].files["ganforge-export.json"])
        assert [i["name"] for i in meta["inputs"]] == ["z", "psi"]
        code, _, err = cli(capsys, "hub", "pull", "someone/tiny-sg2", "--out", tmp_path / "pulled", "--endpoint",
                           hub.url)
        assert code == 0, err
    for psi in ("1", "0.5", "0"):
        assert cli(capsys, "generate", run, "--n", "4", "--psi", psi, "--out", tmp_path / f"a{psi}.png")[0] == 0
        assert cli(capsys, "generate", tmp_path / "pulled", "--n", "4", "--psi", psi,
                   "--out", tmp_path / f"b{psi}.png")[0] == 0
        assert (tmp_path / f"a{psi}.png").read_bytes() == (tmp_path / f"b{psi}.png").read_bytes(), psi
    assert (tmp_path / "a0.png").read_bytes() != (tmp_path / "a1.png").read_bytes()


def test_pushing_again_updates_the_repository(run_with_metrics, tmp_path, capsys):
    with FakeHub() as hub:
        for _ in range(2):
            assert cli(capsys, "hub", "push", run_with_metrics, "someone/r", "--token", "t", "--endpoint",
                       hub.url)[0] == 0
        assert len(hub.repos["someone/r"].commits) == 2


@pytest.mark.parametrize("case", ["no-token", "missing-repo", "not-ganforge", "unreachable", "not-a-run"])
def test_hub_failures_are_one_line_errors(case, run_with_metrics, tmp_path, capsys):
    with FakeHub() as hub:
        hub.repos["someone/other"] = Repo()
        hub.repos["someone/other"].files["README.md"] = b"# not a GAN\n"
        hub.repos["someone/other"].commits.append("1" * 40)
        argv = {
            "no-token": ["push", run_with_metrics, "someone/x", "--endpoint", hub.url],
            "missing-repo": ["pull", "someone/nothing", "--out", tmp_path / "o", "--endpoint", hub.url],
            "not-ganforge": ["pull", "someone/other", "--out", tmp_path / "o", "--endpoint", hub.url],
            "unreachable": ["pull", "someone/x", "--out", tmp_path / "o", "--endpoint", "http://127.0.0.1:9"],
            "not-a-run": ["push", tmp_path, "someone/x", "--token", "t", "--endpoint", hub.url],
        }[case]
        code, out, err = cli(capsys, "hub", *argv)
    assert code == 1, (out, err)
    last = err.strip().splitlines()[-1]  # huggingface_hub's progress bars may come before it
    assert last.startswith("ganforge: error: ") and "Traceback" not in err
    assert {"no-token": "HTTP 401", "missing-repo": "HTTP 404", "not-ganforge": "not a ganforge model",
            "unreachable": "cannot reach the Hub at http://127.0.0.1:9", "not-a-run": "has no checkpoint"}[case] in last
    assert "someone/x" not in hub.repos or case == "no-token" and not hub.repos["someone/x"].files


@pytest.mark.parametrize("family", ["cyclegan", "dtn", "cogan"])
def test_push_and_pull_a_two_domain_run(family, two_domain_runs, tmp_path, capsys):
    from PIL import Image

    root, runs = two_domain_runs
    with FakeHub() as hub:
        code, _, err = cli(capsys, "hub", "push", runs[family], f"someone/{family}", "--token", "t",
                           "--endpoint", hub.url)
        assert code == 0, err
        files = hub.repos[f"someone/{family}"].files
        assert {"README.md", "ganforge-export.json", "generator.safetensors", "samples.png"} <= set(files)
        card = files["README.md"].decode()
        assert hub.model_cards[-1]["pipeline_tag"] == ("unconditional-image-generation" if family == "cogan"
                                                       else "image-to-image")
        (tmp_path / "samples.png").write_bytes(files["samples.png"])
        width, height = Image.open(tmp_path / "samples.png").size
        if family == "cogan":  # pairs of seeds 0..15, 8 a row: each A | B, twice as wide as high
            assert "ganforge generate model" in card and (width, height) == (2 + 8 * 66, 2 + 2 * 34)
        else:  # the preview rows on the data set's first images: cyclegan A, A->B, A->B->A, B, B->A, B->A->B
            rows = 6 if family == "cyclegan" else 4
            assert (width, height) == (2 + 8 * 34, 2 + rows * 34)
            assert "ganforge translate model" in card and "a → b (a2b)" in card
        assert "| A | a | 8 |" in card and "| B | b | 8 |" in card  # each domain's count
        for name, data in files.items():  # no local paths leave the machine, the domains' sources included
            if name.endswith((".md", ".json", ".jsonl")):
                assert str(root) not in data.decode(), name
        code, _, err = cli(capsys, "hub", "pull", f"someone/{family}", "--out", tmp_path / "model",
                           "--endpoint", hub.url)
        assert code == 0, err
    if family != "cogan":  # the pulled repository translates as the run does
        for src, out in ((runs[family], "run"), (tmp_path / "model", "pulled")):
            assert cli(capsys, "translate", src, root / "a", "--out", tmp_path / out)[0] == 0
        for png in (tmp_path / "run").iterdir():
            assert png.read_bytes() == (tmp_path / "pulled" / png.name).read_bytes()
