"""Where images come from: a folder, an archive, a URL list, a built-in or an online data set.

A ``Source`` lists its items (picklable keys, so worker processes can load them)
and loads one item at a time as raw bytes (files) or a PIL image (built-ins).
Anything found while listing that cannot become an item (a download that failed, a
file with a foreign extension) goes to ``skipped`` with its reason, so a report can
always say: seen == used + skipped.

``open_source(spec)`` picks the source: an existing folder, zip or tar archive, or text
file of URLs, or a registered name: ``BUILTINS`` (``fashion-mnist[:split]``, ``digits``,
``emoji[:groups]``) and ``PREFIXES`` (``hf:``, ``openimages:``, ``search:``). Registry
entries are ``SourceKind`` records whose ``open`` imports its module only when used, so
``ganforge --help`` stays fast and optional libraries stay optional.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import shutil
import tarfile
import tempfile
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
    stats: dict = field(default_factory=dict)  # what listing found (e.g. images filtered out), for the report

    def load(self, item: Item) -> bytes | Image.Image:
        raise NotImplementedError

    def provenance(self, item: Item) -> dict:
        """Extra fields recorded with the item in dataset.json (URL, licence, author...)."""
        return {}

    def close(self) -> None:
        pass


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
            self.items.append(Item(str(rel)))
        self.items = label_by_subfolder(self.items, labels)

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
            self.items.append(Item(info.filename))
        self.items = label_by_subfolder(self.items, labels)

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


class TarSource(Source):
    """A tar archive, plain or compressed (.tar.gz/.tgz/.tar.bz2/.tar.xz).

    Members are read by offset, so workers can load any item without scanning the
    archive; a compressed archive is first decompressed once, streaming, into a
    temporary plain tar (compressed streams cannot seek cheaply).
    """

    def __init__(self, path: Path, labels: str | None = None):
        super().__init__(description=f"tar:{path}")
        self.path = path
        self._plain = path
        self._tmp: str | None = None
        try:
            opener = _decompressor(path)
            if opener is not None:
                fd, self._tmp = tempfile.mkstemp(prefix="ganforge-", suffix=".tar")
                with opener(path, "rb") as src, open(fd, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                self._plain = Path(self._tmp)
            with tarfile.open(self._plain, "r:") as tf:
                members = tf.getmembers()
        except (tarfile.TarError, OSError, EOFError, lzma.LZMAError) as e:
            self.close()
            raise DataError(f"{path} is not a readable tar archive ({e})") from None
        self.offsets: dict[str, tuple[int, int]] = {}
        for m in sorted(members, key=lambda m: m.name):
            rel = Path(m.name)
            if m.isdir() or any(part.startswith(".") or part == "__MACOSX" for part in rel.parts):
                continue
            if not m.isfile():
                self.skipped.append((m.name, "not a regular file (link or device) in the archive"))
                continue
            if rel.suffix.lower() not in IMAGE_SUFFIXES:
                self.skipped.append((m.name, f"not an image file extension ({rel.suffix or 'none'})"))
                continue
            self.offsets[m.name] = (m.offset_data, m.size)
            self.items.append(Item(m.name))
        self.items = label_by_subfolder(self.items, labels)

    def load(self, item: Item) -> bytes:
        offset, size = self.offsets[item.key]
        if size > MAX_FILE_BYTES:
            return b"\0too-large"
        with open(self._plain, "rb") as f:
            f.seek(offset)
            return f.read(size)

    def close(self) -> None:
        if self._tmp is not None:
            Path(self._tmp).unlink(missing_ok=True)
            self._tmp = None


def _decompressor(path: Path):
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic[:2] == b"\x1f\x8b":
        return gzip.open
    if magic[:3] == b"BZh":
        return bz2.open
    if magic == b"\xfd7zXZ\x00":
        return lzma.open
    return None


def _is_tar(path: Path) -> bool:
    if _decompressor(path) is not None:
        return any(path.name.lower().endswith(s) for s in (".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz"))
    try:
        return tarfile.is_tarfile(path)
    except OSError:
        return False


def _is_url_list(path: Path) -> bool:
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


class FashionMnistSource(Source):
    """Fashion-MNIST, each 28×28 image padded with black to 32×32, with class labels."""

    default_resolution, default_channels = 32, 1

    def __init__(self, argument: str = "", labels: str | None = None, **_):
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


def _open_digits(argument: str, labels=None, **options) -> Source:
    from ganforge.data.builtin import DigitsSource

    return DigitsSource(argument, labels, **options)


def _open_emoji(argument: str, labels=None, **options) -> Source:
    from ganforge.data.builtin import EmojiSource

    return EmojiSource(argument, labels, **options)


def _check_digits() -> str | None:
    from ganforge.data.builtin import digits_available

    return digits_available()


def _check_emoji() -> str | None:
    from ganforge.data.builtin import emoji_available

    return emoji_available()


def _check_fashion_mnist() -> str | None:
    from ganforge.data import fashion_mnist

    try:
        fashion_mnist.find_files(allow_download=False)
    except DataError:
        return "not installed here; downloaded on first use (or: apt-get install dataset-fashion-mnist)"
    return None


def _open_hf(argument: str, labels=None, **options) -> Source:
    from ganforge.data.hf import open_hf

    return open_hf(argument, labels, **options)


def _note_hf() -> str | None:
    from ganforge.data.hf import missing_libraries

    missing = missing_libraries()
    return f"{missing} missing: read through the dataset-viewer API (pip install 'ganforge[hf]')" if missing else None


def _open_openimages(argument: str, labels=None, **options) -> Source:
    from ganforge.data.online import OpenImagesSource

    return OpenImagesSource(argument, labels, **options)


def _open_search(argument: str, labels=None, **options) -> Source:
    from ganforge.data.online import SearchSource

    return SearchSource(argument, labels, **options)


# Built-in data sets by name; ``name:argument`` passes the argument (e.g. fashion-mnist:train).
BUILTINS: dict[str, SourceKind] = {k.name: k for k in [
    SourceKind("fashion-mnist", FashionMnistSource, "Fashion-MNIST: 70,000 28x28 grey garments, 10 classes (:train|:test|:all)",
               "fashion-mnist:train", check=_check_fashion_mnist),
    SourceKind("digits", _open_digits, "scikit-learn's bundled 8x8 digits: 1,797 grey images, 10 classes, offline",
               "digits", check=_check_digits),
    SourceKind("emoji", _open_emoji, "colour emoji faces, people and animals rendered from Noto Color Emoji "
               "(:faces,people,animals; :noskin drops skin-tone variants)", "emoji:faces", check=_check_emoji),
]}
# ``scheme:argument`` sources that are not files (online data sets) register here.
PREFIXES: dict[str, SourceKind] = {k.name: k for k in [
    SourceKind("hf", _open_hf, "a Hugging Face image data set (owner/name[/config][:split]; Parquet or image "
               "folders, via huggingface_hub), labels from its ClassLabel or folders",
               "hf:huggan/smithsonian_butterflies_subset", online=True, note=_note_hf),
    SourceKind("openimages", _open_openimages, "one Open Images class, images where its box covers --min-box-area of the frame",
               "openimages:Dog", online=True),
    SourceKind("search", _open_search, "images for a search term from Openverse (or --search-api commons), licence and author kept",
               "search:red fox", online=True),
]}


def list_sources() -> list[dict]:
    """Every named source with its summary, an example and whether it is usable here."""
    rows = []
    for kind, spec in [(k, k.name) for k in BUILTINS.values()] + [(k, f"{k.name}:...") for k in PREFIXES.values()]:
        problem = kind.check() if kind.check else None
        rows.append({"name": spec, "summary": kind.summary, "example": kind.example, "online": kind.online,
                     "available": problem is None, "note": problem or (kind.note() if kind.note else None)})
    return rows


def open_source(spec: str, labels: str | None = None, **options) -> Source:
    """A folder, zip/tar archive, URL list, or ``name[:argument]`` -> a Source with its items listed.

    ``options`` go to named sources (e.g. ``limit``, ``min_box_area``, ``split``).
    """
    path = Path(spec).expanduser()
    if path.is_dir():
        return FolderSource(path, labels)
    if path.is_file():
        if zipfile.is_zipfile(path):
            return ZipSource(path, labels)
        if _is_tar(path):
            return TarSource(path, labels)
        if _is_url_list(path):
            from ganforge.data.online import UrlListSource

            return UrlListSource(path, labels, **options)
        raise DataError(f"{spec} is a file but not a zip or tar archive of images, nor a text file of image URLs")
    name, _, argument = spec.partition(":")
    kind = BUILTINS.get(name) or PREFIXES.get(name)
    if kind is not None:
        if kind.name in PREFIXES and not argument.strip():
            raise DataError(f"{name}: needs an argument, e.g. {kind.example}")
        return kind.open(argument, labels=labels, **options)
    known = ", ".join(sorted(BUILTINS) + [f"{p}:..." for p in sorted(PREFIXES)])
    raise DataError(f"no such folder, archive, URL list or named source: {spec} (named sources: {known})")
