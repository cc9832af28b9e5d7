"""``solus-contracts``: run the live verifiers and (re)generate the OpenAPI documents."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from contracts.openapi import OPENAPI_DIR, check_specs, write_specs
from contracts.report import Report
from contracts.solusvm_usage import parse_period
from contracts.verify_billing import DEFAULT_UNKNOWN_USERID, verify_billing
from contracts.verify_solusvm import verify_solusvm


def _emit(report: Report, as_json: bool) -> None:
    click.echo(report.to_json() if as_json else report.to_text())
    sys.exit(0 if report.ok else 1)


@click.group()
@click.version_option(package_name="solusvm-billing-bridge", prog_name="solus-contracts")
def main() -> None:
    """Contract tools for SolusVM 2 billing: verifiers and OpenAPI documents."""


@main.command("verify-billing")
@click.argument("url")
@click.option("--token", default="", help="Authorization token configured in SolusVM (empty: none).")
@click.option("--userid", type=int, required=True, help="A user id the billing system knows.")
@click.option("--unknown-userid", type=int, default=None, help="A user id it must refuse (default 987654321).")
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Seconds per request.")
@click.option("--slow-ms", type=float, default=1000.0, show_default=True,
              help="Warn when the pricing answer takes longer than this.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify_billing_cmd(url: str, token: str, userid: int, unknown_userid: int | None, timeout: float,
                       slow_ms: float, as_json: bool) -> None:
    """Check a GetTokenPricing endpoint at URL; exit 0 only when every required check passes."""
    report = verify_billing(url, token=token or None, userid=userid,
                            unknown_userid=unknown_userid or DEFAULT_UNKNOWN_USERID, timeout=timeout,
                            slow_ms=slow_ms)
    _emit(report, as_json)


@main.command("openapi")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Directory to write solusvm2.json, bridge.json and mock-control.json into "
                   "(default: contracts/openapi).")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when the files differ from the code.")
def openapi_cmd(out_dir: str | None, check: bool) -> None:
    """Generate the OpenAPI documents from the marshmallow schemas."""
    target = Path(out_dir) if out_dir else OPENAPI_DIR
    if check:
        stale = check_specs(target)
        if stale:
            click.echo(f"out of date in {target}: {', '.join(stale)} (run: solus-contracts openapi)", err=True)
            sys.exit(1)
        click.echo(f"up to date: {target}")
        return
    try:
        written = write_specs(target)
    except OSError as exc:
        raise click.ClickException(f"cannot write into {target}: {exc.strerror or exc}") from None
    for path in written:
        click.echo(f"wrote {path}")


@main.command("verify-solusvm")
@click.argument("url")
@click.option("--api-token", required=True, envvar="SOLUSVM_API_TOKEN", help="An admin API token (Bearer).")
@click.option("--allow-writes", is_flag=True, help="Also create, change and delete a throwaway user.")
@click.option("--namespace", default=None, help="X-Mock-Namespace to use against the mock.")
@click.option("--usage-period", default=None, metavar="YYYY-MM", help="Month whose usage is checked (default: now).")
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Seconds per request.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify_solusvm_cmd(url: str, api_token: str, allow_writes: bool, namespace: str | None,
                       usage_period: str | None, timeout: float, as_json: bool) -> None:
    """Check the SolusVM 2 API at URL (the mock or a real one); exit 0 only when every check passes."""
    headers = {"X-Mock-Namespace": namespace} if namespace else None
    if usage_period:
        try:
            parse_period(usage_period)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--usage-period") from None
    report = verify_solusvm(url, api_token=api_token, allow_writes=allow_writes, timeout=timeout, headers=headers,
                            usage_period=usage_period)
    _emit(report, as_json)
