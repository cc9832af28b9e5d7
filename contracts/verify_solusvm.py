"""Check a SolusVM 2 API (the mock or a real one) against the subset the bridge relies on.

Read-only by default: authentication, users with filters and pagination, plans, limit
groups, settings and usage, each judged with :mod:`contracts.solusvm`. With
``allow_writes`` it also runs a create/update/lock/suspend/token/delete cycle on a
throwaway user with a unique e-mail, and removes that user even when a step fails.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from marshmallow import Schema

from contracts import solusvm as sv
from contracts.report import Report, Status
from contracts.solusvm_usage import capped_tokens, month_bounds, parse_period

API = "/api/v1"


class CheckFailed(Exception):
    """A contract check failed; the message is the reason shown in the report."""


class _Api:
    """A tiny JSON client that turns transport problems into :class:`CheckFailed`."""

    def __init__(self, base: str, token: str, timeout: float, session: requests.Session,
                 headers: dict[str, str] | None) -> None:
        self.base, self.token, self.timeout, self.session = base, token, timeout, session
        self.headers = {"Accept": "application/json", **(headers or {})}

    def call(self, method: str, path: str, *, token: str | None = "", params: Any = None,
             json: Any = None) -> requests.Response:
        headers = dict(self.headers)
        use = self.token if token == "" else token
        if use is not None:
            headers["Authorization"] = f"Bearer {use}"
        url = path if path.startswith(("http://", "https://")) else self.base + API + path
        try:
            return self.session.request(method, url, params=params, json=json, headers=headers,
                                        timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise CheckFailed(f"{method} {path}: request failed: {exc}") from exc

    def expect(self, resp: requests.Response, status: int | tuple[int, ...], schema: type[Schema] | None = None
               ) -> Any:
        """The JSON body of ``resp`` after checking its status and (optionally) its schema."""
        wanted = (status,) if isinstance(status, int) else status
        where = f"{resp.request.method} {urlsplit(resp.url).path}"
        if resp.status_code not in wanted:
            raise CheckFailed(f"{where}: HTTP {resp.status_code}, expected {' or '.join(map(str, wanted))}: "
                              f"{_snippet(resp.text)}")
        if resp.status_code == 204:
            return None
        ctype = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise CheckFailed(f"{where}: Content-Type {ctype or '(none)'!r}, expected application/json")
        try:
            body = resp.json()
        except ValueError as exc:
            raise CheckFailed(f"{where}: body is not JSON ({exc}): {_snippet(resp.text)}") from exc
        if schema is not None:
            problems = schema().validate(body)
            if problems:
                raise CheckFailed(f"{where}: breaks {schema.__name__}: {_short(problems)}")
        return body


def _snippet(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return repr(text[:limit] + ("…" if len(text) > limit else ""))


def _short(problems: Any, limit: int = 300) -> str:
    text = str(problems)
    return text if len(text) <= limit else text[:limit] + "…"


def _run(report: Report, name: str, fn: Callable[[], tuple[Status, str] | str]) -> bool:
    """Run one check; a :class:`CheckFailed` (or any surprise) becomes a failure with its reason."""
    try:
        result = fn()
    except CheckFailed as exc:
        report.add(name, "fail", str(exc))
        return False
    except Exception as exc:  # noqa: BLE001 - a verifier reports, it must not crash halfway
        report.add(name, "fail", f"unexpected {type(exc).__name__}: {exc}")
        return False
    status, detail = result if isinstance(result, tuple) else ("pass", result)
    report.add(name, status, detail)
    return status != "fail"


def _read_checks(api: _Api, report: Report, usage_period: str | None) -> None:
    users_env = sv.envelope(sv.UserSchema, many=True)
    first_page: dict[str, Any] = {}

    def auth_required() -> tuple[Status, str]:
        resp = api.call("GET", "/users", token=None)
        if resp.status_code != 401:
            raise CheckFailed(f"GET /users without a token: HTTP {resp.status_code}, expected 401")
        try:
            message = resp.json().get("message")
        except (ValueError, AttributeError):
            return "warn", f"401, but the body is not a JSON {{message}}: {_snippet(resp.text)}"
        return "pass", f"401 {message!r}"

    def bad_token() -> str:
        resp = api.call("GET", "/users", token="wrong-" + secrets.token_hex(8))
        api.expect(resp, 401, sv.ErrorSchema)
        return "a wrong Bearer token gets 401 {message}"

    def users_list() -> str:
        body = api.expect(api.call("GET", "/users", params={"page": 1}), 200, users_env)
        first_page.update(body)
        for key in ("first", "last"):
            if not str(body["links"][key]).startswith(("http://", "https://")):
                raise CheckFailed(f"links.{key} is not an absolute URL: {body['links'][key]!r}")
        return f"{body['meta']['total']} user(s), envelope with data/links/meta"

    def pagination() -> tuple[Status, str]:
        body = api.expect(api.call("GET", "/users", params={"per_page": 2}), 200, users_env)
        meta, links = body["meta"], body["links"]
        if meta["current_page"] != 1 or links["prev"] is not None:
            raise CheckFailed(f"page 1 has current_page={meta['current_page']} prev={links['prev']!r}")
        if len(body["data"]) > meta["per_page"]:
            raise CheckFailed(f"{len(body['data'])} items on a page of per_page={meta['per_page']}")
        if meta["last_page"] <= 1:
            if links["next"] is not None:
                raise CheckFailed("a single page, but links.next is not null")
            return "pass", f"single page of {meta['total']} (need more users to walk pages)"
        seen = {u["id"] for u in body["data"]}
        pages = 1
        nxt = links["next"]
        while nxt and pages < 3:  # a few pages are enough to prove the loop works
            if not str(nxt).startswith(("http://", "https://")):
                raise CheckFailed(f"links.next is not an absolute URL: {nxt!r}")
            page = api.expect(api.call("GET", nxt), 200, users_env)
            pages += 1
            if page["meta"]["current_page"] != pages:
                raise CheckFailed(f"links.next led to current_page={page['meta']['current_page']}, expected {pages}")
            ids = {u["id"] for u in page["data"]}
            if ids & seen:
                raise CheckFailed(f"page {pages} repeats ids {sorted(ids & seen)}")
            seen |= ids
            nxt = page["links"]["next"]
        return "pass", f"followed links.next over {pages} page(s) of per_page={meta['per_page']}"

    def filter_search() -> tuple[Status, str]:
        if not first_page.get("data"):
            return "skip", "no user to search for"
        email = first_page["data"][0]["email"]
        body = api.expect(api.call("GET", "/users", params={"filter[search]": email}), 200, users_env)
        emails = [u["email"] for u in body["data"]]
        if email not in emails:
            raise CheckFailed(f"filter[search]={email!r} did not return that user (got {emails[:5]})")
        stray = [e for e in emails if email.lower() not in e.lower()]
        if stray:
            raise CheckFailed(f"filter[search]={email!r} returned non-matching users {stray[:5]}")
        return "pass", f"filter[search] found {email!r} ({len(emails)} match(es))"

    def filter_status() -> str:
        body = api.expect(api.call("GET", "/users", params={"filter[status]": "active", "per_page": 50}),
                          200, users_env)
        wrong = [u["id"] for u in body["data"] if u["status"] != "active"]
        if wrong:
            raise CheckFailed(f"filter[status]=active returned users {wrong[:5]} that are not active")
        return f"filter[status]=active returned only active users ({len(body['data'])})"

    def unknown_user() -> str:
        api.expect(api.call("GET", "/users/2147483000"), 404, sv.ErrorSchema)
        return "GET /users/{unknown} is 404 {message}"

    def listing(path: str, item: type[Schema]) -> Callable[[], str]:
        def check() -> str:
            body = api.expect(api.call("GET", path), 200, sv.envelope(item, many=True))
            return f"{body['meta']['total']} item(s), each a valid {item.__name__.removesuffix('Schema')}"
        return check

    def optional_listing(path: str, item: type[Schema]) -> Callable[[], tuple[Status, str]]:
        """A listing billing modules or the Go SDK read; a 403/404 is a warning (not every install has it)."""
        def check() -> tuple[Status, str]:
            resp = api.call("GET", path)
            if resp.status_code in (403, 404):
                return "warn", f"GET {path} answered {resp.status_code}"
            body = api.expect(resp, 200, sv.envelope(item, many=True))
            return "pass", f"{body['meta']['total']} item(s), each a valid {item.__name__.removesuffix('Schema')}"
        return check

    def license_() -> tuple[Status, str]:
        resp = api.call("GET", "/license")
        if resp.status_code in (403, 404):
            return "warn", f"GET /license answered {resp.status_code}"
        api.expect(resp, 200, sv.envelope(sv.LicenseSchema))
        return "pass", "license valid"

    def server_extras() -> tuple[Status, str]:
        """Boot, disks, backups and snapshots of the first server, when there is one."""
        servers = api.expect(api.call("GET", "/servers", params={"per_page": 1}), 200,
                             sv.envelope(sv.ServerSchema, many=True))["data"]
        if not servers:
            return "skip", "no server to read boot, disks, backups and snapshots of"
        sid = servers[0]["id"]
        api.expect(api.call("GET", f"/servers/{sid}/boot"), 200, sv.envelope(sv.BootSchema))
        api.expect(api.call("GET", f"/servers/{sid}/disks"), 200, sv.envelope(sv.DiskSchema, many=True))
        api.expect(api.call("GET", f"/servers/{sid}/backups"), 200, sv.envelope(sv.BackupSchema, many=True))
        api.expect(api.call("GET", f"/servers/{sid}/snapshots"), 200, sv.envelope(sv.SnapshotSchema, many=True))
        return "pass", f"server {sid}: boot, disks, backups and snapshots valid"

    def settings() -> str:
        body = api.expect(api.call("GET", "/settings"), 200, sv.envelope(sv.SettingsSchema))
        integration = body["data"].get("billing_integration") or {}
        return f"settings valid; billing_integration.type={integration.get('type')!r}"

    def usage() -> tuple[Status, str]:
        if usage_period:
            start, end = month_bounds(*parse_period(usage_period))
            first, last = start.date(), (end - timedelta(days=1)).date()
        else:
            last = datetime.now(UTC).date()
            first = last.replace(day=1)
        params = {"date_from": first.isoformat(), "date_to": last.isoformat(), "per_page": 100}
        resp = api.call("GET", "/usage", params=params)
        if resp.status_code == 404:
            return "warn", "GET /usage answered 404: the billing usage endpoint's shape is inferred (reference §5.3)"
        body = api.expect(resp, 200, sv.envelope(sv.UsageItemSchema, many=True))
        for item in body["data"]:
            # One calendar month, so the cap rule applies once per server.
            plan = item["plan"]
            want = capped_tokens(item["hours"], plan["tokens_per_hour"], plan["tokens_per_month"])
            if item["tokens"] != want.tokens:
                raise CheckFailed(f"server {item['server']['id']}: {item['hours']} h on plan {plan['id']} gives "
                                  f"{item['tokens']} tokens, the cap rule says {want.tokens}")
            total = item["tokens"] + item["additional_ips"]["tokens"] + item["backups"]["tokens"]
            if item["total_tokens"] != total:
                raise CheckFailed(f"server {item['server']['id']}: total_tokens {item['total_tokens']} != {total}")
        return "pass", (f"{len(body['data'])} usage item(s) {first}..{last}, cap rule and totals consistent")

    _run(report, "auth_required", auth_required)
    _run(report, "bad_token", bad_token)
    if not _run(report, "users_list", users_list):
        return  # nothing else can work when the token or the base URL is wrong
    _run(report, "pagination", pagination)
    _run(report, "users_filter_search", filter_search)
    _run(report, "users_filter_status", filter_status)
    _run(report, "users_unknown_404", unknown_user)
    _run(report, "plans", listing("/plans", sv.PlanSchema))
    _run(report, "limit_groups", listing("/limit_groups", sv.LimitGroupSchema))
    _run(report, "roles", listing("/roles", sv.RoleSchema))
    _run(report, "settings", settings)
    _run(report, "usage", usage)
    listings: list[tuple[str, type[Schema]]] = [
        ("locations", sv.LocationSchema), ("os_images", sv.OsImageSchema), ("projects", sv.ProjectSchema),
        ("applications", sv.ApplicationSchema), ("iso_images", sv.IsoImageSchema), ("ssh_keys", sv.SshKeySchema),
        ("tasks", sv.TaskSchema), *((n, sch) for n, (sch, _) in sv.READ_ONLY_COLLECTIONS.items())]
    for name, schema in listings:
        _run(report, name, optional_listing(f"/{name}", schema))
    _run(report, "license", license_)
    _run(report, "server_extras", server_extras)


def _write_checks(api: _Api, report: Report) -> None:
    user_env = sv.envelope(sv.UserSchema)
    users_env = sv.envelope(sv.UserSchema, many=True)
    email = f"solus-contracts-{secrets.token_hex(6)}@example.com"
    state: dict[str, Any] = {}

    def create() -> str:
        # billing_user_id as a string, as the Blesta module sends it; it must come back an int.
        body = {"email": email, "password": secrets.token_urlsafe(16), "status": "active",
                "billing_user_id": "424242"}
        data = api.expect(api.call("POST", "/users", json=body), 201, user_env)["data"]
        state["id"] = data["id"]
        if data["email"] != email or data["billing_user_id"] != 424242 or data["status"] != "active":
            raise CheckFailed(f"created user echoes email={data['email']!r} billing_user_id="
                              f"{data['billing_user_id']!r} status={data['status']!r}")
        if "password" in data:
            raise CheckFailed("the created user's password is echoed back")
        return f"POST /users → 201, user {data['id']}"

    def duplicate() -> str:
        resp = api.call("POST", "/users", json={"email": email, "password": secrets.token_urlsafe(16)})
        err = api.expect(resp, 422, sv.ErrorSchema)
        if "email" not in (err.get("errors") or {}):
            raise CheckFailed(f"422 without errors.email: {err}")
        return "a second user with the same e-mail → 422 errors.email"

    def put(fields_: dict[str, Any], label: str, check: Callable[[dict[str, Any]], bool]) -> Callable[[], str]:
        def run() -> str:
            data = api.expect(api.call("PUT", f"/users/{state['id']}", json=fields_), 200, user_env)["data"]
            if not check(data):
                raise CheckFailed(f"PUT {fields_} answered {dict((k, data.get(k)) for k in fields_)}")
            listed = api.expect(api.call("GET", "/users", params={"filter[search]": email}), 200, users_env)
            mine = [u for u in listed["data"] if u["id"] == state["id"]]
            if not mine or not check(mine[0]):
                raise CheckFailed(f"after PUT {fields_} the user list shows {mine}")
            return label
        return run

    def bad_status() -> str:
        resp = api.call("PUT", f"/users/{state['id']}", json={"status": "frozen"})
        api.expect(resp, 422, sv.ErrorSchema)
        return "status outside active|locked|suspended → 422"

    def token() -> tuple[Status, str]:
        resp = api.call("POST", f"/users/{state['id']}/tokens", json={"is_one_time": True})
        body = api.expect(resp, (200, 201))
        access = (body.get("data") or {}).get("access_token") if isinstance(body, dict) else None
        if not isinstance(access, str) or not access:
            raise CheckFailed("no data.access_token in the answer")
        if resp.status_code != 201:
            return "warn", f"one-time token created with HTTP {resp.status_code} (201 expected for a create)"
        return "pass", "POST /users/{id}/tokens → 201 with data.access_token"

    def delete() -> str:
        api.expect(api.call("DELETE", f"/users/{state['id']}"), 204)
        state["deleted"] = True
        listed = api.expect(api.call("GET", "/users", params={"filter[search]": email}), 200, users_env)
        if any(u["id"] == state["id"] for u in listed["data"]):
            raise CheckFailed("the deleted user is still listed")
        return "DELETE /users/{id} → 204, and the user is gone"

    try:
        if not _run(report, "write_create_user", create):
            return
        _run(report, "write_duplicate_email", duplicate)
        _run(report, "write_update_user", put({"billing_user_id": 424243}, "PUT billing_user_id → 200, stored",
                                              lambda d: d["billing_user_id"] == 424243))
        _run(report, "write_lock_user", put({"status": "locked"}, "PUT status=locked → 200, listed locked",
                                            lambda d: d["status"] == "locked"))
        _run(report, "write_suspend_user", put({"status": "suspended"}, "PUT status=suspended → 200",
                                               lambda d: d["status"] == "suspended"))
        _run(report, "write_unsuspend_user", put({"status": "active"}, "PUT status=active → 200",
                                                 lambda d: d["status"] == "active"))
        _run(report, "write_bad_status", bad_status)
        _run(report, "write_token", token)
        _run(report, "write_delete_user", delete)
    finally:
        if "id" in state and not state.get("deleted"):
            try:  # leave nothing behind on a real SolusVM, whatever failed above
                api.call("DELETE", f"/users/{state['id']}")
            except CheckFailed:
                pass


def normalise_base(url: str) -> str:
    """``https://host/api/v1/`` or ``https://host`` → ``https://host``."""
    url = url.rstrip("/")
    return url[: -len(API)] if url.endswith(API) else url


def verify_solusvm(
    url: str,
    *,
    api_token: str,
    allow_writes: bool = False,
    timeout: float = 10.0,
    headers: dict[str, str] | None = None,
    session: requests.Session | None = None,
    usage_period: str | None = None,
) -> Report:
    """Run the read-only contract (and, with ``allow_writes``, the user cycle) against ``url``.

    ``headers`` are sent on every request (e.g. ``X-Mock-Namespace`` for the live mock);
    ``usage_period`` (``YYYY-MM``, default the current month) is the month whose usage is checked.
    """
    base = normalise_base(url)
    api = _Api(base, api_token, timeout, session or requests.Session(), headers)
    report = Report(base + API)
    _read_checks(api, report, usage_period)
    if allow_writes:
        if any(c.name == "users_list" and c.failed for c in report.checks):
            report.add("writes", "skip", "the user list failed, so the write cycle was not attempted")
        else:
            _write_checks(api, report)
    else:
        report.add("writes", "skip", "read-only run (pass --allow-writes for the user cycle)")
    return report
