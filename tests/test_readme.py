"""The README's Python examples run as written, in order, with tiny sizes substituted (issue 18 point 2)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import write_images

README = Path(__file__).resolve().parent.parent / "README.md"

# what the examples say -> what the test runs; each must be found, so an edited example cannot skip its test
TINY = {
    "steps=2000, batch_size=32": "steps=4, batch_size=16, width=8, n_samples=4",
    "if step % 100 == 0": "if step % 2 == 0",
    "steps=3000": "steps=6",
    'metrics="c2st", n=500': 'metrics="c2st", n=64',
    "frames=48": "frames=4",
    "steps=300)": "steps=3, restarts=1)",
    "k=5)": "k=2, samples=64)",
}


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_the_readme_has_one_example_per_task():
    code = "\n".join(python_blocks(README.read_text()))
    for task in ("prepare_dataset", "train_run(", "progress=", "should_stop=", "resume_run(", "load_generator(",
                 ".generate(", "evaluate(", "interpolate_video(", "project_photo(", "find_edit_directions(",
                 "edit_strip(", "inpaint_photo(", "export_generator(", "list_runs(", "describe_run("):
        assert task in code, task


@pytest.mark.slow
def test_the_readme_python_examples_run(tmp_path, monkeypatch, capsys):
    code = "\n".join(python_blocks(README.read_text()))
    for said, run in TINY.items():
        assert said in code, f"the README no longer says {said!r}: update TINY"
        code = code.replace(said, run)
    write_images(tmp_path / "photos", 48, size=32)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    exec(compile(code, str(README), "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    assert "step 2 (" in out and "6 budget" not in out
    for made in ("data/photos-32.zip", "grid.png", "morph.gif", "embedded.npz", "edit.png", "filled.png",
                 "runs/photos/directions.npz", "runs/photos/evaluation.json", "exported/generator.safetensors"):
        assert (tmp_path / made).is_file(), made
    assert "runs/photos dcgan 6 finished" in out


def test_no_api_name_is_shadowed_by_a_ganforge_module():
    """``ganforge.NAME`` resolves to the API only when no submodule of that name exists (importing
    ``ganforge.train`` sets the package's ``train`` attribute to the module)."""
    import pkgutil

    import ganforge
    from ganforge import api

    modules = {m.name for m in pkgutil.iter_modules(ganforge.__path__)}
    assert not modules & set(api.__all__)
    assert ganforge.load_generator is api.load_generator and callable(ganforge.train_run)
