"""``solus-contracts``: run the live verifiers and (re)generate the OpenAPI documents."""

from __future__ import annotations

import sys

import click

from contracts.report import Report


def _emit(report: Report, as_json: bool) -> None:
    click.echo(report.to_json() if as_json else report.to_text())
    sys.exit(0 if report.ok else 1)


@click.group()
def main() -> None:
    """Contract tools for SolusVM 2 billing: verifiers and OpenAPI documents."""


@main.command("verify-billing")
@click.argument("url")
@click.option("--token", default="", help="Authorization token configured in SolusVM (empty: none).")
@click.option("--userid", type=int, required=True, help="A user id the billing system knows.")
@click.option("--unknown-userid", type=int, default=None, help="A user id it must refuse (default 987654321).")
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Seconds per request.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify_billing_cmd(url: str, token: str, userid: int, unknown_userid: int | None, timeout: float,
                       as_json: bool) -> None:
    """Check a GetTokenPricing endpoint at URL; exit 0 only when every required check passes."""
    from contracts.verify_billing import DEFAULT_UNKNOWN_USERID, verify_billing

    report = verify_billing(url, token=token or None, userid=userid,
                            unknown_userid=unknown_userid or DEFAULT_UNKNOWN_USERID, timeout=timeout)
    _emit(report, as_json)
