"""Request ids, structured logs and the ``/metrics`` exposition.

``init_app(app)`` (called by ``create_app``):

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

A redaction filter on the ``bridge`` logger replaces configured secret values (pricing
token, SolusVM API token, secret key, API access key, mail password, metrics token) and ``token=``,
``secret=``, ``password=`` parameters in log messages: defence in depth, the code never
logs them on purpose.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from flask import Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bridge import metrics
from bridge.config import parse_networks

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
# Endpoints whose latency is GetTokenPricing's (the WHMCS endpoint counts only for that action).
PRICING_ENDPOINTS = {"pricing.addon_api"}
WHMCS_ENDPOINT = "whmcs.api"
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
SECRET_KEYS = ("PRICING_TOKEN", "SOLUSVM_API_TOKEN", "SECRET_KEY", "API_ACCESS_KEY", "MAIL_PASSWORD", "METRICS_TOKEN")
# Any parameter whose name ends in token/secret/password (access_token, api_token, password2...).
_SECRET_PARAM = re.compile(r"(?i)\b([a-z_]*(?:token|secret|password2?)|accesskey)=([^&\s\"']+)")
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


#: The id of the work in progress in this context: the request's (set before each request,
#: reset after it) or a run's (``run_context``). ``None``: neither.
REQUEST_ID: ContextVar[str | None] = ContextVar("bridge_request_id", default=None)
_process_run: tuple[int, str] | None = None
_process_run_lock = threading.Lock()


def sane_request_id(value: str | None) -> bool:
    """True when ``value`` is a plain token fit for logs and headers (no spaces, quotes, control characters)."""
    return bool(value) and _SANE_ID.fullmatch(str(value)) is not None


def new_run_id(kind: str = "run") -> str:
    """A fresh id for a run outside any request, e.g. ``cron-3f2a...``."""
    kind = re.sub(r"[^A-Za-z0-9]", "", kind)[:20] or "run"
    return f"{kind}-{uuid.uuid4().hex[:24]}"


def process_run_id() -> str:
    """This process's run id, generated on first use (again after a fork: each worker its own)."""
    global _process_run
    pid = os.getpid()
    current = _process_run
    if current is None or current[0] != pid:
        with _process_run_lock:
            if _process_run is None or _process_run[0] != pid:
                _process_run = (pid, new_run_id())
            current = _process_run
    return current[1]


def current_request_id() -> str:
    """The id of the work being done: the request being served, else the enclosing
    ``run_context``, else this process's run id (a CLI or cron process is one run).

    Works with and without a Flask context; services call it (through the SolusVM client)
    without knowing about Flask.
    """
    rid = REQUEST_ID.get()
    if rid:
        return rid
    try:
        rid = g.get("request_id")  # code (or a test) that set it on ``g`` directly
    except RuntimeError:  # no app context
        rid = None
    return str(rid) if rid else process_run_id()


@contextmanager
def run_context(kind: str = "run", run_id: str | None = None) -> Iterator[str]:
    """Give the block an id of its own (logs, ``X-Request-ID`` to SolusVM) and yield it.

    Inside a request or an outer run the existing id is kept, so a run started by a request
    stays correlated with it.
    """
    existing = REQUEST_ID.get()
    if existing:
        yield existing
        return
    rid = run_id if run_id and sane_request_id(run_id) else new_run_id(kind)
    token = REQUEST_ID.set(rid)
    try:
        yield rid
    finally:
        REQUEST_ID.reset(token)


def _incoming_id() -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    # Accept a proxy's id only when it is a plain token: it ends up in logs and headers.
    return given if sane_request_id(given) else uuid.uuid4().hex


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
    """The Prometheus text for this process (or all worker processes) plus the database gauges."""
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
    if access_log.isEnabledFor(logging.INFO) and flag(current_app.config.get("ACCESS_LOG")):
        access_log.info("%s %s %s", method, rule, response.status_code,
                        extra={"method": method, "route": rule, "status": response.status_code,
                               "duration_ms": round(elapsed * 1000, 3)})
    return response


def metrics_authorized(config: Any, authorization: str | None) -> bool:
    """True when ``METRICS_TOKEN`` is unset, or ``authorization`` is ``Bearer <that token>``
    (compared in constant time)."""
    token = str(config.get("METRICS_TOKEN") or "")
    if not token:
        return True
    scheme, _, given = (authorization or "").strip().partition(" ")
    # Compare even when the scheme is wrong, so the time taken says nothing either way.
    same = hmac.compare_digest(given.strip().encode("utf-8"), token.encode("utf-8"))
    return same and scheme.lower() == "bearer"


PROXY_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def metrics_address_allowed(config: Any, remote_addr: str | None, headers: Any) -> bool:
    """Without ``METRICS_TOKEN``: only a direct request from ``METRICS_ALLOWED_IPS`` (default
    loopback). A request that came through a proxy (forwarding headers) is refused, because
    a reverse proxy on the same host would make every visitor look like 127.0.0.1."""
    import ipaddress

    if any(headers.get(name) for name in PROXY_HEADERS):
        return False
    try:
        addr = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        return False
    nets, _bad = parse_networks(config.get("METRICS_ALLOWED_IPS", "127.0.0.1,::1"))  # check-config reports _bad
    return any(addr in net for net in nets)


def metrics_view() -> Response:
    """``GET /metrics``: with ``METRICS_TOKEN`` set, only for ``Authorization: Bearer <token>``
    (else 401); without it, only for direct requests from ``METRICS_ALLOWED_IPS`` (else 403)."""
    cfg = current_app.config
    if cfg.get("METRICS_TOKEN"):
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
    if flag(app.config.get("LOG_CONFIGURE")):
        configure_logging(app.config)
    app.before_request(_before)
    app.after_request(_after)
    app.teardown_request(_teardown)
    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])
