"""Schemathesis against both OpenAPI documents, in-process (WSGI), with a fixed seed.

Every generated request must get an answer that is not a 5xx, whose status is documented,
whose content type is documented, and whose body matches the documented schema.

``/includes/api.php`` is one operation whose form is a ``oneOf`` of the per-action forms, so
besides the whole document, each WHMCS action is fuzzed on its own: the document narrowed to
that action's form, and to that action's answer (or the WHMCS error) for HTTP 200, against a
fresh bridge with one client and one invoice, authenticated with a real API credential.
The fuzzing budget is small (5 examples per operation plus the coverage phase).
"""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from contracts.openapi import FORM, JSON, bridge_spec, solusvm_spec
from mock_solusvm.pytest_plugin import EXAMPLE_SEED
from tests.contracts.conftest import PRICING_TOKEN, make_bridge_app

TOKEN = "schemathesis-token"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
SETTINGS = settings(max_examples=5, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def mock_app() -> Any:
    from mock_solusvm import create_app

    seed = dict(EXAMPLE_SEED, servers=[{"id": 1, "name": "web-1", "user_id": 1, "plan_id": 1, "location_id": 1,
                                         "created_at": "2026-10-01T00:00:00Z"}])
    return create_app({"API_TOKENS": [TOKEN], "VALIDATE_RESPONSES": True, "SEED": seed})


@pytest.fixture(scope="module")
def bridge_app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    app, _ = make_bridge_app(tmp_path_factory.mktemp("bridge"))
    yield app
    app.extensions["bridge_db"]["engine"].dispose()


# The documents are plain dicts built from the schemas; the apps come from fixtures, per module.
# A fixed seed; the coverage phase stays on: its boundary values found the undocumented 422s.
CONFIG = SchemathesisConfig.from_dict({"seed": 20261001})
mock_api = schemathesis.openapi.from_dict(solusvm_spec(), config=CONFIG)
bridge_api = schemathesis.openapi.from_dict(bridge_spec(), config=CONFIG)


@mock_api.parametrize()
@SETTINGS
def test_mock_answers_match_solusvm2_json(case, mock_app):
    case.call_and_validate(app=mock_app, headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS)


def _form_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def php_form_body(body: dict[str, Any]) -> dict[str, Any]:
    """Objects as PHP arrays, ``name[key]=value`` (the documented deepObject encoding).

    Schemathesis does not encode deepObject form fields itself, and Werkzeug's test client
    would take a dict value for a file.
    """
    out: dict[str, Any] = {}
    for name, value in body.items():
        if isinstance(value, dict):
            for key, item in value.items():
                out[f"{name}[{key}]"] = _form_text(item) if not isinstance(item, list | dict) else str(item)
        else:
            out[name] = value
    return out


@bridge_api.parametrize()
@SETTINGS
def test_bridge_answers_match_bridge_json(case, bridge_app):
    if case.path == "/modules/addons/solusio/api/" and isinstance(case.body, dict):
        # With the right token the generated userids reach the pricing code, not just the 403.
        case.body["token"] = PRICING_TOKEN
    if isinstance(case.body, dict):
        case.body = php_form_body(case.body)
    case.call_and_validate(app=bridge_app, checks=CHECKS)


WHMCS = "/includes/api.php"


def per_action_document() -> dict[str, Any]:
    """The bridge document with one operation per WHMCS action: its form in, its answer or the error out.

    The operations sit on ``/whmcs/<action>`` so each gets its own test and its own fuzzing
    budget; the test sends every request to ``/includes/api.php``.
    """
    doc = bridge_spec()
    whole = doc["paths"].pop(WHMCS)["post"]
    mapping = whole["requestBody"]["content"][FORM]["schema"]["discriminator"]["mapping"]
    doc["paths"] = {}
    for action, answer in sorted(whole.pop("x-whmcs-action-responses").items()):
        operation = copy.deepcopy(whole)
        operation["summary"] = action
        operation["requestBody"]["content"][FORM]["schema"] = {"$ref": mapping[action]}
        operation["responses"]["200"]["content"][JSON]["schema"] = {
            "anyOf": [answer, {"$ref": "#/components/schemas/WhmcsError"}]}
        doc["paths"][f"/whmcs/{action}"] = {"post": operation}
    return doc


action_api = schemathesis.openapi.from_dict(per_action_document(), config=CONFIG)
# 10 examples per action plus the coverage phase: about 40 s for the 25 actions on one core.
ACTION_SETTINGS = settings(SETTINGS, max_examples=10)


@pytest.fixture
def action_app(tmp_path: Any) -> Any:
    """A fresh bridge per action (actions change data): one client, one invoice, one API credential."""
    from bridge.services import credentials, invoices

    app, client_id = make_bridge_app(tmp_path)
    with app.extensions["bridge_db"]["session_factory"]() as s, s.begin():
        cred = credentials.create(s, "schemathesis", actor="test")
        invoices.create_invoice(s, client_id, [{"description": "Tokens", "amount": Decimal("12.50"), "taxed": True}],
                                date=date(2026, 10, 31), duedate=date(2026, 11, 14), actor="test")
    yield app, cred
    app.extensions["bridge_db"]["engine"].dispose()


@action_api.parametrize()
@ACTION_SETTINGS
def test_each_whmcs_action_matches_bridge_json(case, action_app):
    app, cred = action_app
    action = case.path.rsplit("/", 1)[1]
    if isinstance(case.body, dict):
        if action == "GetTokenPricing":
            case.body["token"] = PRICING_TOKEN
        else:
            case.body.update(identifier=cred.identifier, secret=cred.secret)
        case.body = php_form_body(case.body)
    case.path = WHMCS
    case.call_and_validate(app=app, checks=CHECKS)
