"""Class preservation of translations (issue 16 point 5): a classifier of the source domain's classes on the
translated images, beside its accuracy on the untranslated sources."""

import json

import numpy as np
import pytest
import torch

from conftest import labelled_two_domain, run_cli
from ganforge.data.dataset import load_dataset
from ganforge.errors import DataError
from ganforge.metrics.class_kept import class_kept, class_targets
from ganforge.metrics.domain import fit_extractor, load_extractor_file
from ganforge.metrics.features import load_extractor


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """(the labelled two-domain set, a classifier of its domain A's classes dark/light fitted on A alone)."""
    root = tmp_path_factory.mktemp("class-kept")
    data = labelled_two_domain(root)
    clf = fit_extractor(data, root / "a-classes.pt", domain="A", width=4, feature_dim=8, epochs=1, min_steps=25,
                        stop_loss=0.05, device="cpu", log=None)
    return data, clf


def test_an_identity_translator_keeps_the_class_and_a_constant_one_does_not(labelled):
    data_path, clf_path = labelled
    data = load_dataset(data_path)
    assert load_extractor_file(clf_path)["domain"] == "A"
    clf = load_extractor(str(clf_path))
    a = data.domain_indices(0)
    targets = class_targets(clf, data, data.labels[a])
    assert sorted(clf.classes) == ["dark", "light"] and (targets >= 0).all()
    assert class_kept(clf, data.images[a], targets) >= 0.9  # identity: the sources themselves
    grey = np.full_like(data.images[a], 128)  # a constant output: one answer for every image, right for half
    assert class_kept(clf, grey, targets) <= 0.5
    assert class_kept(clf, data.images[a], np.full(len(a), -1)) is None  # no labelled image: nothing to say


def test_features_fit_on_one_domain_needs_its_classes(labelled, tmp_path, capsys):
    data_path, _ = labelled
    with pytest.raises(DataError, match="fewer than two classes"):
        fit_extractor(data_path, tmp_path / "b.pt", domain="B", epochs=1, device="cpu", log=None)
    code, _, err = run_cli(capsys, "features", "fit", "--data", data_path, "--domain", "C", "--out", tmp_path / "c.pt")
    assert code == 1 and "no domain 'C'" in err and err.count("\n") == 1


@pytest.mark.slow  # a DTN run and three evaluations: ~10 s on a shared CPU
def test_evaluate_reports_class_kept_per_direction(labelled, tmp_path, capsys, monkeypatch):
    from ganforge.config import ModelConfig, TrainConfig
    from ganforge.models import dtn
    from ganforge.train import train

    data_path, clf_path = labelled
    run = tmp_path / "dtn"
    train(TrainConfig(data=str(data_path), out=str(run), loss="dtn", batch_size=4, steps=1, device="cpu",
                      n_samples=4), ModelConfig(family="dtn", latent_dim=8, width=4, options={"encoder_steps": 1}),
          out=open("/dev/null", "w"))

    def evaluate(*extra):
        code, _, err = run_cli(capsys, "evaluate", run, "--metrics", "kid", "--features", clf_path, "--n", "16",
                               "--device", "cpu", *extra)
        assert code == 0, err
        return json.loads((run / "evaluation.json").read_text())

    monkeypatch.setattr(dtn, "translate", lambda G, x, direction: x)  # an identity translator keeps every class
    record = evaluate("--classifier", clf_path)
    m = record["metrics"]
    assert m["class_kept/a2b"] == m["class_kept/a_vs_b"] >= 0.9
    used = record["classifiers"]["a2b"]
    assert used["fitted_here"] is False and used["images"] == 8  # n: the smaller domain's count

    monkeypatch.setattr(dtn, "translate", lambda G, x, direction: torch.zeros_like(x))  # a constant keeps none
    m = evaluate("--classifier", clf_path)["metrics"]
    assert m["class_kept/a2b"] <= 0.5 < m["class_kept/a_vs_b"]

    record = evaluate()  # no classifier given: one is fitted on domain A's labels and cached
    assert record["classifiers"]["a2b"]["fitted_here"] is True
    assert record["metrics"]["class_kept/a2b"] <= 0.5 < record["metrics"]["class_kept/a_vs_b"]
