"""Sources on this machine: a folder (searched recursively), a zip archive, a tar archive (plain or compressed).

Hidden files and folders (``.DS_Store``, ``.git``, ``__MACOSX``) are not data; files with an extension
that is not an image's are skipped with that reason. ``labels="subfolders"`` names each file's class
by its folder (``base.subfolder_labels``).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path

from ganforge.data.sources.base import IMAGE_SUFFIXES, MAX_FILE_BYTES, Item, Source, label_by_subfolder
from ganforge.errors import DataError


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


def is_tar(path: Path) -> bool:
    """A tar archive: a compressed file with a tar name, or a plain tar by its header."""
    if _decompressor(path) is not None:
        return any(path.name.lower().endswith(s) for s in (".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz"))
    try:
        return tarfile.is_tarfile(path)
    except OSError:
        return False
