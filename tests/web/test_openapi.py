"""The OpenAPI document of the JSON API: complete, in step with the README, and true of the running server.

The property-based test drives the real server (waitress on 127.0.0.1) with requests schemathesis
generates from the document the server itself serves, and finds no 5xx, no undocumented status
and no response that contradicts its schema.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import waitress
from flask import Blueprint, jsonify
from test_web_app import RUN, make_app, runs_dir  # noqa: F401  (fixtures)

from ganforge.web import create_app
from ganforge.web.api_table import current_table, readme_table
from ganforge.web.openapi import document, undocumented

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture
def empty_app(tmp_path):
    app = create_app(tmp_path, {"MAX_GRID_IMAGES": 9, "MAX_PROJECT_STEPS": 7})
    yield app
    app.extensions["ganforge.jobs"].shutdown()


def test_every_json_endpoint_is_declared_and_served(empty_app):
    assert undocumented(empty_app) == []
    doc = empty_app.test_client().get("/api/openapi.json").json
    assert doc == json.loads(json.dumps(document(empty_app)))
    assert doc["openapi"].startswith("3.1")
    api_rules = {r.rule for r in empty_app.url_map.iter_rules() if r.rule.startswith("/api/")}
    assert len(api_rules) == len({p for p in doc["paths"]}) >= 20
    # The bodies a user had to read the source for, and the CSRF token's shape.
    morph = doc["paths"]["/api/runs/{name}/morph"]["post"]
    assert morph["requestBody"]["content"]["application/json"]["schema"]["required"] == ["keys"]
    embed = doc["paths"]["/api/runs/{name}/embed"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert embed["properties"]["image"]["format"] == "binary"
    assert embed["properties"]["steps"]["maximum"] == 7  # the running app's limit, not a copy
    grid = {p["name"]: p for p in doc["paths"]["/api/runs/{name}/grid.png"]["get"]["parameters"]}
    assert grid["n"]["schema"]["maximum"] == 9 and grid["name"]["in"] == "path"
    csrf = doc["paths"]["/api/csrf"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert csrf["required"] == ["csrf"]
    # Errors: one shape; POSTs document the CSRF refusal.
    assert doc["paths"]["/api/game/rounds/{round_id}/answer"]["post"]["responses"]["403"]["content"][
        "application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    refs = json.dumps(doc).count('"$ref": "#/components/schemas/')
    assert refs and all(name in doc["components"]["schemas"] for name in ("Error", "Job", "RunSummary"))


def test_an_endpoint_without_a_declaration_is_caught(empty_app):
    extra = Blueprint("extra", __name__)

    @extra.get("/api/forgotten")
    def forgotten():
        return jsonify(ok=True)

    empty_app.register_blueprint(extra)
    assert undocumented(empty_app) == ["GET /api/forgotten"]
    assert document(empty_app)["paths"]["/api/forgotten"]["get"]["summary"] == "(not described yet)"


def test_readme_table_matches_the_declarations():
    table = readme_table(README.read_text())
    assert table is not None, "README.md lost its api-table markers"
    assert table == current_table(), "the README's endpoint table is out of date: run 'make api-table'"


@pytest.fixture
def live_server(runs_dir):  # noqa: F811  (the fixture imported above)
    """The real server over the tests' trained run, with limits that keep generated requests quick."""
    app = make_app(runs_dir, MAX_PROJECT_STEPS=3, JOB_QUEUE=10_000, MAX_GRID_IMAGES=4, DIRECTION_SAMPLES=64)
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    loop = threading.Thread(target=server.run, daemon=True)
    loop.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    server.task_dispatcher.shutdown()
    app.extensions["ganforge.jobs"].shutdown()


@pytest.mark.slow
def test_server_answers_generated_requests_as_documented(live_server):
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    schema = schemathesis.openapi.from_url(live_server + "/api/openapi.json")
    import requests

    session = requests.Session()
    headers = {"X-CSRF-Token": session.get(live_server + "/api/csrf").json()["csrf"]}
    # Ids random text would never hit: most generated requests name the real run, a dealt round, a real job.
    real = {"name": RUN,
            "round_id": session.post(f"{live_server}/api/game/{RUN}/rounds", headers=headers).json()["id"],
            "job_id": session.post(f"{live_server}/api/runs/{RUN}/morph", headers=headers,
                                   json={"keys": ["seed:1", "seed:2"], "frames": 2}).json()["id"]}
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    seen = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=12, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case):
            for key, value in (case.path_parameters or {}).items():
                if key in real and len(str(value)) % 4:
                    case.path_parameters[key] = real[key]
            response = case.call(base_url=live_server, session=session, headers=headers)
            case.validate_response(response, checks=checks, headers=headers)

        check()
        seen += 1
    assert seen >= 20
