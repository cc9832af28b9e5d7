"""``POST /includes/api.php``: the WHMCS External API.

Flow: merge the query string and the form as PHP's ``$_REQUEST`` does (the form wins; PHP
arrays decoded) → find the action (case-insensitive; "Command Not Found") → refuse an
address that failed authentication too often (HTTP 429) → authenticate ``identifier`` +
``secret`` or ``username`` + MD5 ``password`` (an API credential, or an admin account by
name and the MD5 of its password; "Authentication Failed", HTTP 403; each failure counts
against the address) → IP allow-list unless a matching ``accesskey``
("Invalid IP <ip>", HTTP 403) → run the handler in one transaction (commit on success, roll
back on any error) → answer in ``responsetype`` json (default) or xml, errors included.
Action handlers live in the sibling modules and register with ``@action``.
"""

from __future__ import annotations

import hmac
import importlib
import ipaddress
import logging
import pkgutil
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, request
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from bridge.api.whmcs import envelope
from bridge.api.whmcs.params import php_form
from bridge.api.whmcs.pricing import token_pricing
from bridge.api.whmcs.registry import ACTIONS, ActionContext, action
from bridge.db import is_lock_conflict
from bridge.errors import AuthFailed, BridgeError, Busy, CommandNotFound, ValidationFailed
from bridge.flask_glue import current_settings, get_engine, get_session, unit_of_work
from bridge.services import accounts, credentials, ratelimit
from bridge.settings import parse_networks

__all__ = ["ACTIONS", "action", "bp", "load_actions"]

bp = Blueprint("whmcs", __name__)
log = logging.getLogger(__name__)


def load_actions() -> None:
    """Import every module of this package so their ``@action`` handlers register."""
    for mod in pkgutil.iter_modules(__path__):
        if mod.name not in {"registry", "params", "envelope"}:
            importlib.import_module(f"{__name__}.{mod.name}")


@bp.record_once
def _on_register(_state: object) -> None:
    load_actions()


def _ip_allowed(remote: str, lists: list[str]) -> bool:
    nets, bad = parse_networks(",".join(lists))
    for entry in bad:
        log.warning("ignoring malformed allow-list entry %r", entry)
    if not nets and not bad:
        return True  # no allow-list configured anywhere: every caller that authenticates may call
    try:
        addr = ipaddress.ip_address(remote)
    except ValueError:
        return False
    return any(addr in net for net in nets)


AUTH_LIMIT_KEY = "whmcs-auth"  # rate_limits key prefix: failed API authentications per address


def _auth_limit() -> ratelimit.Limit:
    return ratelimit.parse_limit(current_settings().rate_limit_whmcs_auth)


def _count_failure(remote: str) -> None:
    try:
        ratelimit.hit(get_engine(), f"{AUTH_LIMIT_KEY}:{remote}", _auth_limit())
    except ratelimit.RateLimited:
        pass  # this answer is the 403 already decided; the next attempt is refused up front


class TooManyFailures(BridgeError):
    """Too many failed authentications from one address (HTTP 429)."""

    http_status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__("Too many failed authentication attempts; try again later")
        self.retry_after = retry_after


def _authenticate(params: dict, remote: str) -> str:
    """Check credentials and the IP allow-list; return the actor name.

    A wrong pair counts a failure against ``remote``; an address at the limit is refused
    before its credentials are looked at.
    """
    # Read before the credentials are checked, so a blocked address learns nothing, not even
    # that a guess was right.
    try:
        ratelimit.peek(get_engine(), f"{AUTH_LIMIT_KEY}:{remote}", _auth_limit())
    except ratelimit.RateLimited as exc:
        raise TooManyFailures(exc.retry_after) from None
    identifier = params.get("identifier") or params.get("username") or ""
    secret = params.get("secret") or params.get("password") or ""
    # WHMCS's pre-7.2 form: ``username`` + ``password`` only, which may name an admin account.
    admin_form = not params.get("identifier") and not params.get("secret") and bool(params.get("username"))
    try:
        if not isinstance(identifier, str) or not isinstance(secret, str):
            raise AuthFailed("Authentication Failed")
        try:
            cred = credentials.authenticate(get_session(), identifier, secret)
            actor, allowed_ips = f"api:{cred.name}", cred.allowed_ips or ""
        except AuthFailed:
            if not admin_form:
                raise
            admin = accounts.authenticate_admin_md5(get_session(), identifier, secret)
            if admin is None:
                raise
            actor, allowed_ips = f"api-admin:{admin.name}", ""
    except AuthFailed:
        _count_failure(remote)
        raise
    key = current_settings().api_access_key
    given = params.get("accesskey")
    if key and isinstance(given, str) and hmac.compare_digest(given.encode(), key.encode()):
        return actor
    if not _ip_allowed(remote, [current_settings().api_allowed_ips, allowed_ips]):
        raise AuthFailed(f"Invalid IP {remote}")
    return actor


def request_params() -> dict:
    """The query string and the form merged like PHP's ``$_REQUEST``: a form field wins.

    Each part's PHP arrays are decoded on their own, so ``a[]`` in the form replaces the
    query string's ``a`` entirely (as PHP does), never mixes with it.
    """
    return {**php_form(request.args.items(multi=True)), **php_form(request.form.items(multi=True))}


def _responsetype() -> str:
    """``xml`` or ``json``, read before anything else is parsed, so every error honours it."""
    rt = request.form.get("responsetype")
    if rt is None:
        rt = request.args.get("responsetype")
    return "xml" if isinstance(rt, str) and rt.strip().lower() == "xml" else "json"


def _find_action(params: dict) -> str:
    name = params.get("action")
    if not isinstance(name, str) or name.strip().lower() not in ACTIONS:
        raise CommandNotFound()
    return name.strip().lower()


@bp.post("/includes/api.php")
def api() -> Response:
    """The External API entry point."""
    responsetype = "json"
    session = get_session()
    try:
        responsetype = _responsetype()
        raw_action = request.form.get("action", request.args.get("action"))
        name = raw_action.strip().lower() if isinstance(raw_action, str) else ""
        if name == "gettokenpricing":
            # SolusVM's call: the addon URL's code path on the same fields, so every fault
            # gets the same HTTP status there and here (whatever PHP arrays it carries).
            return token_pricing(request_params)
        try:
            params = request_params()
        except ValidationFailed:
            # A malformed field of an unknown action is still an unknown action.
            if name not in ACTIONS:
                raise CommandNotFound() from None
            raise
        spec = ACTIONS[_find_action(params)]
        remote = request.remote_addr or ""
        actor = _authenticate(params, remote) if spec.auth else "solusvm"
        settings = current_settings()
        # The action is one transaction: the unit of work runs it again from the start when
        # SQLite's write lock is lost to another writer, and after commit tries the SolusVM
        # changes it queued, within the request's budget.
        unit = unit_of_work()

        def work(sess: Session) -> Any:
            return spec.handler(ActionContext(params=params, session=sess, actor=actor, settings=settings,
                                              remote_addr=remote, today=datetime.now(UTC).date(),
                                              responsetype=responsetype))

        try:
            result = unit.run_in(session, work)
        except OperationalError as exc:
            if not is_lock_conflict(exc):
                raise
            raise Busy() from None  # still locked after the unit of work's retries
        if isinstance(result, Response):
            return result
        return envelope.success(result, responsetype, action=spec.name)
    except TooManyFailures as exc:
        session.rollback()
        resp = envelope.error(exc, responsetype)
        resp.headers["Retry-After"] = str(exc.retry_after)
        return resp
    except BridgeError as exc:
        session.rollback()
        return envelope.error(exc, responsetype)
    except DBAPIError as exc:
        session.rollback()
        # The driver's text can quote the failing row (PostgreSQL's DETAIL: "Failing row
        # contains (...)", with addresses and password hashes): name the error, never its text.
        code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or "-"
        log.error("WHMCS API action failed: database error %s (SQLSTATE %s)", type(exc.orig).__name__, code)
        return envelope.render({"result": "error", "message": "An unexpected error occurred"}, responsetype, 500)
    except Exception:
        session.rollback()
        log.exception("WHMCS API action failed")
        return envelope.render({"result": "error", "message": "An unexpected error occurred"}, responsetype, 500)
