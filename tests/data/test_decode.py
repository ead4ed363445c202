"""Decoding never crashes and never hides a loss: every Pillow mode, EXIF, animations, broken files, bombs."""

import io
import json
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from ganforge.data.decode import MAX_PIXELS, UnusableImage, decode_image
from ganforge.data.prepare import PrepareOptions, prepare
from ganforge.data.transforms import process_image, to_rgb_on_background


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def grey_value(data: bytes, background=(255, 255, 255)) -> tuple[int, int, int]:
    img = decode_image(data)
    return to_rgb_on_background(img, background).getpixel((0, 0))


# mode, format, how to build it, expected RGB of pixel (0, 0) on a blue background
MODES = {
    "1": ("PNG", lambda: Image.new("1", (8, 8), 1), (255, 255, 255)),
    "L": ("PNG", lambda: Image.new("L", (8, 8), 100), (100, 100, 100)),
    "LA": ("PNG", lambda: Image.new("LA", (8, 8), (100, 0)), (0, 0, 255)),  # transparent -> background
    "P+transparency": ("PNG", lambda: _palette_with_transparency(), (0, 0, 255)),
    "RGB": ("PNG", lambda: Image.new("RGB", (8, 8), (10, 20, 30)), (10, 20, 30)),
    "RGBA": ("PNG", lambda: Image.new("RGBA", (8, 8), (200, 0, 0, 255)), (200, 0, 0)),
    "RGBA half": ("PNG", lambda: Image.new("RGBA", (8, 8), (255, 0, 0, 128)), (128, 0, 127)),
    "CMYK": ("JPEG", lambda: Image.new("CMYK", (8, 8), (0, 0, 0, 0)), (255, 255, 255)),
    "CMYK tiff": ("TIFF", lambda: Image.new("CMYK", (8, 8), (0, 255, 255, 0)), (255, 0, 0)),
    "I;16": ("PNG", lambda: Image.fromarray(np.full((8, 8), 128 * 257, np.uint16)), (128, 128, 128)),
    "I": ("TIFF", lambda: Image.fromarray(np.full((8, 8), 128 * 257, np.int32)), (128, 128, 128)),
    "F 0..1": ("TIFF", lambda: Image.fromarray(np.full((8, 8), 0.5, np.float32)), (128, 128, 128)),
    "F wide": ("TIFF", lambda: Image.fromarray(np.linspace(-1000, 1000, 64, dtype=np.float32).reshape(8, 8)),
               (0, 0, 0)),
    "LAB": ("TIFF", lambda: Image.new("LAB", (8, 8), (255, 128, 128)), None),
    "YCbCr": ("JPEG", lambda: Image.new("YCbCr", (8, 8), (128, 128, 128)), (128, 128, 128)),
}


def _palette_with_transparency() -> Image.Image:
    img = Image.new("P", (8, 8), 1)
    img.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    img.info["transparency"] = 1
    return img


@pytest.mark.parametrize("name", list(MODES))
def test_every_pillow_mode_decodes_to_the_right_colour(name):
    fmt, make, expected = MODES[name]
    data = encode(make(), fmt)
    img = decode_image(data)
    out = process_image(img, resolution=8, channels=3, background=(0, 0, 255))[0][0]
    assert out.mode == "RGB" and out.size == (8, 8)
    if expected is not None:
        assert out.getpixel((0, 0)) == pytest.approx(expected, abs=3), img.mode
    grey = process_image(img, resolution=8, channels=1, background=(0, 0, 255))[0][0]
    assert grey.mode == "L"
    rgba = process_image(img, resolution=8, channels=4, background=(0, 0, 255))[0][0]
    assert rgba.mode == "RGBA"


def test_sixteen_bit_is_scaled_not_clipped_or_stretched():
    # A dark 16-bit scan (values 0..1000 of 65535) must stay dark: no min-max stretch.
    arr = np.linspace(0, 1000, 64, dtype=np.uint16).reshape(8, 8)
    img = decode_image(encode(Image.fromarray(arr), "PNG"))
    out = np.asarray(to_rgb_on_background(img, (0, 0, 0)))
    assert out.max() <= 4


def test_exif_orientation_is_applied():
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = (255, 0, 0)  # left half red
    img = Image.fromarray(arr)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    data = encode(img, "JPEG", exif=exif, quality=95)
    out = decode_image(data)
    assert out.size == (20, 40)
    assert out.getpixel((10, 5))[0] > 200 and out.getpixel((10, 35))[0] < 60  # red on top after rotation


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_animations_give_their_first_frame(fmt):
    frames = [Image.new("RGB", (16, 16), (255, 0, 0)), Image.new("RGB", (16, 16), (0, 0, 255))]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    r, g, b = to_rgb_on_background(decode_image(data), (0, 0, 0)).getpixel((8, 8))
    assert r > 200 and b < 60


def test_progressive_jpeg_decodes_and_truncated_jpegs_are_refused():
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    for progressive in (False, True):
        data = encode(img, "JPEG", progressive=progressive, quality=90)
        assert decode_image(data).size == (64, 64)
        with pytest.raises(UnusableImage, match="truncated|cannot decode"):
            decode_image(data[: len(data) // 2])


@pytest.mark.parametrize("data, reason", [
    (b"", "empty file"),
    (b"hello, not an image", "not an image"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "cannot decode|not an image"),
    (b"GIF89a\xff\xff", "cannot decode|not an image|truncated"),
])
def test_broken_bytes_have_reasons(data, reason):
    with pytest.raises(UnusableImage, match=reason):
        decode_image(data)


def png_bomb(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width``×``height`` pixels, with a tiny body (a decompression bomb's shape)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
            + chunk(b"IEND", b""))


def test_decompression_bombs_are_refused_before_decoding():
    with pytest.raises(UnusableImage, match="too large"):
        decode_image(png_bomb(30000, 30000))
    with pytest.raises(UnusableImage, match="too large"):
        decode_image(png_bomb(8000, 8000), max_pixels=1_000_000)


def test_min_side_is_checked_on_the_original_size():
    data = encode(Image.new("RGB", (30, 100)), "JPEG")
    with pytest.raises(UnusableImage, match="too small"):
        decode_image(data, min_side=31, need=8)


@pytest.mark.slow
def test_huge_jpeg_is_decoded_reduced_with_bounded_memory(tmp_path):
    """A 144-megapixel JPEG (over the pixel limit) decodes at 1/8 scale: far less memory than its pixels."""
    side = 12000
    path = tmp_path / "huge.jpg"
    y = np.linspace(0, 255, side, dtype=np.float32)
    Image.fromarray(np.add.outer(y, y).astype(np.uint8) // 2, "L").save(path, quality=50)
    assert side * side > MAX_PIXELS
    script = (
        "import resource, sys\n"
        "from ganforge.data.decode import decode_image\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        f"img = decode_image(open({str(path)!r}, 'rb').read(), need=128)\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(img.size[0], img.size[1], (after - before) // 1024)\n"  # ru_maxrss is in KiB on Linux
    )
    w, h, grown_mib = map(int, subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                              check=True).stdout.split())
    assert (w, h) == (side // 8, side // 8)
    assert grown_mib < 60, f"decoding grew memory by {grown_mib} MiB; the full image is {side * side >> 20} MiB"
    with pytest.raises(UnusableImage, match="too large"):
        decode_image(path.read_bytes())  # without a size to reduce to, it is over the limit


# ---- the count holds for any mix of good and bad files --------------------------------------------

def _good_png(i):
    rng = np.random.default_rng(i)
    return encode(Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)), "PNG")


KINDS = {
    # kind: (file name suffix, bytes from index, expected reason or None if usable)
    "png": (".png", _good_png, None),
    "jpeg": (".jpg", lambda i: encode(Image.new("RGB", (20 + i, 10), (i % 256, 9, 9)), "JPEG"), None),
    "rgba": (".png", lambda i: encode(Image.new("RGBA", (9 + i, 14), (i % 256, 0, 0, i % 200)), "PNG"), None),
    "gif": (".gif", lambda i: encode(Image.new("P", (10 + i, 10), i % 256), "GIF"), None),
    "empty": (".png", lambda i: b"", "empty file"),
    "text": (".jpg", lambda i: f"not an image {i}".encode(), "not an image"),
    "truncated": (".png", lambda i: _good_png(10_000 + i)[:60], "cannot decode"),
    "bomb": (".png", lambda i: png_bomb(20000 + i, 20000), "too large"),
    "notes": (".txt", lambda i: b"notes", "not an image file extension"),
    "copy": (".png", lambda i: _good_png(0), "exact duplicate"),  # same bytes as the png of index 0
}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(st.sampled_from(sorted(KINDS)), min_size=1, max_size=14))
def test_count_in_equals_count_out_plus_skipped(kinds):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "src"
        root.mkdir()
        has_zero_png = False
        expected_skips = {}
        for i, kind in enumerate(kinds):
            suffix, make, reason = KINDS[kind]
            data = make(0 if kind == "png" and not has_zero_png else i + 1) if kind == "png" else make(i)
            if kind == "png" and not has_zero_png:
                has_zero_png = True
            elif kind == "copy" and not has_zero_png:
                reason = None  # the first copy is the original
                has_zero_png = True
            name = f"f{i:02d}-{kind}{suffix}"
            (root / name).write_bytes(data)
            if reason:
                expected_skips[name] = reason
        # Files are listed in sorted name order, which is creation order here, so "copy" after a png is a duplicate.
        out = Path(tmp) / "ds.zip"
        try:
            report = prepare(str(root), out, PrepareOptions(resolution=8, workers=1), progress=False)
        except Exception as e:  # only "nothing usable" may stop it, and then the report still exists
            assert "none of the" in str(e) or "no image files" in str(e)
            report = json.loads(out.with_suffix(".report.json").read_text())
            assert report["written"] == 0
        assert report["seen"] == len(kinds)
        assert report["seen"] == report["used"] + report["skipped_count"]
        assert report["written"] == report["used"]
        got = {s["file"]: s["reason"] for s in report["skipped"]}
        assert set(got) == set(expected_skips)
        for name, reason in expected_skips.items():
            assert got[name].startswith(reason), (name, got[name])
