"""``/healthz``: JSON liveness and database reachability."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bridge.db import get_session

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    """200 ``{"status": "ok", "database": "ok"}`` or 503 when the database is unreachable."""
    try:
        get_session().execute(text("SELECT 1"))
    except SQLAlchemyError:
        log.exception("health check: database unreachable")
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok")


bench_bp = Blueprint("bench", __name__)


@bench_bp.get("/bench/ping")
def ping():  # type: ignore[no-untyped-def]
    """A trivial JSON route, registered only with BENCH_ROUTES=true (bench/pricing_throughput.py)."""
    return jsonify(status="ok")
