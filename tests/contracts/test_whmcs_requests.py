"""The WHMCS request schemas: one definition, used by the bridge, covering every action."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

import pytest

from contracts import whmcs_requests as req


def test_contracts_never_import_the_bridge():
    for path in Path(req.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert name.split(".")[0] != "bridge", f"{path.name} imports {name}"


def test_every_bridge_action_has_a_request_schema():
    from bridge.api.whmcs import ACTIONS, load_actions

    load_actions()
    served = {spec.name for spec in ACTIONS.values()} - {"GetTokenPricing"}
    assert served == set(req.ACTIONS), "add the action's parameters to contracts.whmcs_requests.ACTIONS"


def test_bridge_validates_with_the_contract_schemas():
    from bridge.api.whmcs import clients, invoices, solusvm_users, system

    used = {
        clients.AddClientSchema: req.AddClientSchema, clients.ClientKeySchema: req.ClientKeySchema,
        clients.UpdateClientSchema: req.UpdateClientSchema, clients.ClientIdSchema: req.ClientIdSchema,
        clients.GetClientsSchema: req.GetClientsSchema, clients.AddCreditSchema: req.AddCreditSchema,
        invoices.CreateInvoiceSchema: req.CreateInvoiceSchema, invoices.InvoiceIdSchema: req.InvoiceIdSchema,
        invoices.GetInvoicesSchema: req.GetInvoicesSchema, invoices.UpdateInvoiceSchema: req.UpdateInvoiceSchema,
        invoices.AddPaymentSchema: req.AddPaymentSchema, system.SsoSchema: req.SsoSchema,
        solusvm_users.ClientSchema: req.SolusVMClientSchema, solusvm_users.SyncStatusSchema: req.SolusVMSyncStatusSchema,
    }
    for bridge_schema, contract in used.items():
        assert issubclass(bridge_schema, contract)
        # Same fields in the same order: the first bad field (and so the message) is the same.
        assert list(bridge_schema._declared_fields) == list(contract._declared_fields)
        assert bridge_schema.WHMCS_ERRORS is contract.WHMCS_ERRORS


def test_value_lists_match_the_bridge():
    from bridge.api.whmcs import system
    from bridge.services import clients, invoices

    assert req.CLIENT_STATUSES == clients.STATUSES
    assert set(req.CLIENT_ORDER_FIELDS) == set(clients.ORDER_FIELDS)
    assert req.INVOICE_STATUSES == invoices.STATUSES
    assert set(req.INVOICE_ORDER_FIELDS) == set(invoices.ORDER)
    assert system.READABLE == req.READABLE_SETTINGS
    assert system.DESTINATIONS == req.SSO_DESTINATIONS


def test_first_bad_field_gives_its_whmcs_text():
    with pytest.raises(req.InvalidParams) as exc:
        req.AddClientSchema.load_params({"firstname": "A", "country": "USA", "email": "x"})
    assert exc.value.message == "You did not enter your last name"
    with pytest.raises(req.InvalidParams) as exc:
        req.GetClientsSchema.load_params({"limitnum": ["1", "2"]})
    assert exc.value.message == "Invalid limitnum"
    assert req.GetClientsSchema.load_params({"ignored": "x"})["limitnum"] == 25


def test_handled_fields_are_documented_but_not_loaded():
    assert req.CreateInvoiceSchema.handled_fields() == ("itemdescription1", "itemamount1", "itemtaxed1")
    data = req.CreateInvoiceSchema.load_params({"userid": "1", "itemamount1": "not a number",
                                                "itemamount": {"x": "y"}})
    assert "itemamount1" not in data and "itemamount" not in data  # lines: load_lines, after the lookups
    # Required for the document only: the handler gives its own message when it is missing.
    assert req.GetConfigurationValueSchema.load_params({}) == {}


def test_create_invoice_lines_numbered_and_as_php_arrays():
    lines = req.CreateInvoiceSchema.load_lines({
        "userid": "1", "itemdescription2": "  second ", "itemamount2": "2.50", "itemtaxed2": "ON",
        "itemdescription": ["first"], "itemamount": ["1"], "itemtaxed": {"0": "No"},
        "itemdescription3": "third"})
    assert lines == [{"description": "first", "amount": Decimal("1"), "taxed": False},
                     {"description": "second", "amount": Decimal("2.50"), "taxed": True},
                     {"description": "third", "amount": Decimal("0"), "taxed": False}]
    assert req.CreateInvoiceSchema.load_lines({"itemdescription": "a plain value is not a line"}) == []


@pytest.mark.parametrize(("params", "message"), [
    ({"itemamount2": "1"}, "Missing Variables: itemdescription2 is required"),
    ({"itemdescription1": "   "}, "Missing Variables: itemdescription1 is required"),
    ({"itemdescription1": "x", "itemamount1": "1e3"}, "Invalid amount for item 1"),
    ({"itemdescription1": "x", "itemamount1": "100000000000000"}, "Invalid amount for item 1"),
    ({"itemdescription1": "x", "itemtaxed1": "maybe"}, "Invalid value for itemtaxed"),
    ({"itemdescription": {"-1": "x"}}, "Malformed array parameter itemdescription"),
    ({"itemamount": {"\u0661": "1"}}, "Malformed array parameter itemamount"),
])
def test_create_invoice_line_errors_name_the_line(params, message):
    with pytest.raises(req.InvalidParams) as exc:
        req.CreateInvoiceSchema.load_lines(params)
    assert exc.value.message == message


def test_update_invoice_line_edits_new_lines_and_deletions():
    schema = req.UpdateInvoiceSchema
    assert schema.load_edits({"itemdescription": {"7": "x"}, "itemamount": {"7": "3"}, "itemtaxed": {"7": "yes"}}) \
        == {7: {"description": "x", "amount": Decimal("3"), "taxed": True}}
    assert schema.load_new_lines({"newitemdescription": ["n"], "newitemamount": ["-1.5"]}) == \
        [{"description": "n", "amount": Decimal("-1.5"), "taxed": False}]
    assert schema.load_deletions({"deletelineids": "4"}) == [4]
    assert schema.load_deletions({"deletelineids": {"a": "5", "b": "6"}}) == [5, 6]
    assert schema.load_deletions({}) == []
    for params, message in [
        ({"itemdescription": {"7": "x"}},
         "Missing Variables: itemdescription, itemamount and itemtaxed are required for each item being changed"),
        ({"itemdescription": {"x": "a"}, "itemamount": {"x": "1"}, "itemtaxed": {"x": "1"}},
         "Malformed array parameter itemdescription"),
        ({"itemamount": "5"}, "Malformed array parameter itemamount"),
        ({"itemdescription": {"7": "x"}, "itemamount": {"7": "z"}, "itemtaxed": {"7": "1"}},
         "Invalid amount for item 7"),
    ]:
        with pytest.raises(req.InvalidParams) as exc:
            schema.load_edits(params)
        assert exc.value.message == message
    with pytest.raises(req.InvalidParams, match="newitemamount is required"):
        schema.load_new_lines({"newitemdescription": ["n"]})
    with pytest.raises(req.InvalidParams) as exc:
        schema.load_new_lines({"newitemdescription": {"k": "n"}, "newitemamount": {"k": "z"}})
    assert exc.value.message == "Invalid amount for new item k"
    with pytest.raises(req.InvalidParams) as exc:
        schema.load_deletions({"deletelineids": ["\u0661"]})
    assert exc.value.message == "Malformed array parameter deletelineids"


def test_one_truthy_parser_for_whmcs_booleans():
    # Invoice lines read itemtaxed with the same WBool field as every other WHMCS boolean.
    assert isinstance(req.InvoiceLineSchema._declared_fields["taxed"], type(req.WBool()))
    assert req.InvoiceLineSchema._declared_fields["taxed"].truthy == req.TRUTHY
    for text in ("1", "on", "TRUE", " Yes "):
        assert req.InvoiceLineSchema.load_params({"taxed": text})["taxed"] is True
    for text in ("0", "", "off", "False", "no"):
        assert req.InvoiceLineSchema.load_params({"taxed": text})["taxed"] is False


def test_times_load_after_the_lookups_with_their_whmcs_texts():
    assert "datepaid" not in req.UpdateInvoiceSchema.load_params({"invoiceid": "1", "datepaid": "bad"})
    assert str(req.UpdateInvoiceSchema.load_later({"datepaid": "2026-01-02"}, "datepaid")["datepaid"]) == \
        "2026-01-02 00:00:00+00:00"
    assert req.AddPaymentSchema.load_later({"date": ""}, "date")["date"] is None
    assert req.AddTransactionSchema.load_later({"date": "31/12/2025"}, "date")["date"].day == 31
    for schema, name, bad, message in [(req.UpdateInvoiceSchema, "datepaid", "2026-13-01", "Invalid datepaid format"),
                                       (req.AddPaymentSchema, "date", " ", "Invalid date format"),
                                       (req.AddTransactionSchema, "date", "12/31/2025", "Invalid date format")]:
        with pytest.raises(req.InvalidParams) as exc:
            schema.load_later({name: bad}, name)
        assert exc.value.message == message
