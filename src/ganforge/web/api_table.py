"""The README's table of the web app's JSON endpoints, from their ``@api`` declarations (``openapi.py``).

``python -m ganforge.web.api_table README.md`` (``make api-table``) rewrites the table between the
``api-table`` markers; tests/web/test_openapi.py fails while it is out of date.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from ganforge.web import create_app
from ganforge.web.openapi import document, endpoint_table

TABLE_START, TABLE_END = "<!-- api-table:start -->", "<!-- api-table:end -->"


def readme_table(readme: str) -> str | None:
    """The endpoint table between the ``api-table`` markers of README text, or None without markers."""
    start, end = readme.find(TABLE_START), readme.find(TABLE_END)
    if start < 0 or end < start:
        return None
    return readme[start + len(TABLE_START):end].strip()


def current_table() -> str:
    """The table as the code declares it (from an app over an empty runs directory)."""
    with tempfile.TemporaryDirectory() as runs:
        app = create_app(runs)
        try:
            return endpoint_table(document(app))
        finally:
            app.extensions["ganforge.jobs"].shutdown()


def main(argv: list[str]) -> int:
    """``python -m ganforge.web.api_table README.md``: rewrite the README's endpoint table."""
    if len(argv) != 1:
        print("usage: python -m ganforge.web.api_table README.md", file=sys.stderr)
        return 2
    readme = Path(argv[0])
    text = readme.read_text()
    if readme_table(text) is None:
        print(f"{readme}: no {TABLE_START} ... {TABLE_END} markers", file=sys.stderr)
        return 1
    start, end = text.index(TABLE_START) + len(TABLE_START), text.index(TABLE_END)
    readme.write_text(text[:start] + "\n" + current_table() + "\n" + text[end:])
    return 0



if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
