"""The safety layer: allowed hosts, access token, cross-site request protection, response headers, uploads.

- Hosts: every request must name, in its ``Host`` header, a host the server was started for
  (``ALLOWED_HOSTS``: ``name`` for any port or ``name:port``), else 400. This stops DNS
  rebinding, where a web page the user visits points its own name at 127.0.0.1 and then
  reads the app as if it were same-origin. A POST's ``Origin`` must name an allowed host too.
- Access token (optional, for non-local use): when ``ACCESS_TOKEN`` is set every request
  must carry it as ``Authorization: Bearer T``, the ``ganforge_token`` cookie, or once as
  ``?token=T`` (which sets the cookie and redirects to the clean URL).
- CSRF: a state-changing request (anything but GET/HEAD/OPTIONS) must send the header
  ``X-CSRF-Token`` with this app's token (in every page's ``<meta name="csrf-token">`` and at
  ``GET /api/csrf``); another site's page can neither read the token nor set the header
  without a CORS pre-flight we never grant. Requests a browser marks as cross-site are
  refused outright.
- Messages: ``hide_paths`` replaces absolute server paths in error messages by file names.
- Uploads: size capped by ``MAX_CONTENT_LENGTH`` (413), type sniffed from the first bytes,
  never the file name or declared type (415), pixel count read from the header and capped by
  ``MAX_UPLOAD_PIXELS`` (400, in megapixels), all on the request thread; then decoded with the
  data pipeline's safe decoder, and prepared, in the bounded upload pool (``pool.UploadPool``).
"""

from __future__ import annotations

import hmac
import io
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Flask, abort, current_app, jsonify, redirect, request
from PIL import Image
from werkzeug.exceptions import BadRequest

from ganforge.data.decode import UnusableImage, decode_image
from ganforge.web.openapi import api, json_content, obj, string

TOKEN_COOKIE = "ganforge_token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# An absolute path in a message: "/" not inside a word, a URL or a relative path.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~-])/[^\s'\"(),;]+")

# Leading bytes of the image formats we accept.
SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"\xff\xd8\xff": "JPEG",
    b"GIF87a": "GIF",
    b"GIF89a": "GIF",
    b"BM": "BMP",
}


def init_app(app: Flask) -> None:
    app.config.setdefault("CSRF_TOKEN", secrets.token_urlsafe(32))
    app.before_request(check_host)
    app.before_request(check_access_token)
    app.before_request(check_csrf)
    app.after_request(add_headers)
    app.context_processor(lambda: {"csrf_token": current_app.config["CSRF_TOKEN"]})
    app.add_url_rule("/api/csrf", "csrf", csrf_token)


@api("The CSRF token every POST must send as the X-CSRF-Token header",
     responses={200: json_content(obj({"csrf": string()}, ("csrf",)))})
def csrf_token():
    return jsonify(csrf=current_app.config["CSRF_TOKEN"])


def _same(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a.encode(), b.encode())


def split_host(host: str) -> tuple[str, int | None]:
    """``name[:port]`` (``[v6]:port`` for IPv6) -> (lower-case name, port or None)."""
    host = host.strip().lower()
    if host.startswith("["):
        name, _, rest = host.partition("]")
        name, port = name + "]", rest[1:] if rest.startswith(":") else None
    else:
        name, _, port = host.partition(":")
    return name, int(port) if port and port.isdigit() else None


def host_allowed(host: str, default_port: int) -> bool:
    """Whether ``host`` (a Host header or an Origin's ``name[:port]``) is one of ``ALLOWED_HOSTS``."""
    name, port = split_host(host)
    port = port or default_port
    for allowed in current_app.config["ALLOWED_HOSTS"]:
        allowed_name, allowed_port = split_host(allowed)
        if name == allowed_name and allowed_port in (None, port):
            return True
    return False


def check_host():
    host = request.headers.get("Host", "")
    if not host_allowed(host, 443 if request.scheme == "https" else 80):
        name = split_host(host)[0] or "(none)"
        abort(400, description=f"this server does not answer to the host {host!r}; if clients reach it by that "
                               f"name, start it with --allowed-host {name}")
    return None


def check_access_token():
    token = current_app.config.get("ACCESS_TOKEN")
    if not token:
        return None
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and _same(credentials.strip(), token):  # schemes are case-insensitive (RFC 9110)
        return None
    if _same(request.cookies.get(TOKEN_COOKIE), token):
        return None
    if _same(request.args.get("token"), token) and request.method in SAFE_METHODS:
        # Trade the URL token for a cookie and drop it from the address bar (and from logs/history).
        rest = [(k, v) for k, v in request.args.items(multi=True) if k != "token"]
        response = redirect(request.path + ("?" + urlencode(rest) if rest else ""))
        response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="Strict", secure=request.is_secure)
        return response
    response = jsonify(error="this server needs an access token: open the URL printed by 'ganforge serve'")
    response.status_code = 401
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


def check_csrf():
    if request.method in SAFE_METHODS:
        return None
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        abort(403, description="cross-site request refused")
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        parts = urlsplit(origin)
        if not host_allowed(parts.netloc, 443 if parts.scheme == "https" else 80):
            abort(403, description="cross-origin request refused")
    if not _same(request.headers.get("X-CSRF-Token"), current_app.config["CSRF_TOKEN"]):
        abort(403, description="missing or wrong X-CSRF-Token header (GET /api/csrf gives the token)")
    return None


def hide_paths(message: str) -> str:
    """``message`` with each absolute path on this machine shortened to its file name: the
    server's folder layout is none of a client's business (URL paths such as /api/csrf stay)."""
    def short(match: re.Match) -> str:
        path = match.group(0).rstrip(".")
        top = path.split("/")[1]
        if not top or not Path("/", top).is_dir():
            return match.group(0)
        return Path(path).name + match.group(0)[len(path):]

    return _ABSOLUTE_PATH.sub(short, message)


def add_headers(response):
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    # All scripts and styles are files under /static: no inline code runs.
    response.headers.setdefault("Content-Security-Policy",
                                "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
                                "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
    return response


def sniff(data: bytes) -> str | None:
    """The image format named by ``data``'s first bytes, or None."""
    for magic, name in SIGNATURES.items():
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def read_image(field: str = "image", mode: str | None = "RGB", prepare: Callable[[Image.Image], Any] | None = None):
    """The uploaded image in form field ``field``, checked, safely decoded, in ``mode`` (None: as decoded);
    else 400/413/415/503.

    The checks run here; decoding, and ``prepare(image)`` when given, run in the upload pool,
    so only ``prepare``'s result (e.g. the image at the model's size) reaches the request thread."""
    upload = request.files.get(field)
    if upload is None:
        abort(400, description=f"missing file field {field!r}")
    data = upload.read(current_app.config["MAX_CONTENT_LENGTH"] + 1)
    if not data:
        abort(400, description=f"{field!r} is empty")
    if sniff(data) is None:
        abort(415, description=f"{field!r} is not a PNG, JPEG, GIF, WebP or BMP image")
    limit = current_app.config["MAX_UPLOAD_PIXELS"]
    check_pixels(field, data, limit)
    return current_app.extensions["ganforge.uploads"].run(_decode, field, data, limit, mode, prepare)


def check_pixels(field: str, data: bytes, limit: int) -> None:
    """400 when the image's header names more than ``limit`` pixels (nothing is decoded)."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
    except Image.DecompressionBombError:  # Pillow's own limit, far above ours, refused even to open it
        size = "more than Pillow's limit"
    except Exception:  # a broken header: the decoder in the pool says what is wrong
        return
    else:
        if width * height <= limit:
            return
        size = f"{width}×{height} pixels, {width * height / 1e6:.1f} megapixels"
    abort(400, description=f"{field!r} is too large: {size}; the limit is {limit / 1e6:.1f} megapixels")


def _decode(field: str, data: bytes, limit: int, mode: str | None, prepare):
    """Runs in the upload pool (no request context)."""
    try:
        img = decode_image(data, max_pixels=limit)
    except UnusableImage as e:
        raise BadRequest(description=f"{field!r}: {e}") from None
    if mode is not None:  # None: as decoded, for a ``prepare`` that handles modes and transparency itself
        if img.mode in ("RGBA", "LA", "P") and mode != "RGBA":
            # Transparent pixels become white, as in `ganforge data prepare`.
            rgba = img.convert("RGBA")
            img = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            img.alpha_composite(rgba)
        img = img.convert(mode)
    return img if prepare is None else prepare(img)
