"""Evaluation end to end on CPU with a domain extractor: features fit, training-time evaluation and the
best checkpoint, ganforge evaluate on a run and on a folder, the reference cache, and compare reports."""

import json

import pytest
import torch
from PIL import Image

from conftest import labelled_dataset, run_cli
from ganforge.checkpoint import load_checkpoint
from ganforge.config import ModelConfig, TrainConfig
from ganforge.metrics import domain, inception
from ganforge.metrics.features import DomainExtractor
from ganforge.runs import read_jsonl
from ganforge.train import train

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def labelled_data(tmp_path_factory):
    """128 grey 16×16 images in two classes: dark and bright noise."""
    return labelled_dataset(tmp_path_factory.mktemp("labelled"), {"dark": (0, 110), "bright": (145, 256)}, 64)


@pytest.fixture(scope="module")
def extractor_file(labelled_data, tmp_path_factory):
    path = tmp_path_factory.mktemp("ext") / "tiny-cnn.pt"
    torch.set_num_threads(1)
    domain.fit_extractor(labelled_data, path, name="tiny-cnn", epochs=10, width=8, batch_size=32, log=None)
    return path


def _cfg(data, out, **kw):
    base = dict(data=str(data), out=str(out), steps=6, batch_size=16, sample_every=3, checkpoint_every=3,
                n_samples=4, seed=3)
    return TrainConfig(**{**base, **kw})


MODEL = dict(family="dcgan", width=8, latent_dim=8)


@pytest.fixture(scope="module")
def eval_runs(labelled_data, extractor_file, tmp_path_factory):
    """The same short run with and without evaluation every 3 steps."""
    root = tmp_path_factory.mktemp("runs")
    train(_cfg(labelled_data, root / "with-eval", eval_every=3, eval_metric=f"fid[{extractor_file}]", eval_n=48),
          ModelConfig(**MODEL))
    train(_cfg(labelled_data, root / "plain"), ModelConfig(**MODEL))
    return root / "with-eval", root / "plain"


def test_fit_saves_a_safely_loadable_extractor_with_its_accuracy(extractor_file, labelled_data):
    state = domain.load_extractor_file(extractor_file)  # weights_only=True inside
    assert state["name"] == "tiny-cnn" and state["classes"] == ["bright", "dark"]
    assert state["val_accuracy"] >= 0.9
    assert state["arch"]["resolution"] == 16 and state["arch"]["channels"] == 1


def test_fitting_again_gives_the_same_file_and_identity(extractor_file, labelled_data, tmp_path):
    """An extractor's identity (its file's SHA-256, which keys every FID) must name what was fitted: the
    same data and options give the same file, wherever and whenever it is written."""
    torch.set_num_threads(1)
    again = domain.fit_extractor(labelled_data, tmp_path / "elsewhere.pt", name="tiny-cnn", epochs=10, width=8,
                                 batch_size=32, log=None)
    assert again.read_bytes() == extractor_file.read_bytes()


def test_training_records_metrics_keeps_best_and_plots(eval_runs):
    run, _ = eval_runs
    records = read_jsonl(run / "metrics.jsonl")
    assert [r["step"] for r in records] == [3, 6]
    assert all(r["n"] == 48 and r["fid[tiny-cnn]"] >= 0 for r in records)
    best = json.loads((run / "checkpoints" / "best.json").read_text())
    best_record = min(records, key=lambda r: r["fid[tiny-cnn]"])
    assert best["step"] == best_record["step"] and best["score"] == pytest.approx(best_record["fid[tiny-cnn]"])
    assert load_checkpoint(run / "checkpoints" / "best.pt")["step"] == best["step"]
    assert (run / "metrics.png").stat().st_size > 1000


def test_evaluation_during_training_does_not_change_training(eval_runs):
    a, b = (load_checkpoint(r / "checkpoints" / "latest.pt") for r in eval_runs)
    for net in ("G", "D"):
        for name in a[net]:
            assert torch.equal(a[net][name], b[net][name]), f"{net}.{name}"
    assert read_jsonl(eval_runs[0] / "log.jsonl") == [
        {**r, "time": r2["time"], "img_per_s": r2["img_per_s"]}
        for r, r2 in zip(read_jsonl(eval_runs[1] / "log.jsonl"), read_jsonl(eval_runs[0] / "log.jsonl"))]


def test_evaluate_run_and_the_same_images_as_a_folder(capsys, eval_runs, extractor_file, labelled_data, tmp_path,
                                                      monkeypatch):
    run = eval_runs[0]
    calls = []
    original = DomainExtractor.extract
    monkeypatch.setattr(DomainExtractor, "extract",
                        lambda self, x, log=None: calls.append(len(x)) or original(self, x, log))
    code, out, err = run_cli(capsys, "evaluate", run, "--features", extractor_file, "--n", 64,
                             "--metrics", "fid,kid,pr,is,c2st,dacc", "--device", "cpu")
    assert code == 0, err
    for key in ("fid[tiny-cnn]", "kid[tiny-cnn]", "precision[tiny-cnn]", "recall[tiny-cnn]", "is[tiny-cnn]",
                "c2st_acc[pixels]", "c2st_p[pixels]", "d_acc[diagnostic]"):
        assert key in out
    record = json.loads((run / "evaluation.json").read_text())
    m = record["metrics"]
    assert record["n"] == 64 and record["features"]["name"] == "tiny-cnn" and record["source"]["step"] == 6
    assert 1 <= m["is[tiny-cnn]"] <= 2 and 0 <= m["precision[tiny-cnn]"] <= 1 and 0 <= m["c2st_acc[pixels]"] <= 1
    assert calls == [64, 64]  # generated + reference features, computed once each

    # The same images written as PNGs by `generate` give the same numbers as a folder.
    assert run_cli(capsys, "generate", run, "--n", 64, "--seed", 0, "--separate", "--out", tmp_path / "imgs")[0] == 0
    calls.clear()
    code, out, err = run_cli(capsys, "evaluate", tmp_path / "imgs", "--data", labelled_data, "--features",
                             extractor_file, "--n", 64, "--metrics", "fid,kid,pr", "--device", "cpu")
    assert code == 0, err
    assert calls == [64]  # the reference features now come from the cache
    folder = json.loads((tmp_path / "imgs-evaluation.json").read_text())["metrics"]
    for key in ("fid[tiny-cnn]", "kid[tiny-cnn]", "precision[tiny-cnn]", "recall[tiny-cnn]"):
        assert folder[key] == pytest.approx(m[key], rel=1e-6, abs=1e-9), key


def test_compare_writes_markdown_and_self_contained_html(capsys, eval_runs, extractor_file, tmp_path):
    code, out, err = run_cli(capsys, "compare", *eval_runs, "--out", tmp_path / "report", "--metrics", "fid,c2st",
                             "--features", extractor_file, "--n", 32, "--device", "cpu")
    assert code == 0, err
    md = (tmp_path / "report" / "report.md").read_text()
    html = (tmp_path / "report" / "report.html").read_text()
    for text in (md, html):
        assert "with-eval" in text and "plain" in text and "fid[tiny-cnn]" in text and "c2st_acc[pixels]" in text
    assert "![Losses" in md and "samples-0.png" in md and (tmp_path / "report" / "losses.png").is_file()
    assert html.count("src='data:image/png;base64,") == 4  # losses, metric curves, two sample grids
    assert "src='http" not in html and "href=" not in html
    assert "NOT comparable" not in md  # both evaluated the same way just now


def test_compare_warns_when_evaluations_differ(capsys, eval_runs, extractor_file, tmp_path):
    for run, n in zip(eval_runs, (16, 24)):
        assert run_cli(capsys, "evaluate", run, "--features", extractor_file, "--n", n, "--metrics", "fid",
                       "--device", "cpu")[0] == 0
    assert run_cli(capsys, "compare", *eval_runs, "--out", tmp_path / "r")[0] == 0
    assert "NOT comparable" in (tmp_path / "r" / "report.md").read_text()


def test_user_errors_are_one_line(capsys, eval_runs, labelled_data, extractor_file, tmp_path, monkeypatch):
    run = eval_runs[1]
    folder = tmp_path / "rgb32"
    folder.mkdir()
    for i in range(4):
        Image.new("RGB", (32, 32), (i * 40, 0, 0)).save(folder / f"{i}.png")
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.delenv(inception.WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(inception, "WEIGHTS_URL", "http://127.0.0.1:9/" + inception.WEIGHTS_FILE)
    import ganforge.download

    monkeypatch.setattr(ganforge.download.time, "sleep", lambda s: None)
    cases = [
        (("evaluate", folder), "--data"),
        (("evaluate", run, "--metrics", "fid,bogus"), "unknown metric 'bogus'"),
        (("evaluate", run, "--features", "no-such-extractor", "--metrics", "fid"), "features fit"),
        (("evaluate", run, "--metrics", "fid", "--n", 8), inception.WEIGHTS_FILE),
        (("evaluate", folder, "--data", labelled_data, "--features", extractor_file, "--metrics", "fid"),
         "trained on 16x16"),
        (("train", "--data", labelled_data, "--out", tmp_path / "x", "--eval-every", 2, "--eval-metric", "dacc"),
         "training diagnostic"),
        (("train", "--data", labelled_data, "--out", tmp_path / "x", "--eval-every", 2, "--eval-metric", "copying"),
         "copying is not a quality measure (nearest-training-image check"),
    ]
    for argv, expected in cases:
        code, out, err = run_cli(capsys, *argv)
        assert code == 1 and expected in err and len(err.strip().splitlines()) == 1, (argv, err)


def test_resumed_run_records_the_same_metrics(eval_runs, labelled_data, extractor_file, tmp_path):
    """Stop at step 3 (an evaluation step), resume to 6: metrics.jsonl and best.json match the straight run."""
    out = tmp_path / "resumed"
    kw = dict(eval_every=3, eval_metric=f"fid[{extractor_file}]", eval_n=48)
    train(_cfg(labelled_data, out, steps=3, **kw), ModelConfig(**MODEL))
    with open(out / "metrics.jsonl", "a") as f:  # a record past the checkpoint, as after a crash
        f.write(json.dumps({"step": 5, "fid[tiny-cnn]": -1.0}) + "\n")
    train(_cfg(labelled_data, out, steps=6, **kw), ModelConfig(**MODEL), resume=True)
    strip = lambda records: [{k: v for k, v in r.items() if k != "time"} for r in records]  # noqa: E731
    assert strip(read_jsonl(out / "metrics.jsonl")) == strip(read_jsonl(eval_runs[0] / "metrics.jsonl"))
    best = lambda run: {k: v for k, v in json.loads((run / "checkpoints" / "best.json").read_text()).items()  # noqa: E731
                        if k != "metric"}
    assert best(out) == best(eval_runs[0])


def test_the_copying_check_tells_training_images_from_new_ones(capsys, labelled_data, extractor_file, tmp_path):
    from ganforge.data.dataset import load_dataset

    def evaluate(images, name):
        folder = tmp_path / name
        folder.mkdir()
        for i, im in enumerate(images):
            Image.fromarray(im[..., 0], "L").save(folder / f"{i:03d}.png")
        code, _, err = run_cli(capsys, "evaluate", folder, "--data", labelled_data, "--features", extractor_file,
                               "--n", len(images), "--n-ref", 128, "--metrics", "copying", "--device", "cpu")
        assert code == 0, err
        return json.loads((tmp_path / f"{name}-evaluation.json").read_text())["metrics"]

    training = load_dataset(labelled_data).images
    copied = evaluate(training[::2], "copies")  # half the training images, as if a generator returned them
    assert copied["copy_ratio[tiny-cnn]"] < 0.01 and copied["near_copies[tiny-cnn]"] == 1.0
    # new images of the same kind (the same noise, another seed) are as far from the training images as
    # those are from each other
    fresh = load_dataset(labelled_dataset(tmp_path / "another", {"dark": (0, 110), "bright": (145, 256)}, 32,
                                          seed=7)).images
    new = evaluate(fresh, "fresh")
    assert new["copy_ratio[tiny-cnn]"] > 0.5 * new["copy_ratio_real[tiny-cnn]"]
    assert new["near_copies[tiny-cnn]"] < 0.2
