"""A small client for the SolusVM 2 API subset the bridge uses.

Built on ``requests``. It retries what is worth retrying (connection errors, timeouts,
429 honouring ``Retry-After``, 5xx, and 2xx bodies that are not JSON) with capped
exponential backoff, and turns 4xx answers into clear exceptions carrying SolusVM's
``{message, errors}``. The API token never appears in logs or exception texts.

Retrying a POST is not idempotent on the SolusVM side (a dropped connection may hide a
created user); callers that create things must be ready for "already exists" on a retry.
The provisioning service handles that by linking the existing user.

Every call carries ``X-Request-ID``: by default ``bridge.observability.current_request_id()``
(the id of the request being served, or of the cron/CLI run), so SolusVM's logs can be
matched with the bridge's. The id comes from a context variable, not from Flask.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

import requests

from bridge import metrics, observability

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class SolusVMError(Exception):
    """Base class of everything this client raises."""

    def __init__(self, message: str, *, status: int | None = None, errors: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.errors = errors or {}

    def __str__(self) -> str:
        parts = [self.message]
        if self.status is not None:
            parts.insert(0, f"HTTP {self.status}:")
        for field, msgs in self.errors.items():
            text = "; ".join(msgs) if isinstance(msgs, list) else str(msgs)
            parts.append(f"[{field}: {text}]")
        return " ".join(parts)


class SolusVMUnavailable(SolusVMError):
    """SolusVM could not be reached or kept failing (transport errors, 429, 5xx): retry later."""


class SolusVMRequestError(SolusVMError):
    """SolusVM refused the request (4xx): retrying the same request will not help."""


class SolusVMNotFound(SolusVMRequestError):
    """404: the user, server or task does not exist (any more)."""


class SolusVMValidationError(SolusVMRequestError):
    """422: SolusVM's validation failed; ``errors`` holds the per-field messages."""


class SolusVMClient:
    """Admin client for ``{base_url}/api/v1``.

    ``session`` can be injected (tests pass a session routed into the in-process mock);
    ``sleep`` too, so retry tests need not wait. ``request_id`` returns the id sent as
    ``X-Request-ID`` with each call (default ``observability.current_request_id``; ``None``
    sends none); an id that is not a plain token is not sent.
    """

    def __init__(
        self,
        base_url: str,
        api_token: str,
        *,
        timeout: float = 10.0,
        retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        headers: dict[str, str] | None = None,
        request_id: Callable[[], str | None] | None = observability.current_request_id,
    ) -> None:
        if not base_url:
            raise ValueError("SolusVM URL is not configured")
        self.base_url = base_url.rstrip("/")
        self.api_url = self.base_url + "/api/v1"
        self._token = api_token
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.session = session or requests.Session()
        self._sleep = sleep
        self._headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Authorization": f"Bearer {api_token}",
            **(headers or {}),
        }
        # An X-Request-ID given in ``headers`` is sent as it is.
        fixed_id = any(k.lower() == observability.REQUEST_ID_HEADER.lower() for k in self._headers)
        self._request_id = None if fixed_id else request_id
        #: Counters for metrics: calls, retries and failures by kind.
        self.stats: dict[str, int] = {"calls": 0, "retries": 0, "errors": 0}
        #: Provisioning options (limit group, roles, outbox retry policy); see ``client_from_config``.
        self.options: dict[str, Any] = {}

    def __repr__(self) -> str:  # never show the token
        return f"SolusVMClient({self.base_url!r})"

    # --- transport -----------------------------------------------------------------

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                json: Any = None) -> Any:
        """Send one API call with retries; return the decoded JSON body (``None`` for 204)."""
        url = f"{self.api_url}/{path.lstrip('/')}"
        headers = self._call_headers()
        attempt = 0
        while True:
            attempt += 1
            self.stats["calls"] += 1
            delay: float | None = None
            try:
                resp = self.session.request(
                    method, url, params=params, json=json, headers=headers, timeout=self.timeout
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                failure: SolusVMError = SolusVMUnavailable(
                    f"{method} {path}: SolusVM unreachable ({type(exc).__name__})"
                )
            else:
                if resp.status_code < 400:
                    decoded = self._decode(resp, method, path)
                    if not isinstance(decoded, SolusVMError):
                        metrics.SOLUSVM_CALLS.labels("ok").inc()
                        return decoded
                    failure = decoded
                elif resp.status_code in RETRY_STATUSES:
                    failure = SolusVMUnavailable(
                        f"{method} {path}: {_error_message(resp)}", status=resp.status_code
                    )
                    if resp.status_code == 429:
                        delay = _retry_after(resp.headers.get("Retry-After"))
                else:
                    self.stats["errors"] += 1
                    metrics.SOLUSVM_CALLS.labels("error").inc()
                    raise _client_error(resp, method, path)
            if attempt > self.retries:
                self.stats["errors"] += 1
                metrics.SOLUSVM_CALLS.labels("error").inc()
                raise failure
            self.stats["retries"] += 1
            metrics.SOLUSVM_CALLS.labels("retry").inc()
            if delay is None:
                delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
                delay *= random.uniform(0.8, 1.2)  # jitter: workers must not retry in lockstep
            log.info("SolusVM %s %s failed (%s); retry %d in %.2fs", method, path, failure, attempt, delay)
            self._sleep(min(delay, self.max_backoff))

    def _call_headers(self) -> dict[str, str]:
        """The headers of one call (its retries included): the fixed ones plus ``X-Request-ID``."""
        if self._request_id is None:
            return self._headers
        rid = self._request_id()
        if not observability.sane_request_id(rid):
            return self._headers
        return {**self._headers, observability.REQUEST_ID_HEADER: str(rid)}

    @staticmethod
    def _decode(resp: requests.Response, method: str, path: str) -> Any:
        if resp.status_code == 204 or not resp.content:
            return None
        try:
            return resp.json()
        except ValueError:
            # A 2xx that is not JSON is a broken answer (proxy page, truncated body): retry.
            return SolusVMUnavailable(f"{method} {path}: SolusVM answered {resp.status_code} with a body that is not JSON",
                                      status=resp.status_code)

    def get(self, path: str, **params: Any) -> Any:
        """GET ``path`` and return ``data`` of the envelope."""
        return _data(self.request("GET", path, params=params or None))

    def iter_pages(self, path: str, params: dict[str, Any] | None = None, per_page: int | None = None
                   ) -> Iterator[dict[str, Any]]:
        """Yield every item of a paginated list, page by page (never loading all pages at once)."""
        page = 1
        while True:
            query = dict(params or {})
            query["page"] = page
            if per_page:
                query["per_page"] = per_page
            body = self.request("GET", path, params=query)
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise SolusVMUnavailable(f"GET {path}: the list envelope has no data array")
            yield from body["data"]
            meta = body.get("meta") or {}
            last = meta.get("last_page")
            links = body.get("links") or {}
            if last is not None:
                if page >= int(last):
                    return
            elif not links.get("next"):
                return
            page += 1

    # --- users ---------------------------------------------------------------------

    def iter_users(self, *, search: str | None = None, status: str | None = None,
                   per_page: int | None = None) -> Iterator[dict[str, Any]]:
        """Every user, optionally filtered (``search`` is SolusVM's substring search)."""
        params: dict[str, Any] = {}
        if search is not None:
            params["filter[search]"] = search
        if status is not None:
            params["filter[status]"] = status
        for user in self.iter_pages("users", params, per_page=per_page):
            yield _user(user, "GET users")

    def find_user_by_email(self, email_address: str) -> dict[str, Any] | None:
        """The user whose e-mail is exactly ``email_address`` (case-insensitive), or None.

        ``filter[search]`` is a substring match, so every candidate is re-checked here.
        """
        wanted = email_address.strip().lower()
        for user in self.iter_users(search=email_address.strip()):
            if str(user.get("email", "")).strip().lower() == wanted:
                return user
        return None

    def get_user(self, user_id: int) -> dict[str, Any]:
        """``GET users/{id}``."""
        return _user(self.get(f"users/{int(user_id)}"), f"GET users/{int(user_id)}")

    def create_user(self, **fields: Any) -> dict[str, Any]:
        """``POST users`` (email, password, status, billing_user_id, roles, limit_group_id...)."""
        return _user(_data(self.request("POST", "users", json=fields)), "POST users")

    def update_user(self, user_id: int, **fields: Any) -> dict[str, Any]:
        """``PUT users/{id}`` with a partial body (status, password, roles, billing_user_id...)."""
        return _user(_data(self.request("PUT", f"users/{int(user_id)}", json=fields)), f"PUT users/{int(user_id)}")

    def patch_user(self, user_id: int, **fields: Any) -> dict[str, Any]:
        """``PATCH users/{id}`` (SolusVM uses it for the e-mail)."""
        return _user(_data(self.request("PATCH", f"users/{int(user_id)}", json=fields)),
                     f"PATCH users/{int(user_id)}")

    def delete_user(self, user_id: int) -> None:
        """``DELETE users/{id}`` (204)."""
        self.request("DELETE", f"users/{int(user_id)}")

    def create_token(self, user_id: int, *, one_time: bool = True) -> str:
        """A (one-time) access token acting as the user. Never log the result."""
        body = self.request("POST", f"users/{int(user_id)}/tokens", json={"is_one_time": one_time})
        data = body.get("data") if isinstance(body, dict) else None
        token = (data or {}).get("access_token") if isinstance(data, dict) else None
        token = token or (body.get("access_token") if isinstance(body, dict) else None)
        if not isinstance(token, str) or not token:
            raise SolusVMUnavailable(f"POST users/{int(user_id)}/tokens: no access_token in the answer")
        return token

    # --- servers, tasks ------------------------------------------------------------------

    def iter_servers(self, *, user_id: int | None = None) -> Iterator[dict[str, Any]]:
        """Every server, optionally only those of one user."""
        params = {"filter[user_id]": int(user_id)} if user_id is not None else {}
        return self.iter_pages("servers", params)

    def delete_server(self, server_id: int) -> dict[str, Any]:
        """``DELETE servers/{id}``: returns the deletion task."""
        return _data(self.request("DELETE", f"servers/{int(server_id)}"))

    def get_task(self, task_id: int) -> dict[str, Any]:
        """``GET tasks/{id}``."""
        return self.get(f"tasks/{int(task_id)}")

    # --- usage, settings, reference data ------------------------------------------------

    def iter_usage(self, date_from: date, date_to: date, *, user_id: int | None = None,
                   per_page: int | None = None) -> Iterator[dict[str, Any]]:
        """Billing usage items for ``[date_from, date_to]`` (inclusive, UTC), every page."""
        params: dict[str, Any] = {"date_from": date_from.isoformat(), "date_to": date_to.isoformat()}
        if user_id is not None:
            params["filter[user_id]"] = int(user_id)
        return self.iter_pages("usage", params, per_page=per_page)

    def get_settings(self) -> dict[str, Any]:
        """``GET settings``."""
        return self.get("settings")

    def iter_plans(self) -> Iterator[dict[str, Any]]:
        """Every plan."""
        return self.iter_pages("plans")

    def iter_limit_groups(self) -> Iterator[dict[str, Any]]:
        """Every limit group."""
        return self.iter_pages("limit_groups")

    def account(self) -> dict[str, Any]:
        """``GET account``: who the API token belongs to (a cheap credentials check)."""
        return self.get("account")


def client_from_config(config: Any, **kwargs: Any) -> SolusVMClient:
    """A client for an app config mapping (``SOLUSVM_URL``, ``SOLUSVM_API_TOKEN``, ``SOLUSVM_TIMEOUT``,
    ``SOLUSVM_RETRIES``)."""
    kwargs.setdefault("timeout", float(config.get("SOLUSVM_TIMEOUT") or 10.0))
    # An explicit ``retries=`` wins (e.g. a quick attempt inside a web request).
    kwargs.setdefault("retries", int(config.get("SOLUSVM_RETRIES") if config.get("SOLUSVM_RETRIES") is not None
                                     else 4))
    client = SolusVMClient(str(config.get("SOLUSVM_URL") or ""), str(config.get("SOLUSVM_API_TOKEN") or ""),
                           **kwargs)
    client.options = provisioning_options(config)
    return client


def provisioning_options(config: Any) -> dict[str, Any]:
    """The user-provisioning settings of a config mapping (``SOLUSVM_LIMIT_GROUP_ID``,
    ``SOLUSVM_ROLE_IDS``, ``OUTBOX_MAX_ATTEMPTS``, ``OUTBOX_RETRY_SECONDS``); blanks mean
    SolusVM's or the outbox's defaults."""

    def as_int(key: str) -> int | None:
        value = config.get(key)
        if value in (None, ""):
            return None
        return int(value)

    roles_raw = config.get("SOLUSVM_ROLE_IDS")
    if isinstance(roles_raw, str):
        roles = [int(r) for r in roles_raw.replace(" ", "").split(",") if r]
    elif isinstance(roles_raw, list | tuple):
        roles = [int(r) for r in roles_raw]
    elif isinstance(roles_raw, int):
        roles = [roles_raw]
    else:
        roles = []
    return {"limit_group_id": as_int("SOLUSVM_LIMIT_GROUP_ID"), "roles": roles,
            "outbox_max_attempts": as_int("OUTBOX_MAX_ATTEMPTS"),
            "outbox_retry_seconds": as_int("OUTBOX_RETRY_SECONDS")}


def _user(value: Any, what: str) -> dict[str, Any]:
    """Check a user object against ``contracts.solusvm.UserSchema`` (the fields the bridge relies
    on); a malformed answer is treated like an unavailable SolusVM (retried later)."""
    from marshmallow import ValidationError

    from contracts.solusvm import UserSchema

    if not isinstance(value, dict):
        raise SolusVMUnavailable(f"{what}: SolusVM answered without a user object")
    try:
        UserSchema(only=("id", "email", "status", "billing_user_id")).load(
            {k: value.get(k) for k in ("id", "email", "status", "billing_user_id")})
    except ValidationError as exc:
        raise SolusVMUnavailable(f"{what}: SolusVM's user object does not match the contract: "
                                 f"{sorted(exc.messages)}") from None
    return value


def _data(body: Any) -> Any:
    if isinstance(body, dict) and "data" in body:
        return body["data"]
    return body


def _error_message(resp: requests.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        text = resp.text.strip().splitlines()[0][:200] if resp.text.strip() else ""
        return f"HTTP {resp.status_code} {text}".strip()
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return f"HTTP {resp.status_code}"


def _client_error(resp: requests.Response, method: str, path: str) -> SolusVMRequestError:
    errors: dict[str, Any] = {}
    try:
        body = resp.json()
        if isinstance(body, dict) and isinstance(body.get("errors"), dict):
            errors = body["errors"]
    except ValueError:
        pass
    message = f"{method} {path}: {_error_message(resp)}"
    cls: type[SolusVMRequestError] = SolusVMRequestError
    if resp.status_code == 404:
        cls = SolusVMNotFound
    elif resp.status_code == 422:
        cls = SolusVMValidationError
    return cls(message, status=resp.status_code, errors=errors)


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
