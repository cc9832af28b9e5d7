"""Log-in limits an attacker can neither sidestep nor turn into a weapon: keyed on the normalised
identity, tight per (address, account), looser per account (failures only, growing tiers), and
a browser that logged in before is never kept out by a stranger's failures."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine

from bridge.services.ratelimit import identity_key
from tests.web.conftest import PASSWORD, Browser, build_app, enroll, web_config
from tests.web.test_admin import ADMIN_PW, make_admin


@pytest.fixture
def mid_window() -> Any:
    with time_machine.travel(datetime(2026, 11, 26, 12, 20, 0, tzinfo=UTC), tick=False):
        yield


@pytest.fixture
def limited(sqlite_url: str, tmp_path: Any, mock: Any, mid_window: Any) -> Any:
    app = build_app(sqlite_url, tmp_path, **web_config(
        tmp_path, RATE_LIMIT_LOGIN="5/300", RATE_LIMIT_LOGIN_ACCOUNT="8/900,12/3600"))
    yield app
    app.extensions["bridge_db"]["engine"].dispose()


def from_addr(app: Any, addr: str) -> Browser:
    b = Browser(app)
    b.http.environ_base["REMOTE_ADDR"] = addr
    return b


def login(b: Browser, email: str, password: str) -> int:
    return b.submit("/login", {"email": email, "password": password}).status_code


def admin_login(b: Browser, name: str, password: str) -> int:
    return b.submit("/admin/login", {"name": name, "password": password}).status_code


def test_identity_key_normalises() -> None:
    assert {identity_key(v) for v in ("victimadmin", "victimadmin ", " victimadmin", "\tvictimadmin",
                                      "VictimAdmin", "ｖｉｃｔｉｍａｄｍｉｎ")} == {"victimadmin"}


def test_admin_name_variants_share_one_limit(limited: Any) -> None:
    make_admin(limited, "victimadmin")
    b = from_addr(limited, "10.1.1.1")
    variants = ["victimadmin ", " victimadmin", "\tvictimadmin", "VICTIMADMIN", "ｖｉｃｔｉｍａｄｍｉｎ"]
    assert [admin_login(b, v, "wrong pass 1") for v in variants] == [401] * 5
    # The limit of the real name is used up by its variants: the right password with a trailing
    # space (which the lookup strips) is refused too.
    assert admin_login(b, "victimadmin ", ADMIN_PW) == 429
    assert admin_login(b, "victimadmin", ADMIN_PW) == 429


def test_client_email_variants_share_one_limit(limited: Any) -> None:
    b = from_addr(limited, "10.1.1.2")
    variants = ["ann@example.com", " ann@example.com", "ANN@example.com", "ann@example.com\t", "Ann@Example.com"]
    assert [login(b, v, "wrong pass 1") for v in variants] == [401] * 5
    assert login(b, "ann@EXAMPLE.com ", "wrong pass 1") == 429


def test_a_stranger_cannot_lock_a_customer_out(limited: Any) -> None:
    enroll(Browser(limited))
    stranger = from_addr(limited, "10.6.6.6")
    codes = [login(stranger, "ann@example.com", f"wrong pass {i}") for i in range(7)]
    assert codes == [401] * 5 + [429] * 2  # the stranger's own (address, account) limit
    # The customer, from their own address, logs in.
    assert login(from_addr(limited, "10.2.2.2"), "ann@example.com", PASSWORD) == 302


def test_guessing_from_many_addresses_meets_the_account_limit(limited: Any) -> None:
    enroll(Browser(limited))
    owner = from_addr(limited, "10.3.3.3")
    assert login(owner, "ann@example.com", PASSWORD) == 302  # a browser that logged in before
    # 8 failures from 8 addresses: the account's first tier is used up ...
    for i in range(8):
        assert login(from_addr(limited, f"10.9.0.{i}"), "ann@example.com", "wrong pass 1") == 401
    # ... so a new address is refused even with the right password (guessing on learns nothing),
    resp = from_addr(limited, "10.9.1.1").submit("/login", {"email": "ann@example.com", "password": PASSWORD})
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0
    # ... while the owner's browser, known to the account, still gets in.
    assert login(owner, "ann@example.com", PASSWORD) == 302


def test_account_waits_grow(limited: Any) -> None:
    """Past the 15-minute tier, the next wait is the hour tier."""
    enroll(Browser(limited))
    for i in range(8):
        login(from_addr(limited, f"10.8.0.{i}"), "ann@example.com", "wrong pass 1")
    first = from_addr(limited, "10.8.1.1").submit("/login", {"email": "ann@example.com", "password": "x"})
    assert first.status_code == 429 and int(first.headers["Retry-After"]) <= 900
    with time_machine.travel(datetime(2026, 11, 26, 12, 31, 0, tzinfo=UTC), tick=False):  # next 15-min window
        for i in range(4):
            assert login(from_addr(limited, f"10.8.2.{i}"), "ann@example.com", "wrong pass 1") == 401
        later = from_addr(limited, "10.8.3.1").submit("/login", {"email": "ann@example.com", "password": "x"})
    assert later.status_code == 429 and int(later.headers["Retry-After"]) > 900


def test_sign_up_and_resend_limits_use_the_normalised_address(sqlite_url: str, tmp_path: Any, mock: Any,
                                                              mid_window: Any) -> None:
    app = build_app(sqlite_url, tmp_path, **web_config(tmp_path, RATE_LIMIT_RESEND="2/3600"))
    try:
        codes = [from_addr(app, f"10.4.0.{i}").submit("/signup/resend", {"email": e}).status_code
                 for i, e in enumerate(["ann@example.com", "ANN@example.com", " Ann@Example.com"])]
        assert codes == [200, 200, 429]
    finally:
        app.extensions["bridge_db"]["engine"].dispose()
