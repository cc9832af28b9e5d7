"""Schemathesis against both OpenAPI documents, in-process (WSGI), with a fixed seed.

Every generated request must get an answer that is not a 5xx, whose status is documented,
whose content type is documented, and whose body matches the documented schema.
The fuzzing budget is small (5 examples per operation) so the module stays around 15 s.
"""

from __future__ import annotations

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

from contracts.openapi import bridge_spec, solusvm_spec
from contracts.pytest_plugin import EXAMPLE_SEED
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


@bridge_api.parametrize()
@SETTINGS
def test_bridge_answers_match_bridge_json(case, bridge_app):
    if case.path == "/modules/addons/solusio/api/" and isinstance(case.body, dict):
        # With the right token the generated userids reach the pricing code, not just the 403.
        case.body["token"] = PRICING_TOKEN
    case.call_and_validate(app=bridge_app, checks=CHECKS)
