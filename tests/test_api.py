"""ganforge.api: training's progress callback and stop hook, options checked by name, one-call loading."""

from __future__ import annotations

import subprocess
import sys

import pytest

import ganforge
from ganforge.errors import ConfigError

TINY = dict(model="dcgan", width=8, latent_dim=8, batch_size=16, n_samples=4)


def test_progress_callback_and_stop_hook_then_resume(tmp_path, tiny_dataset):
    seen = []
    result = ganforge.train_run(tiny_dataset, tmp_path / "r", steps=10, **TINY,
                                progress=lambda step, fraction, stats: seen.append((step, fraction, stats)),
                                should_stop=lambda: len(seen) >= 3)
    assert (result.step, result.stopped_by) == (3, "stop hook")
    assert [s for s, _, _ in seen] == [1, 2, 3] and seen[-1][1] == pytest.approx(0.3)
    assert {"d_loss", "g_loss"} <= set(seen[0][2])
    result = ganforge.resume_run(tmp_path / "r", steps=5)
    assert (result.step, result.stopped_by) == (5, "budget")
    G = ganforge.load_generator(tmp_path / "r")
    images = G.generate([0, 1, 2])
    assert images.shape == (3, 16, 16, 1) and (images == G.generate([0, 1, 2])).all()


def test_options_are_checked_by_name(tmp_path, tiny_dataset):
    with pytest.raises(ConfigError, match="unknown training option.*lr_gen"):
        ganforge.train_run(tiny_dataset, tmp_path / "r", lr_gen=1e-3)
    with pytest.raises(ConfigError, match="--data is required"):
        ganforge.train_run(None, tmp_path / "r")


def test_prepare_options_are_checked_by_name(tmp_path):
    with pytest.raises(ConfigError, match="unknown prepare option.*crop_fraciton"):
        ganforge.prepare_dataset(tmp_path, tmp_path / "d.zip", crop_fraciton=0.8)


def test_import_ganforge_stays_light():
    code = "import sys, ganforge, ganforge.api; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
