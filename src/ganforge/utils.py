"""Small helpers shared across the package: atomic writes and hashing."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path


class _CurrentStderr:
    """``sys.stderr`` as it is when written to, not as it was when a function was defined: the default
    stream of every ``out``/``log`` parameter. A default of ``sys.stderr`` itself is bound at import, and
    keeps writing to a stream that pytest's capture or a notebook has since replaced (and closed)."""

    def __getattr__(self, name: str):
        return getattr(sys.stderr, name)


STDERR = _CurrentStderr()

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; move it into place only if the block succeeds.

    A crash or error inside the block leaves ``final`` untouched (either absent or the
    previous version) and removes the temporary file, so readers never see half a file.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the usual permissions
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:  # make the bytes durable before the rename
            os.fsync(f.fileno())
        os.replace(tmp_path, final)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_json_atomic(path: str | os.PathLike, obj) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def base_size(resolution: int) -> int | None:
    """The side a convolutional generator starts from to double its way to ``resolution``: 4 for a
    power of two, 7 for 7·2^k (28 px MNIST, as the cats thesis's 7×7 -> 14 -> 28 generator), else None."""
    if is_power_of_two(resolution):
        return 4
    if resolution % 7 == 0 and is_power_of_two(resolution // 7) and resolution >= 14:
        return 7
    return None
