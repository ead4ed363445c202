"""``ganforge data prepare``: any source -> a clean data-set file and a report of what was skipped.

Each item is loaded, decoded safely, cropped, resized and PNG-encoded in worker
processes; the main process writes the data-set file in source order, so the
result is the same whatever the number of workers. Every item either lands in the
data set or is listed in the report with its reason: seen == written + skipped.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image

from ganforge.data.dataset import DatasetWriter, encode_png
from ganforge.data.decode import UnusableImage, decode_image
from ganforge.data.sources import Item, Source, open_source
from ganforge.data.transforms import parse_color, process_image
from ganforge.errors import DataError
from ganforge.utils import is_power_of_two, write_json_atomic


@dataclass
class PrepareOptions:
    resolution: int | None = None   # output side, power of two 32..256 (default: source's, else 64)
    channels: int | None = None     # 1 or 3 (default: source's, else 3)
    crop: str = "center"            # center | none (pad to square)
    crop_fraction: float = 1.0      # center crop: fraction of the short side kept
    background: str = "white"       # colour behind transparent pixels and padding
    labels: str | None = None       # None | subfolders
    min_size: int = 0               # skip images whose short side is below this (source pixels)
    workers: int = 0                # worker processes (0: one per core)
    limit: int | None = None        # take only the first N items (quick experiments)

    def validate(self) -> None:
        if self.resolution is not None and (not is_power_of_two(self.resolution) or not 8 <= self.resolution <= 256):
            raise DataError(f"--size must be a power of two from 8 to 256, not {self.resolution}")
        if self.channels not in (None, 1, 3):
            raise DataError(f"--channels must be 1 or 3, not {self.channels}")
        if self.crop not in ("center", "none"):
            raise DataError(f"--crop must be center or none, not {self.crop!r}")
        if not 0 < self.crop_fraction <= 1:
            raise DataError(f"--crop-fraction must be in (0, 1], not {self.crop_fraction}")
        if self.labels not in (None, "subfolders"):
            raise DataError(f"--labels must be subfolders, not {self.labels!r}")
        try:
            parse_color(self.background)
        except ValueError as e:
            raise DataError(str(e)) from None


# Worker-process state, set once per process by _init_worker (sources can be large).
_SOURCE: Source | None = None
_OPTS: dict = {}


def _init_worker(source: Source, opts: dict) -> None:
    global _SOURCE, _OPTS
    _SOURCE, _OPTS = source, opts
    Image.MAX_IMAGE_PIXELS = None  # our own limit in decode_image applies instead


def _process(item: Item) -> tuple[Item, bytes | None, str | None]:
    """(item, PNG bytes, None) or (item, None, reason)."""
    try:
        loaded = _SOURCE.load(item)
        img = loaded if isinstance(loaded, Image.Image) else decode_image(loaded)
        out = process_image(img, **_OPTS)
        return item, encode_png(out), None
    except UnusableImage as e:
        return item, None, str(e)
    except MemoryError:
        return item, None, "out of memory while decoding"
    except OSError as e:
        return item, None, f"cannot read: {e}"


def prepare(src: str, out: str | Path, opts: PrepareOptions, progress: bool = True) -> dict:
    """Build the data-set file at ``out`` from ``src``; return the report (also written as JSON)."""
    opts.validate()
    out = Path(out)
    source = open_source(src, labels=opts.labels)
    resolution = opts.resolution or getattr(source, "default_resolution", None) or (32 if src.startswith("fashion-mnist") else 64)
    channels = opts.channels or getattr(source, "default_channels", None) or (1 if src.startswith("fashion-mnist") else 3)
    items = source.items[: opts.limit] if opts.limit else source.items
    seen = len(items) + len(source.skipped)
    if seen == 0:
        raise DataError(f"no files found in {src}")
    if not items:
        raise DataError(f"no image files among the {seen} files in {src}")

    work_opts = dict(
        resolution=resolution,
        channels=channels,
        crop=opts.crop,
        crop_fraction=opts.crop_fraction,
        background=parse_color(opts.background),
        min_size=opts.min_size,
    )
    params = {**asdict(opts), "resolution": resolution, "channels": channels}
    skipped = [{"file": k, "reason": r} for k, r in source.skipped]
    workers = opts.workers or os.cpu_count() or 1
    started = last_print = time.time()
    tty = sys.stderr.isatty()
    report_path = out.with_suffix(".report.json")

    try:
        with DatasetWriter(out, resolution=resolution, channels=channels, source=source.description, params=params) as writer:
            for i, (item, png, reason) in enumerate(_run(source, items, work_opts, workers)):
                if png is None:
                    skipped.append({"file": item.key, "reason": reason})
                else:
                    writer.add(png, source=item.key, label=item.label, extra=source.provenance(item) or None)
                now = time.time()
                if progress and (now - last_print > (0.2 if tty else 10) or i + 1 == len(items)):
                    last_print = now
                    rate = (i + 1) / max(now - started, 1e-9)
                    line = f"prepare: {i + 1}/{len(items)} images, {len(skipped)} skipped, {rate:.0f} img/s"
                    print(("\r" + line) if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)
            if progress and tty:
                print(file=sys.stderr)
            written = writer.meta["count"]
            report = _report(src, out, seen, written, skipped, writer.meta.get("items"), time.time() - started)
            if written == 0:
                write_json_atomic(report_path, report)
                raise DataError(f"none of the {seen} files in {src} could be used; reasons in {report_path}")
            writer.meta["skipped"] = len(skipped)
    finally:
        source.close()
    write_json_atomic(report_path, report)
    report["report_path"] = str(report_path)
    return report


def _run(source: Source, items: list[Item], work_opts: dict, workers: int):
    if workers <= 1 or len(items) < 64:
        _init_worker(source, work_opts)
        yield from map(_process, items)
        return
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
    with ctx.Pool(workers, initializer=_init_worker, initargs=(source, work_opts)) as pool:
        yield from pool.imap(_process, items, chunksize=32)


def _report(src, out, seen, written, skipped, records, seconds) -> dict:
    reasons: dict[str, int] = {}
    for s in skipped:
        key = s["reason"].split(" (")[0].split(":")[0]
        reasons[key] = reasons.get(key, 0) + 1
    per_class: dict[str, int] = {}
    for r in records or []:
        if "label" in r:
            per_class[r["label"]] = per_class.get(r["label"], 0) + 1
    return {
        "source": src,
        "output": str(out),
        "seen": seen,
        "written": written,
        "skipped_count": len(skipped),
        "skipped_by_reason": reasons,
        "per_class": dict(sorted(per_class.items())) or None,
        "seconds": round(seconds, 2),
        "skipped": skipped,
    }
