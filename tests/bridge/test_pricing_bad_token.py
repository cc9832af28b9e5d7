"""GetTokenPricing with a token that is not a plain string: refused like a wrong token, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from tests.bridge.conftest import build_app

URLS = ["/includes/api.php", "/modules/addons/solusio/api/"]
# PHP-style arrays: /includes/api.php decodes them into a list or a dict; the addon URL sees
# a differently named field (so no token at all).
BAD_TOKENS = [
    [("token[]", "s3cret")],
    [("token[]", "x"), ("token[]", "y")],
    [("token[0]", "s3cret")],
    [("token[a]", "x")],
]


def _post(client: Any, url: str, pairs: list[tuple[str, str]], userid: int) -> Any:
    body = "&".join(f"{k}={v}" for k, v in [("action", "GetTokenPricing"), ("userid", str(userid)), *pairs])
    return client.post(url, data=body, content_type="application/x-www-form-urlencoded")


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("pairs", BAD_TOKENS)
def test_array_token_is_403(client: Any, make_client: Any, url: str, pairs: list[tuple[str, str]]) -> None:
    cid = make_client()
    resp = _post(client, url, pairs, cid)
    assert resp.status_code == 403, resp.get_data(as_text=True)
    assert resp.get_json() == {"result": "error", "message": "Invalid token"}


@pytest.mark.parametrize("url", URLS)
def test_plain_token_still_works(client: Any, make_client: Any, url: str) -> None:
    cid = make_client()
    resp = _post(client, url, [("token", "s3cret")], cid)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert "user_token_unit_cost" in resp.get_json()


def test_array_token_refused_even_when_no_token_is_configured(db_url: str, tmp_path: Any) -> None:
    """Without PRICING_TOKEN any string token passes; a non-string one is malformed input: 403, not 500."""
    app = build_app(db_url, tmp_path, PRICING_TOKEN="")
    try:
        client = app.test_client()
        from bridge.services import clients
        from tests.bridge.conftest import CLIENT, session_of

        with session_of(app) as s, s.begin():
            cid = clients.create(s, {**CLIENT}, actor="test").id
        resp = _post(client, "/includes/api.php", [("token[]", "x")], cid)
        assert resp.status_code == 403, resp.get_data(as_text=True)
        assert resp.get_json() == {"result": "error", "message": "Invalid token"}
        assert _post(client, "/includes/api.php", [("token", "anything")], cid).status_code == 200
    finally:
        app.extensions["bridge_db"]["engine"].dispose()
