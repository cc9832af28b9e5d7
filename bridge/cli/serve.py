"""``solus-bridge serve``: the bridge on granian worker processes (one per core).

granian is a Rust HTTP server with a WSGI interface. Measured against gunicorn's sync
workers on this project's machine kind (``bench/pricing_throughput.py``, docs/performance.md), the
same two worker processes answer GetTokenPricing about twice as fast. What gunicorn gave
the operator is kept:

- a request bound: a request that runs longer than ``--timeout`` seconds kills its worker
  (logged), like gunicorn's worker timeout, and granian starts a new one;
- graceful restart: ``kill -HUP <main pid>`` replaces the workers one by one, each old one
  finishing its requests first; ``TERM``/``INT`` stop gracefully;
- the bridge's own access log (``bridge.access``, redacted, no query strings); granian's is off;
- ``PROMETHEUS_MULTIPROC_DIR``: every worker writes its counters there, ``/metrics`` sums them;
- the per-process mail sender starts in each worker on first use (``bridge.web.common``).

Nothing is written outside the instance folder: granian has no control socket, and the
listening socket is checked first, so a port in use is one line, not a retry loop.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import click

from bridge.cli import database_ready, make_app

log = logging.getLogger("bridge.serve")

# granian treats a worker that dies within 5.5 s of being (re)started as a crash loop and
# stops the whole server; a shorter request bound could turn one slow client into an outage.
MIN_TIMEOUT = 6

ENV_HELP = """\b
The app reads its settings from BRIDGE_* variables (docs/configuration.md), e.g.
BRIDGE_DATABASE_URL, BRIDGE_PRICING_TOKEN, BRIDGE_SECRET_KEY, BRIDGE_SOLUSVM_URL,
BRIDGE_SOLUSVM_API_TOKEN, BRIDGE_SYSTEM_URL; PROMETHEUS_MULTIPROC_DIR turns on
multi-process metrics. Each option above may also come from the variable it names.
"""


class RequestDeadline:
    """WSGI wrapper that bounds how long a request may run in this worker process.

    A watchdog thread looks at the requests in flight once a second; when one has run for
    more than ``timeout`` seconds it logs which and calls ``on_timeout`` (by default: kill
    this worker with SIGKILL, as gunicorn does; the granian main process starts a new one).
    The cost on the request path is two dict operations and a clock read.
    """

    def __init__(self, app: Any, timeout: float, on_timeout: Callable[[], None] | None = None,
                 interval: float = 1.0) -> None:
        self.app, self.timeout = app, timeout
        self.on_timeout = on_timeout or _kill_this_worker
        self._started: dict[int, tuple[float, str]] = {}
        self._interval = interval
        threading.Thread(target=self._watch, name="bridge-request-deadline", daemon=True).start()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        key = threading.get_ident()
        self._started[key] = (time.monotonic(), environ.get("PATH_INFO", ""))
        try:
            return self.app(environ, start_response)
        finally:
            del self._started[key]

    def _watch(self) -> None:
        while True:
            time.sleep(self._interval)
            now = time.monotonic()
            over = [path for started, path in list(self._started.values()) if now - started > self.timeout]
            if over:
                log.critical("worker %d: a request to %s ran longer than %ss; the worker restarts",
                             os.getpid(), over[0], self.timeout)
                self.on_timeout()
                return


def _kill_this_worker() -> None:
    for handler in logging.getLogger().handlers + logging.getLogger("bridge").handlers:
        handler.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def worker_app(timeout: float) -> Any:
    """The WSGI callable of one worker process (granian calls this in each worker)."""
    return RequestDeadline(make_app(), timeout)


def check_port(host: str, port: int) -> tuple[int, socket.socket]:
    """Fail with one line when ``host:port`` is taken; returns the port (a free one for 0) and
    a socket that keeps it reserved for granian's workers.

    The first bind has no ``SO_REUSEPORT``, so it fails if anything listens there, granian
    included (its workers share the port through ``SO_REUSEPORT``, and a second bridge would
    otherwise silently join the first). The returned socket is bound with ``SO_REUSEPORT``
    but never listens, so it takes no connections; it only stops another process from
    taking a port 0 pick before the workers bind it.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
            port = probe.getsockname()[1]
        keep = socket.socket(family, socket.SOCK_STREAM)
        keep.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        keep.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        keep.bind((host, port))
    except OSError as exc:
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        raise click.ClickException(f"cannot listen on {host}:{port}: {reason}") from None
    return port, keep


def _granian_logging() -> dict[str, Any]:
    """granian's own lines (start, listening, worker respawns) on stderr, like gunicorn's."""
    stream = {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"}
    return {"handlers": {"console": {**stream, "formatter": "generic"}, "access": {**stream, "formatter": "access"}}}


def register(group: click.Group) -> None:
    @group.command("serve", epilog=ENV_HELP)
    @click.option("--host", default="127.0.0.1", show_default=True, envvar="BRIDGE_HOST", show_envvar=True)
    @click.option("--port", default=5000, show_default=True, type=click.IntRange(0, 65535), envvar="BRIDGE_PORT",
                  show_envvar=True, help="0 picks a free port (printed on the 'Listening at' line)")
    @click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), envvar="BRIDGE_WORKERS",
                  show_envvar=True, help="worker processes (one per core)")
    @click.option("--timeout", default=30, show_default=True, type=click.IntRange(MIN_TIMEOUT, 3600),
                  envvar="BRIDGE_WORKER_TIMEOUT", show_envvar=True,
                  help="seconds a request may run before its worker is killed and replaced")
    def serve(host: str, port: int, workers: int, timeout: int) -> None:
        """Serve the bridge (granian, WSGI, one worker process per core)."""
        # Imported here: the HTTP server is needed by this command only, and its native module
        # is heavy to load for every other solus-bridge command.
        from granian.constants import HTTPModes, Interfaces
        from granian.server import Server

        port, _reserved = check_port(host, port)
        # Build the app once here: a bad setting is one line before any worker starts, and the
        # instance folder (generated secret key) is prepared once, not raced by the workers.
        app = make_app()
        database_ready(app)  # one line and exit 1 before init-db, not 500s later
        app.extensions["bridge_db"]["engine"].dispose()  # no connection crosses the fork
        del app
        server = Server(
            "bridge", address=host, port=port, interface=Interfaces.WSGI, workers=workers,
            blocking_threads=1,  # one Python thread per process: no GIL hand-offs (docs/performance.md)
            http=HTTPModes.http1, websockets=False, log_dictconfig=_granian_logging(),
            respawn_failed_workers=True, respawn_interval=1.0, workers_kill_timeout=timeout,
        )
        server.serve(target_loader=functools.partial(worker_app, timeout), wrap_loader=False)
