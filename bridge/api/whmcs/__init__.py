"""``POST /includes/api.php``: the WHMCS External API.

Flow: parse the form (PHP arrays) → find the action (case-insensitive; "Command Not
Found") → authenticate ``identifier``+``secret`` or ``username``+MD5 ``password``
("Authentication Failed", HTTP 403) → IP allow-list unless a matching ``accesskey``
("Invalid IP <ip>", HTTP 403) → run the handler in one transaction (commit on success,
roll back on any error) → answer in ``responsetype`` json (default) or xml.
Action handlers live in the sibling modules and register with ``@action``.
"""

from __future__ import annotations

import hmac
import importlib
import ipaddress
import logging
import pkgutil
import random
import time
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, request
from sqlalchemy.exc import OperationalError

from bridge.api.whmcs import envelope
from bridge.api.whmcs.params import php_form
from bridge.api.whmcs.registry import ACTIONS, ActionContext, action
from bridge.db import get_session, is_lock_conflict
from bridge.errors import AuthFailed, BridgeError, Busy, CommandNotFound
from bridge.services import credentials

__all__ = ["ACTIONS", "action", "bp", "load_actions"]

bp = Blueprint("whmcs", __name__)
log = logging.getLogger(__name__)
LOCK_RETRIES = 6  # SQLite write-lock races; about 1 s of jittered backoff in all


def load_actions() -> None:
    """Import every module of this package so their ``@action`` handlers register."""
    for mod in pkgutil.iter_modules(__path__):
        if mod.name not in {"registry", "params", "envelope"}:
            importlib.import_module(f"{__name__}.{mod.name}")


@bp.record_once
def _on_register(_state: object) -> None:
    load_actions()


def _ip_allowed(remote: str, lists: list[str]) -> bool:
    entries = [e.strip() for lst in lists for e in lst.replace("\n", ",").split(",") if e.strip()]
    if not entries:
        return True  # no allow-list configured anywhere: every caller that authenticates may call
    try:
        addr = ipaddress.ip_address(remote)
    except ValueError:
        return False
    for entry in entries:
        try:
            if addr in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            log.warning("ignoring malformed allow-list entry %r", entry)
    return False


def _authenticate(params: dict, remote: str) -> str:
    """Check credentials and the IP allow-list; return the actor name."""
    identifier = params.get("identifier") or params.get("username") or ""
    secret = params.get("secret") or params.get("password") or ""
    if not isinstance(identifier, str) or not isinstance(secret, str):
        raise AuthFailed("Authentication Failed")
    cred = credentials.authenticate(get_session(), identifier, secret)
    key = current_app.config.get("API_ACCESS_KEY") or ""
    given = params.get("accesskey")
    if key and isinstance(given, str) and hmac.compare_digest(given.encode(), key.encode()):
        return f"api:{cred.name}"
    if not _ip_allowed(remote, [current_app.config.get("API_ALLOWED_IPS") or "", cred.allowed_ips or ""]):
        raise AuthFailed(f"Invalid IP {remote}")
    return f"api:{cred.name}"


@bp.post("/includes/api.php")
def api() -> Response:
    """The External API entry point."""
    responsetype = "json"
    session = get_session()
    try:
        params = php_form(request.form.items(multi=True))
        rt = params.get("responsetype")
        responsetype = "xml" if isinstance(rt, str) and rt.lower() == "xml" else "json"
        name = params.get("action")
        spec = ACTIONS.get(name.lower()) if isinstance(name, str) else None
        if spec is None:
            raise CommandNotFound()
        remote = request.remote_addr or ""
        actor = _authenticate(params, remote) if spec.auth else "solusvm"
        # Services that queue SolusVM changes read the config from the session (bridge.services.hooks).
        session.info["bridge_config"] = current_app.config
        for attempt in range(LOCK_RETRIES):
            ctx = ActionContext(params=params, session=session, actor=actor, config=current_app.config,
                                remote_addr=remote, today=datetime.now(UTC).date())
            try:
                result = spec.handler(ctx)
                session.commit()
                break
            except OperationalError as exc:
                # SQLite: another writer won the race for the lock; the action is one
                # transaction, so running it again from the start is safe.
                session.rollback()
                if not is_lock_conflict(exc):
                    raise
                if attempt == LOCK_RETRIES - 1:
                    raise Busy() from None
                time.sleep(min(0.5, 0.02 * 2 ** attempt) * random.uniform(0.5, 1.5))
        if isinstance(result, Response):
            return result
        return envelope.success(result, responsetype)
    except BridgeError as exc:
        session.rollback()
        return envelope.error(exc, responsetype)
    except Exception:
        session.rollback()
        log.exception("WHMCS API action failed")
        return envelope.render({"result": "error", "message": "An unexpected error occurred"}, responsetype, 500)
