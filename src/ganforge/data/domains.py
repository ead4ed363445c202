"""Two-domain data sets: one data-set file holding domain A and domain B (unpaired image translation).

The file is an ordinary data-set file (see ``ganforge.data.dataset``) whose every item also carries
``"domain": 0`` (A) or ``1`` (B), and whose ``dataset.json`` has ``"domains"``: one entry per domain
with its name, count, source, preparation parameters and what preparing it used and skipped::

    "domains": [{"key": "A", "name": "cats", "count": 800, "source": "...", "params": {...},
                 "used": 800, "skipped": 3}, {"key": "B", ...}]

It is written with data-set version 2, so a ganforge that predates domains refuses it with its
"written by a newer ganforge" line instead of training on the mixture; one-domain files stay
version 1 and load as before.

Each domain is prepared exactly as a one-domain set would be (``prepare``, the same options for
both, so both are cut and sized alike), into a temporary file beside ``--out``, then the two are
merged. Or one folder with exactly two subfolders is prepared with ``--labels subfolders`` and split
by its two classes (``--as-domains``).
"""

from __future__ import annotations

import io
import re
import tempfile
import zipfile
from dataclasses import replace
from pathlib import Path

from PIL import Image

from ganforge.data.dataset import DOMAINS_VERSION, DatasetWriter, read_info
from ganforge.data.png import encode_png
from ganforge.data.prepare import PrepareOptions, check_out, prepare
from ganforge.errors import DataError
from ganforge.utils import write_json_atomic

DOMAIN_KEYS = ("A", "B")


def parse_domains(text: str) -> list[tuple[str, str]]:
    """``"A=SRC,B=SRC"`` (or ``cats=SRC,dogs=SRC``) -> [(name, src), (name, src)], A first.

    A comma only separates domains where ``NAME=`` follows it, so a source such as
    ``emoji:faces,people`` keeps its own commas.
    """
    parts = re.split(r",(?=[\w.-]+=)", text.strip())
    pairs = []
    for part in parts:
        name, sep, src = part.partition("=")
        if not sep or not name.strip() or not src.strip():
            raise DataError(f"--domains takes NAME=SRC,NAME=SRC (e.g. A=photos/,B=emoji), not {text!r}")
        pairs.append((name.strip(), src.strip()))
    if len(pairs) != 2:
        raise DataError(f"--domains needs exactly two domains (A=SRC,B=SRC), got {len(pairs)} in {text!r}")
    if pairs[0][0] == pairs[1][0]:
        raise DataError(f"the two domains need different names, not both {pairs[0][0]!r}")
    return pairs


def prepare_domains(domains: list[tuple[str, str]], out: str | Path, opts: PrepareOptions,
                    progress: bool = True) -> dict:
    """Prepare each ``(name, src)`` with ``opts`` and write one two-domain data set at ``out``; the report."""
    opts.validate()
    out = Path(out)
    check_out(out)
    parts: list[tuple[str, Path, dict, str | None]] = []
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.domains.") as tmp:
        for i, (name, src) in enumerate(domains):
            part = Path(tmp) / f"{i}.zip"
            try:
                report = prepare(src, part, opts, progress=progress)
            except DataError as e:  # its report would be in the temporary folder, removed below: not named
                raise DataError(f"domain {DOMAIN_KEYS[i]} ({name}): {str(e).split('; details in ')[0]}") from None
            if opts.resolution is None:  # the second domain is sized like the first
                opts = replace(opts, resolution=read_info(part)["resolution"])
            parts.append((name, part, report, None))
        return _merge(parts, out, opts)


def prepare_subfolder_domains(src: str, out: str | Path, opts: PrepareOptions, progress: bool = True) -> dict:
    """``src`` is a folder (or archive) with exactly two subfolders: each becomes a domain, in name order."""
    opts.validate()
    out = Path(out)
    check_out(out)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.domains.") as tmp:
        whole = Path(tmp) / "all.zip"
        report = prepare(src, whole, replace(opts, labels="subfolders"), progress=progress)
        classes = read_info(whole).get("classes") or []
        if len(classes) != 2:
            raise DataError(f"--as-domains needs exactly two subfolders in {src}, found {len(classes)}"
                            + (f" ({', '.join(classes[:5])}{', ...' if len(classes) > 5 else ''})" if classes else ""))
        parts = [(name, whole, _report_of_subfolder(report, name), name) for name in classes]
        return _merge(parts, out, opts)


def _report_of_subfolder(report: dict, name: str) -> dict:
    """The part of a labelled prepare's report about one subfolder (its files start with ``name/``)."""
    skipped = [s for s in report["skipped"] if s["file"].startswith(name + "/") or f"/{name}/" in s["file"]]
    used = report["per_class"].get(name, 0) if report.get("per_class") else 0
    return {"source": f"{report['source']}/{name}", "seen": used + len(skipped), "used": used, "written": used,
            "skipped_count": len(skipped), "skipped": skipped}


def _merge(parts: list[tuple[str, Path, dict, str | None]], out: Path, opts: PrepareOptions) -> dict:
    """Write the two-domain file from ``(name, file, report, label)`` parts; ``label`` picks that class's items.

    Both domains end with one channel count: when one is grey and the other colour (and ``--channels``
    was not given), the grey one's images are written as RGB.
    """
    infos = [read_info(path) for _, path, _, _ in parts]
    resolution = infos[0]["resolution"]
    if any(info["resolution"] != resolution for info in infos):
        raise DataError("the two domains were prepared at different sizes; give --size")
    channels = max(info["channels"] for info in infos)
    entries, reports = [], {}
    params = {**infos[0]["params"], "labels": None, "channels": channels}
    with DatasetWriter(out, resolution=resolution, channels=channels, params=params,
                       source=" + ".join(f"{name}={info['source']}" for (name, *_), info in zip(parts, infos))
                       ) as writer:
        for d, ((name, path, report, label), info) in enumerate(zip(parts, infos)):
            count = 0
            with zipfile.ZipFile(path) as zf:
                for record in info["items"]:
                    if label is not None and record.get("label") != label:
                        continue
                    png = zf.read(record["file"])
                    if info["channels"] != channels:
                        png = encode_png(Image.open(io.BytesIO(png)).convert({3: "RGB", 4: "RGBA"}[channels]))
                    extra = {k: v for k, v in record.items() if k not in ("file", "source", "label", "label_id")}
                    # a subfolder domain's label is its domain; a labelled source keeps its own classes
                    keep_label = record.get("label") if label is None else None
                    writer.add(png, source=record["source"], label=keep_label, extra={**extra, "domain": d})
                    count += 1
            if count == 0:
                raise DataError(f"domain {DOMAIN_KEYS[d]} ({name}) has no images")
            entries.append({"key": DOMAIN_KEYS[d], "name": name, "count": count, "source": report["source"],
                            "params": info["params"], "used": report["used"], "skipped": report["skipped_count"]})
            reports[DOMAIN_KEYS[d]] = {"name": name, **{k: v for k, v in report.items() if k != "report_path"}}
        writer.meta["version"] = DOMAINS_VERSION
        writer.meta["domains"] = entries
        writer.meta["used"] = sum(e["used"] for e in entries)
        writer.meta["skipped"] = sum(e["skipped"] for e in entries)
        written = writer.meta["count"]
    report = {
        "source": writer.meta["source"],
        "output": str(out),
        "seen": sum(r["seen"] for r in reports.values()),
        "used": sum(r["used"] for r in reports.values()),
        "written": written,
        "skipped_count": sum(r["skipped_count"] for r in reports.values()),
        "skipped_by_reason": _sum_reasons(reports.values()),
        "per_domain": {e["key"]: {"name": e["name"], "count": e["count"]} for e in entries},
        "domains": reports,
        "skipped": [s for r in reports.values() for s in r["skipped"]],
    }
    report_path = out.with_suffix(".report.json")
    write_json_atomic(report_path, report)
    report["report_path"] = str(report_path)
    return report


def _sum_reasons(reports) -> dict:
    from ganforge.data.prepare import reason_kind

    totals: dict[str, int] = {}
    for r in reports:
        for s in r["skipped"]:
            key = reason_kind(s["reason"])
            totals[key] = totals.get(key, 0) + 1
    return totals
