"""In-process mode (moto style): ``requests`` calls to a base URL go into the mock's Flask app.

Built on ``responses``: one callback per HTTP method for the base URL dispatches through a
single Flask test client. Other URLs on loopback pass through (so a live billing system on
127.0.0.1 can be reached), everything else is refused by ``responses`` as usual.
"""

from __future__ import annotations

import functools
import io
import re
import sys
import uuid
from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import unquote_to_bytes, urlsplit

import requests

try:
    import responses
except ImportError as err:  # only this mode needs it: the live mock and the bridge do not
    raise ImportError(
        "mock_solusvm.inprocess needs the 'responses' package, which comes with the 'mock' extra: "
        "pip install 'solusvm-billing-bridge[mock]'"
    ) from err

from .app import create_app
from .client import ControlClient
from .state import Backend
from .wire import DROP_HEADER, NAMESPACE_HEADER, drain, namespaces

F = TypeVar("F", bound=Callable[..., Any])
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
DEFAULT_PASSTHRU = ("http://127.0.0.1", "http://localhost")


def _ignore_write(data: bytes) -> None:
    """WSGI's legacy ``write`` callable, which the mock's Flask app never calls."""


class InProcessMock:
    """The handle: ``seed``/``reset``/``state``/``restore``/``clock``/``faults``/``journal``/``backend``."""

    def __init__(self, base_url: str = "https://solusvm.test", api_token: str = "mock-admin-token",
                 seed: dict[str, Any] | None = None, namespace: str | None = None,
                 config: dict[str, Any] | None = None, responses_mock: responses.RequestsMock | None = None,
                 passthru: Iterable[str] = DEFAULT_PASSTHRU) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_token = api_token
        self.namespace = namespace or f"inproc-{uuid.uuid4().hex[:12]}"
        self._seed = seed
        cfg = {"API_TOKENS": [api_token], **(config or {})}
        self.app = create_app(cfg)
        # no cookie jar here: cookies travel in the requests session, like a real browser/client
        self._client = self.app.test_client(use_cookies=False)
        self._own_mock = responses_mock is None
        self.responses = responses_mock or responses.RequestsMock(assert_all_requests_are_fired=False)
        self._passthru = tuple(passthru)
        self._control = ControlClient(self.base_url, self.namespace, session=requests.Session())
        self.clock = self._control.clock
        self.faults = self._control.faults
        self.journal = self._control.journal

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> InProcessMock:
        """Register the callbacks (and start the ``responses`` mock when it is ours)."""
        pattern = re.compile(re.escape(self.base_url) + r"(/.*)?(\?.*)?$")
        self._registered = [self.responses.add_callback(method, pattern, callback=self._dispatch)
                            for method in METHODS]
        for prefix in self._passthru:
            if not self.base_url.startswith(prefix):
                self.responses.add_passthru(prefix)
        if self._own_mock:
            self.responses.start()
        if self._seed is not None:
            self.seed(self._seed)
        return self

    def stop(self) -> None:
        """Stop routing (only stops the ``responses`` mock when it is ours)."""
        if self._own_mock:
            self.responses.stop()
            self.responses.reset()
        else:
            # leave a shared mock as we found it (its assert_all_requests_are_fired must not see us)
            for registered in getattr(self, "_registered", []):
                self.responses.remove(registered)

    def __enter__(self) -> InProcessMock:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __call__(self, func: F) -> F:
        """Use the handle's configuration as a decorator; the test gets no extra argument."""

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    # --- dispatch -----------------------------------------------------------------------

    def _dispatch(self, request: requests.PreparedRequest) -> Any:
        parts = urlsplit(request.url or "")
        body = request.body
        if isinstance(body, str):
            body = body.encode()
        # A plain WSGI call, not Flask's test client: building its request and response
        # objects cost more than the mock's own work (docs/performance.md).
        environ = _environ(request.method or "GET", parts, request.headers, body or b"", self.namespace)
        captured: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None
                           ) -> Callable[[bytes], object]:
            captured.extend((status, headers))
            return _ignore_write  # the mock's app returns its body; it never writes

        chunks = self.app(environ, start_response)
        data = drain(chunks)
        status, headers = captured
        out_headers = {k: v for k, v in headers if k.lower() != "content-length"}
        if DROP_HEADER in out_headers:
            return requests.exceptions.ConnectionError(f"mock_solusvm dropped the connection to {request.url}")
        return int(status.split(" ", 1)[0]), out_headers, data

    # --- the same methods as ControlClient ---------------------------------------------

    def seed(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Reset the namespace and load a seed document."""
        return self._control.seed(doc)

    def reset(self) -> None:
        """Back to the default fixture."""
        self._control.reset()

    def state(self, password_hashes: bool = False) -> dict[str, Any]:
        """A versioned JSON dump of the namespace (users' password hashes only when asked for)."""
        return self._control.state(password_hashes)

    def restore(self, dump: dict[str, Any]) -> None:
        """Replace the namespace with a dump."""
        self._control.restore(dump)

    def drop(self) -> None:
        """Forget the namespace; its next use starts from the default fixture."""
        self._control.drop()

    @property
    def backend(self) -> Backend:
        """The in-memory backend of this handle's namespace, for direct assertions."""
        return namespaces(self.app).get(self.namespace)

    @property
    def url(self) -> str:
        """The mocked base URL."""
        return self.base_url


def mock_solusvm(base_url: str = "https://solusvm.test", api_token: str = "mock-admin-token",
                 seed: dict[str, Any] | None = None, namespace: str | None = None, **kwargs: Any) -> InProcessMock:
    """A handle usable as a context manager (``with mock_solusvm(...) as m``) or a decorator."""
    return InProcessMock(base_url=base_url, api_token=api_token, seed=seed, namespace=namespace, **kwargs)


def _environ(method: str, parts: Any, headers: Any, body: bytes, namespace: str) -> dict[str, Any]:
    """The WSGI environ of one request to the mocked base URL (Host = that URL, so links match)."""
    host, _, port = parts.netloc.rpartition(":") if ":" in parts.netloc else (parts.netloc, "", "")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method.upper(), "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(parts.path or "/").decode("latin-1"), "QUERY_STRING": parts.query,
        "SERVER_NAME": host, "SERVER_PORT": port or ("443" if parts.scheme == "https" else "80"),
        "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": parts.netloc,
        "wsgi.version": (1, 0), "wsgi.url_scheme": parts.scheme or "http", "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
    }
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ[key] = value
        elif key != "HOST":
            environ["HTTP_" + key] = value
    if not body:
        environ.pop("CONTENT_LENGTH", None)
    environ.setdefault("HTTP_" + NAMESPACE_HEADER.upper().replace("-", "_"), namespace)
    return environ
