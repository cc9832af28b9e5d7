"""The bridge's money rules, in one Flask-free home: pure functions on values passed in.

One function per rule (docs/internals.md has the table "rule → module → function"):

- rounding: ``quantize_money`` (half-up to a currency's decimals; the rule is shared with
  the mock through ``contracts.solusvm_usage``, so both sides round alike);
- applicable tax rates: ``tax.applicable_rates``;
- tax per line: ``tax.line_tax``;
- invoice totals and what is still owed: ``totals.invoice_totals``, ``totals.balance_due``;
- tokens priced in money: ``prices.token_amount`` (plan prices: ``prices.plan_prices``);
- the money ceiling: ``limits.check_ceiling``;
- money as text: ``formatting.format_money`` (WHMCS currency formats 1-4, ``SEPARATORS``).

No Flask, no database session: callers read rows and settings and pass the values in.
"""

from __future__ import annotations

from bridge.billing.formatting import SEPARATORS, format_money, format_number, separators
from bridge.billing.limits import MONEY_CEILING, check_ceiling
from bridge.billing.prices import plan_prices, token_amount
from bridge.billing.tax import AppliedTax, LineMoney, RuleInfo, applicable_rates, line_tax
from bridge.billing.totals import InvoiceTotals, balance_due, invoice_totals
from contracts.solusvm_usage import quantize_money, tax_factor, user_token_unit_cost

__all__ = [
    "MONEY_CEILING", "SEPARATORS", "AppliedTax", "InvoiceTotals", "LineMoney", "RuleInfo", "applicable_rates",
    "balance_due", "check_ceiling", "format_money", "format_number", "invoice_totals", "line_tax",
    "plan_prices", "quantize_money", "separators", "tax_factor", "token_amount", "user_token_unit_cost",
]
