"""The OpenAPI documents: generated from the schemas, committed, and never stale."""

from __future__ import annotations

import json
import re

import pytest
import schemathesis
from click.testing import CliRunner

from contracts import openapi, whmcs, whmcs_requests
from contracts.cli import main


def test_committed_documents_match_the_code():
    stale = openapi.check_specs()
    assert stale == [], f"{stale} drifted from the schemas: run `solus-contracts openapi` and commit"


def test_cli_writes_and_checks(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(main, ["openapi", "--out", str(tmp_path), "--check"])
    assert missing.exit_code == 1
    assert "solusvm2.json" in missing.output and "bridge.json" in missing.output

    wrote = runner.invoke(main, ["openapi", "--out", str(tmp_path)])
    assert wrote.exit_code == 0, wrote.output
    assert json.loads((tmp_path / "bridge.json").read_text())["openapi"] == openapi.OPENAPI_VERSION
    assert runner.invoke(main, ["openapi", "--out", str(tmp_path), "--check"]).exit_code == 0

    doc = json.loads((tmp_path / "bridge.json").read_text())
    doc["info"]["title"] = "edited by hand"
    (tmp_path / "bridge.json").write_text(json.dumps(doc))
    drift = runner.invoke(main, ["openapi", "--out", str(tmp_path), "--check"])
    assert drift.exit_code == 1
    assert "bridge.json" in drift.output and "solusvm2.json" not in drift.output


def test_cli_reports_an_unwritable_directory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = CliRunner().invoke(main, ["openapi", "--out", str(blocker / "sub")])
    assert result.exit_code == 1
    assert "cannot write into" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_documents_are_valid_openapi():
    for doc in (openapi.solusvm_spec(), openapi.bridge_spec()):
        schema = schemathesis.openapi.from_dict(doc)
        schema.validate()  # against the OpenAPI 3.0 meta-schema
        assert len(list(schema.get_all_operations())) > 0


def test_documents_pass_openapi_spec_validator():
    validator = pytest.importorskip("openapi_spec_validator", reason="openapi-spec-validator is not installed")
    for doc in (openapi.solusvm_spec(), openapi.bridge_spec()):
        validator.validate(doc)


def test_accessors_return_independent_copies():
    first = openapi.bridge_spec()
    first["paths"].clear()
    assert openapi.bridge_spec()["paths"], "a caller's change leaked into the cached document"
    assert openapi.solusvm_spec() == openapi.build_solusvm_spec()


def test_bridge_document_covers_pricing_on_both_urls_and_whmcs():
    doc = openapi.bridge_spec()
    pricing = doc["paths"]["/modules/addons/solusio/api/"]["post"]
    form = pricing["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert form == {"$ref": "#/components/schemas/TokenPricingRequest"}
    assert {"200", "400", "403", "404"} <= set(pricing["responses"])
    request = doc["components"]["schemas"]["TokenPricingRequest"]
    assert set(request["required"]) == {"action", "userid"}
    response = doc["components"]["schemas"]["TokenPricingResponse"]
    assert set(response["required"]) == {"base_token_unit_cost", "user_token_unit_cost", "currency",
                                         "discounts", "taxes"}
    discount = doc["components"]["schemas"]["Discount"]
    assert "multipler" in discount["required"]

    whmcs = doc["paths"]["/includes/api.php"]["post"]
    refs = [s["$ref"] for s in whmcs["responses"]["200"]["content"]["application/json"]["schema"]["anyOf"]]
    assert "#/components/schemas/TokenPricingResponse" in refs
    assert "#/components/schemas/WhmcsError" in refs
    assert "403" in whmcs["responses"]
    actions = whmcs["x-whmcs-action-responses"]
    assert actions["GetTokenPricing"] == {"$ref": "#/components/schemas/TokenPricingResponse"}
    for ref in actions.values():
        assert ref["$ref"].rsplit("/", 1)[1] in doc["components"]["schemas"]


def test_whmcs_api_documents_every_action_form_and_answer():
    doc = openapi.bridge_spec()
    schemas = doc["components"]["schemas"]
    op = doc["paths"]["/includes/api.php"]["post"]
    media = op["requestBody"]["content"]["application/x-www-form-urlencoded"]
    body = media["schema"]
    mapping = body["discriminator"]["mapping"]
    assert body["discriminator"]["propertyName"] == "action"
    assert set(mapping) == set(whmcs_requests.ACTIONS) | {"GetTokenPricing"}
    assert sorted(ref["$ref"] for ref in body["oneOf"]) == sorted(mapping.values())
    assert set(op["x-whmcs-action-responses"]) == set(mapping)
    for action, ref in mapping.items():
        form = schemas[ref.rsplit("/", 1)[1]]
        assert form["properties"]["action"]["enum"] == [action]  # one value: the branches never overlap
        assert "action" in form["required"]
        if action == "GetTokenPricing":
            continue
        assert {"identifier", "secret", "username", "password", "accesskey", "responsetype"} <= set(form["properties"])
        params = whmcs_requests.ACTIONS[action]
        assert set(params._declared_fields) <= set(form["properties"])
        assert {n for n, f in params._declared_fields.items() if f.required} <= set(form["required"])
    add_client = schemas["WhmcsAddClientRequest"]
    assert {"firstname", "lastname", "email", "country"} <= set(add_client["required"])
    assert "password2" not in add_client["required"]  # optional when owner_user_id is given
    assert add_client["properties"]["taxexempt"]["enum"] == openapi.WHMCS_BOOLEAN
    assert "nullable" not in add_client["properties"]["currency"]  # a form field is absent, never null
    get_invoices = schemas["WhmcsGetInvoicesRequest"]["properties"]
    assert {"status", "limitstart", "limitnum", "orderby", "order", "userid"} <= set(get_invoices)
    assert "Overdue" in get_invoices["status"]["enum"]
    assert media["encoding"]["itemdescription"] == {"style": "deepObject", "explode": True}
    assert "itemdescription1" in schemas["WhmcsCreateInvoiceRequest"]["properties"]
    answers = [ref["$ref"].rsplit("/", 1)[1]
               for ref in op["responses"]["200"]["content"]["application/json"]["schema"]["anyOf"]]
    for action, schema in whmcs.ACTION_RESPONSES.items():
        name = op["x-whmcs-action-responses"][action]["$ref"].rsplit("/", 1)[1]
        assert name in answers
        assert set(schemas[name]["required"]) >= {n for n, f in schema._declared_fields.items() if f.required}


def test_solusvm_document_lists_every_error_status():
    doc = openapi.solusvm_spec()
    assert doc["security"] == [{"bearer": []}]
    users = doc["paths"]["/api/v1/users"]
    assert set(users["post"]["responses"]) >= {"201", "401", "422"}
    assert "201" in users["post"]["responses"] and "200" not in users["post"]["responses"]
    names = [p["name"] for p in users["get"]["parameters"]]
    assert names == ["page", "per_page", "filter[status]", "filter[search]"]
    delete = doc["paths"]["/api/v1/users/{id}"]["delete"]["responses"]
    assert "204" in delete and "content" not in delete["204"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            assert "401" in op["responses"], f"{method.upper()} {path} does not list 401"
            for code, resp in op["responses"].items():
                if code.startswith(("4", "5")):
                    assert resp["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_timestamps_are_rfc3339_not_null_formats():
    user = openapi.solusvm_spec()["components"]["schemas"]["User"]
    assert user["properties"]["created_at"] == {"type": "string", "format": "date-time"}


def _documented_operations(doc):
    return {(method.upper(), path) for path, item in doc["paths"].items() for method in item if method != "parameters"}


def _mock_operations():
    from mock_solusvm import create_app

    ops = set()
    for rule in create_app().url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        paths = [rule.rule]
        choice = re.search(r"<any\(([^)]*)\):action>", rule.rule)
        if choice:  # /servers/<id>/<any(start,...):action> is one route but five operations
            paths = [rule.rule.replace(choice.group(0), a.strip()) for a in choice.group(1).split(",")]
        for path in paths:
            path = re.sub(r"<int:\w+>", "{id}", path)
            path = re.sub(r"<any\([^)]*\):(\w+)>", r"{\1}", path)
            path = re.sub(r"<(\w+)>", r"{\1}", path)
            ops |= {(m, path) for m in rule.methods - {"HEAD", "OPTIONS"}}
    return ops


def test_solusvm_document_matches_the_mock_routes():
    documented, served = _documented_operations(openapi.solusvm_spec()), _mock_operations()
    assert served - documented == set(), "mock routes missing from solusvm2.json"
    assert documented - served == set(), "solusvm2.json documents operations the mock does not serve"


def _served(app, label, accessor):
    resp = app.test_client().get("/openapi.json")
    if resp.status_code == 404:
        import pytest

        pytest.skip(f"the {label} does not serve /openapi.json yet (wire contracts.openapi.{accessor}())")
    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    return resp.get_json()


def test_running_mock_serves_its_document():
    from mock_solusvm import create_app

    assert _served(create_app(), "mock", "solusvm_spec") == openapi.solusvm_spec()


def test_running_bridge_serves_its_document(tmp_path):
    from tests.contracts.conftest import make_bridge_app

    app, _ = make_bridge_app(tmp_path)
    try:
        assert _served(app, "bridge", "bridge_spec") == openapi.bridge_spec()
    finally:
        app.extensions["bridge_db"]["engine"].dispose()
