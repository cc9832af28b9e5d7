"""A small client for the SolusVM 2 API subset the bridge uses.

Built on ``requests``. It retries what is worth retrying (connection errors, timeouts,
429 honouring ``Retry-After``, 5xx, and 2xx bodies that are not JSON) with capped
exponential backoff, and turns 4xx answers into clear exceptions carrying SolusVM's
``{message, errors}``. The API token never appears in logs or exception texts.

Retrying a POST is not idempotent on the SolusVM side (a dropped connection may hide a
created user); callers that create things must be ready for "already exists" on a retry.
The provisioning service handles that by linking the existing user.

Every answer is checked against ``contracts.solusvm`` (the one definition of the wire),
restricted with ``only=`` to the fields the bridge reads: envelopes (``{data}``, and for
lists ``data`` plus ``meta.last_page``, or ``links.next`` when ``meta`` is left out), users,
servers, tasks, settings, plans, limit groups and the token answer. Usage items are checked
one by one by ``bridge.services.usage``. A malformed answer is a ``SolusVMUnavailable``
naming the call and the fields (retried later, like a broken proxy page), never a KeyError
deep in the bridge.

Every call carries ``X-Request-ID``: by default ``bridge.logs.current_request_id()``
(the id of the request being served, or of the cron/CLI run), so SolusVM's logs can be
matched with the bridge's. The id comes from a context variable, not from Flask.
"""

from __future__ import annotations

import copy
import email.utils
import logging
import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

import requests
from marshmallow import Schema

from bridge import logs, metrics
from bridge.settings import OutboxSettings, SolusVMSettings
from contracts.solusvm import (
    AccessTokenSchema,
    LimitGroupSchema,
    LinksSchema,
    PlanSchema,
    ServerSchema,
    SettingsSchema,
    TaskSchema,
    UsageItemSchema,
    UserSchema,
    envelope,
)

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


# --- what the bridge reads, checked with contracts.solusvm (built once: loads are hot) ----------
#
# ``only=`` keeps the fields the bridge relies on. Full schemas would refuse a real SolusVM
# over fields the bridge never reads or whose shape is a guess (docs/solusvm-api.md):
# timestamps, roles, the server's IPs and usage counters,
# plan prices, the billing integration's ``type`` values and driver URLs (unknown).

#: Fields of a user the bridge reads (sync, outbox, SSO, invoicing).
USER_FIELDS = ("id", "email", "status", "billing_user_id")
#: The list envelope: ``data`` plus ``meta.last_page``, which drives the paging when ``meta`` is
#: there. Without ``meta`` the pager follows ``links.next`` (checked with ``NEXT_LINK`` only then).
PAGE_FIELDS = ("meta.last_page",)
NEXT_LINK = LinksSchema(only=("next",))


def _single(item: type[Schema], fields: tuple[str, ...]) -> Schema:
    """``{data: item}`` restricted to ``fields`` of the item."""
    return envelope(item)(only=tuple(f"data.{f}" for f in fields))


def _page(item: type[Schema], fields: tuple[str, ...] | None) -> Schema:
    """``{data: [item], meta}`` restricted to ``fields`` of the items (``None``: items unchecked here).

    ``meta`` may be left out (or null): the contract's envelope with that one field relaxed.
    When it is there, ``meta.last_page`` must match the contract.
    """
    wanted = tuple(f"data.{f}" for f in fields) if fields is not None else ()
    contract = envelope(item, many=True)
    meta = copy.copy(contract._declared_fields["meta"])
    meta.required, meta.allow_none = False, True
    relaxed = contract.from_dict({"meta": meta}, name=contract.__name__)
    return relaxed(only=wanted + PAGE_FIELDS)


USER = _single(UserSchema, USER_FIELDS)
USER_PAGE = _page(UserSchema, USER_FIELDS)
#: ``GET account`` answers the token's own user: id and e-mail are all check-config reads.
ACCOUNT = _single(UserSchema, ("id", "email"))
#: Servers: the outbox deletes them by id and counts them.
SERVER_PAGE = _page(ServerSchema, ("id",))
#: Tasks (``DELETE servers/{id}``, ``GET tasks/{id}``): a non-zero id and a known status (SOLID, GO tasks.go).
TASK = _single(TaskSchema, ("id", "status"))
#: Settings: the ``features`` flags (sync and check-config read ``allow_registration``).
SETTINGS = _single(SettingsSchema, ("features",))
#: Plans: the admin pricing page reads the name and token prices.
PLAN_PAGE = _page(PlanSchema, ("id", "name", "tokens_per_hour", "tokens_per_month"))
LIMIT_GROUP_PAGE = _page(LimitGroupSchema, ("id", "name"))
#: Usage pages: the envelope only; each item is checked by ``bridge.services.usage.parse_item``.
USAGE_PAGE = _page(UsageItemSchema, None)
#: ``POST users/{id}/tokens``: the official module reads ``data.access_token`` only (SOLID, VPS).
ACCESS_TOKEN = AccessTokenSchema(only=("access_token",))


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


class SolusVMIncomplete(SolusVMUnavailable):
    """A list could not be proven whole: an empty page while more follow, a short page, a
    ``meta.total`` that disagrees with what was read. Nothing built from it may be trusted."""


class SolusVMNotFound(SolusVMRequestError):
    """404: the user, server or task does not exist (any more)."""


class SolusVMValidationError(SolusVMRequestError):
    """422: SolusVM's validation failed; ``errors`` holds the per-field messages."""


class SolusVMClient:
    """Admin client for ``{base_url}/api/v1``.

    ``session`` can be injected (tests pass a session routed into the in-process mock);
    ``sleep`` too, so retry tests need not wait. ``request_id`` returns the id sent as
    ``X-Request-ID`` with each call (default ``logs.current_request_id``; ``None``
    sends none); an id that is not a plain token is not sent.

    ``budget`` (seconds, ``None``: unbounded) caps the time this client waits on SolusVM in
    total, over every call and retry it makes: each attempt's timeout and each backoff sleep
    is cut to what is left, and once it is spent a call fails at once with
    ``SolusVMUnavailable``. A client built for one web request gets the request's budget
    (``SOLUSVM_REQUEST_BUDGET``), so no visitor and no worker waits on a slow SolusVM longer.
    """

    def __init__(
        self,
        base_url: str,
        api_token: str,
        *,
        timeout: float = SolusVMSettings.timeout,
        retries: int = SolusVMSettings.retries,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        headers: dict[str, str] | None = None,
        request_id: Callable[[], str | None] | None = logs.current_request_id,
        budget: float | None = None,
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
        fixed_id = any(k.lower() == logs.REQUEST_ID_HEADER.lower() for k in self._headers)
        self._request_id = None if fixed_id else request_id
        #: Counters for metrics: calls, retries and failures by kind.
        self.stats: dict[str, int] = {"calls": 0, "retries": 0, "errors": 0}
        #: Provisioning options (limit group, roles, outbox retry policy); see ``connect``.
        self.options: dict[str, Any] = {}
        self.budget = budget if budget is None else max(0.0, float(budget))
        self._deadline: float | None = None  # set by the first call when there is a budget

    def remaining(self) -> float | None:
        """Seconds left of the budget (``None``: no budget); the clock starts at the first call."""
        if self.budget is None:
            return None
        if self._deadline is None:
            self._deadline = time.monotonic() + self.budget
        return max(0.0, self._deadline - time.monotonic())

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
            left = self.remaining()
            if left is not None and left < 0.05:
                self.stats["errors"] += 1
                metrics.SOLUSVM_CALLS.labels("error").inc()
                raise SolusVMUnavailable(f"{method} {path}: no answer within the {self.budget:g} s budget "
                                         "for SolusVM calls")
            self.stats["calls"] += 1
            delay: float | None = None
            timeout = self.timeout if left is None else min(self.timeout, left)
            try:
                resp = self.session.request(
                    method, url, params=params, json=json, headers=headers, timeout=timeout
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
            delay = min(delay, self.max_backoff)
            left = self.remaining()
            if left is not None and delay >= left:  # the retry could not happen within the budget
                self.stats["errors"] += 1
                metrics.SOLUSVM_CALLS.labels("error").inc()
                raise failure
            log.info("SolusVM %s %s failed (%s); retry %d in %.2fs", method, path, failure, attempt, delay)
            self._sleep(delay)

    def _call_headers(self) -> dict[str, str]:
        """The headers of one call (its retries included): the fixed ones plus ``X-Request-ID``."""
        if self._request_id is None:
            return self._headers
        rid = self._request_id()
        if not logs.sane_request_id(rid):
            return self._headers
        return {**self._headers, logs.REQUEST_ID_HEADER: str(rid)}

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
        """GET ``path`` and return ``data`` of the envelope, unchecked (the named calls check theirs)."""
        return _data(self.request("GET", path, params=params or None))

    def call(self, method: str, path: str, schema: Schema, *, params: dict[str, Any] | None = None,
             json: Any = None) -> Any:
        """One call whose ``{data}`` answer must match ``schema`` (an envelope); returns ``data``."""
        body = self.request(method, path, params=params, json=json)
        return _checked(body, schema, f"{method} {path}")["data"]

    def iter_pages(self, path: str, params: dict[str, Any] | None = None, per_page: int | None = None,
                   *, schema: Schema, complete: bool = False) -> Iterator[dict[str, Any]]:
        """Yield every item of a paginated list, page by page (never loading all pages at once).

        Each page must match ``schema``, the caller's list envelope from ``_page`` (``data`` an
        array). The pages end at ``meta.last_page``; a list without ``meta`` goes on while
        ``links.next`` is set (and not past an empty page); one with neither is a single page.

        ``complete``: the list must be provably whole (see :meth:`_iter_complete`); used where a
        missing item would cost money (invoicing).
        """
        if complete:
            yield from self._iter_complete(path, params, per_page, schema)
            return
        page = 1
        while True:
            query = dict(params or {})
            query["page"] = page
            if per_page:
                query["per_page"] = per_page
            what = f"GET {path} (page {page})"
            body = _checked(self.request("GET", path, params=query), schema, what, data_list=True)
            yield from body["data"]
            if not self._more_pages(body, page, what):
                return
            page += 1

    def _iter_complete(self, path: str, params: dict[str, Any] | None, per_page: int | None,
                       schema: Schema) -> Iterator[dict[str, Any]]:
        """Every item of a list whose pages agree with each other, or ``SolusVMIncomplete``.

        Checked on every page: ``meta.current_page`` is the page asked for; ``meta.total``,
        ``meta.last_page`` and ``meta.per_page`` do not change between pages; ``last_page`` is
        what ``total`` and ``per_page`` give; every page before the last holds exactly
        ``per_page`` items and the last one the rest (so an empty or short page is caught),
        and the items read add up to ``total``. A list without ``meta.total`` gets the checks
        it can (full pages before the last, no empty page while more follow). A page that
        fails a check is asked again (``retries`` times, like a 5xx) before giving up: a
        proxy's empty 200 is usually gone on the next try.
        """
        expected: dict[str, Any] = {}
        page, read = 1, 0
        while True:
            what = f"GET {path} (page {page})"
            for attempt in range(self.retries + 1):
                query = {**(params or {}), "page": page}
                if per_page:
                    query["per_page"] = per_page
                answer = self.request("GET", path, params=query)  # transport failures: retried in there
                try:
                    body = _checked(answer, schema, what, data_list=True)
                    more = self._check_page(body, page, per_page, expected, what)
                    break
                except SolusVMUnavailable as exc:  # a 2xx that is not a whole page: ask again
                    failure: SolusVMError = exc
                if attempt >= self.retries:
                    raise failure
                self.stats["retries"] += 1
                log.info("SolusVM %s: %s; asking again", what, failure)
            yield from body["data"]
            read += len(body["data"])
            if not more:
                break
            page += 1
        if expected.get("total") is not None and read != expected["total"]:
            raise SolusVMIncomplete(f"GET {path}: read {read} items, meta.total says {expected['total']}")

    def _check_page(self, body: dict[str, Any], page: int, per_page: int | None, expected: dict[str, Any],
                    what: str) -> bool:
        """Check one page against the list's first page; whether more pages follow."""
        data, meta = body["data"], body.get("meta")
        if meta is None:  # links only: no total to check against; full pages, none empty
            more = self._more_pages(body, page, what)
            links = body.get("links")
            if not data and isinstance(links, dict) and links.get("next"):
                raise SolusVMIncomplete(f"{what}: an empty page while links.next says more follow")
            if more and len(data) != expected.setdefault("size", len(data)):
                raise SolusVMIncomplete(f"{what}: {len(data)} items on a page before the last, "
                                        f"page 1 had {expected['size']}")
            return more

        def number(key: str) -> int | None:
            value = meta.get(key)
            return value if isinstance(value, int) and not isinstance(value, bool) else None

        last, total, size, current = number("last_page"), number("total"), number("per_page"), number("current_page")
        if current is not None and current != page:
            raise SolusVMIncomplete(f"{what}: the answer is page {current}")
        size = size or per_page
        seen = {"last": last, "total": total, "size": size}
        if expected:
            changed = [k for k, v in seen.items() if v != expected[k]]
            if changed:
                raise SolusVMIncomplete(f"{what}: the list changed while it was read "
                                        f"({', '.join(f'{k} {expected[k]} → {seen[k]}' for k in changed)})")
        elif total is not None and size and last != max(1, -(-total // size)):
            raise SolusVMIncomplete(f"{what}: meta.last_page {last} does not fit meta.total {total} "
                                    f"at {size} per page")
        else:
            expected.update(seen)
        more = page < (last or 1)
        if more:
            want: int | None = size
        elif total is not None and size:
            want = total - size * (page - 1)
        else:
            want = None
        if want is not None and len(data) != want:
            raise SolusVMIncomplete(f"{what}: {len(data)} items where {want} were due "
                                    f"(meta: total {total}, {size} per page, {last} pages)")
        if more and not data:
            raise SolusVMIncomplete(f"{what}: an empty page while meta.last_page is {last}")
        return more

    @staticmethod
    def _more_pages(body: dict[str, Any], page: int, what: str) -> bool:
        """Whether a page after ``page`` exists: ``meta.last_page`` (checked by the page schema), else ``links.next``."""
        meta = body.get("meta")
        if meta is not None:
            return page < meta["last_page"]
        links = body.get("links")
        if links is None:
            return False
        link = _checked(links, NEXT_LINK, f"{what} links")["next"]  # a string, or null on the last page
        return bool(link) and bool(body["data"])  # an empty page with a next link would never end

    # --- users ---------------------------------------------------------------------

    def iter_users(self, *, search: str | None = None, status: str | None = None,
                   per_page: int | None = None, complete: bool = False) -> Iterator[dict[str, Any]]:
        """Every user, optionally filtered (``search`` is SolusVM's substring search);
        ``complete``: provably every one (``iter_pages``)."""
        params: dict[str, Any] = {}
        if search is not None:
            params["filter[search]"] = search
        if status is not None:
            params["filter[status]"] = status
        return self.iter_pages("users", params, per_page=per_page, schema=USER_PAGE, complete=complete)

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
        return self.call("GET", f"users/{int(user_id)}", USER)

    def create_user(self, **fields: Any) -> dict[str, Any]:
        """``POST users`` (email, password, status, billing_user_id, roles, limit_group_id...)."""
        return self.call("POST", "users", USER, json=fields)

    def update_user(self, user_id: int, **fields: Any) -> dict[str, Any]:
        """``PUT users/{id}`` with a partial body (status, password, roles, billing_user_id...)."""
        return self.call("PUT", f"users/{int(user_id)}", USER, json=fields)

    def patch_user(self, user_id: int, **fields: Any) -> dict[str, Any]:
        """``PATCH users/{id}`` (SolusVM uses it for the e-mail)."""
        return self.call("PATCH", f"users/{int(user_id)}", USER, json=fields)

    def delete_user(self, user_id: int) -> None:
        """``DELETE users/{id}`` (204)."""
        self.request("DELETE", f"users/{int(user_id)}")

    def create_token(self, user_id: int, *, one_time: bool = True) -> str:
        """A (one-time) access token acting as the user. Never log the result.

        The official module reads ``data.access_token``; a third-party client reads it at the top
        level, so both are accepted. Messages never include the token.
        """
        what = f"POST users/{int(user_id)}/tokens"
        body = self.request("POST", f"users/{int(user_id)}/tokens", json={"is_one_time": one_time})
        answer = body.get("data") if isinstance(body, dict) and "data" in body else body
        if not isinstance(answer, dict) or "access_token" not in answer:
            raise SolusVMUnavailable(f"{what}: no access_token in the answer")
        _checked(answer, ACCESS_TOKEN, what)
        if not answer["access_token"]:
            raise SolusVMUnavailable(f"{what}: the access_token in the answer is empty")
        return str(answer["access_token"])

    # --- servers, tasks ------------------------------------------------------------------

    def iter_servers(self, *, user_id: int | None = None) -> Iterator[dict[str, Any]]:
        """Every server, optionally only those of one user."""
        params = {"filter[user_id]": int(user_id)} if user_id is not None else {}
        return self.iter_pages("servers", params, schema=SERVER_PAGE)

    def delete_server(self, server_id: int) -> dict[str, Any]:
        """``DELETE servers/{id}``: returns the deletion task."""
        return self.call("DELETE", f"servers/{int(server_id)}", TASK)

    def get_task(self, task_id: int) -> dict[str, Any]:
        """``GET tasks/{id}``."""
        return self.call("GET", f"tasks/{int(task_id)}", TASK)

    # --- usage, settings, reference data ------------------------------------------------

    def iter_usage(self, date_from: date, date_to: date, *, user_id: int | None = None,
                   per_page: int | None = None, complete: bool = False) -> Iterator[dict[str, Any]]:
        """Billing usage items for ``[date_from, date_to]`` (inclusive, UTC), every page.

        The envelope is checked here; the items by ``bridge.services.usage.parse_item``.
        ``complete``: provably every item (``iter_pages``), as invoicing needs.
        """
        params: dict[str, Any] = {"date_from": date_from.isoformat(), "date_to": date_to.isoformat()}
        if user_id is not None:
            params["filter[user_id]"] = int(user_id)
        return self.iter_pages("usage", params, per_page=per_page, schema=USAGE_PAGE, complete=complete)

    def get_settings(self) -> dict[str, Any]:
        """``GET settings`` (``features`` is checked; ``billing_integration`` is read defensively)."""
        return self.call("GET", "settings", SETTINGS)

    def iter_plans(self) -> Iterator[dict[str, Any]]:
        """Every plan."""
        return self.iter_pages("plans", schema=PLAN_PAGE)

    def iter_limit_groups(self) -> Iterator[dict[str, Any]]:
        """Every limit group."""
        return self.iter_pages("limit_groups", schema=LIMIT_GROUP_PAGE)

    def account(self) -> dict[str, Any]:
        """``GET account``: who the API token belongs to (a cheap credentials check)."""
        return self.call("GET", "account", ACCOUNT)


def connect(solusvm: SolusVMSettings, outbox: OutboxSettings | None = None, *, request_budget: bool = False,
            **kwargs: Any) -> SolusVMClient:
    """A client for the SolusVM settings (URL, token, timeout, retries) carrying the provisioning
    options (limit group, roles) and the outbox retry policy. ``request_budget=True``: the client
    serves one request, so all its calls share ``solusvm.request_budget`` seconds (``budget=``
    sets another figure); an explicit ``retries=`` or ``timeout=`` wins."""
    kwargs.setdefault("timeout", solusvm.timeout)
    kwargs.setdefault("retries", solusvm.retries)
    if request_budget:
        # A visitor (or a WHMCS caller) is waiting: every SolusVM call of the request shares this.
        kwargs.setdefault("budget", solusvm.request_budget)
    client = SolusVMClient(solusvm.url, solusvm.api_token, **kwargs)
    client.options = provisioning_options(solusvm, outbox or OutboxSettings())
    return client


def provisioning_options(solusvm: SolusVMSettings, outbox: OutboxSettings) -> dict[str, Any]:
    """The user-provisioning options a client carries (``SOLUSVM_LIMIT_GROUP_ID``,
    ``SOLUSVM_ROLE_IDS``, ``OUTBOX_MAX_ATTEMPTS``, ``OUTBOX_RETRY_SECONDS``)."""
    return {"limit_group_id": solusvm.limit_group_id, "roles": list(solusvm.role_ids),
            "outbox_max_attempts": outbox.max_attempts, "outbox_retry_seconds": outbox.retry_seconds}


def contract_errors(messages: Any, limit: int = 8) -> str:
    """Marshmallow error messages as ``path: message`` pairs (``data.0.status: Must be one of...``).

    Marshmallow's messages name the rule, never the value, so no secret from the body leaks.
    """
    flat: list[str] = []

    def walk(path: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                part = "" if key == "_schema" else str(key)
                walk(f"{path}.{part}" if path and part else path or part, sub)
        elif isinstance(value, list) and all(isinstance(m, str) for m in value):
            flat.append(f"{path or '(answer)'}: {' '.join(value)}")
        elif isinstance(value, list):
            for sub in value:
                walk(path, sub)
        else:
            flat.append(f"{path or '(answer)'}: {value}")

    walk("", messages)
    more = f"; and {len(flat) - limit} more" if len(flat) > limit else ""
    return "; ".join(flat[:limit]) + more


def _checked(body: Any, schema: Schema, what: str, *, data_list: bool = False) -> Any:
    """``body`` when it matches ``schema``; otherwise ``SolusVMUnavailable`` naming the call and fields.

    ``data_list``: ``data`` must be an array even when ``schema`` leaves the items to someone
    else (usage). The raw body is returned, not the loaded one: callers see SolusVM's values.
    """
    errors = schema.validate(body) if isinstance(body, dict) else {"_schema": ["not a JSON object"]}
    if data_list and not errors and not isinstance(body.get("data"), list):
        errors = {"data": ["Not a valid list."]}
    if errors:
        raise SolusVMUnavailable(f"{what}: SolusVM's answer does not match the contract "
                                 f"({_schema_name(schema)}): {contract_errors(errors)}")
    return body


def _schema_name(schema: Schema) -> str:
    data = schema.fields.get("data")
    inner = getattr(data, "inner", data)
    nested = getattr(inner, "nested", None)
    return getattr(nested, "__name__", None) or type(schema).__name__


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
