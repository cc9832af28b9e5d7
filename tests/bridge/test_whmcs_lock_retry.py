"""SQLite "database is locked" during a WHMCS action: the action is retried from the start
(it is one transaction), and after the retries the caller gets a WHMCS error, never a 500."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from bridge.models import Client, CreditLog
from bridge.services import clients, unit_of_work
from tests.bridge.conftest import ok, session_of


def _locked() -> OperationalError:
    return OperationalError("UPDATE clients ...", {}, Exception("database is locked"))


@pytest.fixture
def flaky_credit(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """add_credit writes, then fails with a lock conflict ``fail`` times before it succeeds."""
    real = clients.add_credit
    state = {"fail": 2, "calls": 0}

    def add_credit(*args: Any, **kwargs: Any) -> Any:
        state["calls"] += 1
        result = real(*args, **kwargs)
        if state["fail"] > 0:
            state["fail"] -= 1
            raise _locked()
        return result

    monkeypatch.setattr(clients, "add_credit", add_credit)
    monkeypatch.setattr(unit_of_work.time, "sleep", lambda s: None)
    return state


def test_a_lock_conflict_is_retried_and_the_change_lands_once(app: Any, api: Any, make_client: Any,
                                                              flaky_credit: dict[str, int]) -> None:
    cid = make_client()
    body = ok(api("AddCredit", clientid=cid, description="top-up", amount="5.00"))
    assert Decimal(str(body["newbalance"])) == Decimal("5.00")
    assert flaky_credit["calls"] == 3
    with session_of(app) as s:
        assert s.get(Client, cid).credit == Decimal("5.00")
        assert s.query(CreditLog).filter_by(client_id=cid).count() == 1


def test_a_database_that_stays_locked_is_a_503_whmcs_error(app: Any, api: Any, make_client: Any,
                                                           flaky_credit: dict[str, int]) -> None:
    cid = make_client()
    flaky_credit["fail"] = 100
    resp = api("AddCredit", clientid=cid, description="top-up", amount="5.00")
    assert resp.status_code == 503
    assert resp.get_json() == {"result": "error", "message": "The billing database is busy, please try again"}
    assert flaky_credit["calls"] == unit_of_work.LOCK_RETRIES
    with session_of(app) as s:
        assert s.get(Client, cid).credit == Decimal("0.00")
        assert s.query(CreditLog).filter_by(client_id=cid).count() == 0


def test_other_database_errors_are_not_retried(app: Any, api: Any, make_client: Any,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    cid = make_client()
    calls = []

    def broken(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        raise OperationalError("SELECT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(clients, "add_credit", broken)
    resp = api("AddCredit", clientid=cid, description="top-up", amount="5.00")
    assert resp.status_code == 500 and resp.get_json()["result"] == "error"
    assert len(calls) == 1
