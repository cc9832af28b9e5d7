"""The WHMCS request schemas: one definition, used by the bridge, covering every action."""

from __future__ import annotations

import ast
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
    data = req.CreateInvoiceSchema.load_params({"userid": "1", "itemamount1": "not a number"})
    assert "itemamount1" not in data
    # Required for the document only: the handler gives its own message when it is missing.
    assert req.GetConfigurationValueSchema.load_params({}) == {}
