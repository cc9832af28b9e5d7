"""The Flask side of request ids and logs, and the ``/metrics`` exposition.

The request-id context and the log handler are Flask-free (``bridge.logs``); services never
import this module. ``init_app(app)`` (called by ``create_app``):

- gives every request an id: an incoming ``X-Request-ID`` when it is sane, else a new one;
  it is echoed in the response header, attached to every log record of the request and
  forwarded to SolusVM (``SolusVMClient`` sends ``X-Request-ID: current_request_id()``).
  The id lives in a ``ContextVar`` (``REQUEST_ID``), so code without Flask reads it too.
  Outside a request (the cron, the CLI) the id is the *run's*: ``run_context()`` gives a
  block one, otherwise the process gets one id on first use (``run-<hex>``), so one CLI run's
  log lines and SolusVM calls share it;
- counts each request in ``bridge_http_requests_total`` by the route's *rule*
  (``/clientarea/invoices/<int:id>``, never the raw path, so label values stay bounded and
  no id or token in a URL becomes a label) and observes GetTokenPricing's latency;
- writes one JSON line per request to the ``bridge.access`` logger (method, route rule,
  status, duration, request id; no query strings, which may carry SSO tokens);
- serves ``GET /metrics`` in Prometheus text format, closed by default: with ``METRICS_TOKEN`` set,
  only to ``Authorization: Bearer <token>``, compared in constant time (401 otherwise); without
  it, only to direct requests from ``METRICS_ALLOWED_IPS`` (loopback by default; 403 otherwise). With several worker processes, set
  ``PROMETHEUS_MULTIPROC_DIR`` (an empty directory, before the workers start) and every
  worker's counters are summed at scrape time. Gauges that describe the database (pending
  outbox changes, unpaid invoices) are read from the database at scrape time by
  ``DatabaseCollector``, so they are right whichever worker answers.

- installs ``bridge.logs.configure_logging`` unless ``LOG_CONFIGURE`` is off.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from werkzeug.datastructures import Headers

from bridge import metrics
from bridge.flask_glue import current_settings, settings_of
from bridge.logs import REQUEST_ID, REQUEST_ID_HEADER, configure_logging, sane_request_id
from bridge.models import Invoice, Outbox
from bridge.settings import Settings, parse_networks

# Endpoints whose latency is GetTokenPricing's (the WHMCS endpoint counts only for that action).
PRICING_ENDPOINTS = {"pricing.addon_api"}
WHMCS_ENDPOINT = "whmcs.api"
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

access_log = logging.getLogger("bridge.access")


# --- metrics ---------------------------------------------------------------------------


class DatabaseCollector(Collector):
    """Gauges read from the database at scrape time (right whichever worker is scraped)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
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
    """The Prometheus text for this process (or all worker processes) plus the database gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    db_registry = CollectorRegistry(auto_describe=False)
    db_registry.register(DatabaseCollector(engine))
    return text + generate_latest(db_registry)


# --- Flask wiring ----------------------------------------------------------------------


def _incoming_id() -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    # Accept a proxy's id only when it is a plain token: it ends up in logs and headers.
    return given if sane_request_id(given) else uuid.uuid4().hex


def _before() -> None:
    g.request_id = _incoming_id()
    g.request_id_token = REQUEST_ID.set(g.request_id)
    g.request_started = time.perf_counter()


def _teardown(_exc: BaseException | None) -> None:
    token = g.pop("request_id_token", None)
    if token is not None:
        try:
            REQUEST_ID.reset(token)
        except ValueError:  # set in another context (should not happen with sync workers)
            REQUEST_ID.set(None)


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
        # A refused body (413) was never read, and must not be read here either.
        endpoint == WHMCS_ENDPOINT and response.status_code != 413 and request.form.get("action") == "GetTokenPricing"
    ):
        metrics.TOKEN_PRICING_SECONDS.observe(elapsed)
    if access_log.isEnabledFor(logging.INFO) and current_settings().logging.access_log:
        access_log.info("%s %s %s", method, rule, response.status_code,
                        extra={"method": method, "route": rule, "status": response.status_code,
                               "duration_ms": round(elapsed * 1000, 3)})
    return response


def metrics_authorized(settings: Settings, authorization: str | None) -> bool:
    """True when ``METRICS_TOKEN`` is unset, or ``authorization`` is ``Bearer <that token>``
    (compared in constant time)."""
    token = settings.metrics_token
    if not token:
        return True
    scheme, _, given = (authorization or "").strip().partition(" ")
    # Compare even when the scheme is wrong, so the time taken says nothing either way.
    same = hmac.compare_digest(given.strip().encode("utf-8"), token.encode("utf-8"))
    return same and scheme.lower() == "bearer"


PROXY_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def metrics_address_allowed(settings: Settings, remote_addr: str | None, headers: Headers) -> bool:
    """Without ``METRICS_TOKEN``: only a direct request from ``METRICS_ALLOWED_IPS`` (default
    loopback). A request that came through a proxy (forwarding headers) is refused, because
    a reverse proxy on the same host would make every visitor look like 127.0.0.1."""
    if any(headers.get(name) for name in PROXY_HEADERS):
        return False
    try:
        addr = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        return False
    nets, _bad = parse_networks(settings.metrics_allowed_ips)  # check-config reports _bad
    return any(addr in net for net in nets)


def metrics_view() -> Response:
    """``GET /metrics``: with ``METRICS_TOKEN`` set, only for ``Authorization: Bearer <token>``
    (else 401); without it, only for direct requests from ``METRICS_ALLOWED_IPS`` (else 403)."""
    cfg = current_settings()
    if cfg.metrics_token:
        if not metrics_authorized(cfg, request.headers.get("Authorization")):
            return Response("401 Unauthorized: /metrics needs Authorization: Bearer <METRICS_TOKEN>\n", status=401,
                            mimetype="text/plain", headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    elif not metrics_address_allowed(cfg, request.remote_addr, request.headers):
        return Response("403 Forbidden: /metrics answers loopback only; set METRICS_TOKEN (or "
                        "METRICS_ALLOWED_IPS) to scrape it from elsewhere\n", status=403, mimetype="text/plain")
    engine = current_app.extensions["bridge_db"]["engine"]
    return Response(exposition(engine), mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    """Wire request ids, access logging and ``/metrics`` into ``app``."""
    settings = settings_of(app)
    if settings.logging.configure:
        configure_logging(settings.logging)
    app.before_request(_before)
    app.after_request(_after)
    app.teardown_request(_teardown)
    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])
