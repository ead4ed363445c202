"""Reviewing a data set by hand: decisions in SQLite, doubtful images first, and the cleaned set.

The dogs thesis filtered about a thousand Open Images photos by hand because many showed the dog
barely or not at all. ``ganforge serve --data SET`` shows a prepared set as pages of thumbnails
(``ganforge.web.review``); each keep/drop decision is written to SQLite at once (committed per
click, so a reload or a crash loses nothing), keyed by the data set's SHA-256 and the image's index.
``ganforge data filter SET --review DB --out NEW`` then writes the kept images as a new data set,
and its report lists each dropped image as "dropped by review".

**Doubtful first.** Images are ordered by how far they are from the set's centre in a small
pixel space (16×16 grey): an outlier (an empty frame, a close-up, a
different subject) comes first. Exact duplicates of an earlier image (same pixels) come first of
all. A learned feature space (``ganforge features fit``) or the Open Images box area would order
them better; neither is used here.
"""

from __future__ import annotations

import io
import sqlite3
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from ganforge.data.dataset import DatasetWriter, load_dataset, read_info
from ganforge.errors import DataError
from ganforge.utils import write_json_atomic

SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    data_sha TEXT NOT NULL,               -- the reviewed data set's SHA-256
    item     INTEGER NOT NULL,            -- the image's index in it
    keep     INTEGER NOT NULL CHECK (keep IN (0, 1)),
    decided  REAL NOT NULL,               -- unix time of the last decision
    PRIMARY KEY (data_sha, item)
);
"""


def connect(path: str | Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), timeout=10)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(SCHEMA)
    return conn


def decide(conn: sqlite3.Connection, data_sha: str, item: int, keep: bool) -> None:
    """Record (or change) one decision, committed at once."""
    with conn:
        conn.execute("INSERT OR REPLACE INTO decisions (data_sha, item, keep, decided) VALUES (?, ?, ?, ?)",
                     (data_sha, int(item), int(bool(keep)), time.time()))


def decisions(conn: sqlite3.Connection, data_sha: str) -> dict[int, bool]:
    rows = conn.execute("SELECT item, keep FROM decisions WHERE data_sha = ?", (data_sha,))
    return {int(i): bool(k) for i, k in rows}


def doubt_scores(images: np.ndarray) -> np.ndarray:
    """(N,) scores, higher = more doubtful: distance to the set's centre in 16×16 grey, +inf for exact duplicates."""
    small = np.stack([np.asarray(Image.fromarray(im.squeeze(-1) if im.shape[-1] == 1 else im).convert("L")
                                 .resize((16, 16), Image.Resampling.BILINEAR), np.float32).ravel() for im in images])
    small /= 255.0
    scores = np.linalg.norm(small - small.mean(0), axis=1)
    seen: set[bytes] = set()
    for i, im in enumerate(images):
        key = im.tobytes()
        if key in seen:
            scores[i] = np.inf
        seen.add(key)
    return scores


def doubt_order(images: np.ndarray) -> list[int]:
    """Image indices, most doubtful first."""
    return [int(i) for i in np.argsort(-doubt_scores(images), kind="stable")]


def filter_dataset(data: str | Path, db: str | Path, out: str | Path) -> dict:
    """Write the images of ``data`` not dropped in review database ``db`` to ``out``; returns the report
    (also written beside ``out`` as OUT.report.json), which lists every dropped image."""
    data, out = Path(data), Path(out)
    if not Path(db).is_file():
        raise DataError(f"no review database at {db} (review the set first: ganforge serve --data {data})")
    info = read_info(data)
    dataset = load_dataset(data)
    with connect(db) as conn:
        decided = decisions(conn, dataset.sha256)
    if not decided:
        raise DataError(f"{db} holds no decisions about {data} (sha256 {dataset.sha256[:12]}); was it reviewed?")
    dropped = sorted(i for i, keep in decided.items() if not keep)
    items = info["items"]
    with zipfile.ZipFile(data) as zf, DatasetWriter(out, resolution=info["resolution"], channels=info["channels"],
                                                    source=str(data), params={"review": str(db)}) as writer:
        for i, record in enumerate(items):
            if i in dropped:
                continue
            extra = {k: v for k, v in record.items() if k not in ("file", "source", "label", "label_id")}
            writer.add(zf.read(record["file"]), source=record["source"], label=record.get("label"),
                       extra={**extra, "reviewed_from": i})
    report = {"data": str(data), "data_sha256": dataset.sha256, "review": str(db), "out": str(out),
              "kept": len(items) - len(dropped), "dropped": len(dropped), "undecided": len(items) - len(decided),
              "dropped_items": [{"index": i, "source": items[i]["source"], "reason": "dropped by review"}
                                for i in dropped]}
    write_json_atomic(out.with_suffix(".report.json"), report)
    return report


def thumbnail_png(image: np.ndarray, size: int = 96) -> bytes:
    img = Image.fromarray(image.squeeze(-1) if image.shape[-1] == 1 else image)
    img = img.resize((size, size), Image.Resampling.NEAREST if img.width < size else Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
