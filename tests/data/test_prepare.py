import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from conftest import write_images, zip_folder
from ganforge.data.dataset import load_dataset, read_info
from ganforge.data.prepare import PrepareOptions, prepare
from ganforge.errors import DataError


def make_messy_folder(root):
    """5 good images (one RGBA, one grey, one in a subfolder) and 4 unusable files."""
    write_images(root, 2, size=50)
    write_images(root / "sub", 1, size=30, seed=1)
    rgba = np.zeros((20, 40, 4), np.uint8)
    rgba[:, :20] = (255, 0, 0, 255)  # left half opaque red, right half transparent
    Image.fromarray(rgba, "RGBA").save(root / "sprite.png")
    Image.fromarray(np.full((24, 24), 7, np.uint8), "L").save(root / "grey.png")
    (root / "empty.png").write_bytes(b"")
    (root / "text.jpg").write_text("this is not a jpeg")
    good = (root / "img000.png").read_bytes()
    (root / "truncated.png").write_bytes(good[: len(good) // 2])
    (root / "notes.txt").write_text("a note")


def test_folder_with_broken_files_is_reported(tmp_path):
    make_messy_folder(tmp_path / "src")
    out = tmp_path / "ds.zip"
    report = prepare(str(tmp_path / "src"), out, PrepareOptions(resolution=32, workers=1), progress=False)
    assert report["seen"] == 9
    assert report["written"] == 5
    assert report["seen"] == report["written"] + report["skipped_count"]
    reasons = {s["file"]: s["reason"] for s in report["skipped"]}
    assert set(reasons) == {"empty.png", "text.jpg", "truncated.png", "notes.txt"}
    assert reasons["empty.png"] == "empty file"
    assert reasons["text.jpg"] == "not an image"
    assert "extension" in reasons["notes.txt"]
    on_disk = json.loads(out.with_suffix(".report.json").read_text())
    assert on_disk["skipped_count"] == 4
    info = read_info(out)
    assert (info["count"], info["resolution"], info["channels"]) == (5, 32, 3)


def test_transparency_is_composited_on_the_background(tmp_path):
    make_messy_folder(tmp_path / "src")
    out = tmp_path / "ds.zip"
    prepare(str(tmp_path / "src"), out, PrepareOptions(resolution=32, crop="none", background="#0000ff", workers=1),
            progress=False)
    ds = load_dataset(out, use_cache=False)
    index = [r["source"] for r in ds.info["items"]].index("sprite.png")
    img = ds.images[index].astype(int)
    # padded to square with blue, left half red, transparent right half blue
    assert tuple(img[16, 10]) == pytest.approx((255, 0, 0), abs=3)
    assert tuple(img[16, 24]) == pytest.approx((0, 0, 255), abs=3)
    assert tuple(img[2, 16]) == pytest.approx((0, 0, 255), abs=3)


def test_center_crop_fraction_and_grey_output(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    arr = np.zeros((100, 200), np.uint8)
    arr[30:70, 80:120] = 255  # a white square in the middle of a black landscape image
    Image.fromarray(arr, "L").save(src / "a.png")
    out = tmp_path / "ds.zip"
    prepare(str(src), out, PrepareOptions(resolution=32, channels=1, crop_fraction=0.4, workers=1), progress=False)
    ds = load_dataset(out, use_cache=False)
    assert ds.images.shape == (1, 32, 32, 1)
    assert ds.images.min() > 200  # the 40 px centre crop is all white


def test_zip_source_and_workers_give_the_same_result(tmp_path):
    make_messy_folder(tmp_path / "src")
    archive = zip_folder(tmp_path / "src", tmp_path / "src.zip")
    a = prepare(str(tmp_path / "src"), tmp_path / "a.zip", PrepareOptions(resolution=32, workers=1), progress=False)
    b = prepare(str(archive), tmp_path / "b.zip", PrepareOptions(resolution=32, workers=2), progress=False)
    assert a["written"] == b["written"] == 5
    assert (load_dataset(tmp_path / "a.zip").images == load_dataset(tmp_path / "b.zip").images).all()


def test_labels_from_subfolders(tmp_path):
    write_images(tmp_path / "src" / "cats", 3)
    write_images(tmp_path / "src" / "dogs", 2, seed=5)
    out = tmp_path / "ds.zip"
    report = prepare(str(tmp_path / "src"), out, PrepareOptions(resolution=32, labels="subfolders", workers=1),
                     progress=False)
    assert report["per_class"] == {"cats": 3, "dogs": 2}
    ds = load_dataset(out)
    assert ds.classes == ["cats", "dogs"]
    assert sorted(ds.labels.tolist()) == [0, 0, 0, 1, 1]


def test_empty_and_imageless_folders_fail_cleanly(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no files"):
        prepare(str(tmp_path / "empty"), tmp_path / "x.zip", PrepareOptions(), progress=False)
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "a.txt").write_text("hi")
    with pytest.raises(DataError, match="no image files"):
        prepare(str(tmp_path / "text"), tmp_path / "x.zip", PrepareOptions(), progress=False)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.png").write_bytes(b"junk")
    with pytest.raises(DataError, match="none of the 1 files"):
        prepare(str(tmp_path / "bad"), tmp_path / "x.zip", PrepareOptions(), progress=False)
    assert not (tmp_path / "x.zip").exists()
    assert not list(tmp_path.glob(".x.zip*"))  # no temporary files left behind


def test_failed_prepare_keeps_the_previous_data_set(tmp_path):
    write_images(tmp_path / "good", 3)
    out = tmp_path / "ds.zip"
    prepare(str(tmp_path / "good"), out, PrepareOptions(resolution=32, workers=1), progress=False)
    before = out.read_bytes()
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.png").write_bytes(b"junk")
    with pytest.raises(DataError):
        prepare(str(tmp_path / "bad"), out, PrepareOptions(resolution=32), progress=False)
    assert out.read_bytes() == before


def test_shared_pokemon_zip(pokemon32):
    info = read_info(pokemon32)
    assert info["count"] == 809 and info["resolution"] == 32
    with zipfile.ZipFile(pokemon32) as zf:
        assert len([n for n in zf.namelist() if n.endswith(".png")]) == 809


def test_loader_batches_are_resumable_and_sharded(pokemon32):
    import torch

    from ganforge.data.loader import BatchLoader

    ds = load_dataset(pokemon32)
    a = BatchLoader(ds, 32, seed=3)
    batches = [next(a)[0] for _ in range(30)]  # crosses an epoch boundary (25 batches per epoch)
    b = BatchLoader(ds, 32, seed=3)
    for _ in range(27):
        next(b)
    c = BatchLoader(ds, 32, seed=3)
    c.load_state_dict(b.state_dict())
    assert torch.equal(next(c)[0], batches[27])
    halves = [BatchLoader(ds, 32, seed=3, rank=r, world_size=2) for r in (0, 1)]
    assert torch.equal(torch.cat([next(h)[0] for h in halves]), batches[0])
    assert batches[0].min() >= -1 and batches[0].max() <= 1


def test_loader_returns_the_planned_images(pokemon32):
    """Each batch row is exactly the image its index names (guards the sorted-read reordering)."""
    from ganforge.data.loader import BatchLoader

    ds = load_dataset(pokemon32)
    loader = BatchLoader(ds, 16, seed=1)
    x, _ = next(loader)
    order = loader._order[:16]
    expected = (ds.images[order.numpy()].astype(np.float32) / 127.5 - 1).transpose(0, 3, 1, 2)
    assert np.allclose(x.numpy(), expected)


def test_loader_vflip_mirrors_rows_and_leaves_horizontal_flips_alone(tiny_dataset):
    """--vflip flips about half the images upside down; the horizontal flips of a run are the same with it on."""
    import torch

    from ganforge.data.loader import BatchLoader

    ds = load_dataset(tiny_dataset)
    plain = next(BatchLoader(ds, 64, seed=1))[0]
    v = next(BatchLoader(ds, 64, seed=1, vflip=True))[0]
    flipped = [i for i in range(64) if not torch.equal(v[i], plain[i])]
    assert 10 < len(flipped) < 54
    assert all(torch.equal(v[i], plain[i].flip(1)) for i in flipped)  # (C, H, W): rows reversed
    h = next(BatchLoader(ds, 64, seed=1, flip=True))[0]
    hv = next(BatchLoader(ds, 64, seed=1, flip=True, vflip=True))[0]
    assert all(torch.equal(hv[i], h[i]) or torch.equal(hv[i], h[i].flip(1)) for i in range(64))


def test_preparing_again_later_gives_the_same_file(tmp_path, monkeypatch):
    """A data set's SHA-256 names its content (benchmark results record it), so the clock must not enter it."""
    import hashlib
    import time

    write_images(tmp_path / "src", 3, size=40)
    opts = PrepareOptions(resolution=32)
    prepare(str(tmp_path / "src"), tmp_path / "a.zip", opts, progress=False)
    later = time.time() + 3 * 86400  # zip entries store local time to 2 s: three days later differs for sure
    monkeypatch.setattr(time, "time", lambda: later)
    prepare(str(tmp_path / "src"), tmp_path / "b.zip", opts, progress=False)
    digest = [hashlib.sha256((tmp_path / n).read_bytes()).hexdigest() for n in ("a.zip", "b.zip")]
    assert digest[0] == digest[1]
