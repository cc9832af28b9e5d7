"""GetClientsDetails ``stats``: the sums (bridge.services.client_stats) and how the answer writes them."""

from __future__ import annotations

import ast
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from bridge.models import Client
from bridge.services import client_stats
from tests.bridge.conftest import ok, session_of


def test_sums_by_status_overdue_revenue_and_products(app: Any, api: Any, make_client: Any) -> None:
    cid = make_client()
    unpaid = ok(api("CreateInvoice", userid=cid, itemdescription1="a", itemamount1="10.00", date="2020-01-01",
                    duedate="2020-01-08"))["invoiceid"]
    ok(api("AddInvoicePayment", invoiceid=unpaid, transid="T1", gateway="bank", amount="4.00", fees="0.50"))
    ok(api("CreateInvoice", userid=cid, itemdescription1="b", itemamount1="5.00", draft="1"))
    paid = ok(api("CreateInvoice", userid=cid, itemdescription1="c", itemamount1="2.00"))["invoiceid"]
    ok(api("AddInvoicePayment", invoiceid=paid, transid="T2", gateway="bank"))
    with session_of(app) as s:
        client = s.get(Client, cid)
        stats = client_stats.client_stats(s, client, date(2026, 1, 1))
        assert stats.currency.code == "USD"
    assert stats.by_status["Unpaid"] == client_stats.StatusTotals(1, Decimal("10.00"), Decimal("6.00"))
    assert stats.by_status["Draft"] == client_stats.StatusTotals(1, Decimal("5.00"), Decimal("5.00"))
    assert stats.by_status["Paid"] == client_stats.StatusTotals(1, Decimal("2.00"), Decimal(0))
    assert stats.by_status["Refunded"] == client_stats.StatusTotals()  # every status, zero when none
    assert (stats.overdue_count, stats.overdue_balance) == (1, Decimal("6.00"))
    assert (stats.gross, stats.fees, stats.expenses, stats.income) == \
        (Decimal("6.00"), Decimal("0.50"), Decimal("0.50"), Decimal("5.50"))
    assert (stats.products, stats.active_products, stats.in_credit) == (0, 0, False)

    answer = ok(api("GetClientsDetails", clientid=cid, stats="1"))["stats"]
    assert (answer["numunpaidinvoices"], answer["unpaidinvoicesamount"]) == (1, "$6.00 USD")
    assert (answer["numDraftInvoices"], answer["draftInvoicesBalance"]) == (1, "$5.00 USD")
    assert (answer["numpaidinvoices"], answer["paidinvoicesamount"]) == (1, "$2.00 USD")
    assert (answer["expenses"], answer["income"]) == ("$0.50 USD", "$5.50 USD")
    assert "stats" not in ok(api("GetClientsDetails", clientid=cid))


def test_the_stats_service_is_flask_free_and_the_adapter_has_no_sql_aggregate() -> None:
    root = Path(__file__).parents[2] / "bridge"
    imports = [n for n in ast.walk(ast.parse((root / "services" / "client_stats.py").read_text()))
               if isinstance(n, ast.Import | ast.ImportFrom)]
    modules = [a.name for n in imports if isinstance(n, ast.Import) for a in n.names] + \
        [n.module or "" for n in imports if isinstance(n, ast.ImportFrom)]
    assert not [m for m in modules if m.split(".")[0] == "flask" or m.startswith("bridge.web")]
    for path in (root / "api" / "whmcs").glob("*.py"):
        assert "Transaction.amount_in" not in path.read_text(), f"{path.name} sums payments itself"
