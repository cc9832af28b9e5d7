"""The bridge's settings: one typed, frozen object, built once at start.

Sources, last wins: the defaults in ``KEYS``, an optional TOML file (``CONFIG_FILE`` /
``BRIDGE_CONFIG_FILE``; keys as in the table, upper-cased on load), ``BRIDGE_*`` environment
variables, then the mapping given to ``create_app`` (or ``load``). Every key is listed in
docs/configuration.md. ``problems`` is the one validation: ``create_app`` refuses to start on
the problems that make a value unreadable (``Problem.blocks_start``), and
``solus-bridge check-config`` prints every problem with the same text.

Services receive the section they need (``SolusVMSettings``, ``OutboxSettings``,
``OverdueSettings``, ``InvoicingSettings``, ``MailSettings``, ``WebSettings``,
``LoggingSettings``) as a parameter; this module imports nothing of the bridge, so every
layer may read it.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ENV_PREFIX = "BRIDGE_"
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})

#: Every setting and its default (``None``: computed, see docs/configuration.md). The kind of
#: a key is in ``INTS``, ``POSITIVE_SECONDS``, ``FLOATS``, ``BOOLS``, ``CHOICES``; the rest are text.
KEYS: dict[str, Any] = {
    "DATABASE_URL": None,  # None: sqlite:///<instance>/bridge.sqlite3
    "SECRET_KEY": None,  # None: generated once and kept in <instance>/secret_key
    "CONFIG_FILE": "",  # optional TOML file with any of these keys (upper-case, no prefix)
    "PRICING_TOKEN": "",  # shared secret SolusVM sends as `token`; empty = no check
    "SYSTEM_URL": "http://127.0.0.1:5000",
    "API_ACCESS_KEY": "",  # WHMCS $api_access_key: bypasses the IP allow-list when matched
    "API_ALLOWED_IPS": "",  # comma-separated; applied to every credential in addition to its own list
    "RATE_LIMIT_WHMCS_AUTH": "10/60",  # failed /includes/api.php authentications per address
    "RATE_LIMIT_PRICING_TOKEN": "20/60",  # wrong GetTokenPricing tokens per source address (then 429)
    "PAYMENT_METHODS": "banktransfer=Bank Transfer",  # GetPaymentMethods: module=Display Name, comma-separated
    "WHMCS_VERSION": "8.13.1",
    "CATALOGUE_FILE": "",
    "CATALOGUE_CACHE": True,  # reserved: the in-process catalogue cache is always on
    "BENCH_ROUTES": False,  # adds /bench/ping for bench/pricing_throughput.py
    "METRICS_TOKEN": "",  # when set, GET /metrics requires "Authorization: Bearer <token>"
    "METRICS_ALLOWED_IPS": "127.0.0.1,::1",  # without METRICS_TOKEN: direct requests from these only
    "MAX_CONTENT_LENGTH": 1048576,  # request body limit in bytes on every surface (413 above it)
    # SolusVM
    "SOLUSVM_URL": "",
    "SOLUSVM_API_TOKEN": "",
    "SOLUSVM_TIMEOUT": 10,
    "SOLUSVM_RETRIES": 4,
    "SOLUSVM_REQUEST_BUDGET": 3.0,  # seconds a web/API request may wait on SolusVM in total, retries included
    "WEB_SOLUSVM_RETRIES": 1,  # retries while a visitor waits
    "SOLUSVM_LIMIT_GROUP_ID": "",  # blank: SolusVM's default
    "SOLUSVM_ROLE_IDS": "",  # blank: SolusVM's default role
    "SOLUSVM_LOGIN_URL_TEMPLATE": "{solusvm_url}/auth/by_token?token={token}",
    "SYNC_LOCK_UNKNOWN": False,
    "HEALTH_SOLUSVM_TTL": 30,
    "HEALTH_SOLUSVM_TIMEOUT": 2,
    # outbox
    "OUTBOX_MAX_ATTEMPTS": 10,
    "OUTBOX_RETRY_SECONDS": 60,
    # overdue
    "OVERDUE_LOCK_DAYS": 7,
    "OVERDUE_SUSPEND_DAYS": 14,
    # invoicing
    "INVOICE_DUE_DAYS": 14,
    "INVOICE_CATCHUP_MONTHS": 3,  # how far back the cron looks for months without a completed run
    "INVOICE_EMPTY": False,
    "INVOICE_ON_MISMATCH": "hold",
    "INVOICE_PAUSE": 0,
    "USAGE_PER_PAGE": 100,
    # mail
    "MAIL_SERVER": "",
    "MAIL_PORT": None,  # None: 465 with SSL, else 25
    "MAIL_USE_TLS": False,
    "MAIL_USE_SSL": False,
    "MAIL_USERNAME": "",
    "MAIL_PASSWORD": "",
    "MAIL_FROM": "SolusVM Billing <billing@localhost>",
    "MAIL_TIMEOUT": 10,
    "MAIL_OUTBOX_DIR": None,  # None: <instance>/outbox
    "MAIL_PRINT_LINKS": False,
    # web pages
    "SIGNUP_LINK_MAX_AGE": 24 * 3600,  # seconds a verification link stays valid
    "PASSWORD_RESET_MAX_AGE": 3600,  # seconds a password reset link stays valid
    "TERMS_URL": "",  # empty = the built-in placeholder page /terms
    "POSTPAY_TERMS_URL": "",  # empty = not asked
    "RATE_LIMIT_SIGNUP": "5/3600",  # hits/seconds per IP (and per e-mail)
    "RATE_LIMIT_LOGIN": "10/300",  # attempts per (source address, account)
    "RATE_LIMIT_LOGIN_ADDRESS": "100/300",  # attempts per source address, all accounts together
    "RATE_LIMIT_LOGIN_ACCOUNT": "20/900,50/3600,200/86400",  # wrong passwords per account, growing tiers
    "RATE_LIMIT_RESEND": "3/3600",
    "RATE_LIMIT_RETRY": "10/600",  # "Try again" provisioning button, per client
    "SITE_NAME": "Cloud Billing",
    "ADMIN_REQUIRE_2FA": False,
    "PERMANENT_SESSION_LIFETIME": 28800,  # seconds (8 h); Flask's 31 days is far too long for billing
    "SESSION_COOKIE_SECURE": False,
    "SESSION_COOKIE_NAME": "bridge_session",  # cookies ignore ports: SolusVM on the same host must not clash
    "SESSION_COOKIE_SAMESITE": "Lax",
    # logging
    "LOG_FORMAT": "json",
    "LOG_LEVEL": "INFO",
    "ACCESS_LOG": True,
    "LOG_CONFIGURE": True,
}

#: Whole numbers >= 0.
INTS = ("INVOICE_DUE_DAYS", "INVOICE_CATCHUP_MONTHS", "OVERDUE_LOCK_DAYS", "OVERDUE_SUSPEND_DAYS", "SOLUSVM_RETRIES",
        "WEB_SOLUSVM_RETRIES", "MAIL_PORT", "SIGNUP_LINK_MAX_AGE", "PASSWORD_RESET_MAX_AGE",
        "OUTBOX_MAX_ATTEMPTS", "OUTBOX_RETRY_SECONDS", "USAGE_PER_PAGE", "SOLUSVM_LIMIT_GROUP_ID")
#: Seconds > 0.
POSITIVE_SECONDS = ("SOLUSVM_TIMEOUT", "MAIL_TIMEOUT", "HEALTH_SOLUSVM_TIMEOUT")
#: Seconds >= 0.
FLOATS = ("INVOICE_PAUSE", "HEALTH_SOLUSVM_TTL", "SOLUSVM_REQUEST_BUDGET")
BOOLS = tuple(key for key, default in KEYS.items() if isinstance(default, bool))
CHOICES = {"LOG_FORMAT": ("json", "text"), "LOG_LEVEL": ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
           "INVOICE_ON_MISMATCH": ("hold", "solusvm"), "SESSION_COOKIE_SAMESITE": ("Lax", "Strict", "None")}
#: Values that never go to the logs (the redaction filter masks them).
SECRET_KEYS = ("PRICING_TOKEN", "SOLUSVM_API_TOKEN", "SECRET_KEY", "API_ACCESS_KEY", "MAIL_PASSWORD", "METRICS_TOKEN")
RATE_LIMIT_KEYS = ("RATE_LIMIT_SIGNUP", "RATE_LIMIT_LOGIN", "RATE_LIMIT_RESEND", "RATE_LIMIT_RETRY",
                   "RATE_LIMIT_LOGIN_ADDRESS", "RATE_LIMIT_PRICING_TOKEN", "RATE_LIMIT_LOGIN_ACCOUNT",
                   "RATE_LIMIT_WHMCS_AUTH")


class SettingsError(ValueError):
    """A setting cannot be read; the message names it as check-config does."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.key} {p.message}" for p in problems))


@dataclass(frozen=True)
class Problem:
    """One finding of ``problems``: ``key`` is wrong because of ``message``."""

    key: str
    message: str
    #: The value cannot be read at all (the bridge refuses to start); else a check-config FAIL only.
    blocks_start: bool = True


# --- sections ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SolusVMSettings:
    """How the bridge talks to SolusVM, and the users it creates there."""

    url: str = ""
    api_token: str = ""
    timeout: float = 10.0
    retries: int = 4
    #: Seconds one web page or API request may wait on SolusVM in total, retries included.
    request_budget: float = 3.0
    #: Retries of calls made while a visitor waits.
    web_retries: int = 1
    limit_group_id: int | None = None
    role_ids: tuple[int, ...] = ()
    login_url_template: str = "{solusvm_url}/auth/by_token?token={token}"
    sync_lock_unknown: bool = False
    health_ttl: float = 30.0
    health_timeout: float = 2.0

    @property
    def configured(self) -> bool:
        """True when a SolusVM URL is set."""
        return bool(self.url)


@dataclass(frozen=True)
class OutboxSettings:
    """Retry policy of queued SolusVM changes."""

    max_attempts: int = 10
    retry_seconds: int = 60


@dataclass(frozen=True)
class OverdueSettings:
    """Days past due after which the SolusVM user is locked, then suspended."""

    lock_days: int = 7
    suspend_days: int = 14

    @property
    def thresholds(self) -> tuple[int, int]:
        """(lock days, suspend days); suspending never comes before locking."""
        return self.lock_days, max(self.lock_days, self.suspend_days)


@dataclass(frozen=True)
class InvoicingSettings:
    """The monthly invoicing run."""

    due_days: int = 14
    catchup_months: int = 3
    empty: bool = False
    #: "hold" (skip a client whose usage breaks the cap rule) or "solusvm" (bill SolusVM's figures).
    on_mismatch: str = "hold"
    pause: float = 0.0
    usage_per_page: int = 100
    #: The bridge's public URL: the mails link the client area under it.
    system_url: str = "http://127.0.0.1:5000"


@dataclass(frozen=True)
class MailSettings:
    """Where mail goes. ``server=None`` means the outbox folder."""

    server: str | None = None
    port: int = 25
    use_tls: bool = False
    use_ssl: bool = False
    username: str | None = None
    password: str | None = None
    sender: str = "SolusVM Billing <billing@localhost>"
    outbox_dir: str = "instance/outbox"
    timeout: float = 10.0
    print_links: bool = False  # outbox mode: print each message's links to stdout (the demo)


@dataclass(frozen=True)
class WebSettings:
    """The web pages: links, terms, rate limits, sessions."""

    signup_link_max_age: int = 24 * 3600
    password_reset_max_age: int = 3600
    terms_url: str = ""
    postpay_terms_url: str = ""
    rate_limits: Mapping[str, str] = field(default_factory=dict)  # "signup" -> "5/3600" (RATE_LIMIT_SIGNUP)
    site_name: str = "Cloud Billing"
    admin_require_2fa: bool = False
    session_lifetime: timedelta = timedelta(hours=8)
    session_cookie_secure: bool = False
    session_cookie_name: str = "bridge_session"
    session_cookie_samesite: str = "Lax"

    def rate_limit(self, name: str) -> str:
        """The ``RATE_LIMIT_<NAME>`` text (``HITS/SECONDS``)."""
        return self.rate_limits[name.lower()]


@dataclass(frozen=True)
class LoggingSettings:
    """The ``bridge`` loggers."""

    format: str = "json"
    level: str = "INFO"
    access_log: bool = True
    configure: bool = True
    #: Values the redaction filter masks (the secrets among the settings).
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    """Every setting of the bridge, typed; sections for the services, the rest top-level."""

    database_url: str = ""  # load/from_values always fill it (sqlite in the instance folder when unset)
    secret_key: str = ""  # load/from_values always fill it (generated once per instance when unset)
    instance_path: str = "instance"
    config_file: str = ""
    pricing_token: str = ""
    system_url: str = "http://127.0.0.1:5000"
    api_access_key: str = ""
    api_allowed_ips: str = ""
    rate_limit_whmcs_auth: str = "10/60"
    rate_limit_pricing_token: str = "20/60"
    payment_methods: str = "banktransfer=Bank Transfer"
    whmcs_version: str = "8.13.1"
    catalogue_file: str = ""
    catalogue_cache: bool = True
    bench_routes: bool = False
    metrics_token: str = ""
    metrics_allowed_ips: str = "127.0.0.1,::1"
    max_content_length: int = 1048576
    solusvm: SolusVMSettings = SolusVMSettings()
    outbox: OutboxSettings = OutboxSettings()
    overdue: OverdueSettings = OverdueSettings()
    invoicing: InvoicingSettings = InvoicingSettings()
    mail: MailSettings = MailSettings()
    web: WebSettings = WebSettings()
    logging: LoggingSettings = LoggingSettings()
    #: The merged raw values (key -> value as given), for check-config and the docs test.
    values: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def with_values(self, overrides: Mapping[str, Any]) -> Settings:
        """A new Settings with ``overrides`` (keys as in the table) applied over these values."""
        return from_values({**self.values, **overrides}, self.instance_path)


# --- reading values ------------------------------------------------------------------------


def truthy(value: Any, default: bool = False) -> bool:
    """The one reading of a yes/no setting: a bool as is, a string from the environment or a
    TOML file as ``1``/``true``/``yes``/``on`` (any case); blank means ``default``."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in TRUE_WORDS


def solusvm_base_url(value: Any) -> str:
    """SolusVM's base URL: the API URL people copy (``.../api/v1``) is accepted and trimmed to it."""
    url = str(value or "").strip().rstrip("/")
    if url.endswith("/api/v1"):
        url = url[: -len("/api/v1")]
    return url


def check_system_url(value: Any) -> None:
    """Raise ValueError unless ``value`` is an http(s) base URL (no query or fragment)."""
    parts = urlsplit(str(value or ""))
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"SYSTEM_URL must be the bridge's public http(s) URL (a base URL: no query or fragment), "
                         f"got {value!r}")


def is_http_url(value: str) -> bool:
    """True for an ``http``/``https`` URL with a host."""
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def parse_networks(text: str) -> tuple[list[Any], list[str]]:
    """(parsed networks, malformed entries) of a comma- or newline-separated address list
    (``API_ALLOWED_IPS``, ``METRICS_ALLOWED_IPS``): one reading for the checks and check-config."""
    nets: list[Any] = []
    bad: list[str] = []
    for entry in (e.strip() for e in str(text or "").replace("\n", ",").split(",")):
        if not entry:
            continue
        try:
            nets.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            bad.append(entry)
    return nets, bad


def raw_values(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
               ) -> dict[str, Any]:
    """The merged values, unchecked: defaults, then the TOML file, ``BRIDGE_*``, ``overrides``.

    Environment values stay strings; ``problems`` and ``from_values`` read them. Raises
    OSError or ``tomllib.TOMLDecodeError`` for a configuration file that cannot be read.
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = dict(KEYS)
    config_file = (overrides or {}).get("CONFIG_FILE") or env.get(ENV_PREFIX + "CONFIG_FILE", "")
    if config_file:
        with open(config_file, "rb") as fh:
            for key, value in tomllib.load(fh).items():
                values[key.upper()] = value
    for key, value in env.items():
        if key.startswith(ENV_PREFIX):
            values[key[len(ENV_PREFIX):]] = value
    if overrides:
        values.update(overrides)
    return values


def _blank(value: Any) -> bool:
    return value is None or value == ""


def _int(values: Mapping[str, Any], key: str) -> int | None:
    value = values.get(key)
    return None if _blank(value) else int(str(value).strip())


def _float(values: Mapping[str, Any], key: str) -> float | None:
    value = values.get(key)
    return None if _blank(value) else float(str(value).strip())


def _lifetime(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if _blank(value):
        return timedelta(seconds=KEYS["PERMANENT_SESSION_LIFETIME"])
    return timedelta(seconds=float(str(value).strip()))


def unreadable(values: Mapping[str, Any]) -> list[Problem]:
    """The values of merged ``values`` that cannot be read (``blocks_start``): the start refuses them."""
    found: list[Problem] = []
    # (keys, reader that raises ValueError on a bad value, what a good value is)
    numbers: list[tuple[Any, Callable[[Any], bool], str]] = [
        (INTS, lambda v: not isinstance(v, bool) and int(str(v).strip()) >= 0, "a whole number >= 0"),
        (POSITIVE_SECONDS, lambda v: float(str(v)) > 0, "a number of seconds > 0"),
        (FLOATS, lambda v: float(str(v)) >= 0, "a number of seconds >= 0"),
    ]
    for keys, good, what in numbers:
        for key in keys:
            value = values.get(key)
            if _blank(value):
                continue
            try:
                ok = good(value)
            except ValueError:
                ok = False
            if not ok:
                found.append(Problem(key, f"must be {what}, got {value!r}"))
    for key, allowed in CHOICES.items():
        value = values.get(key)
        if not _blank(value) and str(value).lower() not in {a.lower() for a in allowed}:
            found.append(Problem(key, f"must be one of {', '.join(allowed)}, got {value!r}"))
    limit = values.get("MAX_CONTENT_LENGTH")
    try:
        if not _blank(limit):
            int(str(limit))
    except ValueError:
        found.append(Problem("MAX_CONTENT_LENGTH", f"must be a whole number of bytes, got {limit!r}"))
    lifetime = values.get("PERMANENT_SESSION_LIFETIME")
    try:
        _lifetime(lifetime)
    except (ValueError, OverflowError):
        found.append(Problem("PERMANENT_SESSION_LIFETIME", f"must be a number of seconds, got {lifetime!r}"))
    roles = values.get("SOLUSVM_ROLE_IDS")
    try:
        _role_ids(roles)
    except (TypeError, ValueError):
        found.append(Problem("SOLUSVM_ROLE_IDS", f"must be comma-separated role ids, got {roles!r}"))
    try:
        check_system_url(values.get("SYSTEM_URL"))  # e-mailed links are built from it
    except ValueError as exc:
        found.append(Problem("SYSTEM_URL", str(exc).removeprefix("SYSTEM_URL ")))
    return found


def problems(values: Mapping[str, Any]) -> list[Problem]:
    """Everything wrong with merged ``values`` (as ``raw_values`` builds): the ``unreadable``
    values and combinations that cannot work; no network, no database (the catalogue file is read)."""
    found = unreadable(values)
    # Combinations and references: check-config fails on them; the bridge still starts.
    bad = {p.key for p in found}
    lock, suspend = values.get("OVERDUE_LOCK_DAYS"), values.get("OVERDUE_SUSPEND_DAYS")
    if not {"OVERDUE_LOCK_DAYS", "OVERDUE_SUSPEND_DAYS"} & bad and not _blank(lock) and not _blank(suspend) \
            and 0 < int(str(suspend)) < int(str(lock)):
        found.append(Problem("OVERDUE_SUSPEND_DAYS", "is smaller than OVERDUE_LOCK_DAYS: a client would be "
                             "suspended before being locked", blocks_start=False))
    for key in ("TERMS_URL", "POSTPAY_TERMS_URL"):
        value = str(values.get(key) or "")
        if value and not is_http_url(value):
            found.append(Problem(key, f"must be an http(s) URL, got {value!r}", blocks_start=False))
    solus_url = solusvm_base_url(values.get("SOLUSVM_URL"))
    solus_token = str(values.get("SOLUSVM_API_TOKEN") or "")
    if solus_url and not is_http_url(solus_url):
        found.append(Problem("SOLUSVM_URL", f"must be an http(s) URL such as https://solusvm.example.com, "
                             f"got {solus_url!r}", blocks_start=False))
    if solus_url and not solus_token:
        found.append(Problem("SOLUSVM_API_TOKEN", "is empty but SOLUSVM_URL is set: create an API token in SolusVM "
                             "(Account > API Tokens) and set BRIDGE_SOLUSVM_API_TOKEN", blocks_start=False))
    if solus_token and not solus_url:
        found.append(Problem("SOLUSVM_URL", "is empty but SOLUSVM_API_TOKEN is set: set BRIDGE_SOLUSVM_URL",
                             blocks_start=False))
    if values.get("MAIL_USERNAME") and not values.get("MAIL_PASSWORD"):
        found.append(Problem("MAIL_PASSWORD", "is empty but MAIL_USERNAME is set", blocks_start=False))
    catalogue_file = str(values.get("CATALOGUE_FILE") or "")
    if catalogue_file:
        try:
            with open(catalogue_file, "rb") as fh:
                tomllib.load(fh)
        except OSError as exc:
            found.append(Problem("CATALOGUE_FILE", f"cannot be read: {exc.strerror}", blocks_start=False))
        except tomllib.TOMLDecodeError as exc:
            found.append(Problem("CATALOGUE_FILE", f"is not valid TOML: {exc}", blocks_start=False))
    for key in ("METRICS_ALLOWED_IPS", "API_ALLOWED_IPS"):
        _nets, malformed = parse_networks(str(values.get(key) or ""))
        if malformed:
            found.append(Problem(key, f"has entries that are not addresses or networks: {', '.join(malformed)}",
                                 blocks_start=False))
    return found


def _role_ids(value: Any) -> tuple[int, ...]:
    if isinstance(value, str):
        return tuple(int(r) for r in value.replace(" ", "").split(",") if r)
    if isinstance(value, list | tuple):
        return tuple(int(r) for r in value)
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,)
    return ()


def _text(values: Mapping[str, Any], key: str) -> str:
    value = values.get(key)
    return "" if value is None else str(value)


def from_values(values: Mapping[str, Any], instance_path: str | os.PathLike[str] = "instance") -> Settings:
    """Build the typed settings from merged values; raises ``SettingsError`` (the problems that
    block the start, in check-config's words) when a value cannot be read."""
    blocking = unreadable(values)  # not problems(): the start need not read the catalogue file
    if blocking:
        raise SettingsError(blocking)
    instance = Path(instance_path)
    merged = dict(values)
    merged["SOLUSVM_URL"] = solusvm_base_url(merged.get("SOLUSVM_URL"))
    if not merged.get("DATABASE_URL"):
        instance.mkdir(parents=True, exist_ok=True)
        merged["DATABASE_URL"] = f"sqlite:///{instance / 'bridge.sqlite3'}"
    if not merged.get("SECRET_KEY"):
        merged["SECRET_KEY"] = _persistent_secret(instance / "secret_key")

    def num(key: str) -> Any:
        """The key as int/float of its kind; its default when blank."""
        reader = _float if key in POSITIVE_SECONDS or key in FLOATS else _int
        value = reader(merged, key)
        return KEYS[key] if value is None else value

    def flag(key: str) -> bool:
        return truthy(merged.get(key), bool(KEYS[key]))

    mail_ssl = flag("MAIL_USE_SSL")
    port = _int(merged, "MAIL_PORT")
    lifetime = merged.get("PERMANENT_SESSION_LIFETIME")
    cookie_name = _text(merged, "SESSION_COOKIE_NAME") or "bridge_session"
    return Settings(
        database_url=str(merged["DATABASE_URL"]),
        secret_key=str(merged["SECRET_KEY"]),
        instance_path=str(instance),
        config_file=_text(merged, "CONFIG_FILE"),
        pricing_token=_text(merged, "PRICING_TOKEN"),
        system_url=_text(merged, "SYSTEM_URL"),
        api_access_key=_text(merged, "API_ACCESS_KEY"),
        api_allowed_ips=_text(merged, "API_ALLOWED_IPS"),
        rate_limit_whmcs_auth=_text(merged, "RATE_LIMIT_WHMCS_AUTH") or KEYS["RATE_LIMIT_WHMCS_AUTH"],
        rate_limit_pricing_token=_text(merged, "RATE_LIMIT_PRICING_TOKEN") or KEYS["RATE_LIMIT_PRICING_TOKEN"],
        payment_methods=_text(merged, "PAYMENT_METHODS"),
        whmcs_version=_text(merged, "WHMCS_VERSION") or KEYS["WHMCS_VERSION"],
        catalogue_file=_text(merged, "CATALOGUE_FILE"),
        catalogue_cache=flag("CATALOGUE_CACHE"),
        bench_routes=flag("BENCH_ROUTES"),
        metrics_token=_text(merged, "METRICS_TOKEN"),
        metrics_allowed_ips=_text(merged, "METRICS_ALLOWED_IPS"),
        max_content_length=num("MAX_CONTENT_LENGTH"),
        solusvm=SolusVMSettings(
            url=str(merged["SOLUSVM_URL"]), api_token=_text(merged, "SOLUSVM_API_TOKEN"),
            timeout=float(num("SOLUSVM_TIMEOUT")), retries=num("SOLUSVM_RETRIES"),
            request_budget=float(num("SOLUSVM_REQUEST_BUDGET")), web_retries=num("WEB_SOLUSVM_RETRIES"),
            limit_group_id=_int(merged, "SOLUSVM_LIMIT_GROUP_ID"), role_ids=_role_ids(merged.get("SOLUSVM_ROLE_IDS")),
            login_url_template=_text(merged, "SOLUSVM_LOGIN_URL_TEMPLATE"),
            sync_lock_unknown=flag("SYNC_LOCK_UNKNOWN"),
            health_ttl=float(num("HEALTH_SOLUSVM_TTL") or KEYS["HEALTH_SOLUSVM_TTL"]),  # 0: the default, as before
            health_timeout=float(num("HEALTH_SOLUSVM_TIMEOUT"))),
        outbox=OutboxSettings(max_attempts=num("OUTBOX_MAX_ATTEMPTS"), retry_seconds=num("OUTBOX_RETRY_SECONDS")),
        overdue=OverdueSettings(lock_days=num("OVERDUE_LOCK_DAYS"), suspend_days=num("OVERDUE_SUSPEND_DAYS")),
        invoicing=InvoicingSettings(
            due_days=num("INVOICE_DUE_DAYS"), catchup_months=num("INVOICE_CATCHUP_MONTHS") or 3,
            empty=flag("INVOICE_EMPTY"), on_mismatch=(_text(merged, "INVOICE_ON_MISMATCH") or "hold").lower(),
            pause=float(num("INVOICE_PAUSE")), usage_per_page=num("USAGE_PER_PAGE") or 100,
            system_url=_text(merged, "SYSTEM_URL")),
        mail=MailSettings(
            server=_text(merged, "MAIL_SERVER") or None, port=port if port else (465 if mail_ssl else 25),
            use_tls=flag("MAIL_USE_TLS"), use_ssl=mail_ssl,
            username=_text(merged, "MAIL_USERNAME") or None, password=_text(merged, "MAIL_PASSWORD") or None,
            sender=_text(merged, "MAIL_FROM") or KEYS["MAIL_FROM"],
            outbox_dir=_text(merged, "MAIL_OUTBOX_DIR") or str(instance / "outbox"),
            timeout=float(num("MAIL_TIMEOUT")), print_links=flag("MAIL_PRINT_LINKS")),
        web=WebSettings(
            signup_link_max_age=num("SIGNUP_LINK_MAX_AGE"), password_reset_max_age=num("PASSWORD_RESET_MAX_AGE"),
            terms_url=_text(merged, "TERMS_URL"), postpay_terms_url=_text(merged, "POSTPAY_TERMS_URL"),
            rate_limits={key.removeprefix("RATE_LIMIT_").lower(): _text(merged, key) or KEYS[key]
                         for key in RATE_LIMIT_KEYS},
            site_name=_text(merged, "SITE_NAME"), admin_require_2fa=flag("ADMIN_REQUIRE_2FA"),
            session_lifetime=_lifetime(lifetime),
            session_cookie_secure=flag("SESSION_COOKIE_SECURE"),
            session_cookie_name="bridge_session" if cookie_name == "session" else cookie_name,
            session_cookie_samesite=_text(merged, "SESSION_COOKIE_SAMESITE") or "Lax"),
        logging=LoggingSettings(
            format=(_text(merged, "LOG_FORMAT") or "json").lower(), level=(_text(merged, "LOG_LEVEL") or "INFO").upper(),
            access_log=flag("ACCESS_LOG"), configure=flag("LOG_CONFIGURE"),
            secrets=tuple(_text(merged, key) for key in SECRET_KEYS if merged.get(key))),
        values=merged,
    )


def load(instance_path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None,
         environ: Mapping[str, str] | None = None) -> Settings:
    """The settings of a bridge whose instance folder is ``instance_path`` (see the module doc)."""
    return from_values(raw_values(overrides, environ), instance_path)


def _persistent_secret(path: Path) -> str:
    """Read the instance secret key, creating it (mode 0600) on first use."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key
