"""Where images come from: a folder, an archive, a URL list, a built-in or an online data set.

``open_source(spec)`` picks the source: an existing folder, zip or tar archive, or text file of
URLs, or a registered name: ``BUILTINS`` (``fashion-mnist[:split]``, ``mnist[:split]``, ``digits``, ``emoji[:groups]``)
and ``PREFIXES`` (``hf:``, ``openimages:``, ``search:``). Adding a kind is one module here plus one
registry line. The modules:

- ``base``        the ``Source`` base class, ``Item``, the ``SourceKind`` record, labels from folders
- ``files``       a folder, a zip archive, a tar archive (plain or compressed)
- ``builtin``     fashion-mnist, mnist, digits (scikit-learn's) and emoji (rendered from an installed font)
- ``downloaded``  what the online sources share: downloaded files with their provenance
- ``urls``        a text file of image URLs
- ``hf``          everything ``hf:``: the Hub's files through huggingface_hub, or its dataset-viewer API
- ``openimages``  one Open Images class where it fills the frame
- ``search``      Openverse or Wikimedia Commons search results, licence and author kept

Optional libraries (scikit-learn, huggingface_hub, pyarrow) are imported only when their source
is used, so ``ganforge --help`` stays fast and they stay optional.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from ganforge.data.sources import builtin, hf
from ganforge.data.sources.base import (
    IMAGE_SUFFIXES,
    MAX_FILE_BYTES,
    Item,
    Source,
    SourceKind,
    label_by_subfolder,
)
from ganforge.data.sources.files import FolderSource, TarSource, ZipSource, is_tar
from ganforge.data.sources.openimages import OpenImagesSource
from ganforge.data.sources.search import SearchSource
from ganforge.data.sources.urls import UrlListSource, is_url_list
from ganforge.errors import DataError

__all__ = ["BUILTINS", "IMAGE_SUFFIXES", "MAX_FILE_BYTES", "PREFIXES", "Item", "Source", "SourceKind",
           "label_by_subfolder", "list_sources", "open_source"]

# Built-in data sets by name; ``name:argument`` passes the argument (e.g. fashion-mnist:train).
BUILTINS: dict[str, SourceKind] = {k.name: k for k in [
    SourceKind("fashion-mnist", builtin.FashionMnistSource,
               "Fashion-MNIST: 70,000 28x28 grey garments, 10 classes, padded to 32 px "
               "(:train|:test|:all; :28 keeps 28 px)",
               "fashion-mnist:train", check=builtin.fashion_mnist_available),
    SourceKind("mnist", builtin.MnistSource,
               "MNIST: 70,000 28x28 grey handwritten digits, 10 classes, kept at 28 px (:train|:test|:all)",
               "mnist:train", check=builtin.mnist_available),
    SourceKind("digits", builtin.DigitsSource,
               "scikit-learn's bundled 8x8 digits: 1,797 grey images, 10 classes, offline",
               "digits", check=builtin.digits_available),
    SourceKind("emoji", builtin.EmojiSource, "colour emoji rendered from Noto Color Emoji: faces, people and "
               "animals (:faces,people,animals) or all of them (:all); :noskin drops skin-tone variants; :subgroups "
               "labels by Unicode subgroup", "emoji:faces",
               check=builtin.emoji_available),
]}
# ``scheme:argument`` sources that are not files (online data sets) register here.
PREFIXES: dict[str, SourceKind] = {k.name: k for k in [
    SourceKind("hf", hf.open_hf, "a Hugging Face image data set (owner/name[/config][:split]; Parquet or image "
               "folders, via huggingface_hub), labels from its ClassLabel or folders",
               "hf:huggan/smithsonian_butterflies_subset", online=True, note=hf.note),
    SourceKind("openimages", OpenImagesSource,
               "one Open Images class, images where its box covers --min-box-area of the frame",
               "openimages:Dog", online=True),
    SourceKind("search", SearchSource,
               "images for a search term from Openverse (or --search-api commons), licence and author kept",
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
        if is_tar(path):
            return TarSource(path, labels)
        if is_url_list(path):
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
