"""The downloader every online source shares: parallel, bounded, resumable, and honest about failures.

Each URL becomes one file in a cache folder, named by a hash of the URL and written
atomically (``ganforge.download.download``: timeout, retries with backoff, size limit,
Content-Type check). A run that stops — Ctrl-C, a lost connection — resumes where it
stopped: files already in the folder are not requested again. Failures are returned
with their reason, never dropped; sources turn them into report entries.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ganforge.download import download
from ganforge.errors import DownloadError
from ganforge.paths import cache_dir
from ganforge.progress import Task

MAX_IMAGE_BYTES = 50 << 20     # a single downloaded image larger than this is refused
IMAGE_TYPES = ("image/", "application/octet-stream", "binary/octet-stream")  # S3 often serves images as octet-stream


@dataclass
class Fetched:
    url: str
    path: Path | None       # the downloaded file, or None
    error: str | None       # why not, one line


def url_file(folder: Path, url: str) -> Path:
    return folder / hashlib.sha256(url.encode()).hexdigest()[:32]


def download_folder(name: str) -> Path:
    """``<cache>/downloads/<name>``: where a source keeps its files (resumable across runs)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:120]
    return cache_dir("downloads", safe)


def fetch_many(
    urls: list[str],
    folder: Path,
    *,
    workers: int = 8,
    timeout: float = 20.0,
    retries: int = 3,
    max_bytes: int = MAX_IMAGE_BYTES,
    accept: tuple[str, ...] | None = IMAGE_TYPES,
    progress: bool = True,
    backoff: float = 1.0,
) -> list[Fetched]:
    """Download ``urls`` into ``folder`` with ``workers`` threads; results in the order of ``urls``."""
    folder.mkdir(parents=True, exist_ok=True)
    results: list[Fetched | None] = [None] * len(urls)
    todo = []
    for i, url in enumerate(urls):
        path = url_file(folder, url)
        if path.is_file():
            results[i] = Fetched(url, path, None)  # resumed: fetched by an earlier run
        else:
            todo.append(i)

    def one(i: int) -> tuple[int, Fetched]:
        url = urls[i]
        if not url.startswith(("http://", "https://")):
            return i, Fetched(url, None, "not an http(s) URL")
        try:
            path = download(url, url_file(folder, url), timeout=timeout, retries=retries, max_bytes=max_bytes,
                            accept=accept, backoff=backoff)
            return i, Fetched(url, path, None)
        except DownloadError as e:
            return i, Fetched(url, None, _short(str(e), url))

    done = len(urls) - len(todo)
    shown = Task("download", len(urls), "files", enabled=progress)
    failed = 0
    if todo:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for i, result in pool.map(one, todo):
                results[i] = result
                done += 1
                failed += result.error is not None
                shown.update(done, failed=failed)
        shown.close()
    return results  # type: ignore[return-value]


def fetch_json(url: str, folder: Path, *, timeout: float = 30.0, retries: int = 3, refresh: bool = False,
               backoff: float = 1.0):
    """GET ``url`` and parse JSON, cached in ``folder`` so a resumed run sees the same listing."""
    path = url_file(folder, url).with_suffix(".json")
    if refresh and path.exists():
        path.unlink()
    download(url, path, timeout=timeout, retries=retries, max_bytes=64 << 20, accept=("application/json", "text/"),
             backoff=backoff)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        os.unlink(path)  # never cache an answer we cannot read
        raise DownloadError(f"{url} did not return JSON") from None


def fetch_file(url: str, folder: Path, *, timeout: float = 60.0, max_bytes: int = 4 << 30,
               backoff: float = 1.0) -> Path:
    """GET ``url`` into ``folder`` once (annotation tables and other large listings)."""
    return download(url, url_file(folder, url), timeout=timeout, max_bytes=max_bytes, backoff=backoff)


def _short(message: str, url: str) -> str:
    """download()'s message without the URL and the fetch-by-hand advice (the report lists the URL)."""
    text = message.split("; fetch it by hand")[0]
    text = text.replace(f"could not download {url} ", "").replace(url + " ", "")
    return text.strip("() ") or message
