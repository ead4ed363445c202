"""``search:term``: openly licensed images found by Openverse (default) or Wikimedia Commons, with their licences."""

from __future__ import annotations

import html
import re
import urllib.parse
from pathlib import Path

from ganforge.data.fetch import download_folder, fetch_json
from ganforge.data.sources.downloaded import DownloadedSource, service_url
from ganforge.errors import DataError, DownloadError


class SearchSource(DownloadedSource):
    """``search:term``: openly licensed images found by Openverse (default) or Wikimedia Commons.

    Each item records its licence, licence URL, author and landing page, as the
    licences require attribution.
    """

    def __init__(self, argument: str, labels: str | None = None, *, limit: int | None = None,
                 search_api: str = "openverse",
                 api: str | None = None, licence: str | None = None, **options):
        term = argument.strip()
        limit = limit or 200
        folder = download_folder(f"search-{search_api}-{term}")
        if search_api == "openverse":
            records = _openverse(term, limit,
                                 service_url(api, "GANFORGE_OPENVERSE_API", "https://api.openverse.org/v1"), folder,
                                 licence)
        elif search_api == "commons":
            records = _commons(term, limit,
                               service_url(api, "GANFORGE_COMMONS_API", "https://commons.wikimedia.org/w/api.php"),
                               folder)
        else:
            raise DataError(f"--search-api must be openverse or commons, not {search_api!r}")
        if not records:
            raise DataError(f"search:{term}: {search_api} found no images")
        super().__init__(f"search:{term} ({search_api})", records[:limit], folder, labels_wanted=labels is not None,
                         **options)


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
