"""``MockServer``: the mock as a real threaded HTTP server on loopback (port 0 = a free port)."""

from __future__ import annotations

import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .client import ControlClient


class _QuietHandler(WSGIRequestHandler):
    """HTTP/1.1 keep-alive, and no access log lines (they would show query strings, e.g. SSO tokens)."""

    # keep-alive: a new thread and TCP connection per request would dominate the cost
    protocol_version = "HTTP/1.1"

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass

    def log_error(self, *args: Any) -> None:
        pass


class MockServer:
    """Run ``create_app`` in a werkzeug threaded server; use as a context manager."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", api_tokens: list[str] | None = None,
                 seed: dict[str, Any] | None = None, config: dict[str, Any] | None = None) -> None:
        from . import create_app

        cfg: dict[str, Any] = dict(config or {})
        if api_tokens is not None:
            cfg["API_TOKENS"] = list(api_tokens)
        if seed is not None:
            cfg["SEED"] = seed
        self.app = create_app(cfg)
        self.host, self._port = host, port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> MockServer:
        """Bind and serve in a daemon thread."""
        self._server = make_server(self.host, self._port, self.app, threaded=True, request_handler=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="mock-solusvm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def serve_forever(self) -> None:
        """Serve in the current thread (the CLI)."""
        self._server = make_server(self.host, self._port, self.app, threaded=True, request_handler=_QuietHandler)
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    @property
    def port(self) -> int:
        """The bound port."""
        assert self._server is not None, "server not started"
        return self._server.server_port

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
