"""The MITLGAN experiment's options have one set of defaults: the command line takes them from the dataclass."""

from dataclasses import fields

from ganforge.cli import build_parser, main

# Imported here, not inside a test: modules that default a log to sys.stderr bind the stream they see
# at import, and inside a test that is capsys's, closed when the test ends.
from ganforge.experiments import mitlgan
from ganforge.experiments.mitlgan_options import DEFAULTS, ExperimentOptions

REQUIRED = ["--foreground", "F", "--background", "B", "--combined", "C", "--budget", "1", "--out", "O"]


def test_the_command_defaults_are_the_dataclass_defaults():
    args = vars(build_parser().parse_args(["experiment", "mitlgan", *REQUIRED]))
    optional = {f.name for f in fields(ExperimentOptions)} - {"foreground", "background", "combined", "budget", "out"}
    on_the_command_line = optional & set(args)
    assert on_the_command_line == optional - {"n_separation"}  # every option but the view's seed count
    assert {k: args[k] for k in on_the_command_line} == {k: DEFAULTS[k] for k in on_the_command_line}


def test_the_command_passes_its_options_to_the_experiment(monkeypatch, capsys):
    seen = []
    monkeypatch.setattr(mitlgan, "run_experiment", lambda o: seen.append(o) or {"stats": {}, "metrics": {}})
    argv = ["experiment", "mitlgan", *REQUIRED, "--model", "resnet", "--no-equal-total", "--sample-every", "7"]
    assert main(argv) == 0
    assert seen == [ExperimentOptions(foreground="F", background="B", combined="C", out="O", budget=1.0,
                                      family="resnet", equal_total=False, sample_every=7)]
