"""A real HTTP server on 127.0.0.1 that replays recorded responses, for testing online sources offline.

``routes`` maps a path with its query string (``/rows?dataset=x&offset=0``; the query's
parameters are compared in any order) to a response ``(status, content_type, body)`` or
a list of them, served in turn (the last one repeats), e.g. a 503 then a 200 to test
retries. Every request is recorded in ``requests``.
"""

from __future__ import annotations

import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _normal(path: str) -> tuple[str, tuple]:
    parts = urllib.parse.urlsplit(path)
    return parts.path, tuple(sorted(urllib.parse.parse_qsl(parts.query, keep_blank_values=True)))


class ReplayServer:
    def __init__(self, routes: dict[str, object] | None = None):
        self.routes: dict[tuple, list] = {}
        self.requests: list[str] = []
        for path, response in (routes or {}).items():
            self.add(path, response)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                server.requests.append(self.path)
                queue = server.routes.get(_normal(self.path))
                if not queue:
                    status, ctype, body = 404, "text/plain", b"not found"
                else:
                    status, ctype, body = queue.pop(0) if len(queue) > 1 else queue[0]
                body = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def add(self, path: str, response) -> None:
        self.routes[_normal(path)] = list(response) if isinstance(response, list) else [response]

    def count(self, prefix: str) -> int:
        return sum(1 for r in self.requests if r.startswith(prefix))

    def __enter__(self) -> ReplayServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
