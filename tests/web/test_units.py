"""Unit tests of the web part's plain-Python pieces: money formatting and the password policy."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.errors import WeakPassword
from bridge.services.accounts import check_password_policy
from bridge.web.formatting import format_money, format_number, format_when


@pytest.mark.parametrize(("fmt", "expected"), [(1, "1234567.89"), (2, "1,234,567.89"), (3, "1.234.567,89"),
                                                (4, "1,234,568")])
def test_whmcs_format_codes(fmt: int, expected: str) -> None:
    assert format_number(Decimal("1234567.885"), fmt, 2) == expected


def test_prefix_suffix_sign_and_zero_decimals() -> None:
    usd = SimpleNamespace(prefix="$", suffix=" USD", format=2, decimals=2)
    assert format_money(Decimal("-5.5"), usd) == "-5.50 USD"  # the currency once: the code, not "$... USD"
    assert format_money(Decimal("0.005"), usd) == "0.01 USD"  # half-up
    assert format_money(Decimal("5"), {"prefix": "$", "suffix": "", "format": 2, "decimals": 2}) == "$5.00"
    jpy = {"prefix": "¥", "suffix": "", "format": 2, "decimals": 0}
    assert format_money(Decimal("1234.5"), jpy) == "¥1,235"
    assert format_money(None, usd) == ""


@given(st.decimals(min_value=-10**9, max_value=10**9, places=2, allow_nan=False, allow_infinity=False),
       st.sampled_from([1, 2, 3]))
def test_formatting_round_trips(amount: Decimal, fmt: int) -> None:
    text = format_number(amount, fmt, 2)
    thousands, point = {1: ("", "."), 2: (",", "."), 3: (".", ",")}[fmt]
    back = text.replace(thousands, "") if thousands else text
    assert Decimal(back.replace(point, ".")) == amount


def test_format_when_treats_naive_as_utc() -> None:
    assert format_when(datetime(2026, 11, 22, 4, 51, 29)) == "2026-11-22 04:51 UTC"
    assert format_when(datetime(2026, 11, 22, 4, 51, tzinfo=UTC)) == "2026-11-22 04:51 UTC"
    assert format_when(None) == ""


@pytest.mark.parametrize(("password", "why"), [("short1!", "too short"), ("abcdefghijkl", "digit or symbol"),
                                               ("1234567890123", "digit or symbol"),
                                               ("password1234", "too easy"), ("xx-annlee-42", "too easy"),
                                               ("a1" * 101, "too long")])
def test_password_policy_refuses(password: str, why: str) -> None:
    with pytest.raises(WeakPassword, match=why):
        check_password_policy(password, "annlee@example.com")


def test_password_policy_accepts_a_reasonable_password() -> None:
    check_password_policy("correct horse 42", "annlee@example.com")


def test_unknown_email_is_checked_against_a_hash_of_the_same_method(monkeypatch: pytest.MonkeyPatch) -> None:
    """Timing must not tell unknown addresses from wrong passwords: same hashing method both ways."""
    from bridge.services import accounts, clients

    seen: list[str] = []
    real = accounts.check_password_hash
    monkeypatch.setattr(accounts, "check_password_hash", lambda h, p: seen.append(h.split("$")[0]) or real(h, p))
    monkeypatch.setattr(clients, "get_by_email", lambda _s, _e: None)
    assert accounts.authenticate(None, "nobody@example.com", "whatever 123") is None  # type: ignore[arg-type]
    assert seen == [clients.PASSWORD_METHOD]
