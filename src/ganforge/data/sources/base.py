"""What every image source shares: the ``Source`` base class, its ``Item``, the registry's ``SourceKind``
record, and the rule that turns folders into class labels.

A ``Source`` lists its items (picklable keys, so worker processes can load them)
and loads one item at a time as raw bytes (files) or a PIL image (built-ins).
Anything found while listing that cannot become an item (a download that failed, a
file with a foreign extension) goes to ``skipped`` with its reason, so a report can
always say: seen == used + skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm"}
MAX_FILE_BYTES = 200 << 20  # files larger than this are skipped, not read into memory


def too_large(size: int) -> str:
    """The report's reason for a file over ``MAX_FILE_BYTES``."""
    return f"too large ({size:,} bytes > {MAX_FILE_BYTES:,})"


@dataclass(frozen=True)
class Item:
    key: str                     # unique name within the source (relative path, zip member, index)
    label: str | None = None     # class name, if the source has labels


@dataclass
class Source:
    """Base class: subclasses fill ``items`` and implement ``load``."""

    description: str
    items: list[Item] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (key, reason) found while listing
    stats: dict = field(default_factory=dict)  # what listing found (e.g. images filtered out), for the report

    def load(self, item: Item) -> bytes | Image.Image:
        raise NotImplementedError

    def stream(self, items: list[Item]) -> Iterator[tuple[Item, bytes | None]]:
        """``items`` in order, each with its bytes where only this process can read them (a compressed
        tar is one stream), else with None: a worker process loads it with ``load``."""
        return ((item, None) for item in items)

    def provenance(self, item: Item) -> dict:
        """Extra fields recorded with the item in dataset.json (URL, licence, author...)."""
        return {}

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class SourceKind:
    """A named source: ``open(argument, labels=..., **options)`` returns the Source."""

    name: str
    open: Callable[..., Source]
    summary: str                    # one line for `ganforge data sources`
    example: str                    # a spec that works
    online: bool = False            # needs the internet
    check: Callable[[], str | None] | None = None  # None when usable here, else why not
    note: Callable[[], str | None] | None = None   # usable, but worth knowing here (e.g. a fallback)


def subfolder_labels(paths: list[str]) -> list[str | None]:
    """Each file's class: the first folder level below the folders that every file shares, so an
    archive made by zipping one folder (``cats-dogs/cats/1.jpg``, ``cats-dogs/dogs/2.jpg``) gives
    cats and dogs, not "cats-dogs" for all. Files directly in that shared folder get None."""
    parts = [Path(p).parts for p in paths]
    depth = 0  # folders shared by every file (never the file name itself)
    while parts and all(len(p) > depth + 1 for p in parts) and len({p[depth] for p in parts}) == 1:
        depth += 1
    return [p[depth] if len(p) > depth + 1 else None for p in parts]


def label_by_subfolder(items: list[Item], labels: str | None) -> list[Item]:
    """``labels="subfolders"``: the items relabelled by ``subfolder_labels`` of their keys."""
    if labels != "subfolders":
        return items
    return [Item(item.key, label) for item, label in zip(items, subfolder_labels([item.key for item in items]))]
