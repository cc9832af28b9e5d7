"""GetTokenPricing's own decoding of a plain form body agrees with werkzeug's, and leaves the
body readable; anything it does not take goes to werkzeug unchanged."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from bridge.api.pricing import FORM_TYPE, PLAIN_FORM_MAX, plain_form
from tests.bridge.test_pricing_api import URL


def environ(body: bytes, content_type: str | None = FORM_TYPE, **extra: Any) -> dict[str, Any]:
    env = EnvironBuilder(path=URL, method="POST", data=body, content_type=content_type).get_environ()
    env.update(extra)
    return env


def werkzeug_form(body: bytes, content_type: str = FORM_TYPE) -> dict[str, str]:
    """What ``request.form.get`` gives for each name (the first value)."""
    form = Request(environ(body, content_type)).form
    return {name: form[name] for name in form}


# Plain pieces: names and values SolusVM sends, with the separators in odd places.
PIECES = st.lists(st.sampled_from(["token", "action", "userid", "=", "&", "&&", "x", "s3cret", "42", "",
                                   "GetTokenPricing", "user id", "a=b"]), max_size=12)


@settings(max_examples=300, deadline=None)
@given(PIECES)
def test_plain_bodies_decode_as_werkzeug_decodes_them(pieces: list[str]) -> None:
    body = "".join(pieces).encode()
    env = environ(body)
    fields = plain_form(env)
    if not body:
        assert fields is None  # no length: werkzeug's business
        return
    assert fields == werkzeug_form(body)
    # The body is still there for request.form (the access log, an error path, another hook).
    assert {k: v for k, v in Request(env).form.items()} == fields


@pytest.mark.parametrize("body", [b"token=s%33cret&action=GetTokenPricing&userid=1",
                                  b"token=s3cret&action=Get+TokenPricing&userid=1",
                                  "token=s3crét&action=GetTokenPricing&userid=1".encode()])
def test_escapes_and_non_ascii_are_left_to_werkzeug_with_the_body_intact(body: bytes) -> None:
    env = environ(body)
    assert plain_form(env) is None
    assert Request(env).form.to_dict() == werkzeug_form(body)


@pytest.mark.parametrize("extra", [
    {"CONTENT_TYPE": FORM_TYPE + "; charset=utf-8"},
    {"CONTENT_TYPE": "multipart/form-data; boundary=x"},
    {"CONTENT_LENGTH": ""},
    {"CONTENT_LENGTH": "-1"},
    {"CONTENT_LENGTH": "1e3"},
    {"CONTENT_LENGTH": str(PLAIN_FORM_MAX + 1)},
])
def test_other_content_types_and_lengths_are_left_to_werkzeug(extra: dict[str, str]) -> None:
    env = environ(b"token=s3cret&action=GetTokenPricing&userid=1", **extra)
    stream = env["wsgi.input"]
    assert plain_form(env) is None
    assert env["wsgi.input"] is stream  # not read


def test_a_short_body_is_left_to_werkzeug() -> None:
    body = b"token=s3cret&action=GetTokenPricing&userid=1"
    env = environ(body, CONTENT_LENGTH=str(len(body) + 5))
    assert plain_form(env) is None


@pytest.mark.parametrize("content_type", [FORM_TYPE, FORM_TYPE + "; charset=utf-8"])
def test_both_ways_answer_alike_over_http(client: Any, make_client: Any, content_type: str) -> None:
    cid = make_client()
    plain = client.post(URL, data=f"token=s3cret&action=GetTokenPricing&userid={cid}", content_type=content_type)
    escaped = client.post(URL, data=f"token=s3cr%65t&action=GetTokenPricing&userid={cid}",
                          content_type=content_type)
    assert plain.status_code == escaped.status_code == 200
    assert plain.get_data() == escaped.get_data()
    # The first of repeated fields counts, as with request.form.
    first = client.post(URL, data=f"token=s3cret&token=wrong&action=GetTokenPricing&userid={cid}",
                        content_type=content_type)
    assert first.status_code == 200
    wrong_first = client.post(URL, data=f"token=wrong&token=s3cret&action=GetTokenPricing&userid={cid}",
                              content_type=content_type)
    assert wrong_first.status_code == 403
