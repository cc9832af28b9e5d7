"""Batches: many clients per transaction, and what happens when one client or the batch fails.

Every test makes batches of 2 (``BATCH_CLIENTS``), so five clients give two full batches and a
remainder. Whatever fails, each other client ends with exactly one invoice, and a rerun adds none.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from bridge.models import AuditLog, Client, Invoice
from bridge.services import invoices, invoicing
from tests.invoicing.conftest import PLAN, plan, server, user

OCT = "2026-10-01T00:00:00Z"
DEL_700 = "2026-10-30T04:00:00Z"  # 700 h after OCT


@pytest.fixture(autouse=True)
def small_batches(monkeypatch):
    monkeypatch.setattr(invoicing, "BATCH_CLIENTS", 2)


def five_clients(world) -> list[int]:
    ids = [world.client(f"b{i}@example.com") for i in range(5)]
    world.seed([user(i + 1, cid) for i, cid in enumerate(ids)],
               [server(i + 1, i + 1, OCT, DEL_700) for i in range(5)])
    return ids


def per_client(world) -> dict[int, int]:
    with world.factory() as s:
        return dict(s.execute(select(Invoice.client_id, func.count()).group_by(Invoice.client_id)).all())


def test_batched_invoices_equal_one_transaction_per_client(any_world):
    ids = five_clients(any_world)
    summary = any_world.run()
    assert summary.ok and summary.invoices == 5, summary.render()
    invs = any_world.invoices()
    assert [i.client_id for i in invs] == ids
    assert all((i.total, i.status, i.period, len(i.items)) == (D("4.90"), "Unpaid", "2026-10", 1) for i in invs)
    assert all(i.items[0].hours == 700 and i.items[0].kind == "server" and i.items[0].server_id == i.client_id - ids[0] + 1 for i in invs)
    with any_world.factory() as s:
        audited = list(s.scalars(select(AuditLog.entity_id).where(AuditLog.action == "invoice.create")))
    assert sorted(audited) == sorted(str(i.id) for i in invs)
    assert sorted(summary.invoice_ids) == sorted(i.id for i in invs)


def test_one_failing_client_costs_the_others_nothing(any_world):
    ids = five_clients(any_world)
    with any_world.factory() as s, s.begin():
        s.get(Client, ids[2]).status = "Closed"  # in the second batch, beside ids[3]
    summary = any_world.run()
    assert not summary.ok and summary.invoices == 4 and summary.failure_count == 1
    assert f"client {ids[2]} is Closed" in summary.failures[0]
    assert per_client(any_world) == {cid: 1 for cid in ids if cid != ids[2]}
    rerun = any_world.run()
    assert (rerun.invoices, rerun.already_invoiced, rerun.failure_count) == (0, 4, 1)
    assert per_client(any_world) == {cid: 1 for cid in ids if cid != ids[2]}


def test_a_client_already_invoiced_in_a_batch_is_skipped(any_world):
    ids = five_clients(any_world)
    with any_world.factory() as s, s.begin():
        invoices.create_invoice(s, ids[1], [{"description": "by hand", "amount": D("1.00")}],
                                date=invoicing.invoice_dates(2026, 10, 0)[0], duedate=invoicing.invoice_dates(2026, 10, 0)[1],
                                period="2026-10", actor="test")
    summary = any_world.run()
    assert summary.ok and (summary.invoices, summary.already_invoiced) == (4, 1)
    assert per_client(any_world) == {cid: 1 for cid in ids}


def test_a_zero_invoice_in_a_batch_is_settled_and_the_others_are_not(any_world):
    ids = five_clients(any_world)
    zero = any_world.client("zero@example.com")
    free = plan(2, 0, 0, name="free")
    any_world.seed([user(i + 1, cid) for i, cid in enumerate([*ids, zero])],
                   [*(server(i + 1, i + 1, OCT, DEL_700) for i in range(5)), server(6, 6, OCT, DEL_700, plan_id=2)],
                   plans=[PLAN, free])
    summary = any_world.run()
    assert summary.ok and summary.invoices == 6, summary.render()
    status = {i.client_id: (i.status, i.total) for i in any_world.invoices()}
    assert status[zero] == ("Paid", D("0.00"))
    assert all(status[cid] == ("Unpaid", D("4.90")) for cid in ids)


def test_a_concurrent_invoice_met_by_the_bulk_insert_falls_back_to_one_at_a_time(any_world, monkeypatch):
    ids = five_clients(any_world)
    real = invoices.insert_prepared

    def twice(session, prepared, *, actor):
        # The second insert of the same invoices meets the unique key, as a concurrent run's would.
        real(session, prepared, actor=actor)
        return real(session, prepared, actor=actor)

    monkeypatch.setattr(invoices, "insert_prepared", twice)
    summary = any_world.run()
    assert summary.ok and summary.invoices == 5, summary.render()
    assert per_client(any_world) == {cid: 1 for cid in ids}
    with any_world.factory() as s:
        assert s.scalar(select(func.count()).where(AuditLog.action == "invoice.create")) == 5


def test_a_failed_batch_transaction_is_retried_one_client_at_a_time(any_world, monkeypatch):
    ids = five_clients(any_world)

    def broken(*_args, **_kwargs):
        raise OperationalError("INSERT ...", {}, Exception("disk I/O error"))

    monkeypatch.setattr(invoicing, "_batch_work", broken)
    summary = any_world.run()
    assert summary.ok and summary.invoices == 5, summary.render()
    assert per_client(any_world) == {cid: 1 for cid in ids}


def test_an_unknown_client_in_a_batch_is_reported_alone(any_world):
    ids = five_clients(any_world)
    ghost = max(ids) + 100
    any_world.seed([user(i + 1, cid) for i, cid in enumerate([*ids, ghost])],
                   [*(server(i + 1, i + 1, OCT, DEL_700) for i in range(5)), server(6, 6, OCT, DEL_700)])
    summary = any_world.run()
    assert summary.invoices == 5 and summary.failure_count == 1
    assert summary.failures == [f"client {ghost}: no client {ghost} (billing_user_id of SolusVM user 6)"]
    assert per_client(any_world) == {cid: 1 for cid in ids}


# --- the fetch's producer thread ---------------------------------------------------------


def test_prefetched_yields_everything_in_order_then_the_error_where_it_happened():
    from bridge.services.usage import PREFETCH_CHUNK, prefetched

    def source():
        yield from range(PREFETCH_CHUNK * 3 + 7)
        raise ValueError("page 4 failed")

    got = []
    with pytest.raises(ValueError, match="page 4 failed"):
        for x in prefetched(source()):
            got.append(x)
    assert got == list(range(PREFETCH_CHUNK * 3 + 7))


def test_prefetched_stops_its_thread_when_the_caller_stops_early():
    import threading

    from bridge.services.usage import PREFETCH_CHUNK, PREFETCH_CHUNKS, prefetched

    read = []

    def endless():
        n = 0
        while True:
            read.append(n)
            yield n
            n += 1

    it = prefetched(endless())
    assert [next(it) for _ in range(5)] == [0, 1, 2, 3, 4]
    it.close()  # what a caller's exception or return does to the generator
    assert not any(t.name == "usage-prefetch" for t in threading.enumerate())  # joined: nothing reads on
    # It never ran further ahead than its queue, the chunk being read and the one being filled.
    assert len(read) <= (PREFETCH_CHUNKS + 2) * PREFETCH_CHUNK


TAXES = {
    "settings": {"TaxEnabled": True, "TaxType": "Exclusive", "TaxL2Compound": True},
    "groups": [{"name": "Resellers", "discount_percent": "10"}],
    "tax_rules": [{"level": 1, "name": "VAT", "country": "DE", "rate": "6"},
                  {"level": 2, "name": "Extra", "country": "DE", "rate": "2"},
                  {"level": 1, "name": "VAT", "country": "FR", "rate": "20"}],
}


def stored(world) -> list[tuple]:
    """Every invoice's and line's stored columns, without ids and timestamps."""
    from bridge.models import InvoiceItem

    skip = {"id", "invoice_id", "created_at", "updated_at"}
    inv_cols = [c.key for c in Invoice.__table__.columns if c.key not in skip]
    item_cols = [c.key for c in InvoiceItem.__table__.columns if c.key not in skip]
    return [(tuple(getattr(inv, c) for c in inv_cols),
             [tuple(getattr(it, c) for c in item_cols) for it in inv.items]) for inv in world.invoices()]


def test_bulk_rows_equal_what_create_invoice_writes(any_world, monkeypatch):
    from sqlalchemy import delete
    from sqlalchemy.exc import IntegrityError

    from bridge.models import InvoiceItem

    any_world.catalogue(TAXES)
    ids = [any_world.client("de@example.de", group="Resellers", country="DE"),
           any_world.client("fr@example.fr", country="FR"),
           any_world.client("ex@example.fr", country="FR", tax_exempt=True),
           any_world.client("us@example.com")]
    any_world.seed([user(i + 1, cid) for i, cid in enumerate(ids)],
                   [server(1, 1, OCT, DEL_700, ips=2), server(2, 1, "2026-10-01T14:00:00Z"),
                    server(3, 2, OCT, ips=1), server(4, 3, OCT, DEL_700), server(5, 4, "2026-10-10T10:00:00Z")])
    assert any_world.run().invoices == 4
    bulk = stored(any_world)
    with any_world.factory() as s, s.begin():
        s.execute(delete(InvoiceItem))
        s.execute(delete(AuditLog))
        s.execute(delete(Invoice))

    def refused(*_args, **_kwargs):
        raise IntegrityError("INSERT", {}, Exception("forced"))

    monkeypatch.setattr(invoices, "insert_prepared", refused)  # every client through create_invoice
    assert any_world.run().invoices == 4
    assert stored(any_world) == bulk
    assert len(bulk) == 4 and {len(lines) for _, lines in bulk} == {1, 2, 3}
