"""Sources on this machine: a folder (searched recursively), a zip archive, a tar archive (plain or compressed).

Hidden files and folders (``.DS_Store``, ``.git``, ``__MACOSX``) are not data. Everything else is an
item or a skipped entry with its reason, so the report misses nothing: a file whose extension is not
an image's, one over ``MAX_FILE_BYTES``, a broken link, a link loop, a link to a folder (not
followed), a FIFO, device or socket, a folder that cannot be read; in archives also a member with an
unsafe name (absolute, or with ``..``) and a second member of the same name (only the first is read).
``labels="subfolders"`` names each file's class by its folder (``base.subfolder_labels``).
"""

from __future__ import annotations

import errno
import lzma
import os
import re
import stat
import tarfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from ganforge.data.decode import UnusableImage
from ganforge.data.sources.base import (
    IMAGE_SUFFIXES,
    MAX_FILE_BYTES,
    Item,
    Source,
    label_by_subfolder,
    too_large,
)
from ganforge.errors import DataError

_TAR_ERRORS = (tarfile.TarError, OSError, EOFError, lzma.LZMAError, zlib.error)


def _extension_or_size(name: str, size: int) -> str | None:
    """Why a regular file cannot be an item (its extension, its size), or None."""
    suffix = PurePosixPath(name).suffix
    if suffix.lower() not in IMAGE_SUFFIXES:
        return f"not an image file extension ({suffix or 'none'})"
    return too_large(size) if size > MAX_FILE_BYTES else None


def _member_problem(name: str, size: int, regular: bool, seen: set[str]) -> str | None:
    """Why an archive member is not an item ("" when it is hidden: not data, not reported), or None."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name) or ".." in parts:
        return "unsafe name in the archive (absolute, or with ..)"
    if any(part.startswith(".") or part == "__MACOSX" for part in parts):
        return ""
    if not regular:
        return "not a regular file (link or device) in the archive"
    if name in seen:
        return "another member has the same name (only the first is read)"
    seen.add(name)
    return _extension_or_size(name, size)


def _file_problem(path: str) -> str | None:
    """Why a folder entry (following links) cannot be an item, or None for a regular file."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return f"broken symbolic link (to {os.readlink(path)})" if os.path.islink(path) else "vanished while listing"
    except OSError as e:
        return "symbolic link loop" if e.errno == errno.ELOOP else f"cannot read: {e.strerror}"
    mode = st.st_mode
    if stat.S_ISREG(mode):
        return _extension_or_size(path, st.st_size)
    if stat.S_ISDIR(mode):
        return "a link to a folder (not followed)"
    kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else \
        "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a file"
    return f"not a regular file ({kind})"


class FolderSource(Source):
    def __init__(self, root: Path, labels: str | None = None):
        super().__init__(description=f"folder:{root}")
        self.root = root
        found: list[tuple[str, str | None]] = []  # (path relative to root, why it is no item or None)

        def unreadable(e: OSError) -> None:
            found.append((os.path.relpath(e.filename, root), f"cannot read the folder ({e.strerror})"))

        for folder, dirs, names in os.walk(root, onerror=unreadable):
            dirs[:] = [d for d in dirs if not d.startswith(".")]  # hidden folders (.git) are not data
            links = [d for d in dirs if os.path.islink(os.path.join(folder, d))]  # os.walk does not follow them
            for name in links + [n for n in names if not n.startswith(".")]:
                path = os.path.join(folder, name)
                found.append((os.path.relpath(path, root), _file_problem(path)))
        for rel, problem in sorted(found, key=lambda f: Path(f[0]).parts):
            if problem is None:
                self.items.append(Item(rel))
            else:
                self.skipped.append((rel, problem))
        self.items = label_by_subfolder(self.items, labels)

    def load(self, item: Item) -> bytes:
        path = self.root / item.key
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:  # grew since listing: memory stays bounded
            raise UnusableImage(too_large(size))
        return path.read_bytes()


class ZipSource(Source):
    def __init__(self, path: Path, labels: str | None = None):
        super().__init__(description=f"zip:{path}")
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self.index: dict[str, int] = {}  # item key -> position in infolist(): the first of a repeated name
        try:
            with zipfile.ZipFile(path) as zf:
                infos = list(enumerate(zf.infolist()))
        except (zipfile.BadZipFile, OSError) as e:
            raise DataError(f"{path} is not a readable zip archive ({e})") from None
        seen: set[str] = set()
        for position, info in sorted(infos, key=lambda pi: pi[1].filename):
            if info.is_dir():
                continue
            problem = _member_problem(info.filename, info.file_size, True, seen)
            if problem is None:
                self.index[info.filename] = position
                self.items.append(Item(info.filename))
            elif problem:
                self.skipped.append((info.filename, problem))
        self.items = label_by_subfolder(self.items, labels)

    def load(self, item: Item) -> bytes:
        if self._zip is None:  # opened lazily so each worker process gets its own handle
            self._zip = zipfile.ZipFile(self.path)
        info = self._zip.infolist()[self.index[item.key]]
        if info.file_size > MAX_FILE_BYTES:
            raise UnusableImage(too_large(info.file_size))
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
    """A tar archive, plain or compressed (.tar.gz/.tgz/.tar.bz2/.tar.xz), read as one stream.

    Listing reads the archive once through (names and sizes; nothing is kept), and ``stream`` reads
    it again, handing each item's bytes to the workers. A compressed archive is never expanded into
    a temporary file, so it cannot fill the disk or leave a file behind however it is stopped, and
    at most one member (up to ``MAX_FILE_BYTES``) is in memory at a time. Items are in the
    archive's order, the only order a stream can give them in.
    """

    def __init__(self, path: Path, labels: str | None = None):
        super().__init__(description=f"tar:{path}")
        self.path = path
        seen: set[str] = set()
        try:
            with tarfile.open(path, "r|*") as tf:
                for m in tf:
                    if m.isdir():
                        continue
                    problem = _member_problem(m.name, m.size, m.isfile(), seen)
                    if problem is None:
                        self.items.append(Item(m.name))
                    elif problem:
                        self.skipped.append((m.name, problem))
        except _TAR_ERRORS as e:
            raise DataError(f"{path} is not a readable tar archive ({e})") from None
        self.items = label_by_subfolder(self.items, labels)

    def stream(self, items: list[Item]):
        wanted = {item.key: item for item in items}
        try:
            with tarfile.open(self.path, "r|*") as tf:
                for m in tf:
                    if not wanted:
                        return
                    item = wanted.pop(m.name, None) if m.isfile() else None  # the first of a repeated name
                    if item is not None:
                        yield item, tf.extractfile(m).read()  # type: ignore[union-attr]  # m.isfile(): never None
        except _TAR_ERRORS as e:
            raise DataError(f"{self.path} could not be read again to its end ({e})") from None

    def load(self, item: Item) -> bytes:
        """One member, found by reading the archive up to it (``stream`` reads them all in one pass)."""
        for _, data in self.stream([item]):
            return data
        raise UnusableImage("no longer in the archive")


def _compressed(path: Path) -> bool:
    with open(path, "rb") as f:
        magic = f.read(6)
    return magic[:2] == b"\x1f\x8b" or magic[:3] == b"BZh" or magic == b"\xfd7zXZ\x00"  # gzip, bzip2, xz


def is_tar(path: Path) -> bool:
    """A tar archive: a compressed file with a tar name, or a plain tar by its header."""
    if _compressed(path):
        return any(path.name.lower().endswith(s) for s in (".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz"))
    try:
        return tarfile.is_tarfile(path)
    except OSError:
        return False
