"""``ganforge data prepare``: any source -> a clean data-set file and a report of everything left out.

Each item is loaded, decoded safely, cropped (center, pad, face, alpha), resized,
optionally augmented and PNG-encoded in worker processes; the main process removes
duplicates and writes the data-set file in source order, so the result is the same
whatever the number of workers. Every source item is either *used* (at least one image
of it is in the data set) or *skipped* with its reason in the report:

    seen == used + skipped_count        written == images in the data set (faces, variants)
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ganforge.data.clean import DEFAULT_NEAR_THRESHOLD, NearDuplicateIndex, content_hash, phash
from ganforge.data.dataset import DatasetWriter
from ganforge.data.decode import UnusableImage, decode_image
from ganforge.data.png import encode_png
from ganforge.data.sources import Item, Source, open_source
from ganforge.data.transforms import CROPS, parse_color, process_image
from ganforge.data.variants import parse_ops, rng_for, variant
from ganforge.data.workers import ordered_map
from ganforge.errors import DataError
from ganforge.progress import Task
from ganforge.utils import base_size, write_json_atomic


@dataclass
class PrepareOptions:
    resolution: int | None = None   # output side 8..256, training needs a power of two (default: source's, else 64)
    channels: int | None = None     # 1 grey, 3 RGB, 4 RGBA (default: source's, else 1 if every image is grey, else 3)
    crop: str = "center"            # center | none (pad to square) | face | alpha (cut-out of a sprite)
    crop_fraction: float = 1.0      # center crop: fraction of the short side kept
    background: str = "white"       # colour behind transparent pixels and padding
    labels: str | None = None       # None | subfolders
    min_size: int = 0               # skip images whose short side is below this (source pixels)
    workers: int = 0                # worker processes (0: one per core)
    limit: int | None = None        # take only the first N items (online sources: fetch only N)
    face_margin: float = 0.4        # face crop: fraction of the face's side added on each side
    faces: str = "largest"          # face crop: largest | all
    blur: float = 0.0               # Gaussian blur radius in output pixels (background sets)
    dedup: str = "exact"            # none | exact | near (near includes exact)
    near_threshold: int = DEFAULT_NEAR_THRESHOLD  # near duplicates: max differing bits of 64
    augment: int = 0                # extra variants per image (offline augmentation)
    augment_ops: str = "flip,rotate,shear,elastic"
    source_options: dict | None = None  # passed to named sources (min_box_area, split, search_api, api...)

    def validate(self) -> None:
        if self.resolution is not None and not 8 <= self.resolution <= 256:
            raise DataError(f"--size must be from 8 to 256 px, not {self.resolution}")
        if self.channels not in (None, 1, 3, 4):
            raise DataError(f"--channels must be 1, 3 or 4, not {self.channels}")
        if self.crop not in CROPS:
            raise DataError(f"--crop must be one of {', '.join(CROPS)}, not {self.crop!r}")
        if not 0 < self.crop_fraction <= 1:
            raise DataError(f"--crop-fraction must be in (0, 1], not {self.crop_fraction}")
        if self.labels not in (None, "subfolders"):
            raise DataError(f"--labels must be subfolders, not {self.labels!r}")
        if self.faces not in ("largest", "all"):
            raise DataError(f"--faces must be largest or all, not {self.faces!r}")
        if not 0 <= self.face_margin <= 2:
            raise DataError(f"--face-margin must be in [0, 2], not {self.face_margin}")
        if self.dedup not in ("none", "exact", "near"):
            raise DataError(f"--dedup must be none, exact or near, not {self.dedup!r}")
        if not 0 <= self.near_threshold <= 32:
            raise DataError(f"--near-threshold must be 0..32 bits, not {self.near_threshold}")
        if not 0 <= self.augment <= 100:
            raise DataError(f"--augment must be 0..100 variants, not {self.augment}")
        if self.blur < 0 or self.min_size < 0 or (self.limit is not None and self.limit < 1):
            raise DataError("--blur, --min-size and --limit must not be negative (and --limit at least 1)")
        try:
            parse_color(self.background)
            parse_ops(self.augment_ops)
        except ValueError as e:
            raise DataError(str(e)) from None
        if self.crop == "face":
            from ganforge.data.faces import check_available

            problem = check_available()
            if problem:
                raise DataError(problem)


# Worker-process state, set once per process by _init_worker (sources can be large).
_SOURCE: Source | None = None
_WORK: dict = {}


def _init_worker(source: Source, work: dict) -> None:
    global _SOURCE, _WORK
    _SOURCE, _WORK = source, work


def _process(task: tuple[Item, bytes | None]) -> tuple[Item, list[tuple[bytes, dict, int | None, bool]], str | None,
                                                      str | None]:
    """(item, [(PNG bytes, note, perceptual hash, grey)], content hash, None) or (item, [], None, reason).

    ``task`` is (item, its bytes), or (item, None) for the source to load it here.

    The first outputs are the cropped images; each is followed by its augmented variants
    (note ``{"augment": ..., "variant": k}``) which carry no hash: they are never deduplicated.
    """
    w = _WORK
    item, data = task
    try:
        loaded = _SOURCE.load(item) if data is None else data  # type: ignore[union-attr]  # set before any task
        digest = content_hash(loaded) if w["dedup"] != "none" else None
        img = loaded if isinstance(loaded, Image.Image) else decode_image(loaded, need=w["need"],
                                                                          min_side=w["min_size"])
        crops = process_image(img, **w["image"])
        if w["grey"]:  # channels to be decided by the images: grey ones as L (variants of them stay grey)
            crops = [(out.convert("L") if is_grey(out) else out, note) for out, note in crops]
        outputs = []
        for n, (out, note) in enumerate(crops):
            grey = w["grey"] and out.mode == "L"
            outputs.append((encode_png(out), note, phash(out) if w["dedup"] == "near" else None, grey))
            for k in range(w["augment"]):
                var, how = variant(out, rng_for(item.key, n * 1000 + k), w["augment_ops"])
                outputs.append((encode_png(var), {**note, "augment": how, "variant": k + 1}, None, grey))
        return item, outputs, digest, None
    except UnusableImage as e:
        return item, [], None, str(e)
    except MemoryError:
        return item, [], None, "out of memory while decoding"
    except OSError as e:
        return item, [], None, f"cannot read: {e}"
    except Exception as e:  # noqa: BLE001 - one odd file must not end a long run; the reason is reported
        return item, [], None, f"cannot process: {type(e).__name__}: {e}"


def is_grey(img: Image.Image) -> bool:
    """An RGB image whose three channels are equal everywhere (a greyscale photo, however stored)."""
    a = np.asarray(img)
    return bool((a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all())


def decode_need(resolution: int, crop: str, fraction: float) -> int | None:
    """The smallest source short side worth decoding (JPEG draft mode may reduce down to it)."""
    if crop == "center":
        return math.ceil(2 * resolution / fraction)
    if crop == "none":
        return 2 * resolution
    if crop == "face":
        return max(1024, 4 * resolution)  # faces are a small part of a photo
    return None


def prepare(src: str, out: str | Path, opts: PrepareOptions, progress: bool = True) -> dict:
    """Build the data-set file at ``out`` from ``src``; return the report (also written as JSON).

    SIGTERM stops it as Ctrl-C does (KeyboardInterrupt): workers stop, temporary files are removed.
    """
    opts.validate()
    out = Path(out)
    check_out(out)
    remove_stale_temp_files(out)
    source_options = dict(opts.source_options or {})
    if opts.limit:
        source_options["limit"] = opts.limit
    source_options.setdefault("progress", progress)
    with _sigterm_interrupts():
        source = open_source(src, labels=opts.labels, **source_options)
        try:
            return _prepare(src, out, opts, source, progress)
        finally:
            source.close()


def check_out(out: Path) -> None:
    """Refuse an ``--out`` that cannot be written, before any work: a folder, a path below a file, a
    place where we may not create files (the data set and its report are written beside it)."""
    if out.is_dir():
        raise DataError(f"--out {out} is a folder; give a file name, e.g. {out / 'dataset.zip'}")
    folder = out.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the folders that do not exist yet are made when writing
    if not folder.is_dir():
        raise DataError(f"--out {out}: {folder} is a file, not a folder")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{out.name}.", suffix=".tmp"):
            pass
    except OSError as e:
        raise DataError(f"--out {out}: cannot write in {folder} ({e.strerror or e})") from None


# A temporary file beside --out that has not changed for this long was left by a prepare that was
# killed (SIGKILL, a power cut): a live one is written to continuously, so it is never this old.
STALE_TEMP_SECONDS = 600


def remove_stale_temp_files(out: Path) -> None:
    """Remove the temporary data-set and report files a killed ``prepare`` of ``out`` left beside it."""
    now = time.time()
    stale = [p for name in (out.name, out.with_suffix(".report.json").name)
             for p in out.parent.glob(f".{name}.*.tmp")
             if p.is_file() and now - p.stat().st_mtime > STALE_TEMP_SECONDS]
    for p in stale:
        p.unlink(missing_ok=True)
    if stale:
        print(f"note: removed {len(stale)} temporary file(s) left beside {out} by an interrupted prepare",
              file=sys.stderr)


@contextlib.contextmanager
def _sigterm_interrupts():
    """Within the block, SIGTERM raises KeyboardInterrupt, as SIGINT does, so everything unwinds cleanly."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _prepare(src: str, out: Path, opts: PrepareOptions, source: Source, progress: bool) -> dict:
    resolution = opts.resolution or getattr(source, "default_resolution", None) or 64
    # None: 1 if every image turns out grey, else 3 (the writer settles it at the end)
    channels = opts.channels or getattr(source, "default_channels", None) or (4 if opts.crop == "alpha" else None)
    items = source.items[: opts.limit] if opts.limit else source.items
    seen = len(items) + len(source.skipped)
    if seen == 0:
        raise DataError(f"no files found in {src}")
    report_path = out.with_suffix(".report.json")
    if not items:
        skipped = [{"file": k, "reason": r} for k, r in source.skipped]
        write_json_atomic(report_path, _report(src, out, seen, 0, 0, skipped, [], 0.0))
        raise DataError(f"no image files among the {seen} files in {src}{_first_reasons(source.skipped)}; "
                        f"details in {report_path}")

    work = dict(
        grey=channels is None,
        image=dict(resolution=resolution, channels=channels or 3, crop=opts.crop, crop_fraction=opts.crop_fraction,
                   background=parse_color(opts.background), min_size=opts.min_size, blur=opts.blur,
                   face_margin=opts.face_margin, faces=opts.faces),
        need=decode_need(resolution, opts.crop, opts.crop_fraction),
        min_size=opts.min_size,
        dedup=opts.dedup,
        augment=opts.augment,
        augment_ops=parse_ops(opts.augment_ops),
    )
    params = {**asdict(opts), "resolution": resolution, "channels": channels}
    skipped = [{"file": k, "reason": r} for k, r in source.skipped]
    steps = {"listing": len(source.skipped), "decode_and_crop": 0, "exact_duplicates": 0, "near_duplicates": 0}
    exact: dict[str, str] = {}
    near = NearDuplicateIndex(opts.near_threshold)
    workers = opts.workers or os.cpu_count() or 1
    started = time.time()
    shown = Task("prepare", len(items), "images", enabled=progress)
    used = variants = 0

    with DatasetWriter(out, resolution=resolution, channels=channels, source=source.description,
                       params=params) as writer:
        for i, (item, outputs, digest, reason) in enumerate(_run(source, items, work, workers)):
            if reason is None and digest is not None and digest in exact:
                reason = f"exact duplicate of {exact[digest]}"
                steps["exact_duplicates"] += 1
            elif reason is not None:
                steps["decode_and_crop"] += 1
            kept = _keep_outputs(outputs, near, item.key) if reason is None and opts.dedup == "near" else outputs
            if reason is None and not kept:
                reason = f"near duplicate of {near.last_owner}"
                steps["near_duplicates"] += 1
            if reason is not None:
                skipped.append({"file": item.key, "reason": reason})
            else:
                if digest is not None:
                    exact[digest] = item.key
                used += 1
                provenance = source.provenance(item) or {}
                first_of_crop = None
                for png, note, _, grey in kept:
                    if "variant" in note:
                        variants += 1
                        note = {**note, "variant_of": first_of_crop}
                    record_extra = {**provenance, **note}
                    writer.add(png, source=item.key, label=item.label, extra=record_extra or None, grey=grey)
                    if "variant" not in note:
                        first_of_crop = writer.meta["items"][-1]["file"]
            shown.update(i + 1, skipped=len(skipped))
        shown.close()
        written = writer.meta["count"]
        params["channels"] = writer.settle_channels()
        report = _report(src, out, seen, used, written, skipped, writer.meta["items"], time.time() - started)
        report["steps_removed"] = steps
        report["augmented_variants"] = variants
        report["source_stats"] = source.stats or None
        report["notes"] = _notes(writer.meta, chosen=channels is not None)
        if written == 0:
            write_json_atomic(report_path, report)
            raise DataError(f"none of the {seen} files in {src} could be used ({_reasons(report)}); details in "
                            f"{report_path}")
        writer.meta["skipped"] = len(skipped)
        writer.meta["used"] = used
    write_json_atomic(report_path, report)
    report["report_path"] = str(report_path)
    return report


def _notes(meta: dict, chosen: bool) -> list[str]:
    """One line each for what the user did not ask for but should know: the channels the images chose,
    images made larger than they were, a size the models cannot train at."""
    notes, r = [], meta["resolution"]
    if not chosen and meta["channels"] == 1:
        notes.append("every image is greyscale: written with 1 channel (--channels 3 for RGB)")
    upscaled = sum(1 for record in meta["items"] if "upscaled_from" in record and "variant" not in record)
    if upscaled:
        notes.append(f"{upscaled} image{'s' if upscaled > 1 else ''} smaller than {r} px "
                     f"{'were' if upscaled > 1 else 'was'} upscaled (--min-size {r} skips them)")
    if base_size(r) is None:
        low = 1 << (r.bit_length() - 1)
        notes.append(f"{r} px is not a power of two (nor 7·2^k such as 28): every model family needs one to train "
                     f"(each doubles from 4x4 or 7x7 px), so 'ganforge train' will refuse this set; --size {low} or "
                     f"{2 * low} trains")
    elif base_size(r) == 7:
        notes.append(f"{r} px trains with dcgan, mlp and upconv (from a 7x7 base); "
                     "resnet, cgan and acgan need a power of two")
    return notes


def _keep_outputs(outputs, near: NearDuplicateIndex, key: str):
    """The outputs (and their variants) whose crop is not a near duplicate of one kept before."""
    kept, keep_current = [], False
    for output in outputs:
        h = output[2]
        if h is not None:  # a crop, not a variant
            owner = near.match(h)
            keep_current = owner is None
            if keep_current:
                near.add(h, key)
            else:
                near.last_owner = owner
        if keep_current:
            kept.append(output)
    return kept


def _run(source: Source, items: list[Item], work: dict, workers: int):
    tasks = source.stream(items)
    if workers <= 1 or len(items) < 64:
        _init_worker(source, work)
        yield from map(_process, tasks)
        return
    yield from ordered_map(_process, tasks, workers=workers, init=_init_worker, initargs=(source, work),
                           died=lambda task,
                           why: (task[0], [], None, f"the worker process died while processing it ({why})"))


def reason_kind(reason: str) -> str:
    """A reason's category for counting: 'cannot decode: broken data stream' -> 'cannot decode'."""
    return reason.split(" (")[0].split(":")[0].split(" of ")[0]


def _first_reasons(skipped: list[tuple[str, str]]) -> str:
    kinds: dict[str, int] = {}
    for _, r in skipped:
        kinds[reason_kind(r)] = kinds.get(reason_kind(r), 0) + 1
    return " (" + ", ".join(f"{n} {k}" for k, n in kinds.items()) + ")" if kinds else ""


def _reasons(report: dict) -> str:
    return ", ".join(f"{n} {r}" for r, n in sorted(report["skipped_by_reason"].items(), key=lambda kv: -kv[1]))


def _report(src, out, seen, used, written, skipped, records, seconds) -> dict:
    reasons: dict[str, int] = {}
    for s in skipped:
        key = reason_kind(s["reason"])
        reasons[key] = reasons.get(key, 0) + 1
    per_class: dict[str, int] = {}
    for r in records or []:
        if "label" in r:
            per_class[r["label"]] = per_class.get(r["label"], 0) + 1
    return {
        "source": src,
        "output": str(out),
        "seen": seen,
        "used": used,
        "written": written,
        "skipped_count": len(skipped),
        "skipped_by_reason": reasons,
        "per_class": dict(sorted(per_class.items())) or None,
        "seconds": round(seconds, 2),
        "skipped": skipped,
    }
