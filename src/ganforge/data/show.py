"""``ganforge data show``: a contact sheet PNG and a summary of a data-set file."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from ganforge.data.dataset import load_dataset
from ganforge.utils import atomic_path


def checkerboard_composite(images: np.ndarray, cell: int = 8) -> np.ndarray:
    """RGBA uint8 (N, H, W, 4) -> RGB on a grey checkerboard, so transparency is visible."""
    n, h, w, _ = images.shape
    yy, xx = np.mgrid[0:h, 0:w]
    board = np.where(((yy // cell + xx // cell) % 2)[..., None] == 0, 204, 153).astype(np.float32)
    a = images[..., 3:4].astype(np.float32) / 255.0
    return (images[..., :3] * a + board * (1 - a)).round().astype(np.uint8)


def summarize(info: dict) -> dict:
    """Count, size, channels, classes with counts and provenance (licences, providers) of a data set."""
    items = info.get("items", [])
    labels = Counter(r["label"] for r in items if "label" in r)
    licences = Counter(r["licence"] for r in items if r.get("licence"))
    providers = Counter(r.get("provider") or _host(r.get("url")) for r in items if r.get("url"))
    variants = sum(1 for r in items if "variant" in r)
    return {
        "count": info.get("count", len(items)),
        "resolution": info.get("resolution"),
        "channels": info.get("channels"),
        "source": info.get("source"),
        "classes": dict(sorted(labels.items())) or None,
        "augmented_variants": variants,
        "skipped_when_prepared": info.get("skipped"),
        "licences": dict(licences.most_common()) or None,
        "from": dict(providers.most_common(10)) or None,
        "with_author": sum(1 for r in items if r.get("author")),
        "domains": [{k: d[k] for k in ("key", "name", "count", "source", "used", "skipped")}
                    for d in info["domains"]] if info.get("domains") else None,
    }


def _host(url: str | None) -> str | None:
    if not url:
        return None
    from urllib.parse import urlparse

    return urlparse(url).hostname


def show_dataset(path: str | Path, out: str | Path | None = None, n: int = 64, seed: int = 0) -> dict:
    """Write a contact sheet of ``n`` images (a fixed random choice; all if fewer) and return the summary.

    ``out`` defaults to ``<path without .zip>.sheet.png``. The summary has ``sheet`` set to it.
    """
    from ganforge.sampling import image_grid

    ds = load_dataset(path)
    rng = np.random.default_rng(seed)
    if ds.domains:  # the first half of the sheet's rows domain A, the second half B
        pools = [ds.domain_indices(d) for d in range(2)]
        per = min(max(n // 2, 1), *(len(p) for p in pools))
        ncols = max(int(np.ceil(np.sqrt(2 * per))), 1)
        per = per // ncols * ncols or per  # whole rows per domain, so B starts on a fresh row
        pick = np.concatenate([np.sort(rng.choice(p, size=per, replace=False)) for p in pools])
    else:
        pick = np.sort(rng.choice(len(ds), size=min(n, len(ds)), replace=False))
        ncols = None
    images = np.asarray(ds.images[pick])
    if images.shape[-1] == 4:
        images = checkerboard_composite(images)
    sheet = image_grid(images, padding=2, pad_value=255, ncols=ncols)
    if ds.resolution < 64:  # small images are hard to see; enlarge without smoothing
        factor = 64 // ds.resolution
        sheet = sheet.resize((sheet.width * factor, sheet.height * factor), resample=0)
    out = Path(out) if out else Path(path).with_suffix(".sheet.png")
    with atomic_path(out) as tmp:
        sheet.save(tmp, format="PNG")
    summary = summarize(ds.info)
    summary["sha256"] = ds.sha256
    summary["sheet"] = str(out)
    return summary


def format_summary(path: str | Path, s: dict) -> str:
    lines = [f"{path}: {s['count']} images, {s['resolution']}x{s['resolution']}, {s['channels']} channel(s), "
             f"source {s['source']}"]
    for d in s.get("domains") or ():
        lines.append(f"domain {d['key']} ({d['name']}): {d['count']} images from {d['source']}"
                     + (f", {d['skipped']} skipped when prepared" if d["skipped"] else ""))
    if s.get("domains"):
        lines.append("contact sheet: domain A in the top half, domain B in the bottom half")
    if s["classes"]:
        lines.append(f"classes ({len(s['classes'])}): " + ", ".join(f"{k} {v}" for k, v in s["classes"].items()))
    if s["augmented_variants"]:
        lines.append(f"augmented variants: {s['augmented_variants']}")
    if s["skipped_when_prepared"]:
        lines.append(f"skipped when prepared: {s['skipped_when_prepared']} (see the .report.json beside it)")
    if s["licences"]:
        lines.append("licences: " + ", ".join(f"{k} {v}" for k, v in s["licences"].items()))
    if s["from"]:
        lines.append("from: " + ", ".join(f"{k} {v}" for k, v in s["from"].items())
                     + f"; {s['with_author']} with author")
    lines.append(f"contact sheet: {s['sheet']}")
    return "\n".join(lines)
