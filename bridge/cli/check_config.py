"""``solus-bridge check-config``: validate a configuration and test what it points at.

Checks, in order: value types and URLs, required combinations, the database (reachable,
migrated to the newest revision, a catalogue loaded), the SolusVM API (the token works:
``GET account``), SolusVM's billing integration (it calls *this* bridge's GetTokenPricing
URL with the same pricing token), SolusVM's user-area registration (should be off), and with
``--live`` the running bridge itself (GetTokenPricing accepts the token). Each finding is
printed as ``OK``, ``WARN`` or ``FAIL`` with what to do; the exit code is 0 only when
nothing failed. Secret values are never printed.
"""

from __future__ import annotations

import hmac
import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import click
import requests
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from bridge import db, settings
from bridge.models import Currency
from bridge.services.ratelimit import parse_limit, parse_limits
from bridge.services.solusvm_client import SolusVMError, connect
from bridge.settings import Settings

PRICING_PATH = "/modules/addons/solusio/api/"
WHMCS_PATH = "/includes/api.php"


@dataclass(frozen=True)
class Finding:
    """One line of the report."""

    level: str  # "ok" | "warn" | "fail"
    topic: str
    message: str


class Report:
    """Collects findings."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []

    def ok(self, topic: str, message: str) -> None:
        self.findings.append(Finding("ok", topic, message))

    def warn(self, topic: str, message: str) -> None:
        self.findings.append(Finding("warn", topic, message))

    def fail(self, topic: str, message: str) -> None:
        self.findings.append(Finding("fail", topic, message))

    @property
    def failed(self) -> bool:
        """True when any check failed."""
        return any(f.level == "fail" for f in self.findings)


def _same_url(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, (pa.hostname or "").lower(), pa.port or _default_port(pa.scheme), pa.path.rstrip("/")) == \
        (pb.scheme, (pb.hostname or "").lower(), pb.port or _default_port(pb.scheme), pb.path.rstrip("/"))


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def check_values(values: Mapping[str, Any], report: Report) -> None:
    """Types, URLs and required combinations (no network): ``bridge.settings.problems``, the
    validation the bridge applies at start, plus advice on secrets and mail."""
    found = settings.problems(values)
    for problem in found:
        report.fail(problem.key, problem.message)
    system_url = str(values.get("SYSTEM_URL") or "")
    if not any(p.key == "SYSTEM_URL" for p in found) and urlsplit(system_url).scheme == "http" \
            and urlsplit(system_url).hostname not in ("127.0.0.1", "localhost"):
        report.warn("SYSTEM_URL", "is plain http: serve the bridge behind a TLS reverse proxy and use https")
    if not values.get("SOLUSVM_URL") and not values.get("SOLUSVM_API_TOKEN"):
        report.warn("SOLUSVM_URL", "is not set: users cannot be provisioned and invoices cannot be generated")
    if not values.get("PRICING_TOKEN"):
        report.warn("PRICING_TOKEN", "is empty: anyone who can reach the bridge can call GetTokenPricing; set the "
                    "same token here and in SolusVM (Settings > Billing Integration)")
    elif len(str(values["PRICING_TOKEN"])) < 16:
        report.warn("PRICING_TOKEN", "is shorter than 16 characters: use a long random token")
    if len(str(values.get("SECRET_KEY") or "")) < 32:
        report.warn("SECRET_KEY", "is shorter than 32 characters: use a long random key (the same on every machine)")
    if not values.get("MAIL_SERVER"):
        report.warn("MAIL_SERVER", "is not set: mail is written to the outbox folder, nobody receives it")
    if not found:
        report.ok("settings", "types, URLs and combinations are valid")


def check_security(config: Settings, report: Report) -> None:
    """Settings that are unsafe in production (docs/web.md, "Security model"): each one a WARN,
    malformed rate limits a FAIL (malformed address lists are ``check_values``' FAILs)."""
    local = urlsplit(config.system_url).hostname in ("127.0.0.1", "localhost", "::1")
    if not config.web.session_cookie_secure and not local:
        report.warn("SESSION_COOKIE_SECURE", "is off: log-in cookies may travel over plain http; serve the bridge "
                    "over https and set BRIDGE_SESSION_COOKIE_SECURE=true")

    metrics_nets, _bad = settings.parse_networks(config.metrics_allowed_ips)
    if not config.metrics_token:
        if any(not net.is_loopback for net in metrics_nets):
            report.warn("METRICS_TOKEN", "is not set and METRICS_ALLOWED_IPS goes beyond loopback: anyone in "
                        "those networks can read /metrics; set BRIDGE_METRICS_TOKEN")
        else:
            report.warn("METRICS_TOKEN", "is not set: /metrics answers loopback only; set BRIDGE_METRICS_TOKEN "
                        "for a Prometheus on another machine")

    api_nets, _bad = settings.parse_networks(config.api_allowed_ips)
    if not api_nets and not config.api_access_key:
        report.warn("API_ALLOWED_IPS", "is empty: WHMCS API credentials without their own allow-list work from "
                    "any address; list the addresses of the systems that call /includes/api.php")
    elif any(net.prefixlen == 0 for net in api_nets):
        report.warn("API_ALLOWED_IPS", "contains a network of every address (/0): it allows any caller")

    if not config.web.admin_require_2fa:
        report.warn("ADMIN_REQUIRE_2FA", "is off: admins may log in with a password alone; set "
                    "BRIDGE_ADMIN_REQUIRE_2FA=true once every admin has an authenticator app")

    if config.max_content_length <= 0 or config.max_content_length > 16 * 1024 * 1024:
        report.warn("MAX_CONTENT_LENGTH", "is 0 or above 16 MiB: every request body is read into memory up to "
                    "this size; the bridge needs no more than 1 MiB")

    if config.web.session_lifetime.total_seconds() > 24 * 3600:
        report.warn("PERMANENT_SESSION_LIFETIME", "is longer than a day: a stolen or forgotten session stays "
                    "usable that long")

    limits = {f"RATE_LIMIT_{name.upper()}": text for name, text in config.web.rate_limits.items()}
    for key, value in limits.items():
        try:
            parse_limits(value) if key == "RATE_LIMIT_LOGIN_ACCOUNT" else parse_limit(value)
        except ValueError as exc:
            report.fail(key, str(exc))


def check_database(config: Settings, report: Report) -> None:
    """Reachable, at the newest migration, with a catalogue."""
    url = config.database_url
    try:
        parsed = make_url(url)
        shown = parsed.render_as_string(hide_password=True)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:") \
                and not os.path.exists(parsed.database):
            # Connecting would create an empty file; say what to do instead.
            report.fail("database", f"{shown} does not exist yet: run `solus-bridge init-db`")
            return
        engine = db.make_engine(url, **({} if url.startswith("sqlite") else {"connect_args": {"connect_timeout": 5}}))
    except (ArgumentError, ValueError, ImportError) as exc:
        report.fail("DATABASE_URL", f"is not a usable SQLAlchemy URL ({type(exc).__name__}: {exc})")
        return
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        current = db.current_revision(engine)
        head = ScriptDirectory.from_config(db.alembic_config(engine)).get_current_head()
        if current != head:
            report.fail("database", f"{shown} is at revision {current or 'none'}, the code needs {head}: run "
                        "`solus-bridge init-db`")
            return
        with engine.connect() as conn:
            has_currency = conn.execute(select(Currency.id).limit(1)).first() is not None
    except SQLAlchemyError as exc:
        report.fail("database", f"{shown} is not reachable: {str(exc.orig if hasattr(exc, 'orig') else exc)[:300]}")
        return
    finally:
        engine.dispose()
    report.ok("database", f"{shown} is reachable and at the newest revision ({head})")
    if not has_currency:
        report.fail("catalogue", "no currency is configured: run `solus-bridge init-db` (optionally --catalogue FILE)")


def check_solusvm(config: Settings, report: Report) -> None:
    """The API token works; billing integration points here with our token; registration is off."""
    url = config.solusvm.url
    if not url or not settings.is_http_url(url) or not config.solusvm.api_token:
        return
    solus = connect(config.solusvm, retries=0)
    try:
        account = solus.account()
    except SolusVMError as exc:
        hint = " (check SOLUSVM_API_TOKEN)" if exc.status in (401, 403) else ""
        report.fail("solusvm", f"GET {url}/api/v1/account failed: {exc}{hint}")
        return
    who = account.get("email") if isinstance(account, dict) else None
    report.ok("solusvm", f"{url} answers; the API token works" + (f" (account {who})" if who else ""))
    try:
        solus_settings = solus.get_settings()
    except SolusVMError as exc:
        report.fail("solusvm settings", f"GET settings failed: {exc}")
        return
    integration = solus_settings.get("billing_integration") if isinstance(solus_settings, dict) else None
    system_url = config.system_url.rstrip("/")
    expected = (system_url + PRICING_PATH, system_url + WHMCS_PATH)
    if not isinstance(integration, dict) or not integration.get("type"):
        report.fail("billing integration", f"SolusVM has no billing integration: in SolusVM open Settings > Billing "
                    f"Integration, choose a custom billing URL {expected[0]} and the PRICING_TOKEN")
    else:
        kind = str(integration["type"])
        drivers = integration.get("drivers")
        driver = drivers.get(kind) if isinstance(drivers, dict) else None
        driver = driver if isinstance(driver, dict) else {}  # an odd shape reads as "no URL"
        their_url, their_token = str(driver.get("url") or ""), str(driver.get("token") or "")
        if not any(_same_url(their_url, e) for e in expected):
            report.fail("billing integration", f"SolusVM calls {their_url or '(no URL)'} for prices, not this bridge "
                        f"({expected[0]}): fix SYSTEM_URL or the URL in SolusVM's Settings > Billing Integration")
        elif not hmac.compare_digest(their_token.encode(), config.pricing_token.encode()):
            report.fail("billing integration", "SolusVM sends a different token than PRICING_TOKEN: every "
                        "GetTokenPricing call would be refused (403); set the same token on both sides")
        else:
            report.ok("billing integration", f"SolusVM ({kind}) calls {their_url} with the same pricing token")
    features = solus_settings.get("features") if isinstance(solus_settings, dict) else None
    if isinstance(features, dict) and features.get("allow_registration"):
        report.warn("registration", "SolusVM's user area lets people register themselves, bypassing billing: turn "
                    "off Settings > User Area > Enable Registration")
    elif isinstance(features, dict):
        report.ok("registration", "registration in SolusVM's user area is off")


def check_live(config: Settings, report: Report) -> None:
    """POST GetTokenPricing to the running bridge: the token must be accepted (unknown userid → 404)."""
    url = config.system_url.rstrip("/") + PRICING_PATH
    try:
        resp = requests.post(url, data={"action": "GetTokenPricing", "token": config.pricing_token,
                                        "userid": "2147483647"}, timeout=10)
    except requests.RequestException as exc:
        report.fail("bridge", f"{url} is not reachable ({type(exc).__name__}): is the bridge running at SYSTEM_URL?")
        return
    if resp.status_code == 403:
        report.fail("bridge", f"{url} refused PRICING_TOKEN (403): the running bridge has another token")
    elif resp.status_code in (200, 404):
        report.ok("bridge", f"{url} accepts the pricing token")
    else:
        report.fail("bridge", f"{url} answered HTTP {resp.status_code}")


def run_checks(values: Mapping[str, Any], instance_path: str, *, solusvm: bool = True,
               live: bool = False) -> Report:
    """Every check against merged raw values (as ``bridge.settings.raw_values`` builds them)."""
    report = Report()
    check_values(values, report)
    # The other checks read the typed settings; a value that cannot be read (reported above)
    # is replaced by its default for them, so one bad value does not hide the other findings.
    blocking = {p.key for p in settings.unreadable(values)}
    config = settings.from_values({**values, **{key: settings.KEYS.get(key) for key in blocking}}, instance_path)
    check_security(config, report)
    check_database(config, report)
    if solusvm:
        check_solusvm(config, report)
    if live:
        check_live(config, report)
    return report


def instance_path() -> str:
    """The instance folder the other commands use (Flask's, for the ``bridge`` package)."""
    return Flask("bridge", instance_relative_config=True).instance_path


def load(config_file: str | None) -> dict[str, Any]:
    """The raw values the other commands would use (defaults, TOML file, BRIDGE_* environment)."""
    return settings.raw_values({"CONFIG_FILE": config_file} if config_file else None)


def register(group: click.Group) -> None:
    @group.command("check-config")
    @click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
                  help="A TOML configuration file (else BRIDGE_CONFIG_FILE, then BRIDGE_* variables).")
    @click.option("--skip-solusvm", is_flag=True, help="Do not contact SolusVM.")
    @click.option("--live", is_flag=True, help="Also POST GetTokenPricing to the running bridge at SYSTEM_URL.")
    def check_config(config_file: str | None, skip_solusvm: bool, live: bool) -> None:
        """Validate the configuration and test the database, SolusVM and the pricing token."""
        logging.getLogger("bridge").setLevel(logging.WARNING)  # the client's retry lines are noise here
        try:
            config = load(config_file)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            click.echo(f"FAIL  configuration: cannot be loaded: {exc}")
            raise SystemExit(1) from None
        report = run_checks(config, instance_path(), solusvm=not skip_solusvm, live=live)
        for f in report.findings:
            click.echo(f"{f.level.upper():<5} {f.topic}: {f.message}")
        fails = sum(f.level == "fail" for f in report.findings)
        warns = sum(f.level == "warn" for f in report.findings)
        if report.failed:
            click.echo(f"configuration has {fails} problem(s) and {warns} warning(s)")
            raise SystemExit(1)
        click.echo(f"configuration is usable ({warns} warning(s))")
