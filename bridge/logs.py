"""Request ids and structured logs, Flask-free.

The id of the work in progress lives in a ``ContextVar`` (``REQUEST_ID``): the request's
(``bridge.observability`` sets it before each request and resets it after), a block's
(``run_context``), else the process's own run id (``run-<hex>``, one per CLI or cron process),
so one run's log lines and SolusVM calls share it. ``configure_logging`` installs the
bridge's handler (JSON or text lines, the request id on each) and the redaction filter,
which masks the configured secrets and ``token=``/``secret=``/``password=`` parameters:
defence in depth, the code never logs them on purpose.
"""

from __future__ import annotations

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

from bridge.settings import LoggingSettings

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
# Any parameter whose name ends in token/secret/password (access_token, api_token, password2...).
_SECRET_PARAM = re.compile(r"(?i)\b([a-z_]*(?:token|secret|password2?)|accesskey)=([^&\s\"']+)")
_BEARER = re.compile(r"(?i)\bBearer\s+[A-Za-z0-9._~+/=\-]+")


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

    Flask-free: services call it (through the SolusVM client); ``bridge.observability`` sets
    the request's id before each request.
    """
    return REQUEST_ID.get() or process_run_id()


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


def configure_logging(settings: LoggingSettings, stream: Any = None, *, force: bool = False
                      ) -> logging.Handler | None:
    """Install (or replace) the bridge's one handler on the ``bridge`` logger.

    ``LOG_FORMAT`` = ``json`` (default) or ``text``; ``LOG_LEVEL`` (default ``INFO``).
    Records still propagate. When the root logger already has handlers (a CLI that called
    ``logging.basicConfig``, an embedding application, pytest), those are left to print and
    only get the redaction filter, so no line is printed twice; ``force`` installs ours anyway.
    """
    logger = logging.getLogger("bridge")
    logger.setLevel(settings.level.upper())
    redact = RedactFilter(settings.secrets)
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
    if settings.format.lower() == "text":
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    else:
        handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    handler.addFilter(redact)
    logger.addHandler(handler)
    return handler
