"""A text file of image URLs, one per line (``URL label`` lines give classes), downloaded into the cache."""

from __future__ import annotations

from pathlib import Path

from ganforge.data.fetch import download_folder
from ganforge.data.sources.downloaded import DownloadedSource


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


def is_url_list(path: Path) -> bool:
    """A text file whose first non-blank, non-comment line is an http(s) URL."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
        text = head.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            return line.startswith(("http://", "https://"))
    return False
