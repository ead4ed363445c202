"""Checked request parameters: a wrong or missing value becomes a 400 with a one-line JSON message."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from flask import abort, request

_MISSING = object()


def json_body() -> dict:
    """The request's JSON object, or 400."""
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # e.g. "[" * 100000: the parser's recursion ends before the nesting does
        abort(400, description="the JSON body is nested too deeply")
    if not isinstance(body, dict):
        abort(400, description="send a JSON object (Content-Type: application/json)")
    return body


def _get(source: Mapping | None, key: str, default: Any) -> Any:
    source = request.args if source is None else source
    value = source.get(key, default)
    if value is _MISSING:
        abort(400, description=f"missing field {key!r}")
    return value


def int_arg(key: str, default: Any = _MISSING, lo: int = -(2**63), hi: int = 2**63 - 1,
            source: Mapping | None = None) -> int:
    value = _get(source, key, default)
    if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
        abort(400, description=f"{key} must be an integer")
    try:
        value = int(value)
    except (TypeError, ValueError):
        abort(400, description=f"{key} must be an integer")
    if not lo <= value <= hi:
        abort(400, description=f"{key} must be between {lo} and {hi}")
    return value


def float_arg(key: str, default: Any = _MISSING, lo: float = -math.inf, hi: float = math.inf,
              source: Mapping | None = None) -> float:
    value = _get(source, key, default)
    if isinstance(value, bool):
        abort(400, description=f"{key} must be a number")
    try:
        value = float(value)
    except (TypeError, ValueError):
        abort(400, description=f"{key} must be a number")
    if not (lo <= value <= hi):  # also refuses NaN
        abort(400, description=f"{key} must be between {lo:g} and {hi:g}")
    return value


def choice_arg(key: str, choices: tuple[str, ...], default: Any = _MISSING, source: Mapping | None = None) -> str:
    value = _get(source, key, default)
    if value not in choices:
        abort(400, description=f"{key} must be one of: {', '.join(choices)}")
    return value


def float_list(key: str, lo: float, hi: float, max_len: int, source: Mapping | None = None,
               default: Any = _MISSING) -> list[float]:
    """A list of numbers given as a JSON array or a comma-separated string."""
    value = _get(source, key, default)
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()] if value.strip() else []
    if not isinstance(value, list):
        abort(400, description=f"{key} must be a list of numbers")
    if len(value) > max_len:
        abort(400, description=f"{key} has more than {max_len} values")
    return [float_arg(f"{key}[{i}]", v, lo, hi, source={f"{key}[{i}]": v}) for i, v in enumerate(value)]
