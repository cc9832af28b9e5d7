"""The unit of work: one transaction with the one lock-conflict retry policy, then the SolusVM
changes of the clients it touched (and only with a SolusVM client to send them)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from bridge.flask_glue import settings_of
from bridge.models import Client, Outbox
from bridge.services import clients, hooks, unit_of_work
from bridge.services.unit_of_work import UnitOfWork


def _locked() -> OperationalError:
    return OperationalError("UPDATE clients ...", {}, Exception("database is locked"))


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    pauses: list[float] = []
    monkeypatch.setattr(unit_of_work.time, "sleep", pauses.append)
    return pauses


def test_a_lock_conflict_runs_the_whole_transaction_again(factory: Any, make_client: Any,
                                                          no_sleep: list[float]) -> None:
    cid = make_client()
    calls = []

    def work(session: Session) -> str:
        calls.append(1)
        client = session.get(Client, cid)
        client.companyname = f"attempt {len(calls)}"
        if len(calls) < 3:
            raise _locked()
        return client.companyname

    assert UnitOfWork(factory).run(work) == "attempt 3"
    assert len(no_sleep) == 2 and all(0 < p <= unit_of_work.MAX_LOCK_BACKOFF * 1.5 for p in no_sleep)
    with factory() as s:
        assert s.get(Client, cid).companyname == "attempt 3"


def test_a_lasting_lock_conflict_gives_up_after_the_retries(factory: Any, no_sleep: list[float]) -> None:
    calls = []

    def work(_session: Session) -> None:
        calls.append(1)
        raise _locked()

    with pytest.raises(OperationalError):
        UnitOfWork(factory).run(work)
    assert len(calls) == unit_of_work.LOCK_RETRIES


def test_other_errors_are_not_retried(factory: Any, no_sleep: list[float]) -> None:
    calls = []

    def work(_session: Session) -> None:
        calls.append(1)
        raise OperationalError("SELECT", {}, Exception("no such table: nope"))

    with pytest.raises(OperationalError):
        UnitOfWork(factory).run(work)
    assert calls == [1] and no_sleep == []


def test_touched_clients_reach_solusvm_after_commit_only_with_a_client(app: Any, factory: Any, api: Any,
                                                                       make_client: Any, mock: Any) -> None:
    cid = make_client()
    assert api("SolusVMEnrollClient", clientid=cid)["enrolled"] is True  # the user is created after commit
    with factory() as s:
        uid = s.get(Client, cid).solusvm_user_id

    def close(session: Session) -> None:
        clients.close(session, clients.get(session, cid), actor="test")
        assert hooks.current_work(session) is not None  # the hooks note what the work touched

    UnitOfWork(factory).run(close)  # no SolusVM client: the change waits in the outbox
    with factory() as s:
        assert [r.status for r in s.query(Outbox).filter_by(client_id=cid, kind="status")] == ["pending"]
    unit = UnitOfWork.for_settings(factory, settings_of(app))
    unit.run(lambda session: hooks.apply_after_commit(session, cid))
    with factory() as s:
        assert [r.status for r in s.query(Outbox).filter_by(client_id=cid, kind="status")] == ["done"]
    assert mock.backend.users[uid]["status"] == "suspended"
