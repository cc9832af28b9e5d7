"""Request ids, structured logs and the ``/metrics`` exposition.

``init_app(app)`` (called by ``create_app``):

- gives every request an id: an incoming ``X-Request-ID`` when it is sane, else a new one;
  it is echoed in the response header and attached to every log record of the request;
- counts each request in ``bridge_http_requests_total`` by the route's *rule*
  (``/clientarea/invoices/<int:id>``, never the raw path, so label values stay bounded and
  no id or token in a URL becomes a label) and observes GetTokenPricing's latency;
- writes one JSON line per request to the ``bridge.access`` logger (method, route rule,
  status, duration, request id; no query strings, which may carry SSO tokens);
- serves ``GET /metrics`` in Prometheus text format. Under gunicorn, set
  ``PROMETHEUS_MULTIPROC_DIR`` (an empty directory, before the workers start) and every
  worker's counters are summed at scrape time. Gauges that describe the database (pending
  outbox changes, unpaid invoices) are read from the database at scrape time by
  ``DatabaseCollector``, so they are right whichever worker answers.

A redaction filter on the ``bridge`` logger replaces configured secret values (pricing
token, SolusVM API token, secret key, API access key, mail password) and ``token=``,
``secret=``, ``password=`` parameters in log messages: defence in depth, the code never
logs them on purpose.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bridge import metrics

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
# Endpoints whose latency is GetTokenPricing's (the WHMCS endpoint counts only for that action).
PRICING_ENDPOINTS = {"pricing.addon_api"}
WHMCS_ENDPOINT = "whmcs.api"
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
SECRET_KEYS = ("PRICING_TOKEN", "SOLUSVM_API_TOKEN", "SECRET_KEY", "API_ACCESS_KEY", "MAIL_PASSWORD")
_SECRET_PARAM = re.compile(r"(?i)\b(token|secret|password|password2|accesskey|api_token)=([^&\s\"']+)")
_BEARER = re.compile(r"(?i)\bBearer\s+[A-Za-z0-9._~+/=\-]+")

access_log = logging.getLogger("bridge.access")


def flag(value: Any, default: bool = True) -> bool:
    """A boolean setting that may arrive as a string from the environment."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


# --- request ids -----------------------------------------------------------------------


def current_request_id() -> str:
    """The id of the request being served, or ``"-"`` outside a request."""
    try:
        return str(g.get("request_id") or "-")
    except RuntimeError:  # no app context
        return "-"


def _incoming_id() -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    # Accept a proxy's id only when it is a plain token: it ends up in logs and headers.
    return given if _SANE_ID.match(given) else uuid.uuid4().hex


# --- logging ---------------------------------------------------------------------------


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


class RedactFilter(logging.Filter):
    """Replaces secret values in a record's rendered message (and drops its args)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Very short values would mask ordinary words; real secrets are long.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """``text`` with secret values and secret-looking parameters masked."""
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        text = _SECRET_PARAM.sub(lambda m: f"{m.group(1)}=[redacted]", text)
        return _BEARER.sub("Bearer [redacted]", text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not lose the record
            message = str(record.msg)
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and any ``extra`` fields."""

    RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "request_id", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in self.RESERVED and not key.startswith("_"):
                doc[key] = value
        if record.exc_info:
            doc["exc"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


_HANDLER_MARK = "_bridge_handler"


def configure_logging(config: Any, stream: Any = None, *, force: bool = False) -> logging.Handler | None:
    """Install (or replace) the bridge's one handler on the ``bridge`` logger.

    ``LOG_FORMAT`` = ``json`` (default) or ``text``; ``LOG_LEVEL`` (default ``INFO``).
    Records still propagate. When the root logger already has handlers (a CLI that called
    ``logging.basicConfig``, an embedding application, pytest), those are left to print and
    only get the redaction filter, so no line is printed twice; ``force`` installs ours anyway.
    """
    logger = logging.getLogger("bridge")
    logger.setLevel(str(config.get("LOG_LEVEL") or "INFO").upper())
    redact = RedactFilter(str(config.get(k) or "") for k in SECRET_KEYS)
    for old in [h for h in logger.handlers if getattr(h, _HANDLER_MARK, False)]:
        logger.removeHandler(old)
    root = logging.getLogger()
    if root.handlers and not force:
        for h in root.handlers:
            for f in [f for f in h.filters if isinstance(f, RedactFilter)]:
                h.removeFilter(f)
            h.addFilter(redact)
        return None
    handler = logging.StreamHandler(stream)
    setattr(handler, _HANDLER_MARK, True)
    if str(config.get("LOG_FORMAT") or "json").lower() == "text":
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    else:
        handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    handler.addFilter(redact)
    logger.addHandler(handler)
    return handler


# --- metrics ---------------------------------------------------------------------------


class DatabaseCollector(Collector):
    """Gauges read from the database at scrape time (right whichever worker is scraped)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from sqlalchemy import func, select

        from bridge.models import Invoice, Outbox

        up = GaugeMetricFamily("bridge_database_up", "1 when the database answered the scrape's queries")
        pending = GaugeMetricFamily("bridge_outbox_pending", "SolusVM changes waiting in the outbox, by status",
                                    labels=["status"])
        unpaid = GaugeMetricFamily("bridge_invoices_unpaid", "Invoices with status Unpaid")
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(select(Outbox.status, func.count()).where(
                    Outbox.status.in_(("pending", "failed"))).group_by(Outbox.status)).all()
                n_unpaid = conn.execute(select(func.count()).select_from(Invoice).where(
                    Invoice.status == "Unpaid")).scalar_one()
        except Exception:  # noqa: BLE001 - a scrape must answer even when the DB is down
            logging.getLogger(__name__).warning("metrics: database gauges unavailable", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        counts = {"pending": 0, "failed": 0, **{status: n for status, n in rows}}
        for status, n in sorted(counts.items()):
            pending.add_metric([status], n)
        unpaid.add_metric([], n_unpaid)
        up.add_metric([], 1)
        yield from (up, pending, unpaid)


def exposition(engine: Any) -> bytes:
    """The Prometheus text for this process (or all gunicorn workers) plus the database gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    db_registry = CollectorRegistry(auto_describe=False)
    db_registry.register(DatabaseCollector(engine))
    return text + generate_latest(db_registry)


# --- Flask wiring ----------------------------------------------------------------------


def _before() -> None:
    g.request_id = _incoming_id()
    g.request_started = time.perf_counter()


def _after(response: Response) -> Response:
    rid = g.get("request_id")
    if rid:
        response.headers[REQUEST_ID_HEADER] = rid
    started = g.get("request_started")
    elapsed = time.perf_counter() - started if started is not None else 0.0
    rule = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
    # Label values stay bounded: a client can send any method name, but it becomes "OTHER".
    method = request.method if request.method in HTTP_METHODS else "OTHER"
    metrics.HTTP_REQUESTS.labels(rule, method, str(response.status_code)).inc()
    endpoint = request.endpoint or ""
    if endpoint in PRICING_ENDPOINTS or (
        endpoint == WHMCS_ENDPOINT and request.form.get("action") == "GetTokenPricing"
    ):
        metrics.TOKEN_PRICING_SECONDS.observe(elapsed)
    if access_log.isEnabledFor(logging.INFO) and flag(current_app.config.get("ACCESS_LOG")):
        access_log.info("%s %s %s", method, rule, response.status_code,
                        extra={"method": method, "route": rule, "status": response.status_code,
                               "duration_ms": round(elapsed * 1000, 3)})
    return response


def metrics_view() -> Response:
    """``GET /metrics``."""
    engine = current_app.extensions["bridge_db"]["engine"]
    return Response(exposition(engine), mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    """Wire request ids, access logging and ``/metrics`` into ``app``."""
    if flag(app.config.get("LOG_CONFIGURE")):
        configure_logging(app.config)
    app.before_request(_before)
    app.after_request(_after)
    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])
