"""A WSGI app on a real loopback socket, in a thread, for tests that must speak HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .server import ThreadedServer


@contextmanager
def serve_wsgi(app: Any, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``app`` on ``host`` and a free port until the block ends; yields the base URL.

    The server is the same in-thread granian worker the mock uses (no access log: URLs with
    secrets never reach a log).
    """
    with ThreadedServer(app, host, 0) as server:
        yield server.url
