"""The SolusVM holds table: round trip through provisioning, and migration 0003 moving the legacy rows."""

from __future__ import annotations

import json
from typing import Any

import pytest
from alembic import command
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from bridge import db
from bridge.models import Client, Currency, Setting, SolusVMHold
from bridge.services import provisioning
from tests.bridge.conftest import db_url, pg_database, pg_reset_engine  # noqa: F401 - fixtures
from tests.users.conftest import ADMIN, BASE, build_app, session_of


@pytest.fixture
def app(db_url: str, tmp_path: Any, mock: Any) -> Any:  # noqa: F811 - these run on SQLite and PostgreSQL
    application = build_app(db_url, tmp_path, SOLUSVM_URL=BASE, SOLUSVM_API_TOKEN=ADMIN, SOLUSVM_RETRIES=0,
                            OUTBOX_MAX_ATTEMPTS=3)
    yield application
    application.extensions["bridge_db"]["engine"].dispose()


ALL = {"admin": "locked", "admin_reason": "abuse report", "overdue": "suspended",
       "overdue_reason": "invoice #7 is 20 days overdue", "overdue_waived": "locked", "queued_status": "locked"}


def test_holds_round_trip(app, make_client):
    cid = make_client()
    with session_of(app) as s, s.begin():
        assert provisioning.holds(s, cid) == {}
        provisioning.save_holds(s, cid, dict(ALL))
    with session_of(app) as s, s.begin():
        assert provisioning.holds(s, cid) == ALL
        row = s.get(SolusVMHold, cid)
        assert row.updated_at is not None and row.admin == "locked"
        # a key left out is cleared; the others stay
        provisioning.save_holds(s, cid, {"overdue": "locked", "overdue_reason": "late"})
    with session_of(app) as s, s.begin():
        assert provisioning.holds(s, cid) == {"overdue": "locked", "overdue_reason": "late"}
        provisioning.save_holds(s, cid, {})
    with session_of(app) as s, s.begin():
        assert provisioning.holds(s, cid) == {}
        with pytest.raises(ValueError, match="unknown SolusVM hold field"):
            provisioning.save_holds(s, cid, {"admin": "locked", "colour": "red"})
    with session_of(app) as s, s.begin():
        provisioning.save_holds(s, cid, {"admin": "suspended"})
        provisioning.drop_holds(s, cid)
        provisioning.drop_holds(s, cid)  # nothing left: harmless
    with session_of(app) as s:
        assert provisioning.holds(s, cid) == {} and s.get(SolusVMHold, cid) is None


def test_holds_drive_the_desired_status(app, api, make_client):
    cid = make_client()
    assert api("SolusVMEnrollClient", clientid=cid)["result"] == "success"
    body = api("SolusVMSuspendClient", clientid=cid, reason="chargeback")
    assert body["solusvm_status"] == "suspended" and body["reason"] == "chargeback"
    with session_of(app) as s:
        assert provisioning.holds(s, cid) == {"admin": "suspended", "admin_reason": "chargeback",
                                              "queued_status": "suspended"}
    body = api("SolusVMUnsuspendClient", clientid=cid)
    assert body["solusvm_status"] == "active"
    with session_of(app) as s:
        assert provisioning.holds(s, cid) == {"queued_status": "active"}


def test_holds_go_with_the_client(app, make_client):
    """The foreign key cascades: a client deleted without ``drop_holds`` leaves no row behind."""
    cid = make_client()
    with session_of(app) as s, s.begin():
        provisioning.save_holds(s, cid, {"admin": "locked"})
    with session_of(app) as s, s.begin():
        s.execute(Client.__table__.delete().where(Client.id == cid))
    with session_of(app) as s:
        assert s.get(SolusVMHold, cid) is None


# --- migration 0003 ------------------------------------------------------------------------


def _downgrade(engine: Any, revision: str) -> None:
    cfg = db.alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def _settings(engine: Any) -> dict[str, str]:
    with Session(engine) as s:
        return {row.key: row.value for row in s.scalars(select(Setting))}


def test_migration_0003_moves_legacy_settings_rows(fresh_url):
    engine = db.make_engine(fresh_url)
    try:
        db.upgrade(engine, "0002")
        with Session(engine) as s, s.begin():
            usd = Currency(code="USD")
            s.add(usd)
            s.flush()
            # Core inserts name only the columns revision 0002 has (the ORM model has later ones).
            ids = tuple(s.execute(insert(Client.__table__).values(
                firstname=n, lastname="Lee", email=f"{n}@example.com", email_normalized=f"{n}@example.com",
                currency_id=usd.id).returning(Client.__table__.c.id)).scalar_one() for n in ("ann", "bob"))
            ann, bob = (type("Row", (), {"id": i})() for i in ids)
            s.add_all([
                Setting(key=f"solusvm:{ann.id}", value=json.dumps({**ALL, "stale_key": 1})),
                Setting(key=f"solusvm:{bob.id}", value=json.dumps({"queued_status": "active", "admin": None})),
                Setting(key="solusvm:999", value=json.dumps({"admin": "locked"})),  # client long gone
                Setting(key="solusvm:1000", value="not json"),                       # meant "no holds"
                Setting(key="solusvm:notes", value="kept"),                           # not a holds row
                Setting(key="TaxEnabled", value="on"),
            ])
        ann_id, bob_id = ids

        db.upgrade(engine)
        with Session(engine) as s:
            holds = {h.client_id: h for h in s.scalars(select(SolusVMHold))}
            assert sorted(holds) == [ann_id, bob_id]
            assert provisioning.holds(s, ann_id) == ALL
            assert provisioning.holds(s, bob_id) == {"queued_status": "active"}
            assert holds[ann_id].updated_at is not None
        assert _settings(engine) == {"solusvm:notes": "kept", "TaxEnabled": "on"}

        # and the new table is usable by the service right away
        with Session(engine) as s, s.begin():
            provisioning.save_holds(s, bob_id, {"admin": "locked", "admin_reason": "r"})

        _downgrade(engine, "0002")
        restored = _settings(engine)
        assert json.loads(restored.pop(f"solusvm:{ann_id}")) == ALL
        assert json.loads(restored.pop(f"solusvm:{bob_id}")) == {"admin": "locked", "admin_reason": "r"}
        assert restored == {"solusvm:notes": "kept", "TaxEnabled": "on"}
        with engine.connect() as conn:
            tables = set(conn.dialect.get_table_names(conn))
        assert "solusvm_holds" not in tables and db.current_revision(engine) == "0002"

        db.upgrade(engine)  # and up again: the same rows come back
        with Session(engine) as s:
            assert provisioning.holds(s, ann_id) == ALL
            assert provisioning.holds(s, bob_id) == {"admin": "locked", "admin_reason": "r"}
        assert _settings(engine) == {"solusvm:notes": "kept", "TaxEnabled": "on"}
    finally:
        engine.dispose()
