"""``/healthz``: JSON liveness, database and SolusVM reachability.

The database is checked on every call (one ``SELECT 1``). SolusVM is checked at most once
per ``HEALTH_SOLUSVM_TTL`` seconds per worker (``GET account``, no retries, a short
timeout); between checks the last result is reported with its age, so a load balancer
polling ``/healthz`` never queues behind a slow SolusVM and GetTokenPricing never pays for it.
Only the database decides the status code: GetTokenPricing and the WHMCS API keep working
while SolusVM is down (changes wait in the outbox), so an unreachable SolusVM is reported
as ``"status": "degraded"`` with 200.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bridge.db import schema_problem
from bridge.flask_glue import current_settings, get_engine, get_session
from bridge.services.solusvm_client import SolusVMClient, SolusVMError
from bridge.settings import SolusVMSettings

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


class SolusVMProbe:
    """A cached reachability check of the configured SolusVM API."""

    def __init__(self, settings: SolusVMSettings) -> None:
        self.settings = settings
        self.ttl = settings.health_ttl
        self.timeout = settings.health_timeout
        self._lock = threading.Lock()
        self._result: dict[str, Any] | None = None
        self._checked = 0.0

    def _check(self) -> dict[str, Any]:

        try:
            client = SolusVMClient(self.settings.url, self.settings.api_token, timeout=self.timeout, retries=0)
            client.account()
        except SolusVMError as exc:
            # The message names method, path and status only; never the token.
            return {"state": "unreachable", "error": str(exc)}
        except ValueError as exc:
            return {"state": "unreachable", "error": str(exc)}
        return {"state": "ok"}

    def status(self) -> dict[str, Any]:
        """``{"state": ok|unreachable|not configured, "checked_seconds_ago": n, ...}``."""
        if not self.settings.configured:
            return {"state": "not configured"}
        now = time.monotonic()
        if self._result is None or now - self._checked >= self.ttl:
            # One thread refreshes; the others report the previous result instead of waiting.
            if self._lock.acquire(blocking=self._result is None):
                try:
                    if self._result is None or time.monotonic() - self._checked >= self.ttl:
                        self._result = self._check()
                        self._checked = time.monotonic()
                finally:
                    self._lock.release()
        assert self._result is not None
        return {**self._result, "checked_seconds_ago": round(time.monotonic() - self._checked, 1)}


def _probe() -> SolusVMProbe:
    ext = current_app.extensions
    probe = ext.get("bridge_solusvm_probe")
    if probe is None:
        probe = ext["bridge_solusvm_probe"] = SolusVMProbe(current_settings().solusvm)
    return probe


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    """200 ``{"status": "ok"|"degraded", "database": "ok", "solusvm": {...}}``; 503 when the database is
    down or not initialised (``"database": "database not initialised: run solus-bridge init-db"``).

    ``solusvm`` is left out when no SolusVM URL is configured.
    """
    solusvm = _probe().status()
    extra = {} if solusvm["state"] == "not configured" else {"solusvm": solusvm}
    try:
        get_session().execute(text("SELECT 1"))
    except SQLAlchemyError:
        log.exception("health check: database unreachable")
        return jsonify(status="error", database="unreachable", **extra), 503
    if not current_app.extensions.get("bridge_schema_ok"):
        # Checked until it is right once (a migrated database stays migrated while we run).
        problem = schema_problem(get_engine())
        if problem:
            return jsonify(status="error", database=problem, **extra), 503
        current_app.extensions["bridge_schema_ok"] = True
    status = "degraded" if solusvm["state"] == "unreachable" else "ok"
    return jsonify(status=status, database="ok", **extra)


bench_bp = Blueprint("bench", __name__)


@bench_bp.get("/bench/ping")
def ping():  # type: ignore[no-untyped-def]
    """A trivial JSON route, registered only with BENCH_ROUTES=true (bench/pricing_throughput.py)."""
    return jsonify(status="ok")
