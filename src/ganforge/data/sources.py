"""Where images come from: a folder, a zip archive, or a built-in data set, chosen by one string.

A ``Source`` lists its items (picklable keys, so worker processes can load them)
and loads one item at a time as raw bytes (files) or a PIL image (built-ins).
``open_source(spec)`` picks the source: an existing folder or archive path, or a
registered built-in name such as ``fashion-mnist``. New sources register in
``BUILTINS`` (names) or ``PREFIXES`` (``scheme:argument`` specs).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from ganforge.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm"}
MAX_FILE_BYTES = 200 << 20  # files larger than this are skipped, not read into memory


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

    def load(self, item: Item) -> bytes | Image.Image:
        raise NotImplementedError

    def provenance(self, item: Item) -> dict:
        return {}

    def close(self) -> None:
        pass


def _label_from_path(rel: Path, labels: str | None) -> str | None:
    if labels == "subfolders" and len(rel.parts) > 1:
        return rel.parts[0]
    return None


class FolderSource(Source):
    def __init__(self, root: Path, labels: str | None = None):
        super().__init__(description=f"folder:{root}")
        self.root = root
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = path.relative_to(root)
            if any(part.startswith(".") for part in rel.parts):
                continue  # hidden files and folders (.DS_Store, .git) are not data
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                self.skipped.append((str(rel), f"not an image file extension ({path.suffix or 'none'})"))
                continue
            self.items.append(Item(str(rel), _label_from_path(rel, labels)))

    def load(self, item: Item) -> bytes:
        path = self.root / item.key
        if path.stat().st_size > MAX_FILE_BYTES:
            return b"\0too-large"  # decoding will reject it; keeps memory bounded
        return path.read_bytes()


class ZipSource(Source):
    def __init__(self, path: Path, labels: str | None = None):
        super().__init__(description=f"zip:{path}")
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        try:
            with zipfile.ZipFile(path) as zf:
                infos = [i for i in zf.infolist() if not i.is_dir()]
        except (zipfile.BadZipFile, OSError) as e:
            raise DataError(f"{path} is not a readable zip archive ({e})") from None
        for info in sorted(infos, key=lambda i: i.filename):
            rel = Path(info.filename)
            if any(part.startswith(".") or part == "__MACOSX" for part in rel.parts):
                continue
            if rel.suffix.lower() not in IMAGE_SUFFIXES:
                self.skipped.append((info.filename, f"not an image file extension ({rel.suffix or 'none'})"))
                continue
            self.items.append(Item(info.filename, _label_from_path(rel, labels)))

    def load(self, item: Item) -> bytes:
        if self._zip is None:  # opened lazily so each worker process gets its own handle
            self._zip = zipfile.ZipFile(self.path)
        info = self._zip.getinfo(item.key)
        if info.file_size > MAX_FILE_BYTES:
            return b"\0too-large"
        return self._zip.read(info)

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    def __getstate__(self):  # zip handles do not cross process boundaries
        state = self.__dict__.copy()
        state["_zip"] = None
        return state


class FashionMnistSource(Source):
    """Fashion-MNIST, each 28×28 image padded with black to 32×32, with class labels."""

    def __init__(self, argument: str = "", labels: str | None = None):
        from ganforge.data import fashion_mnist

        super().__init__(description="fashion-mnist")
        split = argument or "all"
        if split not in ("train", "test", "all"):
            raise DataError(f"fashion-mnist split must be train, test or all, not {split!r}")
        self.images, self.labels = fashion_mnist.load(split)
        self.classes = fashion_mnist.CLASSES
        self.items = [Item(f"{split}/{i:05d}", self.classes[int(c)]) for i, c in enumerate(self.labels)]

    def load(self, item: Item) -> Image.Image:
        index = int(item.key.rsplit("/", 1)[1])
        padded = np.pad(self.images[index], 2)  # 28×28 -> 32×32, as in the DCGAN-on-MNIST convention
        return Image.fromarray(padded, "L")


# Built-in data sets by name; ``name:argument`` passes the argument (e.g. fashion-mnist:train).
BUILTINS: dict[str, Callable[..., Source]] = {
    "fashion-mnist": FashionMnistSource,
}
# ``scheme:argument`` sources that are not files (URL lists, online sources) register here.
PREFIXES: dict[str, Callable[..., Source]] = {}


def open_source(spec: str, labels: str | None = None) -> Source:
    """A folder, a zip archive, or ``builtin[:argument]`` -> a Source with its items listed."""
    path = Path(spec).expanduser()
    if path.is_dir():
        return FolderSource(path, labels)
    if path.is_file():
        if zipfile.is_zipfile(path):
            return ZipSource(path, labels)
        raise DataError(f"{spec} is a file but not a zip archive of images")
    name, _, argument = spec.partition(":")
    if name in BUILTINS:
        return BUILTINS[name](argument, labels=labels)
    if name in PREFIXES:
        return PREFIXES[name](argument, labels=labels)
    known = ", ".join(sorted(BUILTINS) + [f"{p}:..." for p in sorted(PREFIXES)])
    raise DataError(f"no such folder, archive or built-in source: {spec} (built-ins: {known})")
