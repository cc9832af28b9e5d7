"""Configuration: defaults, then an optional TOML file, then ``BRIDGE_*`` environment, then
the mapping passed to ``create_app`` (last wins). Every key is listed in docs/configuration.md.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": None,  # None: sqlite:///<instance>/bridge.sqlite3
    "SECRET_KEY": None,  # None: generated once and kept in <instance>/secret_key
    "PRICING_TOKEN": "",  # shared secret SolusVM sends as `token`; empty = no check
    "SOLUSVM_URL": "",
    "SOLUSVM_API_TOKEN": "",
    # SolusVM users (docs/users.md); blank limit group / roles = SolusVM's defaults
    "SOLUSVM_LIMIT_GROUP_ID": "",
    "SOLUSVM_ROLE_IDS": "",
    "SOLUSVM_LOGIN_URL_TEMPLATE": "{solusvm_url}/auth/by_token?token={token}",
    "OUTBOX_MAX_ATTEMPTS": 10,
    "OUTBOX_RETRY_SECONDS": 60,
    "OVERDUE_LOCK_DAYS": 7,
    "OVERDUE_SUSPEND_DAYS": 14,
    "SYNC_LOCK_UNKNOWN": False,
    "CATALOGUE_FILE": "",
    "SYSTEM_URL": "http://127.0.0.1:5000",
    "API_ACCESS_KEY": "",  # WHMCS $api_access_key: bypasses the IP allow-list when matched
    "API_ALLOWED_IPS": "",
    "RATE_LIMIT_WHMCS_AUTH": "10/60",
    "PAYMENT_METHODS": "banktransfer=Bank Transfer",  # GetPaymentMethods: module=Display Name, comma-separated  # failed /includes/api.php authentications per address (hits/seconds)  # comma-separated; applied to every credential in addition to its own list
    "CATALOGUE_CACHE": True,  # in-process catalogue cache for GetTokenPricing
    "WHMCS_VERSION": "8.13.1",
    "INVOICE_DUE_DAYS": 14,
    "INVOICE_CATCHUP_MONTHS": 3,  # how far back the cron looks for months without a completed run
    "SOLUSVM_REQUEST_BUDGET": 3.0,  # seconds a web/API request may wait on SolusVM in total, retries included
    "BENCH_ROUTES": False,  # adds /bench/ping, a trivial JSON route for bench/pricing_throughput.py
    "METRICS_TOKEN": "",  # when set, GET /metrics requires "Authorization: Bearer <token>"
    # without METRICS_TOKEN, /metrics answers only direct (not proxied) requests from these addresses
    "METRICS_ALLOWED_IPS": "127.0.0.1,::1",
    "RATE_LIMIT_PRICING_TOKEN": "20/60",  # wrong GetTokenPricing tokens per source address (then 429)
    "MAX_CONTENT_LENGTH": 1048576,  # request body limit in bytes on every surface (413 above it)
    "CONFIG_FILE": "",  # optional TOML file with any of these keys (upper-case, no prefix)
}

ENV_PREFIX = "BRIDGE_"


def _coerce(value: str, default: Any) -> Any:
    """Turn an environment string into the type of the default."""
    if isinstance(default, bool):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(value)
    return value


def load_config(instance_path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Build the merged configuration dictionary."""
    env = os.environ if environ is None else environ
    cfg: dict[str, Any] = dict(DEFAULTS)
    config_file = (overrides or {}).get("CONFIG_FILE") or env.get(ENV_PREFIX + "CONFIG_FILE", "")
    if config_file:
        with open(config_file, "rb") as fh:
            for key, value in tomllib.load(fh).items():
                cfg[key.upper()] = value
    for key, value in env.items():
        if key.startswith(ENV_PREFIX):
            name = key[len(ENV_PREFIX):]
            cfg[name] = _coerce(value, DEFAULTS.get(name, ""))
    if overrides:
        cfg.update(overrides)
    cfg["SOLUSVM_URL"] = solusvm_base_url(cfg.get("SOLUSVM_URL"))
    instance = Path(instance_path)
    if not cfg.get("DATABASE_URL"):
        instance.mkdir(parents=True, exist_ok=True)
        cfg["DATABASE_URL"] = f"sqlite:///{instance / 'bridge.sqlite3'}"
    if not cfg.get("SECRET_KEY"):
        cfg["SECRET_KEY"] = _persistent_secret(instance / "secret_key")
    return cfg


def solusvm_base_url(value: Any) -> str:
    """SolusVM's base URL: the API URL people copy (``.../api/v1``) is accepted and trimmed to it."""
    url = str(value or "").strip().rstrip("/")
    if url.endswith("/api/v1"):
        url = url[: -len("/api/v1")]
    return url


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


def check_system_url(value: Any) -> None:
    """Raise ValueError unless ``value`` is an http(s) base URL (no query or fragment)."""
    from urllib.parse import urlsplit

    parts = urlsplit(str(value or ""))
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"SYSTEM_URL must be the bridge's public http(s) URL (a base URL: no query or fragment), got {value!r}")

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
