"""``openimages:Class[:split]``: Open Images V7 photos of one boxable class, where the class fills the frame."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from ganforge.data.fetch import download_folder, fetch_file
from ganforge.data.sources.downloaded import (
    DEFAULT_ONLINE_LIMIT,
    DownloadedSource,
    service_url,
)
from ganforge.errors import DataError, DownloadError
from ganforge.utils import write_json_atomic


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
        base = service_url(api, "GANFORGE_OPENIMAGES_URL", "https://storage.googleapis.com/openimages")
        images = service_url(images_api, "GANFORGE_OPENIMAGES_IMAGES", "https://s3.amazonaws.com/open-images-dataset")
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
                    "box": box, "box_area": round(area, 4),
                    "licence": "CC BY 2.0 (Open Images; author in its image table)"}
                   for image_id, area, box in chosen[:limit]]
        super().__init__(f"openimages:{name.strip()}:{split}", records, folder, labels_wanted=labels is not None,
                         **options)
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
            if not include_groups and ((group is not None and row[group] == "1")
                                       or (depiction is not None and row[depiction] == "1")):
                area = -1.0  # counted as having the class, never chosen
            image = row[ii]
            if image not in best or area > best[image][0]:
                best[image] = (area, [x0, y0, x1, y1])
    chosen = sorted((image, a, box) for image, (a, box) in best.items() if a >= min_area and a >= 0)
    return chosen, len(best)
