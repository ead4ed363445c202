"""Face crops, cleaning, augmentation, foreground/background/composite sets, `data show` and the data CLI."""

import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli, shared, write_images
from ganforge.data.dataset import load_dataset, read_info
from ganforge.data.prepare import PrepareOptions, prepare


def olivetti_faces(n: int, start: int = 0) -> list[Image.Image]:
    with zipfile.ZipFile(shared("olivetti-faces.zip")) as zf:
        names = sorted(x for x in zf.namelist() if x.endswith(".png"))[start : start + n]
        return [Image.open(io.BytesIO(zf.read(x))).convert("L") for x in names]


# ---- face crops -------------------------------------------------------------------------------------

@pytest.mark.slow
def test_face_crop_on_olivetti_reports_the_faceless(tmp_path):
    pytest.importorskip("cv2")
    report = prepare(str(shared("olivetti-faces.zip")), tmp_path / "f.zip",
                     PrepareOptions(resolution=32, channels=1, crop="face", workers=2), progress=False)
    assert report["seen"] == 400 == report["used"] + report["skipped_count"]
    assert report["used"] >= 300  # tight crops: the detector needs the padded retry, and finds most
    assert all(s["reason"] == "no face found" for s in report["skipped"])
    items = read_info(tmp_path / "f.zip")["items"]
    assert all(len(r["face"]) == 4 for r in items)


def compose_photo(faces: list[Image.Image], places: list[tuple[int, int]], side: int, size=(640, 400)) -> Image.Image:
    rng = np.random.default_rng(1)
    photo = Image.fromarray(rng.integers(90, 140, (size[1], size[0], 3), dtype=np.uint8))  # textured wall
    for face, (x, y) in zip(faces, places):
        photo.paste(face.resize((side, side), Image.Resampling.BICUBIC).convert("RGB"), (x, y))
    return photo


def test_face_crop_finds_every_face_in_composed_photos(tmp_path):
    pytest.importorskip("cv2")
    faces = olivetti_faces(3)
    places = [(40, 60), (260, 150), (470, 40)]
    src = tmp_path / "photos"
    src.mkdir()
    compose_photo(faces, places, 140).save(src / "group.jpg", quality=92)
    compose_photo([], [], 140).save(src / "wall.jpg", quality=92)
    report = prepare(str(src), tmp_path / "all.zip", PrepareOptions(resolution=32, crop="face", faces="all",
                                                                    face_margin=0.2, workers=1), progress=False)
    assert report["used"] == 1 and report["written"] == 3
    assert report["skipped"] == [{"file": "wall.jpg", "reason": "no face found"}]
    boxes = sorted(r["face"] for r in read_info(tmp_path / "all.zip")["items"])
    for (x, y), box in zip(sorted(places), boxes):
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        assert abs(cx - (x + 70)) < 30 and abs(cy - (y + 70)) < 30  # centred on the pasted face
    one = prepare(str(src), tmp_path / "one.zip", PrepareOptions(resolution=32, crop="face", workers=1), progress=False)
    assert one["written"] == 1


def test_face_crop_margin_is_padded_where_the_face_touches_the_edge():
    from ganforge.data.transforms import square_around

    img = Image.new("RGB", (100, 100), (255, 0, 0))
    out = square_around(img, (0, 0, 40, 40), margin=0.5, fill=(0, 0, 255))
    assert out.size == (80, 80)
    assert out.getpixel((5, 5)) == (0, 0, 255) and out.getpixel((40, 40)) == (255, 0, 0)
    inside = square_around(img, (40, 30, 60, 50), margin=0.5, fill=(0, 0, 255))
    assert inside.size == (40, 40) and inside.getpixel((0, 0)) == inside.getpixel((39, 39)) == (255, 0, 0)


# ---- cleaning and augmentation ----------------------------------------------------------------------

def test_exact_and_near_duplicates_are_removed_and_reported(tmp_path):
    src = tmp_path / "src"
    paths = write_images(src, 4, size=64)
    (src / "x-copy.png").write_bytes(paths[0].read_bytes())                     # exact
    Image.open(paths[1]).save(src / "x-reencoded.jpg", quality=90)               # near: re-encoded
    Image.open(paths[2]).resize((80, 80)).save(src / "x-resized.png")            # near: resized
    Image.new("RGB", (10, 10)).save(src / "x-tiny.png")                          # below --min-size
    report = prepare(str(src), tmp_path / "n.zip", PrepareOptions(resolution=32, dedup="near", min_size=20, workers=1),
                     progress=False)
    reasons = {s["file"]: s["reason"] for s in report["skipped"]}
    assert reasons["x-copy.png"] == "exact duplicate of img000.png"
    assert reasons["x-reencoded.jpg"] == "near duplicate of img001.png"
    assert reasons["x-resized.png"] == "near duplicate of img002.png"
    assert reasons["x-tiny.png"].startswith("too small")
    assert report["written"] == 4
    assert report["steps_removed"] == {"listing": 0, "decode_and_crop": 1, "exact_duplicates": 1, "near_duplicates": 2}
    exact_only = prepare(str(src), tmp_path / "e.zip", PrepareOptions(resolution=32, workers=1), progress=False)
    assert exact_only["written"] == 7 and exact_only["steps_removed"]["exact_duplicates"] == 1


def test_offline_augmentation_adds_recorded_variants_independent_of_workers(tmp_path):
    write_images(tmp_path / "src", 70, size=32)
    a = prepare(str(tmp_path / "src"), tmp_path / "a.zip", PrepareOptions(resolution=32, augment=2, workers=1),
                progress=False)
    prepare(str(tmp_path / "src"), tmp_path / "b.zip", PrepareOptions(resolution=32, augment=2, workers=2),
            progress=False)
    assert a["written"] == 210 and a["used"] == 70 and a["augmented_variants"] == 140
    da, db = load_dataset(tmp_path / "a.zip"), load_dataset(tmp_path / "b.zip")
    assert (da.images == db.images).all()
    items = da.info["items"]
    assert "augment" not in items[0] and items[1]["variant_of"] == items[0]["file"] == items[2]["variant_of"]
    assert {op.split("(")[0] for r in items[1::3] + items[2::3] for op in r["augment"].split("+")} == \
        {"flip", "rotate", "shear", "elastic"}
    for i in range(0, 30, 3):  # a variant is like its original, but not the same
        orig, var = da.images[i].astype(int), da.images[i + 1].astype(int)
        assert not (orig == var).all()


def test_flip_variant_is_an_exact_mirror():
    from ganforge.data.variants import variant

    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8))
    out, how = variant(img, np.random.default_rng(3), ops=("flip",))
    assert how == "flip" and (np.asarray(out) == np.asarray(img)[:, ::-1]).all()


# ---- foreground, background and composites -------------------------------------------------------------

def make_sprites(folder, n=4):
    folder.mkdir(parents=True)
    for i in range(n):
        a = np.zeros((50, 70, 4), np.uint8)
        a[10 + i : 30 + i, 20:30] = (200, 30 * i, 0, 255)  # an opaque 10×20 bar in a transparent frame
        Image.fromarray(a, "RGBA").save(folder / f"s{i}.png")
    Image.new("RGB", (40, 40), (0, 0, 255)).save(folder / "opaque.png")


def test_foreground_background_and_composite_sets(tmp_path):
    from ganforge.data.layers import composite_sets, make_background_set, make_foreground_set

    make_sprites(tmp_path / "sprites")
    fg = make_foreground_set(str(tmp_path / "sprites"), tmp_path / "fg.zip", resolution=32, workers=1, progress=False)
    assert fg["written"] == 4 and fg["skipped"][0]["reason"].startswith("no transparency")
    fds = load_dataset(tmp_path / "fg.zip")
    assert fds.channels == 4
    assert fds.images[0, 16, 16, 3] == 255 and fds.images[0, 16, 0, 3] == 0  # cropped to the bar, centred
    write_images(tmp_path / "walls", 3, size=48)
    bg = make_background_set(str(tmp_path / "walls"), tmp_path / "bg.zip", resolution=32, blur=1.5, workers=1,
                             progress=False)
    sharp = make_background_set(str(tmp_path / "walls"), tmp_path / "sharp.zip", resolution=32, workers=1,
                                progress=False)
    assert bg["written"] == sharp["written"] == 3
    blurred_std = load_dataset(tmp_path / "bg.zip").images.astype(float).std()
    assert blurred_std < 0.6 * load_dataset(tmp_path / "sharp.zip").images.astype(float).std()
    comp = composite_sets(tmp_path / "fg.zip", tmp_path / "bg.zip", tmp_path / "c.zip", count=10, seed=1)
    assert comp["written"] == 10
    cds = load_dataset(tmp_path / "c.zip")
    bgds = load_dataset(tmp_path / "bg.zip")
    bg_files = [r["file"] for r in bgds.info["items"]]
    for img, rec in zip(cds.images, cds.info["items"]):
        x0, y0, x1, y1 = rec["box"]
        back = bgds.images[bg_files.index(rec["background"])]
        outside = np.ones(img.shape[:2], bool)
        outside[y0:y1, x0:x1] = False
        assert (img[outside] == back[outside]).all()  # outside the box: exactly the background
        cy, cx = (y0 + y1) // 2, (x0 + x1) // 2
        assert img[cy, cx, 0] > 150  # the sprite's red square sits in the middle of its box
    flat = make_foreground_set(str(tmp_path / "sprites"), tmp_path / "flat.zip", resolution=32, keep_alpha=False,
                               background="black", workers=1, progress=False)
    assert flat["written"] == 4
    composite_sets(tmp_path / "flat.zip", tmp_path / "bg.zip", tmp_path / "c2.zip",
                   count=3)  # alpha from the key colour


# ---- show and the CLI ----------------------------------------------------------------------------------

def test_show_writes_a_contact_sheet_and_summary(tmp_path, capsys):
    write_images(tmp_path / "src" / "a", 5)
    write_images(tmp_path / "src" / "b", 4, seed=2)
    prepare(str(tmp_path / "src"), tmp_path / "d.zip", PrepareOptions(resolution=16, labels="subfolders", workers=1),
            progress=False)
    code, out, _ = run_cli(capsys, "data", "show", str(tmp_path / "d.zip"), "--n", "6")
    assert code == 0
    assert "9 images, 16x16, 3 channel(s)" in out and "classes (2): a 5, b 4" in out
    sheet = Image.open(tmp_path / "d.sheet.png")
    assert sheet.size == (4 * (3 * 18 + 2), 4 * (2 * 18 + 2))  # 3×2 grid of 16 px + 2 px padding, enlarged 4×
    code, out, _ = run_cli(capsys, "data", "show", str(tmp_path / "d.zip"), "--json", "--out", str(tmp_path / "s.png"))
    assert json.loads(out)["classes"] == {"a": 5, "b": 4} and (tmp_path / "s.png").is_file()


def test_data_sources_command(capsys):
    code, out, _ = run_cli(capsys, "data", "sources")
    assert code == 0 and "digits" in out and "openimages:..." in out and "search:..." in out


@pytest.mark.parametrize("argv, message", [
    (["data", "prepare", "nowhere-xyz", "--out", "{tmp}/o.zip"], "no such folder"),
    (["data", "prepare", "hf:", "--out", "{tmp}/o.zip"], "needs an argument"),
    (["data", "prepare", "{tmp}", "--out", "{tmp}/o.zip", "--crop-fraction", "2"], "--crop-fraction"),
    (["data", "prepare", "{tmp}", "--out", "{tmp}/o.zip", "--augment-ops", "twirl"], "unknown augmentation"),
    (["data", "prepare", "emoji:robots", "--out", "{tmp}/o.zip"], "emoji"),
    (["data", "show", "{tmp}/missing.zip"], "no data set"),
    (["data", "composite", "{tmp}/a.zip", "{tmp}/b.zip", "--out", "{tmp}/c.zip"], "no data set"),
    (["data", "background", "{tmp}", "--out", "{tmp}/o.zip", "--size", "300"], "from 8 to 256"),  # 48 is allowed now
])
def test_data_cli_errors_are_one_line(tmp_path, capsys, argv, message):
    code, out, err = run_cli(capsys, *[a.format(tmp=tmp_path) for a in argv])
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("ganforge: error:") and message in err
