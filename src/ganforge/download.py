"""Fetch a file over HTTP(S) with a timeout, retries, a size limit and a checksum, atomically; and run
a huggingface_hub call with its errors as one line (``hub_call``).

Errors are ``DownloadError`` with a one-line message that says what to fetch by hand
and where to put it, because users behind proxies or offline need exactly that.
"""

from __future__ import annotations

import hashlib
import time
import urllib.error
import urllib.request
from pathlib import Path

from ganforge.errors import DownloadError, GanforgeError
from ganforge.utils import atomic_path

USER_AGENT = "ganforge (+https://github.com/ganforge/ganforge)"


def download(
    url: str,
    dest: str | Path,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    timeout: float = 30.0,
    retries: int = 3,
    max_bytes: int = 2 << 30,
    backoff: float = 1.0,
    accept: tuple[str, ...] | None = None,
) -> Path:
    """Download ``url`` to ``dest`` (atomically) and verify its checksum; return ``dest``.

    A file already at ``dest`` with the right checksum is kept without a request.
    ``accept``: allowed Content-Type prefixes (e.g. ``("image/",)``); another type is a
    final error (a login page or error page served with status 200 is not an image).
    """
    dest = Path(dest)
    if dest.exists() and _matches(dest, sha256, md5):
        return dest
    last_error = "no attempt made"
    for attempt in range(retries):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            with atomic_path(dest) as tmp:
                _fetch(url, tmp, timeout, max_bytes, accept)
                if not _matches(tmp, sha256, md5):
                    # A wrong checksum will not fix itself by retrying.
                    raise _ChecksumMismatch()
            return dest
        except _TooLarge as e:
            raise DownloadError(f"{url} is too large ({e})") from None
        except _WrongType as e:
            raise DownloadError(f"{url} is {e.args[0]}, not {' or '.join(accept or ())}") from None
        except _ChecksumMismatch:
            raise DownloadError(
                f"{url} downloaded but its checksum does not match; the file may have changed upstream. "
                f"Fetch it by hand and put it at {dest}"
            ) from None
        except (urllib.error.URLError, OSError, TimeoutError) as e:
            last_error = getattr(e, "reason", None) or str(e) or type(e).__name__
            if isinstance(e, urllib.error.HTTPError):
                last_error = f"HTTP {e.code} {e.reason}"
            if isinstance(e, urllib.error.HTTPError) and 400 <= e.code < 500 and e.code != 429:
                break  # client errors are final
    raise DownloadError(f"could not download {url} ({last_error}); fetch it by hand and put it at {dest}")


class _ChecksumMismatch(Exception):
    pass


class _WrongType(Exception):
    pass


class _TooLarge(Exception):
    pass


def _fetch(url: str, out: Path, timeout: float, max_bytes: int, accept: tuple[str, ...] | None = None) -> None:
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with urllib.request.urlopen(req, timeout=timeout) as resp, open(out, "wb") as f:
        ctype = (resp.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if accept and ctype and not ctype.startswith(accept):
            raise _WrongType(ctype)
        length = resp.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > max_bytes:
            raise _TooLarge(f"{int(length)} bytes, over the limit of {max_bytes}")
        size = 0
        while block := resp.read(1 << 16):
            size += len(block)
            if size > max_bytes:
                raise _TooLarge(f"over the limit of {max_bytes} bytes")
            f.write(block)


def _matches(path: Path, sha256: str | None, md5: str | None) -> bool:
    if sha256 is None and md5 is None:
        return True
    data_hashes = {"sha256": hashlib.sha256(), "md5": hashlib.md5()}
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            for h in data_hashes.values():
                h.update(block)
    ok = True
    if sha256 is not None:
        ok &= data_hashes["sha256"].hexdigest() == sha256.lower()
    if md5 is not None:
        ok &= data_hashes["md5"].hexdigest() == md5.lower()
    return ok


def hub_call(what: str, where: str | None, fn, *args, error: type[GanforgeError], hints: dict[int, str],
             **kwargs):
    """Run a huggingface_hub call; its errors (HTTP, network, auth) become one-line errors of class
    ``error``, with ``hints`` (by HTTP status) as advice. ``where``: the server, for the message.

    Shared by ``hub push/pull`` and the ``hf:`` data source, so it lives below both.
    """
    from huggingface_hub import (
        errors,  # late: optional, and slow to import; callers check it is installed
    )

    try:
        return fn(*args, **kwargs)
    except errors.HfHubHTTPError as e:
        code: int = getattr(e.response, "status_code", 0)
        said = " ".join(str(getattr(e, "server_message", None) or "").split())
        raise error(f"{what} failed: HTTP {code}{': ' + said[:160] if said else ''}{hints.get(code, '')}") from None
    except Exception as e:
        # connection failures arrive as the HTTP client's own errors, or wrapped in the hub's
        # LocalEntryNotFoundError; neither has a common base, so walk the chain of causes
        cause: BaseException | None = e
        while cause is not None:
            if type(cause).__module__.split(".")[0] in ("httpx", "httpx2", "httpcore", "httpcore2", "requests",
                                                        "urllib3") \
                    or isinstance(cause, ConnectionError):
                raise error(f"{what} failed: cannot reach the Hub at {where or 'its default address'} "
                            f"({type(cause).__name__}: {' '.join(str(cause).split())[:120]})") from None
            cause = cause.__cause__ or cause.__context__
        if isinstance(e, (errors.LocalEntryNotFoundError, OSError, ValueError)):
            raise error(f"{what} failed: {' '.join(str(e).split())[:240]}") from None
        raise
