"""``MockServer``: the mock as a real HTTP server on loopback (port 0 = a free port).

Both the mock and the in-process test servers of the bridge run on granian (a Rust HTTP
server with a WSGI interface): ``ThreadedServer`` runs one granian worker in a thread of
the *current* process, so a test keeps direct access to the app and its state. Measured
on this project's machine kind, one such worker serves a Flask route about 8x faster than
werkzeug's threaded development server (docs/performance.md).

granian's public entry point only runs workers in child processes; the in-thread worker
below uses the same building blocks its process workers use (``WSGIWorker``, the WSGI
callback wrapper, the callback scheduler), which is why ``pyproject.toml`` pins granian to
one minor version.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import socket
import threading
import weakref
from typing import Any

from granian import _futures, _granian
from granian.wsgi import _callback_wrapper

from .app import create_app
from .client import ControlClient

# granian's _granian.pyi lags its Rust module (WSGIWorker takes more arguments, SocketHolder a
# constructor, and serve_mtr is missing), so the native module is used untyped; the pinned minor
# version in pyproject.toml is what keeps these calls right.
_native: Any = _granian

# Servers still running when the interpreter exits are stopped first: a granian worker thread
# still busy during interpreter finalisation was seen to abort the process (a Rust panic).
_RUNNING: weakref.WeakSet[ThreadedServer] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for server in list(_RUNNING):
        server.stop()


# Python threads that run the app in one in-thread server. One is fastest (no GIL hand-offs
# between threads), but a request that calls back into another server of the same process
# (the demo's bridge -> mock -> bridge pricing) needs a second one; 2 keeps the tail short.
DEFAULT_THREADS = 2


class _AcceptedConnections:
    """Stands in for werkzeug's ``werkzeug.socket`` environ key, which the mock's ``drop``
    fault shuts down so the client sees the connection close with no answer.

    granian does not expose a request's socket (nor the client's port), so ``shutdown``
    closes every connection accepted by this server: found among this process's file
    descriptors as sockets bound to the server's port with a peer. Idle keep-alive
    connections that go with it are reopened by HTTP clients; only drop faults pay the scan.
    """

    def __init__(self, port: int) -> None:
        self.port = port

    def shutdown(self, how: int = socket.SHUT_RDWR) -> None:
        for name in os.listdir("/proc/self/fd"):
            try:
                dup = os.dup(int(name))
            except OSError:
                continue
            try:
                sock = socket.socket(fileno=dup)
            except OSError:
                os.close(dup)
                continue
            try:
                if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.getsockname()[1] == self.port:
                    sock.getpeername()  # raises for the listening socket
                    sock.shutdown(how)
            except OSError:
                pass
            finally:
                sock.detach()  # the duplicate only: os.close below
                os.close(dup)


class ThreadedServer:
    """Serve a WSGI ``app`` with one granian worker in a daemon thread of this process.

    The listening socket is bound in ``__init__`` (an ``OSError`` when the port is taken, so
    the caller can say so in one line), without ``SO_REUSEPORT``: a second server can never
    silently share a port with this one. ``start()`` serves, ``stop()`` closes the socket
    and every connection. No access log: URLs may carry tokens.
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, threads: int = DEFAULT_THREADS,
                 backlog: int = 1024) -> None:
        self.host, self.threads = host, max(1, threads)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restarts while TIME_WAIT lingers
            # Accepted connections inherit this: without it, a response written in two parts
            # (headers, body) waits ~40 ms for a delayed ACK (Nagle).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.bind((host, port))
            sock.listen(backlog)
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        self.port: int = sock.getsockname()[1]
        self.app = app
        dropper = _AcceptedConnections(self.port)

        def with_socket(environ: dict[str, Any], start_response: Any) -> Any:
            environ["werkzeug.socket"] = dropper
            return app(environ, start_response)

        self._wsgi = with_socket
        self._signal: Any = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        """``http://host:port``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> ThreadedServer:
        """Serve in a daemon thread; returns once the worker accepts connections."""
        self._signal = _native.WorkerSignal()
        # granian's listener owns (and closes) this duplicate; ``stop()`` closes the original
        self._fd = os.dup(self._sock.fileno())
        holder = _native.SocketHolder(self._fd, False, 1024)
        self._thread = threading.Thread(target=self._run, args=(holder,), name="granian-in-thread", daemon=True)
        self._thread.start()
        _RUNNING.add(self)
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def _run(self, holder: Any) -> None:
        loop = asyncio.new_event_loop()
        stopped = threading.Event()
        try:
            self._signal.add_cb(stopped.set)
            worker = _native.WSGIWorker(
                1, (None, holder), None,
                1, 8,  # Rust runtime threads, Rust blocking I/O threads
                self.threads, 30,  # Python threads for the app, their idle timeout (s)
                self.threads * 64,  # backpressure: requests in flight before granian queues
                "1", None, None, None,  # HTTP/1.1 only, default settings, no static files
                False, None, None, None, "tls1.3", None, [], False,  # no TLS
                (None, None),  # no granian metrics
            )
            scheduler = _futures._new_cbscheduler(loop, _callback_wrapper(self._wsgi, {}, None), impl_asyncio=True)
            worker.serve_mtr(scheduler, loop, self._signal)
        except BaseException as err:  # surfaced by start()
            self._error = err
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        stopped.wait()
        loop.close()

    def stop(self) -> None:
        """Stop serving: close the socket and the open connections."""
        _RUNNING.discard(self)
        if self._signal is not None:
            self._signal.set()
            self._signal = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._sock.close()

    def serve_forever(self) -> None:
        """Serve in the calling thread until ``KeyboardInterrupt`` (the CLI)."""
        self.start()
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(0.5)
        finally:
            self.stop()

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class MockServer:
    """Run ``create_app`` on an in-thread granian server; use as a context manager."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", api_tokens: list[str] | None = None,
                 seed: dict[str, Any] | None = None, config: dict[str, Any] | None = None,
                 threads: int = DEFAULT_THREADS) -> None:
        cfg: dict[str, Any] = dict(config or {})
        if api_tokens is not None:
            cfg["API_TOKENS"] = list(api_tokens)
        if seed is not None:
            cfg["SEED"] = seed
        self.app = create_app(cfg)
        self.host, self._port, self.threads = host, port, threads
        self._server: ThreadedServer | None = None

    def _bind(self) -> ThreadedServer:
        if self._server is None:
            self._server = ThreadedServer(self.app, self.host, self._port, self.threads)
        return self._server

    def start(self) -> MockServer:
        """Bind and serve in a daemon thread."""
        self._bind().start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def serve_forever(self) -> None:
        """Serve in the current thread (the CLI) until interrupted."""
        try:
            self._bind().serve_forever()
        finally:
            self._server = None

    @property
    def port(self) -> int:
        """The bound port."""
        assert self._server is not None, "server not started"
        return self._server.port

    @property
    def url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.host}:{self.port}"

    def control(self, namespace: str = "default") -> ControlClient:
        """A ``ControlClient`` for one namespace of this server."""
        return ControlClient(self.url, namespace)

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
