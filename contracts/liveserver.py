"""A WSGI app on a real loopback socket, in a thread, for tests that must speak HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    """No access-log lines: test output stays readable and URLs with secrets never reach a log."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@contextmanager
def serve_wsgi(app: Any, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``app`` on ``host`` and a free port until the block ends; yields the base URL."""
    server = make_server(host, 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="contracts-live-wsgi", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
