"""GetTokenPricing under attack: wrong tokens throttled per source address on both URLs (one
shared count), and request bodies over the limit refused with 413 in each surface's format
without being read in full."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from bridge.flask_glue import replace_settings

URLS = ["/modules/addons/solusio/api/", "/includes/api.php"]


def price(client: Any, url: str, userid: int, token: str, addr: str = "10.0.0.1") -> Any:
    return client.post(url, data={"action": "GetTokenPricing", "userid": userid, "token": token},
                       environ_base={"REMOTE_ADDR": addr})


def test_wrong_tokens_are_throttled_per_address_on_both_urls(app: Any, client: Any, make_client: Any) -> None:
    replace_settings(app, {"RATE_LIMIT_PRICING_TOKEN": "5/3600"})
    cid = make_client()
    statuses = [price(client, URLS[i % 2], cid, f"guess-{i}").status_code for i in range(8)]
    # Five wrong tokens in all (both URLs count together), then 429 on either URL.
    assert statuses == [403] * 5 + [429] * 3, statuses
    for url in URLS:
        resp = price(client, url, cid, "s3cret")  # even the right token, so guessing on learns nothing
        assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0
        assert resp.get_json()["result"] == "error"
    # Another address is not affected.
    assert price(client, URLS[0], cid, "s3cret", addr="10.0.0.2").status_code == 200
    assert price(client, URLS[1], cid, "s3cret", addr="10.0.0.2").status_code == 200


def test_right_tokens_are_never_counted(app: Any, client: Any, make_client: Any) -> None:
    replace_settings(app, {"RATE_LIMIT_PRICING_TOKEN": "2/3600"})
    cid = make_client()
    for _ in range(10):
        assert price(client, URLS[0], cid, "s3cret").status_code == 200


class CountingBody(io.RawIOBase):
    """A request body of ``size`` bytes that records how much of it was read."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.size - self.read_bytes)
        buffer[:n] = b"a" * n
        self.read_bytes += n
        return n


TEN_MB = 10 * 1024 * 1024


@pytest.mark.parametrize("url", URLS)
def test_a_10_mb_pricing_body_is_413_json_and_not_read(client: Any, url: str) -> None:
    body = CountingBody(TEN_MB)
    resp = client.post(url, environ_overrides={"wsgi.input": body, "CONTENT_LENGTH": str(TEN_MB),
                                               "CONTENT_TYPE": "application/x-www-form-urlencoded"})
    assert resp.status_code == 413
    assert resp.mimetype == "application/json"
    assert resp.get_json() == {"result": "error", "message": "Request body too large"}
    assert body.read_bytes < 2 * 1024 * 1024  # refused from the declared length, not parsed


def test_whmcs_api_413_follows_responsetype_xml(client: Any) -> None:
    resp = client.post("/includes/api.php?responsetype=xml", data={"action": "GetClients", "x": "a" * (2 << 20)})
    assert resp.status_code == 413 and resp.mimetype == "text/xml"
    assert b"<result>error</result>" in resp.data


def test_chunked_body_over_the_limit_is_cut_off(app: Any, client: Any) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 4096
    body = CountingBody(TEN_MB)
    resp = client.post(URLS[0], environ_overrides={
        "wsgi.input": body, "wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked",
        "CONTENT_TYPE": "application/x-www-form-urlencoded"})
    assert resp.status_code == 413
    assert json.loads(resp.data)["result"] == "error"
    assert body.read_bytes < 1024 * 1024


def test_web_pages_answer_413_with_an_html_page(client: Any) -> None:
    resp = client.post("/signup", data={"firstname": "a" * (2 << 20)})
    assert resp.status_code == 413 and resp.mimetype == "text/html"
    assert "Too much data" in resp.get_data(as_text=True)


def test_the_limit_is_configurable(app: Any, client: Any, make_client: Any) -> None:
    cid = make_client()
    app.config["MAX_CONTENT_LENGTH"] = 64
    resp = client.post(URLS[0], data={"action": "GetTokenPricing", "userid": cid, "token": "s3cret",
                                      "pad": "x" * 100})
    assert resp.status_code == 413
    app.config["MAX_CONTENT_LENGTH"] = 1 << 20
    assert price(client, URLS[0], cid, "s3cret").status_code == 200


def test_a_chunked_body_within_the_limit_is_served(client: Any, make_client: Any) -> None:
    cid = make_client()
    body = io.BytesIO(f"action=GetTokenPricing&userid={cid}&token=s3cret".encode())
    resp = client.post(URLS[0], environ_overrides={
        "wsgi.input": body, "wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked",
        "CONTENT_TYPE": "application/x-www-form-urlencoded"})
    assert resp.status_code == 200, resp.data
    assert "tax_rates" in resp.get_json() or resp.get_json().get("result") != "error"
