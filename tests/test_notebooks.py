"""The notebooks in notebooks/: stored without outputs, and each runs top to bottom (tiny settings).

The notebooks read GANFORGE_NOTEBOOK_SMOKE=1 as "use the tiny settings" and
GANFORGE_NOTEBOOK_DATA / GANFORGE_NOTEBOOK_WORK for where data comes from and goes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import shared

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert {p.name for p in NOTEBOOKS} >= {"quickstart.ipynb"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name} cell {i} has outputs"
        assert not cell.get("attachments"), f"{path.name} cell {i} has attachments"
        assert set(cell.metadata) <= {"tags", "jupyter", "collapsed"}, f"{path.name} cell {i}: {dict(cell.metadata)}"
    assert set(nb.metadata) <= {"kernelspec", "language_info"}


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("GANFORGE_NOTEBOOK_SMOKE", "1")
    monkeypatch.setenv("GANFORGE_NOTEBOOK_DATA", str(shared("pokemon-809.zip")))
    monkeypatch.setenv("GANFORGE_NOTEBOOK_WORK", str(tmp_path / "work"))
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 3  # pictures shown inline
