"""CreateSsoToken tokens: single use through ``used_tokens`` (atomic, also under a race), expiry,
tampering, pruning of old rows, and migration 0004 creating the table. SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from alembic import command
from sqlalchemy import inspect, select

from bridge import db
from bridge.errors import AuthFailed
from bridge.models import AuditLog, UsedToken, utcnow
from bridge.services import sso_tokens
from bridge.services.unit_of_work import make_session_factory
from tests.bridge.conftest import session_of

SECRET = "test-secret"


def _consume(app: Any, token: str, **kw: Any) -> sso_tokens.SsoGrant:
    with session_of(app) as s, s.begin():
        return sso_tokens.consume(s, SECRET, token, **kw)


def _error(app: Any, token: str, **kw: Any) -> str:
    with pytest.raises(AuthFailed) as info:
        _consume(app, token, **kw)
    return info.value.message


def test_a_token_works_once(app: Any) -> None:
    token = sso_tokens.issue(SECRET, 7, "sso:custom_redirect", "/clientarea/invoices")
    grant = _consume(app, token)
    assert grant == sso_tokens.SsoGrant(7, "sso:custom_redirect", "/clientarea/invoices")
    assert _error(app, token) == "SSO token already used"
    with session_of(app) as s:
        rows = list(s.scalars(select(UsedToken)))
        assert [(r.purpose, len(r.nonce)) for r in rows] == [(sso_tokens.PURPOSE, 32)]
        audit = s.scalars(select(AuditLog).where(AuditLog.action == "sso.consume")).one()
        assert (audit.actor, audit.entity, audit.entity_id) == ("client:7", "client", "7")
        assert token not in str(audit.detail) and rows[0].nonce not in str(audit.detail)


def test_a_rolled_back_use_leaves_the_token_usable(app: Any) -> None:
    token = sso_tokens.issue(SECRET, 7, "clientarea:home")
    with session_of(app) as s, s.begin():
        sso_tokens.consume(s, SECRET, token)
        s.rollback()
    assert _consume(app, token).client_id == 7
    assert _error(app, token) == "SSO token already used"


def test_the_audit_log_alone_no_longer_decides(app: Any) -> None:
    """The old check looked for an audit row; the table is the rule now (the audit row stays as history)."""
    token = sso_tokens.issue(SECRET, 7, "clientarea:home")
    _consume(app, token)
    with session_of(app) as s, s.begin():
        s.execute(UsedToken.__table__.delete())
    assert _consume(app, token).client_id == 7  # only an expired signature stops it then, 60 s later


def test_expiry(app: Any) -> None:
    with time_machine.travel("2026-03-01 12:00:00Z", tick=False) as clock:
        token = sso_tokens.issue(SECRET, 7, "clientarea:home")
        late = sso_tokens.issue(SECRET, 7, "clientarea:home")
        clock.shift(59)
        assert _consume(app, token).client_id == 7
        clock.shift(2)  # 61 s after issue
        assert _error(app, late) == "SSO token expired"
    assert _error(app, sso_tokens.issue(SECRET, 7, "clientarea:home"), max_age=-1) == "SSO token expired"
    with pytest.raises(ValueError):
        _consume(app, sso_tokens.issue(SECRET, 7, "clientarea:home"), max_age=2 * 24 * 3600)


def test_tampered_and_foreign_tokens(app: Any) -> None:
    token = sso_tokens.issue(SECRET, 7, "clientarea:home")
    payload, _, signature = token.rpartition(".")
    flipped = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    other = sso_tokens.issue(SECRET, 8, "clientarea:home")
    spliced = other.split(".")[0] + "." + ".".join(token.split(".")[1:])  # client 8's data, 7's signature
    for bad in (flipped, spliced, "", "garbage", token + "x", sso_tokens.issue("other-secret", 7, "clientarea:home")):
        assert _error(app, bad) == "Invalid SSO token", bad
    # Signed with our key and salt but not a token's shape (only a leaked key could do this).
    from itsdangerous import URLSafeTimedSerializer

    serializer = URLSafeTimedSerializer(SECRET, salt=sso_tokens.SALT)
    for data in ({"c": 7, "d": "clientarea:home"}, {"c": "x", "d": "a", "n": "1"}, [1, 2], "text",
                 {"c": 7, "d": "clientarea:home", "n": "n" * 65}):
        assert _error(app, serializer.dumps(data)) == "Invalid SSO token", data
    assert _consume(app, token).client_id == 7  # none of that spent the real one


def test_old_rows_are_pruned_on_insert(app: Any) -> None:
    now = utcnow()
    with session_of(app) as s, s.begin():
        s.add_all([UsedToken(purpose=sso_tokens.PURPOSE, nonce="old", used_at=now - timedelta(days=2)),
                   UsedToken(purpose="other", nonce="old2", used_at=now - timedelta(days=1, minutes=1)),
                   UsedToken(purpose=sso_tokens.PURPOSE, nonce="recent", used_at=now - timedelta(hours=23))])
    _consume(app, sso_tokens.issue(SECRET, 7, "clientarea:home"))
    with session_of(app) as s:
        nonces = set(s.scalars(select(UsedToken.nonce)))
    assert "old" not in nonces and "old2" not in nonces and "recent" in nonces and len(nonces) == 2


def test_a_refused_use_prunes_nothing(app: Any) -> None:
    token = sso_tokens.issue(SECRET, 7, "clientarea:home")
    _consume(app, token)
    with session_of(app) as s, s.begin():
        s.add(UsedToken(purpose="other", nonce="old", used_at=utcnow() - timedelta(days=3)))
    _error(app, token)
    with session_of(app) as s:
        assert s.get(UsedToken, ("other", "old")) is not None


def _race(app: Any, token: str) -> list[Any]:
    """Two sessions consume ``token`` at the same moment and commit; returns both outcomes."""
    barrier = threading.Barrier(2)
    results: list[Any] = []
    lock = threading.Lock()

    def use() -> None:
        try:
            barrier.wait(timeout=10)
            with session_of(app) as s, s.begin():
                outcome: Any = sso_tokens.consume(s, SECRET, token)
        except AuthFailed as exc:
            outcome = exc.message
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            outcome = exc
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=use) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_concurrent_double_use_has_one_winner(app: Any) -> None:
    for _ in range(5):
        token = sso_tokens.issue(SECRET, 7, "clientarea:home")
        results = _race(app, token)
        grants = [r for r in results if isinstance(r, sso_tokens.SsoGrant)]
        assert len(grants) == 1 and [r for r in results if r not in grants] == ["SSO token already used"], results
    with session_of(app) as s:
        assert len(list(s.scalars(select(UsedToken)))) == 5


@pytest.mark.parametrize("first_commits", [True, False])
def test_a_second_use_waits_for_the_first(app: Any, first_commits: bool) -> None:
    """While the first use is not committed the second waits; it loses if the first commits."""
    token = sso_tokens.issue(SECRET, 7, "clientarea:home")
    outcome: list[Any] = []

    def second() -> None:
        try:
            outcome.append(_consume(app, token))
        except AuthFailed as exc:
            outcome.append(exc.message)

    with session_of(app) as first:
        first.begin()
        sso_tokens.consume(first, SECRET, token)
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(timeout=0.5)
        assert thread.is_alive() and outcome == []  # blocked on the first one's row
        if first_commits:
            first.commit()
        else:
            first.rollback()
    thread.join(timeout=60)
    expected = "SSO token already used" if first_commits else sso_tokens.SsoGrant(7, "clientarea:home", None)
    assert outcome == [expected]


# --- migration 0004 ------------------------------------------------------------------------


def _tables(engine: Any) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_migration_0004_creates_used_tokens(fresh_url: str) -> None:
    engine = db.make_engine(fresh_url)
    try:
        db.upgrade(engine, "0003")
        assert "used_tokens" not in _tables(engine)
        db.upgrade(engine, "0004")  # later revisions may follow
        assert db.current_revision(engine) == "0004"
        insp = inspect(engine)
        assert "used_tokens" in insp.get_table_names()
        assert insp.get_pk_constraint("used_tokens")["constrained_columns"] == ["purpose", "nonce"]
        assert [(i["name"], i["column_names"]) for i in insp.get_indexes("used_tokens")] == \
            [("ix_used_tokens_used_at", ["used_at"])]
        with session_of_engine(engine) as s, s.begin():  # the service works on the new table at once
            sso_tokens.consume(s, SECRET, sso_tokens.issue(SECRET, 1, "clientarea:home"))
        cfg = db.alembic_config(engine)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0003")
        assert "used_tokens" not in _tables(engine) and db.current_revision(engine) == "0003"
        db.upgrade(engine)
        assert "used_tokens" in _tables(engine)
    finally:
        engine.dispose()


def session_of_engine(engine: Any) -> Any:
    return make_session_factory(engine)()
