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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import click

from bridge.config import check_system_url, parse_networks
from bridge.observability import flag

PRICING_PATH = "/modules/addons/solusio/api/"
WHMCS_PATH = "/includes/api.php"
INT_KEYS = ("INVOICE_DUE_DAYS", "OVERDUE_LOCK_DAYS", "OVERDUE_SUSPEND_DAYS", "SOLUSVM_RETRIES", "MAIL_PORT",
            "SIGNUP_LINK_MAX_AGE", "WEB_SOLUSVM_RETRIES", "HEALTH_SOLUSVM_TTL")
FLOAT_KEYS = ("SOLUSVM_TIMEOUT", "MAIL_TIMEOUT", "HEALTH_SOLUSVM_TIMEOUT")
CHOICES = {"LOG_FORMAT": ("json", "text"), "LOG_LEVEL": ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
           "INVOICE_ON_MISMATCH": ("hold", "solusvm")}


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


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _same_url(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, (pa.hostname or "").lower(), pa.port or _default_port(pa.scheme), pa.path.rstrip("/")) == \
        (pb.scheme, (pb.hostname or "").lower(), pb.port or _default_port(pb.scheme), pb.path.rstrip("/"))


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def check_values(config: Mapping[str, Any], report: Report) -> None:
    """Types, URLs and required combinations (no network)."""
    bad = False
    for key in INT_KEYS:
        value = config.get(key)
        if value in (None, ""):
            continue
        try:
            if int(str(value)) < 0:
                raise ValueError
        except ValueError:
            report.fail(key, f"must be a whole number >= 0, got {value!r}")
            bad = True
    for key in FLOAT_KEYS:
        value = config.get(key)
        if value in (None, ""):
            continue
        try:
            if float(str(value)) <= 0:
                raise ValueError
        except ValueError:
            report.fail(key, f"must be a number of seconds > 0, got {value!r}")
            bad = True
    for key, allowed in CHOICES.items():
        value = config.get(key)
        if value not in (None, "") and str(value).lower() not in {a.lower() for a in allowed}:
            report.fail(key, f"must be one of {', '.join(allowed)}, got {value!r}")
            bad = True
    lock, suspend = config.get("OVERDUE_LOCK_DAYS"), config.get("OVERDUE_SUSPEND_DAYS")
    try:
        if lock not in (None, "") and suspend not in (None, "") and 0 < int(suspend) < int(lock):
            report.fail("OVERDUE_SUSPEND_DAYS", "is smaller than OVERDUE_LOCK_DAYS: a client would be suspended "
                        "before being locked")
            bad = True
    except ValueError:
        pass  # reported above

    system_url = str(config.get("SYSTEM_URL") or "")
    try:
        check_system_url(system_url)  # the rule the bridge itself applies at start-up
    except ValueError as exc:
        report.fail("SYSTEM_URL", str(exc).removeprefix("SYSTEM_URL "))
        bad = True
    else:
        if urlsplit(system_url).scheme == "http" and urlsplit(system_url).hostname not in ("127.0.0.1", "localhost"):
            report.warn("SYSTEM_URL", "is plain http: serve the bridge behind a TLS reverse proxy and use https")

    for key in ("TERMS_URL", "POSTPAY_TERMS_URL"):
        value = str(config.get(key) or "")
        if value and not _is_http_url(value):
            report.fail(key, f"must be an http(s) URL, got {value!r}")
            bad = True

    solus_url, solus_token = str(config.get("SOLUSVM_URL") or ""), str(config.get("SOLUSVM_API_TOKEN") or "")
    if solus_url and not _is_http_url(solus_url):
        report.fail("SOLUSVM_URL", f"must be an http(s) URL such as https://solusvm.example.com, got {solus_url!r}")
        bad = True
    if solus_url and not solus_token:
        report.fail("SOLUSVM_API_TOKEN", "is empty but SOLUSVM_URL is set: create an API token in SolusVM "
                    "(Account > API Tokens) and set BRIDGE_SOLUSVM_API_TOKEN")
        bad = True
    if solus_token and not solus_url:
        report.fail("SOLUSVM_URL", "is empty but SOLUSVM_API_TOKEN is set: set BRIDGE_SOLUSVM_URL")
        bad = True
    if not solus_url and not solus_token:
        report.warn("SOLUSVM_URL", "is not set: users cannot be provisioned and invoices cannot be generated")

    if not config.get("PRICING_TOKEN"):
        report.warn("PRICING_TOKEN", "is empty: anyone who can reach the bridge can call GetTokenPricing; set the "
                    "same token here and in SolusVM (Settings > Billing Integration)")
    elif len(str(config["PRICING_TOKEN"])) < 16:
        report.warn("PRICING_TOKEN", "is shorter than 16 characters: use a long random token")
    if len(str(config.get("SECRET_KEY") or "")) < 32:
        report.warn("SECRET_KEY", "is shorter than 32 characters: use a long random key (the same on every machine)")
    if not config.get("MAIL_SERVER"):
        report.warn("MAIL_SERVER", "is not set: mail is written to the outbox folder, nobody receives it")
    if config.get("MAIL_USERNAME") and not config.get("MAIL_PASSWORD"):
        report.fail("MAIL_PASSWORD", "is empty but MAIL_USERNAME is set")
        bad = True
    catalogue_file = str(config.get("CATALOGUE_FILE") or "")
    if catalogue_file:
        import tomllib

        try:
            with open(catalogue_file, "rb") as fh:
                tomllib.load(fh)
        except OSError as exc:
            report.fail("CATALOGUE_FILE", f"cannot be read: {exc.strerror}")
            bad = True
        except tomllib.TOMLDecodeError as exc:
            report.fail("CATALOGUE_FILE", f"is not valid TOML: {exc}")
            bad = True
    if not bad:
        report.ok("settings", "types, URLs and combinations are valid")


def check_security(config: Mapping[str, Any], report: Report) -> None:
    """Settings that are unsafe in production (docs/web.md, "Security model"): each one a WARN,
    malformed values a FAIL."""
    from bridge.services.ratelimit import parse_limit, parse_limits

    system_url = str(config.get("SYSTEM_URL") or "")
    local = urlsplit(system_url).hostname in ("127.0.0.1", "localhost", "::1")
    if not flag(config.get("SESSION_COOKIE_SECURE"), False) and not local:
        report.warn("SESSION_COOKIE_SECURE", "is off: log-in cookies may travel over plain http; serve the bridge "
                    "over https and set BRIDGE_SESSION_COOKIE_SECURE=true")

    metrics_nets, metrics_bad = parse_networks(str(config.get("METRICS_ALLOWED_IPS", "127.0.0.1,::1") or ""))
    if metrics_bad:
        report.fail("METRICS_ALLOWED_IPS", f"has entries that are not addresses or networks: {', '.join(metrics_bad)}")
    if not config.get("METRICS_TOKEN"):
        if any(not net.is_loopback for net in metrics_nets):
            report.warn("METRICS_TOKEN", "is not set and METRICS_ALLOWED_IPS goes beyond loopback: anyone in "
                        "those networks can read /metrics; set BRIDGE_METRICS_TOKEN")
        else:
            report.warn("METRICS_TOKEN", "is not set: /metrics answers loopback only; set BRIDGE_METRICS_TOKEN "
                        "for a Prometheus on another machine")

    api_nets, api_bad = parse_networks(str(config.get("API_ALLOWED_IPS") or ""))
    if api_bad:
        report.fail("API_ALLOWED_IPS", f"has entries that are not addresses or networks: {', '.join(api_bad)}")
    if not api_nets and not config.get("API_ACCESS_KEY"):
        report.warn("API_ALLOWED_IPS", "is empty: WHMCS API credentials without their own allow-list work from "
                    "any address; list the addresses of the systems that call /includes/api.php")
    elif any(net.prefixlen == 0 for net in api_nets):
        report.warn("API_ALLOWED_IPS", "contains a network of every address (/0): it allows any caller")

    if not flag(config.get("ADMIN_REQUIRE_2FA"), False):
        report.warn("ADMIN_REQUIRE_2FA", "is off: admins may log in with a password alone; set "
                    "BRIDGE_ADMIN_REQUIRE_2FA=true once every admin has an authenticator app")

    limit = config.get("MAX_CONTENT_LENGTH", 1048576)
    try:
        limit_bytes = int(str(limit))
    except ValueError:
        report.fail("MAX_CONTENT_LENGTH", f"must be a whole number of bytes, got {limit!r}")
    else:
        if limit_bytes <= 0 or limit_bytes > 16 * 1024 * 1024:
            report.warn("MAX_CONTENT_LENGTH", "is 0 or above 16 MiB: every request body is read into memory up to "
                        "this size; the bridge needs no more than 1 MiB")

    lifetime = config.get("PERMANENT_SESSION_LIFETIME")
    seconds = lifetime.total_seconds() if hasattr(lifetime, "total_seconds") else lifetime
    try:
        if seconds not in (None, "") and float(str(seconds)) > 24 * 3600:
            report.warn("PERMANENT_SESSION_LIFETIME", "is longer than a day: a stolen or forgotten session stays "
                        "usable that long")
    except ValueError:
        report.fail("PERMANENT_SESSION_LIFETIME", f"must be a number of seconds, got {lifetime!r}")

    for key in ("RATE_LIMIT_SIGNUP", "RATE_LIMIT_LOGIN", "RATE_LIMIT_RESEND", "RATE_LIMIT_RETRY",
                "RATE_LIMIT_LOGIN_ADDRESS", "RATE_LIMIT_PRICING_TOKEN", "RATE_LIMIT_LOGIN_ACCOUNT"):
        value = config.get(key)
        if value in (None, ""):
            continue
        try:
            parse_limits(str(value)) if key == "RATE_LIMIT_LOGIN_ACCOUNT" else parse_limit(str(value))
        except ValueError as exc:
            report.fail(key, str(exc))


def check_database(config: Mapping[str, Any], report: Report) -> None:
    """Reachable, at the newest migration, with a catalogue."""
    from alembic.script import ScriptDirectory
    from sqlalchemy import select, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from bridge import db
    from bridge.models import Currency

    url = str(config.get("DATABASE_URL") or "")
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


def check_solusvm(config: Mapping[str, Any], report: Report) -> None:
    """The API token works; billing integration points here with our token; registration is off."""
    from bridge.services.solusvm_client import SolusVMClient, SolusVMError

    url = str(config.get("SOLUSVM_URL") or "")
    if not url or not _is_http_url(url) or not config.get("SOLUSVM_API_TOKEN"):
        return
    solus = SolusVMClient(url, str(config["SOLUSVM_API_TOKEN"]), timeout=float(config.get("SOLUSVM_TIMEOUT") or 10),
                          retries=0)
    try:
        account = solus.account()
    except SolusVMError as exc:
        hint = " (check SOLUSVM_API_TOKEN)" if exc.status in (401, 403) else ""
        report.fail("solusvm", f"GET {url}/api/v1/account failed: {exc}{hint}")
        return
    who = account.get("email") if isinstance(account, dict) else None
    report.ok("solusvm", f"{url} answers; the API token works" + (f" (account {who})" if who else ""))
    try:
        settings = solus.get_settings()
    except SolusVMError as exc:
        report.fail("solusvm settings", f"GET settings failed: {exc}")
        return
    integration = settings.get("billing_integration") if isinstance(settings, dict) else None
    system_url = str(config.get("SYSTEM_URL") or "").rstrip("/")
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
        elif not hmac.compare_digest(their_token.encode(), str(config.get("PRICING_TOKEN") or "").encode()):
            report.fail("billing integration", "SolusVM sends a different token than PRICING_TOKEN: every "
                        "GetTokenPricing call would be refused (403); set the same token on both sides")
        else:
            report.ok("billing integration", f"SolusVM ({kind}) calls {their_url} with the same pricing token")
    features = settings.get("features") if isinstance(settings, dict) else None
    if isinstance(features, dict) and features.get("allow_registration"):
        report.warn("registration", "SolusVM's user area lets people register themselves, bypassing billing: turn "
                    "off Settings > User Area > Enable Registration")
    elif isinstance(features, dict):
        report.ok("registration", "registration in SolusVM's user area is off")


def check_live(config: Mapping[str, Any], report: Report) -> None:
    """POST GetTokenPricing to the running bridge: the token must be accepted (unknown userid → 404)."""
    import requests

    url = str(config.get("SYSTEM_URL") or "").rstrip("/") + PRICING_PATH
    try:
        resp = requests.post(url, data={"action": "GetTokenPricing", "token": str(config.get("PRICING_TOKEN") or ""),
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


def run_checks(config: Mapping[str, Any], *, solusvm: bool = True, live: bool = False) -> Report:
    """Every check against a merged configuration mapping (as ``bridge.config.load_config`` builds)."""
    report = Report()
    check_values(config, report)
    check_security(config, report)
    check_database(config, report)
    if solusvm:
        check_solusvm(config, report)
    if live:
        check_live(config, report)
    return report


def load(config_file: str | None) -> dict[str, Any]:
    """The configuration the other commands would use (defaults, TOML file, BRIDGE_* environment)."""
    from flask import Flask

    from bridge.config import load_config

    instance = Flask("bridge", instance_relative_config=True).instance_path
    return load_config(instance, {"CONFIG_FILE": config_file} if config_file else None)


def _explain(exc: Exception) -> str:
    """Name the environment variable behind a conversion error (``_coerce`` only says the value)."""
    import os

    from bridge.config import DEFAULTS, ENV_PREFIX

    if isinstance(exc, ValueError):
        for key, default in DEFAULTS.items():
            raw = os.environ.get(ENV_PREFIX + key)
            if raw is not None and isinstance(default, int) and not isinstance(default, bool):
                try:
                    int(raw)
                except ValueError:
                    return f"{ENV_PREFIX}{key} must be a whole number, got {raw!r}"
    return str(exc)


def register(group: click.Group) -> None:
    @group.command("check-config")
    @click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
                  help="A TOML configuration file (else BRIDGE_CONFIG_FILE, then BRIDGE_* variables).")
    @click.option("--skip-solusvm", is_flag=True, help="Do not contact SolusVM.")
    @click.option("--live", is_flag=True, help="Also POST GetTokenPricing to the running bridge at SYSTEM_URL.")
    def check_config(config_file: str | None, skip_solusvm: bool, live: bool) -> None:
        """Validate the configuration and test the database, SolusVM and the pricing token."""
        import tomllib

        logging.getLogger("bridge").setLevel(logging.WARNING)  # the client's retry lines are noise here
        try:
            config = load(config_file)
        except (OSError, tomllib.TOMLDecodeError, ValueError) as exc:
            click.echo(f"FAIL  configuration: cannot be loaded: {_explain(exc)}")
            raise SystemExit(1) from None
        report = run_checks(config, solusvm=not skip_solusvm, live=live)
        for f in report.findings:
            click.echo(f"{f.level.upper():<5} {f.topic}: {f.message}")
        fails = sum(f.level == "fail" for f in report.findings)
        warns = sum(f.level == "warn" for f in report.findings)
        if report.failed:
            click.echo(f"configuration has {fails} problem(s) and {warns} warning(s)")
            raise SystemExit(1)
        click.echo(f"configuration is usable ({warns} warning(s))")
