"""The DB-backed rate limiter: unit tests on SQLite and PostgreSQL, and 429 pages over HTTP."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select

from bridge import db
from bridge.models import RateLimitCounter
from bridge.services import ratelimit
from tests.bridge.conftest import db_url  # noqa: F401 - both backends
from tests.web.conftest import PASSWORD, Browser, build_app, sign_up, web_config


@pytest.fixture
def engines(db_url: str) -> Any:  # noqa: F811
    """Two engines on one database: two gunicorn workers (or machines) sharing the counters."""
    pair = [db.make_engine(db_url), db.make_engine(db_url)]
    yield pair
    for engine in pair:
        engine.dispose()


def test_parse_limit() -> None:
    assert ratelimit.parse_limit("5/60") == ratelimit.Limit(5, 60)
    for bad in ("5", "x/60", "0/60", "5/0", ""):
        with pytest.raises(ValueError):
            ratelimit.parse_limit(bad)


def test_limit_is_shared_between_workers(engines: Any) -> None:
    limit = ratelimit.Limit(3, 60)
    a, b = engines
    assert ratelimit.hit(a, "login:ip:1", limit, now=1000) == 1
    assert ratelimit.hit(b, "login:ip:1", limit, now=1001) == 2
    assert ratelimit.hit(a, "login:ip:1", limit, now=1002) == 3
    with pytest.raises(ratelimit.RateLimited) as info:
        ratelimit.hit(b, "login:ip:1", limit, now=1010)
    assert info.value.retry_after == 1020 - 1010
    # other keys and the next window are not affected
    assert ratelimit.hit(a, "login:ip:2", limit, now=1010) == 1
    assert ratelimit.hit(b, "login:ip:1", limit, now=1020) == 1


def test_concurrent_hits_are_all_counted(engines: Any) -> None:
    limit = ratelimit.Limit(1000, 3600)
    errors: list[BaseException] = []

    def worker(engine: Any) -> None:
        try:
            for _ in range(10):
                ratelimit.hit(engine, "signup:ip:9", limit, now=7200)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(engines[i % 2],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with engines[0].connect() as conn:
        assert conn.scalar(select(RateLimitCounter.count).where(RateLimitCounter.key == "signup:ip:9")) == 40


def test_old_windows_are_cleaned(engines: Any) -> None:
    limit = ratelimit.Limit(5, 60)
    ratelimit.hit(engines[0], "k", limit, now=0)
    ratelimit.hit(engines[0], "k", limit, now=120)
    with engines[0].connect() as conn:
        assert conn.scalar(select(func.count()).select_from(RateLimitCounter)) == 1
    ratelimit.hit(engines[0], "other", limit, now=0)
    assert ratelimit.purge(engines[0], older_than=60) == 1


@pytest.fixture
def mid_window() -> Any:
    """Windows are fixed and aligned to the epoch: hold the clock mid-window so a test's hits
    never straddle a window boundary (the limits below are 300 s and 3600 s)."""
    with time_machine.travel(datetime(2026, 11, 26, 12, 20, 0, tzinfo=UTC), tick=False):
        yield


def tight_app(sqlite_url: str, tmp_path: Any) -> Any:
    return build_app(sqlite_url, tmp_path, **web_config(tmp_path, RATE_LIMIT_SIGNUP="2/3600",
                                                         RATE_LIMIT_LOGIN="3/300", RATE_LIMIT_RESEND="1/3600"))


def test_signup_rate_limit_gives_429(sqlite_url: str, tmp_path: Any, mock: Any, mid_window: Any) -> None:
    app = tight_app(sqlite_url, tmp_path)
    b = Browser(app)
    assert sign_up(b, "a1@example.com").status_code == 200
    assert sign_up(b, "a2@example.com").status_code == 200
    resp = sign_up(b, "a3@example.com")
    assert resp.status_code == 429
    assert "Too many attempts" in resp.get_data(as_text=True) and int(resp.headers["Retry-After"]) > 0
    app.extensions["bridge_db"]["engine"].dispose()


def test_login_and_resend_rate_limits_give_429(sqlite_url: str, tmp_path: Any, mock: Any,
                                               mid_window: Any) -> None:
    app = tight_app(sqlite_url, tmp_path)
    b = Browser(app)
    codes = [b.submit("/login", {"email": "x@example.com", "password": PASSWORD}).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    assert b.submit("/signup/resend", {"email": "x@example.com"}).status_code == 200
    resp = b.submit("/signup/resend", {"email": "x@example.com"})
    assert resp.status_code == 429 and "Too many attempts" in resp.get_data(as_text=True)
    app.extensions["bridge_db"]["engine"].dispose()
