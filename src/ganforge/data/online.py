"""Online sources: a text file of URLs, Hugging Face data sets, Open Images classes, image search.

All of them (but ``hf:`` with huggingface_hub installed: ``ganforge.data.hf``) list (URL, label, provenance) records, download them with the shared
``fetch_many`` (parallel, resumable, checked) and become ordinary sources whose items
are the downloaded files. A download that fails is a ``skipped`` entry with its reason;
provenance (URL, licence, author, ids) is stored with each item in ``dataset.json``.

Every service's base URL can be changed (options or environment variables), which
is how the tests replay recorded answers from a server on 127.0.0.1:

===============  ==============================  =======================================================
source           environment variable            default
===============  ==============================  =======================================================
``hf:``          ``HF_ENDPOINT``                 https://huggingface.co (through huggingface_hub)
                 ``GANFORGE_HF_API``             https://datasets-server.huggingface.co (the viewer API)
``openimages:``  ``GANFORGE_OPENIMAGES_URL``     https://storage.googleapis.com/openimages
                 ``GANFORGE_OPENIMAGES_IMAGES``  https://s3.amazonaws.com/open-images-dataset
``search:``      ``GANFORGE_OPENVERSE_API``      https://api.openverse.org/v1
                 ``GANFORGE_COMMONS_API``        https://commons.wikimedia.org/w/api.php
===============  ==============================  =======================================================
"""

from __future__ import annotations

import csv
import html
import json
import os
import re
import urllib.parse
from pathlib import Path

from ganforge.data.fetch import download_folder, fetch_file, fetch_json, fetch_many
from ganforge.data.sources import MAX_FILE_BYTES, Item, Source
from ganforge.errors import DataError, DownloadError
from ganforge.utils import write_json_atomic

DEFAULT_ONLINE_LIMIT = 1000  # images an online source fetches unless --limit says otherwise


def _base(option: str | None, env: str, default: str) -> str:
    return (option or os.environ.get(env) or default).rstrip("/")


class LocalFilesSource(Source):
    """A source whose items are files on this machine, each with its provenance record."""

    def __init__(self, description: str):
        super().__init__(description=description)
        self.paths: dict[str, str] = {}
        self.records: dict[str, dict] = {}

    def add(self, key: str, path: Path, label: str | None, record: dict) -> None:
        self.paths[key] = str(path)
        self.records[key] = {k: v for k, v in record.items() if k != "label" and v not in (None, "")}
        self.items.append(Item(key, label))

    def load(self, item: Item) -> bytes:
        path = Path(self.paths[item.key])
        if path.stat().st_size > MAX_FILE_BYTES:
            return b"\0too-large"
        return path.read_bytes()

    def provenance(self, item: Item) -> dict:
        return dict(self.records[item.key])


class DownloadedSource(LocalFilesSource):
    """A source made of downloaded files: ``records`` are dicts with ``url`` (+ ``label``, provenance)."""

    def __init__(self, description: str, records: list[dict], folder: Path, *, labels_wanted: bool = True,
                 download_workers: int = 8, timeout: float = 20.0, retries: int = 3, backoff: float = 1.0,
                 progress: bool = True, **_):
        super().__init__(description)
        self.folder = folder
        unique: list[dict] = []
        seen_urls: set[str] = set()
        for r in records:
            if r["url"] in seen_urls:
                self.skipped.append((r["url"], "duplicate URL in the listing"))
                continue
            seen_urls.add(r["url"])
            unique.append(r)
        results = fetch_many([r["url"] for r in unique], folder, workers=download_workers, timeout=timeout,
                             retries=retries, backoff=backoff, progress=progress)
        for r, got in zip(unique, results):
            if got.path is None:
                self.skipped.append((r["url"], f"download failed: {got.error}"))
                continue
            self.add(r["url"], got.path, r.get("label") if labels_wanted else None, r)
        self.stats["listed"] = len(records)
        self.stats["downloaded"] = len(self.items)


class UrlListSource(DownloadedSource):
    """A text file with one image URL per line (blank lines and ``#`` comments ignored)."""

    def __init__(self, path: Path, labels: str | None = None, *, limit: int | None = None, **options):
        records, bad = [], []
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            url, _, label = line.partition(" ")  # "URL label" lines give classes
            if not url.startswith(("http://", "https://")):
                bad.append((f"{path.name}:{n}", f"not an http(s) URL: {url[:80]}"))
                continue
            records.append({"url": url, "label": label.strip() or None})
        if limit:
            records = records[:limit]
        super().__init__(f"urls:{path}", records, download_folder(f"urls-{path.stem}"),
                         labels_wanted=labels is not None or any(r["label"] for r in records), **options)
        self.skipped[:0] = bad


class HuggingFaceSource(DownloadedSource):
    """``hf:dataset[/config][:split]`` through the Hub's dataset-viewer API (``/splits`` and ``/rows``).

    The fallback when huggingface_hub or pyarrow is not installed, and what ``GANFORGE_HF_API`` (or the
    ``api`` option) asks for by name (``ganforge.data.hf`` reads the repository itself otherwise). The
    API serves any public data set's rows as JSON with each image as a URL, so no data-set library or
    Parquet reader is needed. The first Image column is the image; a ClassLabel column (``label``
    preferred) gives the classes.
    """

    PAGE = 100  # rows per request: the API's maximum

    def __init__(self, argument: str, labels: str | None = None, *, limit: int | None = None, api: str | None = None,
                 split: str | None = None, **options):
        base = _base(api, "GANFORGE_HF_API", "https://datasets-server.huggingface.co")
        dataset, config, arg_split = parse_hf_spec(argument)
        split = split or arg_split
        limit = limit or DEFAULT_ONLINE_LIMIT
        folder = download_folder(f"hf-{dataset}")
        q = urllib.parse.quote
        try:
            splits = fetch_json(f"{base}/splits?dataset={q(dataset, safe='')}", folder, refresh=True).get("splits", [])
        except DownloadError as e:
            raise DataError(f"hf:{dataset}: cannot list its splits ({e})") from None
        choices = [s for s in splits if (config is None or s.get("config") == config)]
        if not choices:
            raise DataError(f"hf:{dataset}: no such data set or config on the Hub (or it has no viewer)")
        pick = next((s for s in choices if s.get("split") == (split or "train")), None)
        if pick is None and split is None:
            pick = choices[0]
        if pick is None:
            known = ", ".join(sorted({s['split'] for s in choices}))
            raise DataError(f"hf:{dataset}: no split {split!r} (splits: {known})")
        config, split = pick["config"], pick["split"]
        records: list[dict] = []
        no_image: list[tuple[str, str]] = []
        image_col = label_col = None
        names: list[str] | None = None
        offset = 0
        while len(records) < limit:
            url = (f"{base}/rows?dataset={q(dataset, safe='')}&config={q(config, safe='')}&split={q(split, safe='')}"
                   f"&offset={offset}&length={self.PAGE}")
            try:
                page = fetch_json(url, folder)
            except DownloadError as e:
                raise DataError(f"hf:{dataset}: cannot read rows at offset {offset} ({e})") from None
            if image_col is None:
                image_col, label_col, names = hf_columns(page.get("features", []))
                if image_col is None:
                    raise DataError(f"hf:{dataset}: has no image column")
            rows = page.get("rows", [])
            for row in rows:
                value = row.get("row", {}).get(image_col)
                src = value.get("src") if isinstance(value, dict) else None
                index = row.get("row_idx")
                if not src:
                    no_image.append((f"{dataset}[{index}]", "row has no image"))
                    continue
                label = class_name(row["row"].get(label_col) if label_col else None, names)
                records.append({"url": src, "label": label, "hf_dataset": dataset,
                                "hf_config": config, "hf_split": split, "hf_row": index})
            offset += len(rows)
            if not rows or offset >= int(page.get("num_rows_total", 0)):
                break
        super().__init__(f"hf:{dataset}/{config}:{split}", records[:limit], folder, **options)
        self.skipped[:0] = no_image
        self.stats["classes"] = names


def parse_hf_spec(argument: str) -> tuple[str, str | None, str | None]:
    """``owner/name[/config][:split]`` -> (dataset, config, split)."""
    spec, _, split = argument.partition(":")
    parts = spec.strip().split("/")
    if len(parts) < 2:
        return spec.strip(), None, split.strip() or None
    return "/".join(parts[:2]), "/".join(parts[2:]) or None, split.strip() or None


def class_name(label, names: list[str] | None) -> str | None:
    """A ClassLabel value as its name (-1 and None: no label)."""
    if label is None or label == -1:
        return None
    if names is not None and isinstance(label, int) and 0 <= label < len(names):
        return names[label]
    return str(label)


def hf_columns(features: list[dict]) -> tuple[str | None, str | None, list[str] | None]:
    """(image column, label column, class names) from features as the dataset viewer lists them:
    ``[{"name": ..., "type": {"_type": "Image" | "ClassLabel", "names": [...]}}]``."""
    image_col = label_col = None
    names = None
    for f in features:
        t = f.get("type", {})
        if t.get("_type") == "Image" and image_col is None:
            image_col = f["name"]
        if t.get("_type") == "ClassLabel" and (label_col is None or f["name"] == "label"):
            label_col, names = f["name"], list(t.get("names", []))
    return image_col, label_col, names


class OpenImagesSource(DownloadedSource):
    """``openimages:Class[:split]``: Open Images V7 images of one boxable class where it fills the frame.

    The class name is looked up in the official class descriptions; the split's box
    annotations are read (streamed; train's table is ~2 GB, downloaded once and cached)
    and an image is kept when one of its non-group, non-depiction boxes of that class
    covers at least ``min_box_area`` of the image — most Open Images photos of a class
    show it small, which is what a GAN should not learn from.
    """

    TABLES = {
        "classes": "v7/oidv7-class-descriptions-boxable.csv",
        "train": "v6/oidv6-train-annotations-bbox.csv",
        "validation": "v5/validation-annotations-bbox.csv",
        "test": "v5/test-annotations-bbox.csv",
    }

    def __init__(self, argument: str, labels: str | None = None, *, limit: int | None = None, min_box_area: float = 0.3,
                 api: str | None = None, images_api: str | None = None, split: str | None = None,
                 include_groups: bool = False, **options):
        base = _base(api, "GANFORGE_OPENIMAGES_URL", "https://storage.googleapis.com/openimages")
        images = _base(images_api, "GANFORGE_OPENIMAGES_IMAGES", "https://s3.amazonaws.com/open-images-dataset")
        name, _, arg_split = argument.partition(":")
        split = split or arg_split or "train"
        if split not in ("train", "validation", "test"):
            raise DataError(f"openimages: split must be train, validation or test, not {split!r}")
        if not 0 <= min_box_area <= 1:
            raise DataError(f"--min-box-area must be in [0, 1], not {min_box_area}")
        folder = download_folder("openimages")
        try:
            classes_csv = fetch_file(f"{base}/{self.TABLES['classes']}", folder)
        except DownloadError as e:
            raise DataError(f"openimages: cannot fetch the class list ({e})") from None
        label_name = _openimages_class(classes_csv, name.strip())
        selected = folder / f"{label_name.replace('/', '_')}-{split}-{min_box_area:g}-{int(include_groups)}.json"
        if selected.is_file():  # the selection of an earlier run: no need to read the table again
            chosen, total = (lambda d: (d["images"], d["total"]))(json.loads(selected.read_text()))
        else:
            try:
                table = fetch_file(f"{base}/{self.TABLES[split]}", folder)
            except DownloadError as e:
                raise DataError(f"openimages: cannot fetch the {split} box annotations ({e})") from None
            chosen, total = _select_boxes(table, label_name, min_box_area, include_groups)
            write_json_atomic(selected, {"images": chosen, "total": total})
        limit = limit or DEFAULT_ONLINE_LIMIT
        records = [{"url": f"{images}/{split}/{image_id}.jpg", "label": name.strip(), "openimages_id": image_id,
                    "box": box, "box_area": round(area, 4), "licence": "CC BY 2.0 (Open Images; author in its image table)"}
                   for image_id, area, box in chosen[:limit]]
        super().__init__(f"openimages:{name.strip()}:{split}", records, folder, labels_wanted=labels is not None, **options)
        self.stats.update({"class": name.strip(), "label_name": label_name, "images_with_class": total,
                           f"images_with_box_area_>=_{min_box_area:g}": len(chosen)})


def _openimages_class(path: Path, name: str) -> str:
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.reader(f) if len(r) >= 2]
    for label_name, display in rows:
        if display.lower() == name.lower() or label_name == name:
            return label_name
    close = [d for _, d in rows if name.lower() in d.lower()][:8]
    raise DataError(f"openimages: no boxable class {name!r}" + (f" (similar: {', '.join(close)})" if close else ""))


def _select_boxes(path: Path, label_name: str, min_area: float, include_groups: bool) -> tuple[list, int]:
    """[(ImageID, largest box area fraction, [x0, y0, x1, y1])] for images whose box is large enough, and
    the number of images that have the class at all."""
    best: dict[str, tuple[float, list]] = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        col = {h: i for i, h in enumerate(header)}
        li, ii = col["LabelName"], col["ImageID"]
        xs = col["XMin"], col["XMax"], col["YMin"], col["YMax"]
        group, depiction = col.get("IsGroupOf"), col.get("IsDepiction")
        for row in reader:
            if row[li] != label_name:
                continue
            x0, x1, y0, y1 = (float(row[i]) for i in xs)
            area = max(0.0, x1 - x0) * max(0.0, y1 - y0)
            if not include_groups and ((group is not None and row[group] == "1") or (depiction is not None and row[depiction] == "1")):
                area = -1.0  # counted as having the class, never chosen
            image = row[ii]
            if image not in best or area > best[image][0]:
                best[image] = (area, [x0, y0, x1, y1])
    chosen = sorted((image, a, box) for image, (a, box) in best.items() if a >= min_area and a >= 0)
    return chosen, len(best)


class SearchSource(DownloadedSource):
    """``search:term``: openly licensed images found by Openverse (default) or Wikimedia Commons.

    Each item records its licence, licence URL, author and landing page, as the
    licences require attribution.
    """

    def __init__(self, argument: str, labels: str | None = None, *, limit: int | None = None, search_api: str = "openverse",
                 api: str | None = None, licence: str | None = None, **options):
        term = argument.strip()
        limit = limit or 200
        folder = download_folder(f"search-{search_api}-{term}")
        if search_api == "openverse":
            records = _openverse(term, limit, _base(api, "GANFORGE_OPENVERSE_API", "https://api.openverse.org/v1"), folder, licence)
        elif search_api == "commons":
            records = _commons(term, limit, _base(api, "GANFORGE_COMMONS_API", "https://commons.wikimedia.org/w/api.php"), folder)
        else:
            raise DataError(f"--search-api must be openverse or commons, not {search_api!r}")
        if not records:
            raise DataError(f"search:{term}: {search_api} found no images")
        super().__init__(f"search:{term} ({search_api})", records[:limit], folder, labels_wanted=labels is not None, **options)


def _openverse(term: str, limit: int, base: str, folder: Path, licence: str | None) -> list[dict]:
    records: list[dict] = []
    page = 1
    while len(records) < limit:
        params = {"q": term, "page": page, "page_size": 20, "mature": "false"}
        if licence:
            params["license"] = licence
        url = f"{base}/images/?{urllib.parse.urlencode(params)}"
        try:
            answer = fetch_json(url, folder)
        except DownloadError as e:
            if page == 1:
                raise DataError(f"search:{term}: Openverse did not answer ({e})") from None
            break  # Openverse limits anonymous paging; keep what we have
        for r in answer.get("results", []):
            if not r.get("url"):
                continue
            records.append({"url": r["url"], "label": term, "title": r.get("title"), "author": r.get("creator"),
                            "author_url": r.get("creator_url"),
                            "licence": " ".join(str(x) for x in (r.get("license"), r.get("license_version")) if x),
                            "licence_url": r.get("license_url"), "page": r.get("foreign_landing_url"),
                            "provider": r.get("provider")})
        if page >= int(answer.get("page_count", 0) or 0) or not answer.get("results"):
            break
        page += 1
    return records


def _commons(term: str, limit: int, base: str, folder: Path) -> list[dict]:
    records: list[dict] = []
    offset = 0
    while len(records) < limit:
        params = {"action": "query", "format": "json", "generator": "search", "gsrsearch": f"{term} filetype:bitmap",
                  "gsrnamespace": 6, "gsrlimit": 50, "gsroffset": offset, "prop": "imageinfo",
                  "iiprop": "url|mime|extmetadata", "iiurlwidth": 1024}
        try:
            answer = fetch_json(f"{base}?{urllib.parse.urlencode(params)}", folder)
        except DownloadError as e:
            if offset == 0:
                raise DataError(f"search:{term}: Wikimedia Commons did not answer ({e})") from None
            break
        pages = sorted(answer.get("query", {}).get("pages", {}).values(), key=lambda p: p.get("index", 0))
        for p in pages:
            info = (p.get("imageinfo") or [{}])[0]
            url = info.get("thumburl") or info.get("url")
            if not url or not str(info.get("mime", "image/")).startswith("image/"):
                continue
            meta = info.get("extmetadata", {})
            records.append({"url": url, "label": term, "title": p.get("title"),
                            "author": _strip_html(meta.get("Artist", {}).get("value", "")),
                            "licence": meta.get("LicenseShortName", {}).get("value"),
                            "licence_url": meta.get("LicenseUrl", {}).get("value"),
                            "page": info.get("descriptionurl")})
        offset = answer.get("continue", {}).get("gsroffset")
        if offset is None or not pages:
            break
    return records


def _strip_html(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text)).strip()
