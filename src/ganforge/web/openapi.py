"""The JSON API described for machines: an OpenAPI 3.1 document built from the endpoints themselves.

Each ``/api/...`` view declares, right under its route, what it takes and answers::

    @bp.get("/api/runs/<name>/grid.png")
    @api("Images of seeds seed..seed+n-1 as one PNG grid",
         query={"seed": SEED, "n": integer(1, Config("MAX_GRID_IMAGES"), 16)},
         responses={200: PNG}, errors=(404,))
    def api_grid(name): ...

``document(app)`` walks Flask's ``url_map`` and turns every ``/api/`` rule into an operation from
that declaration; a rule without one is listed by ``undocumented(app)`` (a test keeps it empty;
the document shows it as "(not described yet)"). ``Config("KEY")`` stands for
``app.config["KEY"]``, so limits in the document are the running server's. Errors are always
``{"error": "one line"}``; the ones every endpoint can give (400 wrong Host, 401 missing access
token; for POST 403 missing CSRF header and 413 too large) are added here, an endpoint lists only
its own.

``make api-table`` (``python -m ganforge.web.api_table README.md``) rewrites the README's endpoint
table from the same declarations.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, jsonify

import ganforge

F = TypeVar("F", bound=Callable[..., Any])
ATTRIBUTE = "__openapi__"  # where @api keeps its declaration on the view function

# Named schemas, referenced as {"$ref": "#/components/schemas/NAME"} (see ``component``).
COMPONENTS: dict[str, dict] = {}

ERROR_TEXT = {
    400: "Bad request: a wrong or missing parameter, or a Host this server does not answer to",
    401: "An access token is needed (the server was started with --token)",
    403: "Missing or wrong X-CSRF-Token header, or a cross-site request",
    404: "No such run, checkpoint, latent, job, round, image or data set",
    409: "Conflict with the current state (job not done, round answered already, the run's data set gone)",
    413: "The request body is larger than the server's upload limit",
    415: "The upload is not a PNG, JPEG, GIF, WebP or BMP image",
    503: "The job queue or upload pool is full; try again after Retry-After seconds",
}


class Config:
    """A value read from the app's configuration when the document is built."""

    def __init__(self, key: str):
        self.key = key


def component(name: str, schema: dict) -> dict:
    """Register ``schema`` under ``name`` and return a reference to it."""
    COMPONENTS[name] = schema
    return {"$ref": f"#/components/schemas/{name}"}


def integer(lo: int | Config | None = None, hi: int | Config | None = None, default: int | Config | None = None,
            description: str = "") -> dict:
    schema: dict[str, Any] = {"type": "integer"}
    if lo is not None:
        schema["minimum"] = lo
    if hi is not None:
        schema["maximum"] = hi
    if default is not None:
        schema["default"] = default
    if description:
        schema["description"] = description
    return schema


def number(lo: float, hi: float, default: float | None = None, description: str = "") -> dict:
    schema: dict[str, Any] = {"type": "number", "minimum": lo, "maximum": hi}
    if default is not None:
        schema["default"] = default
    if description:
        schema["description"] = description
    return schema


def string(description: str = "", **extra: Any) -> dict:
    return {"type": "string", **({"description": description} if description else {}), **extra}


def obj(properties: dict[str, dict], required: tuple[str, ...] = (), additional: bool = True) -> dict:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if not additional:
        schema["additionalProperties"] = False
    return schema


def json_content(schema: dict, description: str = "") -> dict:
    return {"description": description or "JSON", "content": {"application/json": {"schema": schema}}}


def binary(mimetype: str, description: str) -> dict:
    return {"description": description, "content": {mimetype: {"schema": {"type": "string", "format": "binary"}}}}


ERROR = component("Error", obj({"error": string("one line saying what is wrong")}, ("error",)))
PNG = binary("image/png", "A PNG image")
NULLABLE_NUMBER = {"type": ["number", "null"]}
JOB = component("Job", obj({
    "id": string(), "kind": string("embed | inpaint | morph"),
    "status": string(enum=["queued", "running", "done", "failed", "timeout", "cancelled"]),
    "progress": obj({"step": integer(), "total": integer(), "loss": NULLABLE_NUMBER}),
    "error": {"type": ["string", "null"]},
    "data": {"type": ["object", "null"], "description": "the job's result once done (see the endpoint that made it)"},
    "result_url": {"type": ["string", "null"], "description": "GET it for the job's file once done"},
    "queued_s": {"type": "number"}, "running_s": {"type": "number"}, "time_limit_s": {"type": "number"},
}, ("id", "kind", "status", "progress", "error", "data", "result_url")))
JOB_ACCEPTED = {202: json_content(JOB, "The job, queued: poll GET /api/jobs/{job_id}")}
LATENT_KEY = string("a latent: seed:N (0 <= N < 2^31), N, or latent:ID (a latent the server keeps)",
                    pattern=r"^((seed:)?[0-9]{1,10}|latent:[A-Za-z0-9_-]+)$")


def api(summary: str, *, query: dict[str, dict] | None = None, required: tuple[str, ...] = (),
        body: dict | None = None, body_required: bool = True, form: dict[str, dict] | None = None,
        form_required: tuple[str, ...] = (), responses: dict[int, dict] | None = None, errors: tuple[int, ...] = (),
        path: dict[str, dict] | None = None, description: str = "") -> Callable[[F], F]:
    """Declare a JSON endpoint: query parameters (``required`` names the mandatory ones), a JSON
    ``body`` schema (``body_required=False``: the body may be left out) or multipart ``form`` fields
    (``form_required``; a ``{"format": "binary"}`` field is a file), its responses by status, the
    error statuses it gives itself, and path parameter schemas (default: a string)."""
    declaration = {"summary": summary, "description": description, "query": query or {}, "required": required,
                   "body": body, "body_required": body_required, "form": form, "form_required": form_required,
                   "responses": responses or {}, "errors": errors, "path": path or {}}

    def mark(view: F) -> F:
        setattr(view, ATTRIBUTE, declaration)
        return view

    return mark


def _resolve(value: Any, config: dict) -> Any:
    if isinstance(value, Config):
        return config[value.key]
    if isinstance(value, dict):
        return {k: _resolve(v, config) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_resolve(v, config) for v in value]
    return value


def openapi_path(rule: str) -> str:
    """Flask's ``/api/runs/<name>`` (or ``<int:n>``) as OpenAPI's ``/api/runs/{name}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def _api_rules(app: Flask):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: openapi_path(r.rule)):
        if rule.rule.startswith("/api/"):
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                yield rule, method, app.view_functions[rule.endpoint]


def undocumented(app: Flask) -> list[str]:
    """``METHOD /api/...`` of every JSON endpoint without an ``@api`` declaration."""
    return [f"{method} {rule.rule}" for rule, method, view in _api_rules(app) if not hasattr(view, ATTRIBUTE)]


def _operation(rule, method: str, declared: dict) -> dict:
    operation_id = rule.endpoint.replace(".", "_") + ("" if method == "GET" else "_" + method.lower())
    op: dict[str, Any] = {"operationId": operation_id, "summary": declared["summary"],
                          "tags": [rule.endpoint.split(".")[0]]}
    if declared["description"]:
        op["description"] = declared["description"]
    params = [{"name": arg, "in": "path", "required": True, "schema": declared["path"].get(arg, string())}
              for arg in sorted(rule.arguments)]
    params += [{"name": key, "in": "query", "required": key in declared["required"], "schema": schema}
               for key, schema in declared["query"].items()]
    if params:
        op["parameters"] = params
    if declared["body"] is not None:
        op["requestBody"] = {"required": declared["body_required"],
                             "content": {"application/json": {"schema": declared["body"]}}}
    elif declared["form"] is not None:
        op["requestBody"] = {"required": True, "content": {"multipart/form-data": {
            "schema": obj(declared["form"], declared["form_required"])}}}
    responses = {str(code): response for code, response in declared["responses"].items()}
    codes = {400, 401, *declared["errors"]}
    if rule.arguments:
        codes.add(404)
    if method != "GET":
        codes |= {403, 413}
        op["security"] = [{"csrf": []}, {"csrf": [], "token": []}]
    for code in sorted(codes):
        responses.setdefault(str(code), json_content(ERROR, ERROR_TEXT[code]))
    op["responses"] = responses
    return op


UNDECLARED: dict[str, Any] = {"summary": "(not described yet)", "description": "", "query": {}, "required": (),
                              "body": None, "body_required": True, "form": None, "form_required": (),
                              "responses": {}, "errors": (), "path": {}}


def document(app: Flask) -> dict:
    """The OpenAPI 3.1 document of ``app``'s ``/api/`` endpoints. One without an ``@api`` declaration
    is still listed, as "(not described yet)": the server keeps answering, a test fails."""
    paths: dict[str, dict] = {}
    for rule, method, view in _api_rules(app):
        operation = _operation(rule, method, getattr(view, ATTRIBUTE, UNDECLARED))
        paths.setdefault(openapi_path(rule.rule), {})[method.lower()] = operation
    return _resolve({
        "openapi": "3.1.0",
        "info": {"title": "ganforge web API", "version": ganforge.__version__,
                 "description": "The JSON endpoints of `ganforge serve`. Every POST needs the header X-CSRF-Token "
                                "(GET /api/csrf gives it) and, when the server has an access token, "
                                "Authorization: Bearer TOKEN. Errors are {\"error\": \"...\"}."},
        "paths": paths,
        "components": {"schemas": dict(sorted(COMPONENTS.items())), "securitySchemes": {
            "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
            "token": {"type": "http", "scheme": "bearer"}}},
    }, app.config)


def endpoint_table(doc: dict) -> str:
    """The README's Markdown table of the endpoints in ``doc``."""
    lines = ["| Method | Path | What it does |", "|---|---|---|"]
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            summary = op["summary"].replace("|", "\\|")
            lines.append(f"| {method.upper()} | `{path}` | {summary} |")
    return "\n".join(lines)


def init_app(app: Flask) -> None:
    @api("This OpenAPI document", responses={200: json_content({"type": "object"}, "OpenAPI 3.1")})
    def openapi_json():
        return jsonify(document(current_app))

    app.add_url_rule("/api/openapi.json", "openapi", openapi_json)
