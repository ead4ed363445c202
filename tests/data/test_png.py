"""The data-set PNG writer: every mode prepare writes decodes back bit-exact, in any decoder's eyes (Pillow's here)."""

import io

import numpy as np
import pytest
from PIL import Image

from ganforge.data.png import encode_png


@pytest.mark.parametrize("mode,channels", [("L", 1), ("RGB", 3), ("RGBA", 4)])
@pytest.mark.parametrize("size", [(1, 1), (5, 3), (64, 64)])
def test_round_trip_is_exact(mode, channels, size):
    rng = np.random.default_rng(sum(size) + channels)
    pixels = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)  # wrap-around in the Up filter
    img = Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels, mode)
    back = Image.open(io.BytesIO(encode_png(img)))
    back.load()
    assert back.format == "PNG" and back.mode == mode and back.size == size
    assert np.array_equal(np.asarray(back), np.asarray(img))


def test_smooth_images_are_compressed():
    ramp = np.tile(np.arange(64, dtype=np.uint8) * 4, (64, 1))
    img = Image.fromarray(np.stack([ramp, ramp.T, 255 - ramp], -1), "RGB")
    assert len(encode_png(img)) < 64 * 64 * 3 / 4


@pytest.mark.parametrize("mode", ["LA", "P", "I;16"])
def test_other_modes_go_through_pillow(mode):
    img = Image.new(mode, (7, 4), 3 if mode != "LA" else (3, 200))
    back = Image.open(io.BytesIO(encode_png(img)))
    assert back.size == (7, 4) and back.mode == img.mode
    as_seen = (lambda im: im.convert("RGB")) if mode == "P" else (lambda im: im)  # Pillow may renumber a palette
    assert np.array_equal(np.asarray(as_seen(back)), np.asarray(as_seen(img)))
