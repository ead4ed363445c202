"""Sources made of downloaded files: what URL lists, ``hf:`` (through the viewer API), ``openimages:`` and
``search:`` share.

Each lists (URL, label, provenance) records, downloads them with the shared ``fetch_many``
(parallel, resumable, checked) and becomes an ordinary source whose items are the downloaded
files. A download that fails is a ``skipped`` entry with its reason; provenance (URL, licence,
author, ids) is stored with each item in ``dataset.json``.

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

import os
from pathlib import Path

from ganforge.data.decode import UnusableImage
from ganforge.data.fetch import fetch_many
from ganforge.data.sources.base import MAX_FILE_BYTES, Item, Source, too_large

DEFAULT_ONLINE_LIMIT = 1000  # images an online source fetches unless --limit says otherwise


def service_url(option: str | None, env: str, default: str) -> str:
    """A service's base URL: the option, else the environment variable, else the public default."""
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
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise UnusableImage(too_large(size))
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
