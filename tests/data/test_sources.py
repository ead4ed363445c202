"""Sources: tar archives, URL lists, built-ins (digits, emoji) and online sources against a replay server."""

import io
import json
import tarfile
import zipfile

import pytest
from PIL import Image

from conftest import write_images
from ganforge.data.dataset import load_dataset, read_info
from ganforge.data.fetch import fetch_many
from ganforge.data.prepare import PrepareOptions, prepare
from ganforge.data.sources import Item, label_by_subfolder, list_sources, open_source
from ganforge.errors import DataError
from replay_server import ReplayServer

FAST = dict(backoff=0.01, timeout=5)  # source options for tests: retry without waiting


def jpeg(colour, size=(48, 32)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def opts(**kw) -> PrepareOptions:
    kw.setdefault("resolution", 16)
    kw.setdefault("workers", 1)
    kw["source_options"] = {**FAST, **kw.get("source_options", {})}
    return PrepareOptions(**kw)


# ---- files -------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["w", "w:gz", "w:xz"])
def test_tar_archives_plain_and_compressed(tmp_path, mode):
    write_images(tmp_path / "src" / "cats", 3)
    write_images(tmp_path / "src" / "dogs", 2, seed=4)
    (tmp_path / "src" / "readme.txt").write_text("hello")
    name = {"w": "a.tar", "w:gz": "a.tar.gz", "w:xz": "a.tar.xz"}[mode]
    with tarfile.open(tmp_path / name, mode) as tf:
        tf.add(tmp_path / "src", arcname=".", recursive=True)
        link = tarfile.TarInfo("cats/link.png")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
    report = prepare(str(tmp_path / name), tmp_path / "ds.zip", opts(labels="subfolders"), progress=False)
    assert (report["seen"], report["written"], report["skipped_count"]) == (7, 5, 2)
    assert report["per_class"] == {"cats": 3, "dogs": 2}
    reasons = {s["file"]: s["reason"] for s in report["skipped"]}
    assert "not a regular file" in reasons["cats/link.png"]
    # the same pixels as from the folder itself
    prepare(str(tmp_path / "src"), tmp_path / "f.zip", opts(labels="subfolders"), progress=False)
    assert (load_dataset(tmp_path / "ds.zip").images == load_dataset(tmp_path / "f.zip").images).all()


def test_subfolder_labels_skip_the_folder_every_item_shares(tmp_path):
    """A zip made by zipping one folder (wrapper/cats/..., wrapper/dogs/...) is labelled cats and dogs."""
    write_images(tmp_path / "wrapper" / "cats", 2)
    write_images(tmp_path / "wrapper" / "dogs", 3, seed=4)
    with zipfile.ZipFile(tmp_path / "w.zip", "w") as zf:
        for f in sorted((tmp_path / "wrapper").rglob("*.png")):
            zf.write(f, f.relative_to(tmp_path).as_posix())
    report = prepare(str(tmp_path / "w.zip"), tmp_path / "ds.zip", opts(labels="subfolders"), progress=False)
    assert report["per_class"] == {"cats": 2, "dogs": 3}
    # one shared folder and no class folders below it: no labels rather than one class named after the folder
    items = label_by_subfolder([Item("pokemon/a.png"), Item("pokemon/b.png")], "subfolders")
    assert [i.label for i in items] == [None, None]
    items = label_by_subfolder([Item("a/x/1.png"), Item("a/x/2.png"), Item("a/y/3.png"), Item("a/4.png")], "subfolders")
    assert [i.label for i in items] == ["x", "x", "y", None]


def test_a_file_that_is_no_source_is_a_one_line_error(tmp_path):
    (tmp_path / "x.bin").write_bytes(b"\0\1\2 not a list")
    with pytest.raises(DataError, match="not a zip or tar"):
        open_source(str(tmp_path / "x.bin"))
    with pytest.raises(DataError, match="no such folder"):
        open_source("no-such-source")
    with pytest.raises(DataError, match="needs an argument"):
        open_source("search:")


# ---- the shared downloader and URL lists ----------------------------------------------------------

def test_url_list_downloads_checks_retries_and_resumes(tmp_path):
    with ReplayServer({
        "/a.jpg": (200, "image/jpeg", jpeg((255, 0, 0))),
        "/b.jpg": [(503, "text/plain", "busy"), (200, "image/jpeg", jpeg((0, 255, 0)))],  # retried
        "/c.jpg": (200, "application/octet-stream", jpeg((0, 0, 255))),                   # S3-style type
        "/page.jpg": (200, "text/html", "<html>login</html>"),                            # not an image
        "/broken.jpg": (200, "image/jpeg", b"\xff\xd8\xff garbage"),                       # decodes badly
    }) as server:
        urls = tmp_path / "urls.txt"
        urls.write_text(f"# my images\n{server.url}/a.jpg\n\n{server.url}/b.jpg\n{server.url}/c.jpg\n"
                        f"{server.url}/missing.jpg\n{server.url}/page.jpg\n{server.url}/broken.jpg\n"
                        f"{server.url}/a.jpg\nftp://example.org/x.jpg\n")
        report = prepare(str(urls), tmp_path / "ds.zip", opts(), progress=False)
        assert report["seen"] == 8 and report["written"] == 3
        assert report["seen"] == report["used"] + report["skipped_count"]
        reasons = {s["file"]: s["reason"] for s in report["skipped"]}
        assert "404" in reasons[f"{server.url}/missing.jpg"]
        assert "text/html" in reasons[f"{server.url}/page.jpg"]
        assert reasons[f"{server.url}/broken.jpg"] in ("not an image", "cannot decode")
        assert reasons["urls.txt:10"].startswith("not an http(s) URL")
        assert any(r == "duplicate URL in the listing" for r in reasons.values())
        info = read_info(tmp_path / "ds.zip")
        assert [r["url"] for r in info["items"]] == [f"{server.url}/{n}.jpg" for n in "abc"]
        colours = load_dataset(tmp_path / "ds.zip").images[:, 8, 8]
        assert colours[0, 0] > 200 and colours[1, 1] > 200 and colours[2, 2] > 200
        before = server.count("/a.jpg") + server.count("/b.jpg") + server.count("/c.jpg")
        prepare(str(urls), tmp_path / "again.zip", opts(), progress=False)  # resumed: nothing fetched again
        assert server.count("/a.jpg") + server.count("/b.jpg") + server.count("/c.jpg") == before
        assert server.count("/missing.jpg") == 2  # failures are retried on the next run, 4xx not within one


def test_fetch_many_refuses_oversized_files(tmp_path):
    with ReplayServer({"/big.jpg": (200, "image/jpeg", b"x" * 5000)}) as server:
        [got] = fetch_many([f"{server.url}/big.jpg"], tmp_path, max_bytes=1000, progress=False, backoff=0.01)
        assert got.path is None and "too large" in got.error
        assert not list(tmp_path.iterdir())  # nothing half-written


# ---- online sources against recorded answers -------------------------------------------------------

def test_huggingface_rows_with_class_labels(tmp_path, monkeypatch):
    """hf: through the dataset-viewer API, which GANFORGE_HF_API asks for (tests/data/test_hf_source.py: the Hub's
    files)."""
    with ReplayServer() as server:
        monkeypatch.setenv("GANFORGE_HF_API", server.url)
        ds = "someone/pets"
        server.add(f"/splits?dataset={ds}", (200, "application/json", json.dumps(
            {"splits": [{"dataset": ds, "config": "default", "split": "train"},
                        {"dataset": ds, "config": "default", "split": "test"}], "pending": [], "failed": []})))
        features = [{"feature_idx": 0, "name": "image", "type": {"_type": "Image"}},
                    {"feature_idx": 1, "name": "label", "type": {"names": ["cat", "dog"], "_type": "ClassLabel"}}]
        for offset, rows in ((0, [0, 1]), (2, [2])):
            body = {"features": features, "num_rows_total": 3, "num_rows_per_page": 100, "partial": False,
                    "rows": [{"row_idx": i, "truncated_cells": [],
                              "row": {"image": {"src": f"{server.url}/assets/{i}.jpg", "height": 32, "width": 48},
                                      "label": i % 2}} for i in rows]}
            server.add(f"/rows?dataset={ds}&config=default&split=train&offset={offset}&length=100",
                       (200, "application/json", json.dumps(body)))
        for i in range(3):
            server.add(f"/assets/{i}.jpg", (200, "image/jpeg", jpeg((80 * i, 0, 0))))
        report = prepare(f"hf:{ds}", tmp_path / "hf.zip", opts(), progress=False)
        assert report["written"] == 3 and report["per_class"] == {"cat": 2, "dog": 1}
        info = read_info(tmp_path / "hf.zip")
        assert info["classes"] == ["cat", "dog"]
        assert info["items"][2]["hf_row"] == 2 and info["items"][2]["hf_split"] == "train"
        with pytest.raises(DataError, match="no split 'valid'"):
            prepare(f"hf:{ds}:valid", tmp_path / "x.zip", opts(), progress=False)


def test_huggingface_without_its_libraries_falls_back_to_the_viewer_api(monkeypatch, capsys):
    from ganforge.data.sources import hf

    monkeypatch.delenv("GANFORGE_HF_API", raising=False)
    monkeypatch.setattr(hf, "missing_libraries", lambda: "pyarrow")
    opened = []
    monkeypatch.setattr(hf, "HuggingFaceSource", lambda *a, **kw: opened.append((a, kw)) or "viewer source")
    assert open_source("hf:someone/pets:test", limit=5) == "viewer source"
    assert opened == [(("someone/pets:test", None), {"api": None, "limit": 5})]
    assert capsys.readouterr().err == ("hf: pyarrow not installed (pip install 'ganforge[hf]'); "
                                       "reading through the dataset-viewer API\n")
    [row] = [r for r in list_sources() if r["name"] == "hf:..."]
    assert row["available"] and "pip install 'ganforge[hf]'" in row["note"]


def test_openimages_keeps_images_where_the_class_fills_the_frame(tmp_path, monkeypatch):
    classes = "LabelName,DisplayName\n/m/0bt9lr,Dog\n/m/01yrx,Cat\n"
    boxes = ("ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax,IsOccluded,IsTruncated,IsGroupOf,IsDepiction,"
             "IsInside\n"
             "big,xclick,/m/0bt9lr,1,0.1,0.9,0.1,0.9,0,0,0,0,0\n"        # 64% of the frame: kept
             "small,xclick,/m/0bt9lr,1,0.4,0.5,0.4,0.5,0,0,0,0,0\n"      # 1%: dropped
             "two,xclick,/m/0bt9lr,1,0.0,0.2,0.0,0.2,0,0,0,0,0\n"
             "two,xclick,/m/0bt9lr,1,0.0,0.7,0.2,0.9,0,0,0,0,0\n"        # its larger box (49%): kept
             "group,xclick,/m/0bt9lr,1,0.0,1.0,0.0,1.0,0,0,1,0,0\n"      # a group box: not one dog
             "cat,xclick,/m/01yrx,1,0.0,1.0,0.0,1.0,0,0,0,0,0\n")       # another class
    with ReplayServer({
        "/v7/oidv7-class-descriptions-boxable.csv": (200, "text/csv", classes),
        "/v5/validation-annotations-bbox.csv": (200, "text/csv", boxes),
        "/img/validation/big.jpg": (200, "image/jpeg", jpeg((200, 100, 0))),
        "/img/validation/two.jpg": (200, "image/jpeg", jpeg((0, 100, 200))),
    }) as server:
        monkeypatch.setenv("GANFORGE_OPENIMAGES_URL", server.url)
        monkeypatch.setenv("GANFORGE_OPENIMAGES_IMAGES", server.url + "/img")
        report = prepare("openimages:dog:validation", tmp_path / "oi.zip",
                         opts(source_options={"min_box_area": 0.3}), progress=False)
        assert report["written"] == 2
        stats = report["source_stats"]
        assert stats["images_with_class"] == 4 and stats["images_with_box_area_>=_0.3"] == 2
        items = read_info(tmp_path / "oi.zip")["items"]
        assert [r["openimages_id"] for r in items] == ["big", "two"]
        assert items[0]["box_area"] == pytest.approx(0.64) and items[1]["box_area"] == pytest.approx(0.49)
        assert "CC BY" in items[0]["licence"]
        with pytest.raises(DataError, match="no boxable class 'Dragon'"):
            prepare("openimages:Dragon:validation", tmp_path / "x.zip", opts(), progress=False)


def openverse_page(server_url, page, ids, page_count):
    return json.dumps({"result_count": 3, "page_count": page_count, "page_size": 20, "page": page, "results": [
        {"id": f"id-{i}", "title": f"Fox {i}", "foreign_landing_url": f"https://www.flickr.com/photos/x/{i}",
         "url": f"{server_url}/ov/{i}.jpg", "creator": f"Photographer {i}", "creator_url": f"https://flickr.com/p{i}",
         "license": "by", "license_version": "2.0", "license_url": "https://creativecommons.org/licenses/by/2.0/",
         "provider": "flickr", "source": "flickr", "category": "photograph", "filetype": "jpg", "mature": False,
         "height": 32, "width": 48} for i in ids], "warnings": []})


def test_openverse_search_records_licence_and_author(tmp_path, monkeypatch):
    with ReplayServer() as server:
        monkeypatch.setenv("GANFORGE_OPENVERSE_API", server.url)
        for page, ids in ((1, [0, 1]), (2, [2])):
            server.add(f"/images/?q=red+fox&page={page}&page_size=20&mature=false",
                       (200, "application/json", openverse_page(server.url, page, ids, 2)))
        for i in range(3):
            server.add(f"/ov/{i}.jpg", (200, "image/jpeg", jpeg((0, 60 * i, 0))))
        report = prepare("search:red fox", tmp_path / "s.zip", opts(), progress=False)
        assert report["written"] == 3
        items = read_info(tmp_path / "s.zip")["items"]
        assert items[1]["author"] == "Photographer 1" and items[1]["licence"] == "by 2.0"
        assert items[1]["page"].startswith("https://www.flickr.com/") and items[1]["url"] == f"{server.url}/ov/1.jpg"


def test_commons_search(tmp_path, monkeypatch):
    with ReplayServer() as server:
        monkeypatch.setenv("GANFORGE_COMMONS_API", server.url + "/w/api.php")
        answer = {"batchcomplete": "", "query": {"pages": {
            "101": {"pageid": 101, "ns": 6, "title": "File:Fox.jpg", "index": 1, "imagetype": "image",
                    "imageinfo": [{"thumburl": f"{server.url}/thumb/fox.jpg", "url": f"{server.url}/fox.jpg",
                                   "descriptionurl": "https://commons.wikimedia.org/wiki/File:Fox.jpg",
                                   "mime": "image/jpeg",
                                   "extmetadata": {"LicenseShortName": {"value": "CC BY-SA 4.0"},
                                                   "LicenseUrl": {"value": "https://creativecommons.org/licenses/by-sa/4.0"},
                                                   "Artist": {"value": "<a href=\"//commons.wikimedia.org/"
                                                                       "wiki/User:A\">A. Fox&amp;Co</a>"}}}]},
            "102": {"pageid": 102, "ns": 6, "title": "File:Fox.svg", "index": 2,
                    "imageinfo": [{"url": f"{server.url}/fox.svg", "mime": "image/svg+xml", "extmetadata": {}}]}}}}
        server.add("/w/api.php?action=query&format=json&generator=search&gsrsearch=fox filetype:bitmap&gsrnamespace=6"
                   "&gsrlimit=50&gsroffset=0&prop=imageinfo&iiprop=url|mime|extmetadata&iiurlwidth=1024",
                   (200, "application/json", json.dumps(answer)))
        server.add("/thumb/fox.jpg", (200, "image/jpeg", jpeg((1, 2, 3))))
        report = prepare("search:fox", tmp_path / "c.zip", opts(source_options={"search_api": "commons"}),
                         progress=False)
        assert report["written"] == 1
        item = read_info(tmp_path / "c.zip")["items"][0]
        assert item["author"] == "A. Fox&Co" and item["licence"] == "CC BY-SA 4.0"


def test_online_source_that_does_not_answer_is_a_one_line_error(tmp_path, monkeypatch):
    with ReplayServer() as server:  # every path 404s
        monkeypatch.setenv("GANFORGE_OPENVERSE_API", server.url)
        with pytest.raises(DataError, match="Openverse did not answer"):
            prepare("search:owl", tmp_path / "x.zip", opts(), progress=False)


# ---- built-ins -------------------------------------------------------------------------------------

def test_digits_builtin(tmp_path):
    pytest.importorskip("sklearn")
    report = prepare("digits", tmp_path / "d.zip", PrepareOptions(workers=1, limit=200), progress=False)
    ds = load_dataset(tmp_path / "d.zip")
    assert ds.images.shape == (200, 32, 32, 1)
    assert ds.classes == [str(i) for i in range(10)] and report["written"] == 200
    assert ds.images.max() > 200 and ds.images.min() < 30  # ink and paper both present


def test_emoji_builtin(tmp_path):
    from ganforge.data.sources.builtin import emoji_available

    if emoji_available():
        pytest.skip(emoji_available())
    src = open_source("emoji")
    assert 2200 <= len(src.items) <= 2700  # "about 2,400"
    assert 500 <= len(open_source("emoji:noskin").items) <= 700  # "600 without skin tones"
    report = prepare("emoji:animals", tmp_path / "e.zip", PrepareOptions(workers=1, resolution=32, channels=4),
                     progress=False)
    ds = load_dataset(tmp_path / "e.zip")
    assert report["written"] > 100 and ds.channels == 4 and ds.classes == ["animals"]
    alpha = ds.images[..., 3]
    assert (alpha[:, 0, 0] == 0).mean() > 0.9 and (alpha[:, 16, 16] == 255).mean() > 0.8  # sprites: clear corners
    with pytest.raises(DataError, match="unknown group"):
        open_source("emoji:robots")


def test_emoji_all_holds_every_group_but_components_and_subgroups_relabel(tmp_path):
    from ganforge.data.sources.builtin import emoji_available

    if emoji_available():
        pytest.skip(emoji_available())
    every = open_source("emoji:all:noskin")
    groups = {item.label for item in every.items}
    assert {"smileys-emotion", "people-body", "animals-nature", "food-drink", "objects", "flags"} <= groups
    avatars = {item.key for item in open_source("emoji:noskin").items}
    assert avatars < {item.key for item in every.items} and len(every.items) > 2.5 * len(avatars)

    fine = open_source("emoji:all:noskin:subgroups")
    assert [item.key for item in fine.items] == [item.key for item in every.items]  # the same emoji, relabelled
    assert len({item.label for item in fine.items}) > 50
    assert {"animal-mammal", "food-fruit", "transport-ground"} <= {item.label for item in fine.items}
    assert {item.label for item in open_source("emoji:animals:subgroups").items} >= {"animal-mammal", "animal-bird"}
    assert all(item.label.startswith("animal-") for item in open_source("emoji:animals:subgroups").items)
    with pytest.raises(DataError, match="'all' already holds faces"):
        open_source("emoji:all:faces")

    report = prepare("emoji:all:noskin:subgroups", tmp_path / "art.zip",
                     PrepareOptions(workers=1, resolution=16, channels=3, limit=300), progress=False)
    ds = load_dataset(tmp_path / "art.zip")
    assert report["written"] > 250 and ds.channels == 3 and len(ds.classes) > 10
    assert (ds.images[:, 0, 0] > 240).all(axis=1).mean() > 0.8  # composited on the white default background


def test_sources_are_listed():
    names = {r["name"] for r in list_sources()}
    assert {"fashion-mnist", "digits", "emoji", "hf:...", "openimages:...", "search:..."} <= names
