"""mock-control.json: the control API's own OpenAPI document, generated, committed, served, and true."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from contracts import mock_control as mc
from contracts import openapi
from contracts.cli import main
from mock_solusvm import create_app

COMMITTED = openapi.OPENAPI_DIR / "mock-control.json"
NS = {"X-Mock-Namespace": "openapi-check"}
SEED = {
    "clock": "2026-10-01T00:00:00Z",
    "settings": {"features": {"allow_registration": False}},
    "roles": [{"id": 1, "name": "ADMIN"}, {"id": 2, "name": "CLIENT", "is_default": True}],
    "limit_groups": [{"id": 1, "name": "Default", "vms": {"limit": 5, "is_enabled": True}}],
    "locations": [{"id": 1, "name": "Amsterdam"}],
    "os_images": [{"id": 1, "name": "Debian", "versions": [{"id": 1, "version": "12"}]}],
    "plans": [{"id": 1, "name": "Small", "tokens_per_hour": 7, "tokens_per_month": 5000,
               "params": {"vcpu": 1, "ram": 1073741824, "disk": 10}}],
    "users": [{"id": 1, "email": "ann@example.com", "status": "active", "billing_user_id": 1, "roles": [2],
               "limit_group_id": 1}],
    "servers": [{"id": 1, "name": "web-1", "user_id": 1, "plan_id": 1, "location_id": 1,
                 "created_at": "2026-10-01T00:00:00Z", "deleted_at": None, "additional_ip_count": 0}],
}


@pytest.fixture(scope="module")
def doc():
    return openapi.mock_control_spec()


def _validator(doc, schema):
    from openapi_schema_validator import OAS30Validator

    # the document's components sit in the root resource, so local $refs resolve
    return OAS30Validator({**schema, "components": doc["components"]})


def _assert_valid(doc, schema, instance):
    errors = sorted(_validator(doc, schema).iter_errors(instance), key=str)
    assert not errors, [e.message for e in errors]


def _check_answer(doc, resp, method, path):
    """The status is documented for the operation, and the body fits its schema."""
    op = doc["paths"][path][method.lower()]
    code = str(resp.status_code)
    assert code in op["responses"], f"{method} {path} answered an undocumented {code}"
    documented = op["responses"][code]
    if "content" not in documented:
        assert resp.get_data() == b""
        return None
    if "application/json" not in documented["content"]:
        assert resp.mimetype in documented["content"]
        return None
    assert resp.mimetype == "application/json"
    body = resp.get_json()
    _assert_valid(doc, documented["content"]["application/json"]["schema"], body)
    return body


def _check_request(doc, method, path, body):
    schema = doc["paths"][path][method.lower()]["requestBody"]["content"]["application/json"]["schema"]
    _assert_valid(doc, schema, body)


def test_document_is_valid_openapi_3(doc):
    from openapi_spec_validator import validate

    validate(doc)
    assert doc["openapi"].startswith("3.")


def test_committed_file_matches_the_code():
    assert json.loads(COMMITTED.read_text(encoding="utf-8")) == openapi.build_mock_control_spec()
    assert "mock-control.json" not in openapi.check_specs()


def test_cli_writes_and_checks_the_control_document(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(main, ["openapi", "--out", str(tmp_path), "--check"])
    assert missing.exit_code == 1 and "mock-control.json" in missing.output
    assert runner.invoke(main, ["openapi", "--out", str(tmp_path)]).exit_code == 0
    assert (tmp_path / "mock-control.json").read_text() == COMMITTED.read_text()
    edited = json.loads((tmp_path / "mock-control.json").read_text())
    edited["paths"].pop("/__mock/reset")
    (tmp_path / "mock-control.json").write_text(json.dumps(edited))
    drift = runner.invoke(main, ["openapi", "--out", str(tmp_path), "--check"])
    assert drift.exit_code == 1
    assert "mock-control.json" in drift.output and "bridge.json" not in drift.output


def test_running_mock_serves_the_committed_document():
    resp = create_app().test_client().get("/__mock/openapi.json", headers=NS)
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert resp.get_json() == json.loads(COMMITTED.read_text(encoding="utf-8"))


def _control_operations():
    ops = set()
    for rule in create_app().url_map.iter_rules():
        if rule.rule.startswith("/__mock"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            ops |= {(m, path) for m in rule.methods - {"HEAD", "OPTIONS"}}
    return ops


def test_every_control_route_is_documented_and_nothing_else(doc):
    documented = {(m.upper(), p) for p, item in doc["paths"].items() for m in item if m != "parameters"}
    served = _control_operations()
    assert served, "no /__mock/ routes found"
    assert served - documented == set(), "control routes missing from mock-control.json"
    assert documented - served == {("GET", "/auth/by_token")}, "mock-control.json documents unserved calls"
    by_token = [r for r in create_app().url_map.iter_rules() if r.rule == "/auth/by_token"]
    assert by_token and "GET" in by_token[0].methods


def test_every_operation_takes_the_namespace_header_and_documents_422(doc):
    param = doc["components"]["parameters"]["Namespace"]
    assert param["in"] == "header" and param["name"] == "X-Mock-Namespace"
    error = doc["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"message", "errors"} and error["required"] == ["message"]
    for path, item in doc["paths"].items():
        assert {"$ref": "#/components/parameters/Namespace"} in item["parameters"], path
        for method, op in item.items():
            if method == "parameters":
                continue
            refused = op["responses"]["422"]["content"]["application/json"]["schema"]
            assert refused == {"$ref": "#/components/schemas/Error"}, f"{method} {path}"


def test_control_api_is_kept_out_of_the_fuzzed_document():
    assert not [p for p in openapi.solusvm_spec()["paths"] if p.startswith(("/__mock", "/auth/by_token"))]


def test_request_schemas_follow_the_mock(doc):
    schemas = doc["components"]["schemas"]
    # the mock parses fault rules with the documented schema, and shows every field it keeps
    assert set(schemas["FaultRuleCreate"]["properties"]) <= set(schemas["FaultRule"]["properties"])
    assert set(schemas["ClockAdvance"]["properties"]) == set(mc.ADVANCE_UNITS)
    assert schemas["ClockAdvance"]["additionalProperties"] is False


def test_real_answers_fit_the_document(doc):
    client = create_app().test_client()

    def call(method, path, expect, **kwargs):
        resp = client.open(path, method=method, headers={**NS, **kwargs.pop("headers", {})}, **kwargs)
        assert resp.status_code == expect, resp.get_data(as_text=True)
        template = path.split("?", 1)[0]
        return _check_answer(doc, resp, method, template)

    assert call("GET", "/__mock/", 200)["namespace"] == "openapi-check"
    call("POST", "/__mock/reset", 200)
    _check_request(doc, "POST", "/__mock/seed", SEED)
    seeded = call("POST", "/__mock/seed", 200, json=SEED)
    assert set(seeded["counts"]) == set(doc["components"]["schemas"]["SeedCounts"]["required"])
    call("GET", "/__mock/clock", 200)
    for method in ("PUT", "POST"):
        _check_request(doc, method, "/__mock/clock", {"now": "2026-11-01T00:00:00Z", "frozen": True})
        call(method, "/__mock/clock", 200, json={"now": "2026-11-01T00:00:00Z", "frozen": True})
    _check_request(doc, "POST", "/__mock/clock/advance", {"hours": 5, "minutes": -1.5})
    assert call("POST", "/__mock/clock/advance", 200, json={"hours": 5, "minutes": -1.5})["frozen"] is True
    call("POST", "/__mock/clock/unfreeze", 200)
    call("POST", "/__mock/clock/freeze", 200)

    rule = {"method": "GET", "path": "/api/v1/users/*", "status": 503, "body": {"message": "down"},
            "headers": {"Retry-After": "1"}, "times": 1}
    _check_request(doc, "POST", "/__mock/faults", rule)
    added = call("POST", "/__mock/faults", 201, json=rule)["data"]
    call("POST", "/__mock/faults", 201, json={"delay": 0.01, "probability": 0.5, "seed": 7})
    assert client.get("/api/v1/users/1", headers={**NS, "Authorization": "Bearer mock-admin-token"}).status_code == 503
    listed = call("GET", "/__mock/faults", 200)["data"]
    assert listed[0]["id"] == added["id"] and listed[0]["remaining"] == 0

    client.post("/api/v1/users", headers={**NS, "Authorization": "Bearer mock-admin-token"},
                json={"email": "bob@example.com", "password": "secret"})
    journal = call("GET", "/__mock/journal?method=GET&path=/api/v1/users/*", 200)["data"]
    assert journal and journal[0]["fault"] == added["id"]
    assert call("GET", "/__mock/journal/count?method=POST", 200)["count"] == 1
    assert call("GET", "/__mock/journal", 200)["data"][-1]["body"]["password"] == "<redacted>"

    dump = call("GET", "/__mock/state", 200)
    _check_request(doc, "POST", "/__mock/state", dump)
    call("POST", "/__mock/state", 200, json=dump)
    call("DELETE", "/__mock/faults", 204)
    call("DELETE", "/__mock/journal", 204)
    call("GET", "/__mock/openapi.json", 200)

    token = client.post("/api/v1/users/1/tokens", headers={**NS, "Authorization": "Bearer mock-admin-token"},
                        json={"name": "sso", "is_one_time": True}).get_json()["data"]["access_token"]
    resp = client.get(f"/auth/by_token?token={token}", headers=NS)
    _check_answer(doc, resp, "GET", "/auth/by_token")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/")
    burnt = client.get(f"/auth/by_token?token={token}", headers=NS)
    assert burnt.status_code == 401
    _check_answer(doc, burnt, "GET", "/auth/by_token")


@pytest.mark.parametrize(("method", "path", "kwargs"), [
    ("GET", "/__mock/clock", {"headers": {"X-Mock-Namespace": "no spaces allowed"}}),
    ("POST", "/__mock/seed", {"data": "not json", "content_type": "application/json"}),
    ("POST", "/__mock/seed", {"json": [1, 2]}),
    ("POST", "/__mock/seed", {"json": {"users": "nobody"}}),
    ("POST", "/__mock/state", {"json": {"format": "something else"}}),
    ("PUT", "/__mock/clock", {"json": {"now": "yesterday"}}),
    ("POST", "/__mock/clock/advance", {"json": {}}),
    ("POST", "/__mock/clock/advance", {"json": {"fortnights": 1}}),
    ("POST", "/__mock/faults", {"json": {"path": "/api/v1/users"}}),
    ("POST", "/__mock/faults", {"json": {"status": 42}}),
])
def test_refusals_fit_the_error_shape(doc, method, path, kwargs):
    headers = kwargs.pop("headers", NS)
    resp = create_app().test_client().open(path, method=method, headers=headers, **kwargs)
    assert resp.status_code == 422
    body = _check_answer(doc, resp, method, path)
    assert body["message"] and body["errors"]
