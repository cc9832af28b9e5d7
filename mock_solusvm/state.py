"""In-memory state of the mock: ``Backend`` (one namespace) and ``Namespaces``.

The backend is the mock's service layer: plain Python, no Flask. Records are plain dicts
keyed by id in insertion order (ids only grow), so paging never sorts. Every mutating
method runs under the backend's lock; the live server is threaded.
"""

from __future__ import annotations

import copy
import hashlib
import secrets
import threading
import time
import uuid as uuidlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from marshmallow import ValidationError
from werkzeug.security import check_password_hash, generate_password_hash

from contracts.mock_control import SeedDocumentSchema
from contracts.solusvm import (
    PLAN_LIMIT_UNITS,
    PlanCreateSchema,
    SettingsPatchSchema,
    UserCreateSchema,
    UserPatchSchema,
    validation_messages,
)

from .clock import Clock, format_instant, parse_instant, time_stage
from .errors import Forbidden, Invalid, MockError, NotFound, Unauthenticated, invalid
from .extras import ExtrasMixin, default_extras
from .faults import Faults
from .journal import Journal
from .parsing import NOT_AN_OBJECT, load
from .records import find

STATE_FORMAT = "mock-solusvm-state"
#: Tables of the extra resources (optional in a state document).
EXTRA_TABLES = ("ssh_keys", "applications", "iso_images", "backups", "snapshots")
STATE_VERSION = 1
#: A cheap hash: a mock must create thousands of users fast (scrypt would take ~50 ms each).
PASSWORD_METHOD = "pbkdf2:sha256:1000"

ADMIN_EMAIL = "admin@solusvm.mock"
MAX_ID = 2**53  # ids stay exact in JavaScript clients too
MAX_TOKENS = 10**12
DATETIME_KEYS = {"created_at", "updated_at", "deleted_at"}
#: Keys a restored record must have (a dump from this version always has them).
RESTORE_REQUIRED: dict[str, set[str]] = {
    "roles": {"id", "name", "is_default"},
    "limit_groups": {"id", "name", "vms", "running_vms", "additional_ips"},
    "locations": {"id", "name"},
    "os_images": {"id", "name", "versions"},
    "plans": {"id", "name", "tokens_per_hour", "tokens_per_month", "ip_tokens_per_hour", "ip_tokens_per_month",
              "params"},
    "users": {"id", "email", "status", "created_at", "roles", "billing_user_id", "limit_group_id"},
    "servers": {"id", "uuid", "name", "user_id", "plan_id", "location_id", "project_id", "status", "is_suspended",
                "additional_ip_count", "created_at", "deleted_at", "fqdns", "boot_mode"},
    "projects": {"id", "name", "owner_id", "is_default"},
    "tasks": {"id", "action", "created_at", "polls"},
}


_BILLING_ID = UserCreateSchema().fields["billing_user_id"]

def default_fixture() -> dict[str, Any]:
    """What a fresh or reset namespace contains (overridden key by key by a seed)."""
    return {
        "settings": {"billing_integration": None, "features": {"allow_registration": True},
                     "registration": {"role": 2}, "limit_group": 1},
        "roles": [{"id": 1, "name": "ADMIN"}, {"id": 2, "name": "CLIENT", "is_default": True}],
        "limit_groups": [{"id": 1, "name": "Default", "vms": {"limit": 10, "is_enabled": True},
                          "running_vms": {"limit": 10, "is_enabled": True},
                          "additional_ips": {"limit": 5, "is_enabled": True}}],
        "locations": [{"id": 1, "name": "Amsterdam"}],
        "os_images": [{"id": 1, "name": "Debian", "versions": [{"id": 1, "version": "12"}]}],
        "plans": [{"id": 1, "name": "1 Core, 1 GB RAM", "tokens_per_hour": 7, "tokens_per_month": 5000,
                   "ip_tokens_per_hour": 1, "ip_tokens_per_month": 500, "backup_price": 0,
                   "params": {"vcpu": 1, "ram": 1073741824, "disk": 10}}],
        "users": [],
        "servers": [],
        **default_extras(),
    }


class Principal:
    """Who a request acts as: an admin token, or a user token (``user_id``)."""

    __slots__ = ("kind", "user_id")

    def __init__(self, kind: str, user_id: int | None = None) -> None:
        self.kind, self.user_id = kind, user_id

    @property
    def is_admin(self) -> bool:
        """True for admin API tokens."""
        return self.kind == "admin"


DEFAULT_PLAN_PARAMS = {"vcpu": 1, "ram": 1073741824, "disk": 10}


def default_plan_limits() -> dict[str, dict[str, Any]]:
    """Every plan limit switched off, in the unit the Go SDK defaults it to."""
    return {k: {"is_enabled": False, "limit": 0, "unit": units[0]} for k, units in PLAN_LIMIT_UNITS.items()}


def merge_plan_limits(current: dict[str, dict[str, Any]], given: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``given`` (a subset, validated by the schema) over ``current``; 422 for a unit the limit has not."""
    out = copy.deepcopy(current)
    for key, value in given.items():
        if "unit" in value and value["unit"] not in PLAN_LIMIT_UNITS[key]:
            raise invalid(f"limits.{key}.unit", f"The selected limits.{key}.unit is invalid "
                                                f"(one of {', '.join(PLAN_LIMIT_UNITS[key])}).")
        out[key].update(value)
    return out


def plan_record(pid: int, data: dict[str, Any]) -> dict[str, Any]:
    """A stored plan from ``PlanCreateSchema`` output (``backup_price`` kept as a decimal string)."""
    price = data.get("backup_price")
    return {"id": pid, "name": data["name"],
            **{k: data[k] for k in ("tokens_per_hour", "tokens_per_month", "ip_tokens_per_hour", "ip_tokens_per_month")},
            "backup_price": format(price.normalize(), "f") if price is not None else "0",
            "params": {**DEFAULT_PLAN_PARAMS, **data["params"]},
            "limits": merge_plan_limits(default_plan_limits(), data["limits"]),
            **{k: data[k] for k in ("storage_type", "image_format", "is_default", "is_visible", "is_backup_available",
                                    "is_snapshots_enabled", "is_additional_ips_available", "virtualization_type")}}


class VersionLock:
    """The backend's re-entrant lock; every ``acquire`` (so every ``with backend.lock``) counts.

    ``version`` changes whenever anything may have written: every mutating method and every
    request that is not a read takes the lock, so a cache keyed on ``version`` is never stale.
    Readers that write nothing take it with ``acquire(write=False)``.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.version = 0

    def acquire(self, write: bool = True) -> bool:
        """Take the lock (blocking); ``write`` moves ``version`` on."""
        self._lock.acquire()
        if write:
            self.version += 1
        return True

    def release(self) -> None:
        """Release one level of the lock."""
        self._lock.release()

    def __enter__(self) -> VersionLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()

    @contextmanager
    def held_quietly(self) -> Iterator[None]:
        """The lock for a reader: taken without moving ``version``."""
        self.acquire(write=False)
        try:
            yield
        finally:
            self._lock.release()


class Backend(ExtrasMixin):
    """All data of one namespace, with the operations of the SolusVM API on it."""

    def __init__(self, name: str = "default", journal_limit: int = 10_000) -> None:
        self.name = name
        self.lock = VersionLock()
        self.clock = Clock()
        self.faults = Faults()
        self.journal = Journal(limit=journal_limit)
        self._clear()
        self._apply_fixture(default_fixture())

    # --- lifecycle ----------------------------------------------------------------------

    def _clear(self) -> None:
        self.settings: dict[str, Any] = {}
        self.roles: dict[int, dict[str, Any]] = {}
        self.limit_groups: dict[int, dict[str, Any]] = {}
        self.locations: dict[int, dict[str, Any]] = {}
        self.os_images: dict[int, dict[str, Any]] = {}
        self.plans: dict[int, dict[str, Any]] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.servers: dict[int, dict[str, Any]] = {}
        self.projects: dict[int, dict[str, Any]] = {}
        self.tasks: dict[int, dict[str, Any]] = {}
        self.ssh_keys: dict[int, dict[str, Any]] = {}
        self.applications: dict[int, dict[str, Any]] = {}
        self.iso_images: dict[int, dict[str, Any]] = {}
        self.backups: dict[int, dict[str, Any]] = {}
        self.snapshots: dict[int, dict[str, Any]] = {}
        self.readonly: dict[str, dict[int, dict[str, Any]]] = {}
        self.license: dict[str, Any] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        self.emails: dict[str, int] = {}  # lower-cased e-mail -> user id (uniqueness)
        self.view_cache: dict[int, dict[str, Any]] = {}  # user id -> serialised user (dropped on change)
        self.next_ids: dict[str, int] = {}
        self._user_list: list[dict[str, Any]] | None = None  # id-ordered users; None after a create/delete
        self.listing_cache: dict[Any, Any] = {}  # computed listings of one state version (see ``cached``)
        self._listing_version = -1
        self.page_cache: dict[Any, Any] = {}  # rendered API pages (mock_solusvm.pagecache), checked against the version

    def cached(self, key: Any, compute: Callable[[], Any]) -> Any:
        """``compute()`` memoised for ``key`` until the state next changes (``lock.version``).

        Paging through a listing then costs its page, not the whole listing per page. The key
        must hold every input besides the state (filters, the clock-derived period end).
        """
        with self.lock.held_quietly():
            if self._listing_version != self.lock.version:
                self.listing_cache.clear()
                self._listing_version = self.lock.version
            if key not in self.listing_cache:
                version = self.lock.version
                value = compute()
                if version != self.lock.version:  # something wrote while computing: do not keep it
                    return value
                if len(self.listing_cache) >= 16:
                    self.listing_cache.clear()
                self.listing_cache[key] = value
            return self.listing_cache[key]

    def reset(self) -> None:
        """Back to the default fixture; clock running at real time, no faults, empty journal."""
        with self.lock:
            self._clear()
            self.clock = Clock()
            self.faults.clear()
            self.journal.clear()
            self._apply_fixture(default_fixture())

    def _id(self, kind: str, wanted: Any = None) -> int:
        if wanted is not None:
            if isinstance(wanted, bool) or not isinstance(wanted, int) or not 1 <= wanted <= MAX_ID:
                raise ValueError(f"{kind} id must be an integer from 1 to {MAX_ID}, got {wanted!r}")
            self.next_ids[kind] = max(self.next_ids.get(kind, 1), wanted + 1)
            return wanted
        value = self.next_ids.get(kind, 1)
        self.next_ids[kind] = value + 1
        return value

    def seed(self, doc: Any) -> dict[str, int]:
        """Reset, then load a seed document (docs/internals.md); returns counts per collection."""
        if not isinstance(doc, dict):
            raise Invalid({"body": [NOT_AN_OBJECT]})
        # refuse now, naming the field, what later API calls could not serve
        problems = SeedDocumentSchema().validate(doc)
        if problems:
            raise Invalid(validation_messages(ValidationError(problems)))
        fixture = default_fixture()
        for key in fixture:
            if key in doc:
                fixture[key] = doc[key]
        if doc.get("settings") is not None:
            # the same rules as PATCH settings, so a seed cannot store what the API would refuse
            settings = load(SettingsPatchSchema(), doc["settings"])
            fixture["settings"] = settings
        with self.lock:
            self._clear()
            self.faults.clear()
            self.journal.clear()
            if doc.get("clock") is not None:
                try:
                    self.clock = Clock(parse_instant(doc["clock"]), frozen=True)
                except ValueError:
                    raise invalid("clock", "clock must be an ISO 8601 instant.") from None
            else:
                self.clock = Clock()
            try:
                self._apply_fixture(fixture, projects=doc.get("projects") or [])
            except (KeyError, TypeError, ValueError, AttributeError) as err:
                self._clear()
                self._apply_fixture(default_fixture())
                raise Invalid({"_schema": [f"Bad seed document: {err!r}"]}) from None
            except Invalid:
                self._clear()
                self._apply_fixture(default_fixture())
                raise
        return {k: len(getattr(self, k)) for k in ("roles", "limit_groups", "locations", "os_images",
                                                   "plans", "users", "servers", "projects")}

    def _apply_fixture(self, fx: dict[str, Any], projects: list[dict[str, Any]] | None = None) -> None:
        now = self.clock.now()
        self.settings = self._settings_from(fx.get("settings") or {})
        for r in fx["roles"]:
            rid = self._id("roles", r.get("id"))
            self.roles[rid] = {"id": rid, "name": str(r["name"]), "is_default": bool(r.get("is_default", False))}
        role = self.settings["registration"].get("role")
        if role is not None:
            self.settings["registration"]["role"] = self.resolve_role(role, "settings.registration.role")
        for g in fx["limit_groups"]:
            gid = self._id("limit_groups", g.get("id"))
            self.limit_groups[gid] = {
                "id": gid, "name": str(g["name"]), "created_at": now, "updated_at": now,
                **{k: {"limit": int(g.get(k, {}).get("limit", 0)), "is_enabled": bool(g.get(k, {}).get("is_enabled", False))}
                   for k in ("vms", "running_vms", "additional_ips")},
            }
        for loc in fx["locations"]:
            lid = self._id("locations", loc.get("id"))
            self.locations[lid] = {"id": lid, "name": str(loc["name"]), "description": str(loc.get("description", "")),
                                   "is_visible": True}
        for img in fx["os_images"]:
            iid = self._id("os_images", img.get("id"))
            versions = []
            for v in img.get("versions", []):
                versions.append({"id": self._id("os_versions", v.get("id")), "version": str(v["version"])})
            self.os_images[iid] = {"id": iid, "name": str(img["name"]), "versions": versions}
        for i, p in enumerate(fx["plans"]):
            # the same rules as POST plans, so a seed cannot store a plan the API could not serve
            data = load(PlanCreateSchema(), p, prefix=f"plans.{i}")
            pid = self._id("plans", p.get("id"))
            self.plans[pid] = plan_record(pid, data)
        for pr in projects or []:
            owner = int(pr["owner_id"]) if pr.get("owner_id") is not None else None
            pid = self._id("projects", pr.get("id"))
            self.projects[pid] = {"id": pid, "name": str(pr.get("name", "Default Project")),
                                  "description": str(pr.get("description", "")), "owner_id": owner,
                                  "is_default": bool(pr.get("is_default", False))}
        for u in fx["users"]:
            self._seed_user(u, now)
        for s in fx["servers"]:
            self._seed_server(s, now)
        self._apply_extras(fx)

    def _seed_user(self, u: dict[str, Any], now: datetime) -> None:
        email = str(u["email"])
        if email.lower() in self.emails:
            raise invalid("users", f"duplicate e-mail {email}")
        status = u.get("status", "active")
        if status not in ("active", "locked", "suspended"):
            raise invalid("users", f"bad status {status!r}")
        uid = self._id("users", u.get("id"))
        roles = u.get("roles")
        if roles is None:
            roles = self._default_roles()
        try:  # the same rule as POST users: an id in 64-bit range, int or numeric string
            bid = _BILLING_ID.deserialize(u.get("billing_user_id") if u.get("billing_user_id") != "" else None)
        except ValidationError as err:
            raise invalid("users", f"bad billing_user_id: {'; '.join(err.messages)}") from None
        self.users[uid] = {
            "id": uid, "email": email, "status": status,
            "created_at": parse_instant(u["created_at"]) if u.get("created_at") else now,
            "roles": [int(r) for r in roles],
            "billing_user_id": bid,
            "billing_token": u.get("billing_token"),
            "language_id": u.get("language_id"),
            "limit_group_id": u.get("limit_group_id", self.settings.get("limit_group")),
            "password_hash": generate_password_hash(u["password"], method=PASSWORD_METHOD) if u.get("password") else None,
        }
        self.emails[email.lower()] = uid
        self._user_list = None

    def _seed_server(self, s: dict[str, Any], now: datetime) -> None:
        user_id, plan_id = int(s["user_id"]), int(s["plan_id"])
        if user_id not in self.users:
            raise invalid("servers", f"unknown user_id {user_id}")
        if plan_id not in self.plans:
            raise invalid("servers", f"unknown plan_id {plan_id}")
        sid = self._id("servers", s.get("id"))
        created = parse_instant(s["created_at"]) if s.get("created_at") else now
        deleted = parse_instant(s["deleted_at"]) if s.get("deleted_at") else None
        user = self.users[user_id]
        suspended = bool(s.get("is_suspended", False)) or user["status"] == "suspended"
        self.servers[sid] = {
            "id": sid, "uuid": str(s.get("uuid") or uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"{self.name}/server/{sid}")),
            "name": str(s.get("name", f"server-{sid}")), "description": str(s.get("description", "")),
            "user_id": user_id, "plan_id": plan_id,
            "location_id": s.get("location_id", next(iter(self.locations), None)),
            "project_id": s.get("project_id") or self._default_project(user_id),
            "status": s.get("status", "stopped" if suspended else "started"),
            "is_suspended": suspended,
            "suspended_by_user": suspended and user["status"] == "suspended" and not s.get("is_suspended"),
            "fqdns": list(s.get("fqdns", [])), "boot_mode": "disk",
            "additional_ip_count": int(s.get("additional_ip_count", 0)),
            "created_at": created, "deleted_at": deleted,
        }
        if self.servers[sid]["additional_ip_count"] < 0:
            raise invalid("servers", "additional_ip_count must not be negative")

    def _settings_from(self, s: dict[str, Any]) -> dict[str, Any]:
        base: dict[str, Any] = {"billing_integration": None,
                "features": {"allow_registration": True, "allow_password_recovery": True, "hide_plan_name": False,
                             "hide_plan_section": False, "hide_location_section": False, "hide_user_data": False,
                             "hide_api_documentation_link": False},
                "registration": {"role": 2}, "limit_group": 1}
        if "billing_integration" in s:
            base["billing_integration"] = copy.deepcopy(s["billing_integration"])
        base["features"].update(s.get("features") or {})
        base["registration"].update(s.get("registration") or {})
        if "limit_group" in s:
            base["limit_group"] = s["limit_group"]
        return base

    # --- dump / restore -----------------------------------------------------------------

    def dump(self, password_hashes: bool = False) -> dict[str, Any]:
        """The whole namespace as versioned JSON (datetimes as ISO strings).

        Users' password hashes are left out (``password_hash: null``) unless ``password_hashes``.
        """
        with self.lock:
            data: dict[str, Any] = {k: list(getattr(self, k).values()) for k in
                    ("roles", "limit_groups", "locations", "os_images", "plans", "users", "servers",
                     "projects", "tasks")}
            if not password_hashes:
                data["users"] = [{**u, "password_hash": None} for u in data["users"]]
            data["tokens"] = [{"token_sha256": t, **rec} for t, rec in self.tokens.items()]
            for k in EXTRA_TABLES:
                data[k] = list(getattr(self, k).values())
            data["readonly"] = {k: list(v.values()) for k, v in self.readonly.items()}
            data["license"] = self.license
            doc = {"format": STATE_FORMAT, "version": STATE_VERSION, "namespace": self.name,
                   "clock": self.clock.to_json(), "settings": self.settings, "next_ids": self.next_ids,
                   "faults": self.faults.list(), **data}
            return _jsonify(copy.deepcopy(doc))

    def restore(self, doc: Any) -> None:
        """Replace the namespace with a ``dump``; the journal is cleared, faults are not restored."""
        if not isinstance(doc, dict):
            raise Invalid({"body": [NOT_AN_OBJECT]})
        if doc.get("format") != STATE_FORMAT:
            raise invalid("format", f"Not a {STATE_FORMAT} document.")
        if doc.get("version") != STATE_VERSION:
            raise invalid("version", f"Unsupported state version {doc.get('version')!r}; this mock reads {STATE_VERSION}.")
        try:
            clock = doc["clock"]
            new_clock = Clock(parse_instant(clock["now"]), frozen=bool(clock["frozen"]))
            tables = {}
            for k in ("roles", "limit_groups", "locations", "os_images", "plans", "users", "servers",
                      "projects", "tasks"):
                tables[k] = {int(r["id"]): _unjsonify(r) for r in doc[k]}
            for k in EXTRA_TABLES:  # optional: dumps from before these existed restore without them
                tables[k] = {int(r["id"]): _unjsonify(r) for r in doc.get(k) or []}
            readonly = {k: {int(r["id"]): dict(r) for r in v} for k, v in (doc.get("readonly") or {}).items()}
            license_ = dict(doc.get("license") or default_extras()["license"])
            for server in tables["servers"].values():
                for h in server.get("history") or []:
                    h["from"] = parse_instant(h["from"]) if isinstance(h["from"], str) else h["from"]
            tokens = {}
            for rec in doc["tokens"]:
                rec = _unjsonify(rec)
                tokens[rec.pop("token_sha256")] = rec
            for table, keys in RESTORE_REQUIRED.items():
                for rec in tables[table].values():
                    missing = keys - rec.keys()
                    if missing:
                        raise ValueError(f"{table} record {rec.get('id')} lacks {sorted(missing)}")
            for server in tables["servers"].values():
                if server["user_id"] not in tables["users"] or server["plan_id"] not in tables["plans"]:
                    raise ValueError(f"server {server['id']} points at a missing user or plan")
                for h in server.get("history") or []:
                    if (h["plan_id"] not in tables["plans"] or not isinstance(h["from"], datetime)
                            or isinstance(h["ips"], bool) or not isinstance(h["ips"], int) or h["ips"] < 0):
                        raise ValueError(f"server {server['id']} has a bad history entry {h!r}")
                if not isinstance(server["created_at"], datetime):
                    raise ValueError(f"server {server['id']} has no valid created_at")
            for table in ("backups", "snapshots"):
                for rec in tables[table].values():
                    if rec.get("server_id") not in tables["servers"] or not isinstance(rec.get("created_at"), datetime):
                        raise ValueError(f"{table} record {rec.get('id')} lacks a known server_id or created_at")
            next_ids = {str(k): int(v) for k, v in doc["next_ids"].items()}
            _check_next_ids(next_ids, tables, tokens)
            settings = dict(doc["settings"])
            emails = {u["email"].lower(): uid for uid, u in tables["users"].items()}
            if len(emails) != len(tables["users"]):
                raise ValueError("two users share an e-mail")
        except _NextIdReused as err:
            raise invalid(f"next_ids.{err.args[0]}", err.args[1]) from None
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise Invalid({"_schema": [f"Bad state document: {err!r}"]}) from None
        for plan in tables["plans"].values():  # dumps from before plans had limits
            plan.setdefault("limits", default_plan_limits())
            for key, value in (("storage_type", "fb"), ("image_format", "qcow2"), ("is_backup_available", False),
                               ("is_snapshots_enabled", False), ("is_additional_ips_available", True)):
                plan.setdefault(key, value)
        with self.lock:
            self._clear()
            self.clock = new_clock
            for k, v in tables.items():
                setattr(self, k, v)
            self.tokens, self.next_ids, self.settings = tokens, next_ids, settings
            self.readonly, self.license = readonly, license_
            self.emails = emails
            self.journal.clear()

    # --- auth ---------------------------------------------------------------------------

    def authenticate_user_token(self, token: str) -> Principal:
        """The principal of a user token; a one-time token burns here."""
        with self.lock:
            rec = self.tokens.get(token_digest(token))
            if rec is None or rec.get("used") or rec["user_id"] not in self.users:
                raise Unauthenticated()
            if rec["is_one_time"]:
                rec["used"] = True
            return Principal("user", rec["user_id"])

    def create_token(self, user_id: int, is_one_time: bool, name: str) -> dict[str, Any]:
        """A new Bearer token acting as ``user_id``."""
        with self.lock:
            self.get_user(user_id)
            secret = secrets.token_urlsafe(32)
            tid = self._id("tokens")
            rec = {"id": tid, "user_id": user_id, "is_one_time": is_one_time, "name": name,
                   "created_at": self.clock.now(), "used": False}
            self.tokens[token_digest(secret)] = rec
            return {"access_token": secret, "token_type": "Bearer", "is_one_time": is_one_time,
                    "token": {"id": tid, "name": name, "created_at": rec["created_at"]}}

    def login(self, email: str, password: str) -> dict[str, Any]:
        """``auth/login``: a long-lived token for a user with a password."""
        uid = self.emails.get(email.lower())
        user = self.users.get(uid) if uid is not None else None
        if user is None or not user["password_hash"] or not check_password_hash(user["password_hash"], password):
            raise Unauthenticated("These credentials do not match our records.")
        tok = self.create_token(user["id"], False, "login")
        return {"credentials": {"access_token": tok["access_token"], "token_type": "Bearer",
                                "expires_at": format_instant(self.clock.now() + timedelta(days=1))}}

    # --- users --------------------------------------------------------------------------

    def _default_roles(self) -> list[int]:
        return [r["id"] for r in self.roles.values() if r["is_default"]]

    def admin_user(self) -> dict[str, Any]:
        """The user admin API tokens belong to: the first user holding the ADMIN role.

        A namespace without one gets it on first need (``admin@solusvm.mock``), so ``GET account``
        and servers an admin creates for itself point at a real, stored user.
        """
        with self.lock:
            admin_roles = {r["id"] for r in self.roles.values() if r["name"].upper() == "ADMIN"}
            for user in self.users.values():
                if admin_roles & set(user["roles"]):
                    return user
            uid = self._id("users")
            email = ADMIN_EMAIL if ADMIN_EMAIL not in self.emails else f"admin-{uid}@solusvm.mock"
            self.users[uid] = {"id": uid, "email": email, "status": "active", "created_at": self.clock.now(),
                               "roles": sorted(admin_roles), "billing_user_id": None, "billing_token": None,
                               "language_id": None, "limit_group_id": None, "password_hash": None}
            self.emails[email] = uid
            self._user_list = None
            return self.users[uid]

    def get_user(self, user_id: int) -> dict[str, Any]:
        """A user or ``NotFound``."""
        user = self.users.get(user_id)
        if user is None:
            raise NotFound(f"No query results for model [User] {user_id}")
        return user

    def list_users(self, status: str | None = None, search: str | None = None) -> list[dict[str, Any]]:
        """Users in id order, filtered (``search`` = case-insensitive substring of the e-mail)."""
        if not status and not search:
            if self._user_list is None:
                self._user_list = list(self.users.values())
            return self._user_list
        return self.cached(("users", status, search), lambda: self._filter_users(status, search))

    def _filter_users(self, status: str | None, search: str | None) -> list[dict[str, Any]]:
        users: Any = self.users.values()
        if status:
            users = [u for u in users if u["status"] == status]
        if search:
            needle = search.lower()
            users = [u for u in users if needle in u["email"].lower()]
        return users if isinstance(users, list) else list(users)

    def _check_refs(self, data: dict[str, Any]) -> None:
        errors: dict[str, list[str]] = {}
        for rid in data.get("roles") or []:
            if rid not in self.roles:
                errors.setdefault("roles", []).append(f"The selected role {rid} is invalid.")
        if data.get("limit_group_id") is not None and data["limit_group_id"] not in self.limit_groups:
            errors["limit_group_id"] = ["The selected limit group id is invalid."]
        if errors:
            raise Invalid(errors)

    def create_user(self, body: Any) -> dict[str, Any]:
        """``POST users``."""
        data = load(UserCreateSchema(), body)
        with self.lock:
            if data["email"].lower() in self.emails:
                raise invalid("email", "The email has already been taken.")
            self._check_refs(data)
            uid = self._id("users")
            self.users[uid] = {
                "id": uid, "email": data["email"], "status": data["status"], "created_at": self.clock.now(),
                "roles": data["roles"] if data["roles"] is not None else self._default_roles(),
                "billing_user_id": data["billing_user_id"], "billing_token": data["billing_token"],
                "language_id": data["language_id"],
                "limit_group_id": data["limit_group_id"] if data["limit_group_id"] is not None
                else self.settings.get("limit_group"),
                "password_hash": generate_password_hash(data["password"], method=PASSWORD_METHOD),
            }
            self.emails[data["email"].lower()] = uid
            self._user_list = None
            return self.users[uid]

    def update_user(self, user_id: int, body: Any, allow_email: bool) -> dict[str, Any]:
        """``PUT`` (partial) and ``PATCH users/{id}``; status changes cascade to servers."""
        data = load(UserPatchSchema(), body, partial=True)
        if not allow_email:
            data.pop("email", None)
        with self.lock:
            user = self.get_user(user_id)
            self._check_refs(data)
            self.view_cache.pop(user_id, None)
            if "email" in data:
                other = self.emails.get(data["email"].lower())
                if other is not None and other != user_id:
                    raise invalid("email", "The email has already been taken.")
            if "email" in data:
                del self.emails[user["email"].lower()]
                user["email"] = data["email"]
                self.emails[data["email"].lower()] = user_id
            if "password" in data:
                user["password_hash"] = generate_password_hash(data["password"], method=PASSWORD_METHOD)
            for key in ("roles", "billing_user_id", "language_id", "limit_group_id", "billing_token"):
                if key in data:
                    user[key] = data[key]
            if "status" in data and data["status"] != user["status"]:
                self._set_status(user, data["status"])
            return user

    def _set_status(self, user: dict[str, Any], status: str) -> None:
        """D-LOCK: suspended suspends all the user's servers; leaving suspended lifts only those.

        Servers come back unsuspended but stopped (reference §2.3 proposal).
        """
        user["status"] = status
        for server in self._servers_of(user["id"]):
            if status == "suspended" and not server["is_suspended"]:
                server.update(is_suspended=True, suspended_by_user=True, status="stopped")
            elif status != "suspended" and server.get("suspended_by_user"):
                server.update(is_suspended=False, suspended_by_user=False)

    def delete_user(self, user_id: int) -> None:
        """``DELETE users/{id}``: refused with 422 while the user owns servers."""
        with self.lock:
            user = self.get_user(user_id)
            owned = self._servers_of(user_id)
            if owned:
                raise Invalid({"user": [f"The user still owns {len(owned)} server(s); delete them first."]},
                              message="The user cannot be deleted while they own servers.")
            del self.users[user_id]
            self._user_list = None
            self.view_cache.pop(user_id, None)
            del self.emails[user["email"].lower()]
            for tok in [t for t, r in self.tokens.items() if r["user_id"] == user_id]:
                del self.tokens[tok]
            for pid in [p for p, r in self.projects.items() if r["owner_id"] == user_id]:
                del self.projects[pid]

    def users_count(self, role_id: int) -> int:
        """Users holding a role."""
        return sum(1 for u in self.users.values() if role_id in u["roles"])

    # --- projects -----------------------------------------------------------------------

    def _default_project(self, user_id: int) -> int:
        for p in self.projects.values():
            if p["owner_id"] == user_id and p["is_default"]:
                return p["id"]
        pid = self._id("projects")
        self.projects[pid] = {"id": pid, "name": "Default Project", "description": "", "owner_id": user_id,
                              "is_default": True}
        return pid

    # --- servers ------------------------------------------------------------------------

    def _servers_of(self, user_id: int) -> list[dict[str, Any]]:
        return [s for s in self.servers.values() if s["user_id"] == user_id and s["deleted_at"] is None]

    def get_server(self, server_id: int, principal: Principal | None = None) -> dict[str, Any]:
        """A live (not deleted) server visible to ``principal``, or ``NotFound``."""
        server = self.servers.get(server_id)
        if server is None or server["deleted_at"] is not None or (
                principal is not None and not principal.is_admin and server["user_id"] != principal.user_id):
            raise NotFound(f"No query results for model [VirtualServer] {server_id}")
        return server

    def list_servers(self, principal: Principal, user_id: int | None = None, status: str | None = None
                     ) -> list[dict[str, Any]]:
        """Live servers; a user token sees only its own. Kept until the state changes (paging reuses it)."""
        if not principal.is_admin:
            user_id = principal.user_id
        return self.cached(("servers", user_id, status), lambda: [
            s for s in self.servers.values() if s["deleted_at"] is None
            and (user_id is None or s["user_id"] == user_id) and (not status or s["status"] == status)])

    def create_server(self, principal: Principal, data: dict[str, Any]) -> dict[str, Any]:
        """``POST servers``: checks owner status and the owner's limit group."""
        with self.lock:
            if principal.is_admin:
                # the Go SDK's create request has no user field: the server belongs to the token's owner
                owner_id = data["user"] if data["user"] is not None else self.admin_user()["id"]
            else:
                if data["user"] not in (None, principal.user_id):
                    raise Forbidden("A user token can only create servers for itself.")
                owner_id = principal.user_id
            owner = self.users.get(owner_id)
            if owner is None:
                raise invalid("user", "The selected user is invalid.")
            if owner["status"] != "active":
                raise invalid("user", f"The user is {owner['status']} and cannot create servers.")
            if data["plan"] not in self.plans:
                raise invalid("plan", "The selected plan is invalid.")
            location = data["location"] if data["location"] is not None else next(iter(self.locations), None)
            if location is not None and location not in self.locations:
                raise invalid("location", "The selected location is invalid.")
            if data["os"] is not None and not any(v["id"] == data["os"] for i in self.os_images.values()
                                                  for v in i["versions"]):
                raise invalid("os", "The selected os is invalid.")
            if data["project"] is not None:
                proj = self.projects.get(data["project"])
                if proj is None or proj["owner_id"] != owner_id:
                    raise invalid("project", "The selected project is invalid.")
            self._check_ssh_keys(data["ssh_keys"], owner_id)
            self._check_limits(owner, new_servers=1, new_running=1, ips=data["additional_ip_count"])
            sid = self._id("servers")
            self.servers[sid] = {
                "id": sid, "uuid": str(uuidlib.uuid4()), "name": data["name"], "description": data["description"],
                "user_id": owner_id, "plan_id": data["plan"], "location_id": location,
                "project_id": data["project"] or self._default_project(owner_id),
                "status": "started", "is_suspended": False, "suspended_by_user": False,
                "fqdns": data["fqdns"], "boot_mode": data["boot_mode"],
                "additional_ip_count": data["additional_ip_count"], "ssh_keys": data["ssh_keys"],
                "created_at": self.clock.now(), "deleted_at": None,
            }
            return self.servers[sid]

    def _check_limits(self, owner: dict[str, Any], new_servers: int, new_running: int, ips: int) -> None:
        group = find(self.limit_groups, owner.get("limit_group_id"))
        if group is None:
            return
        mine = self._servers_of(owner["id"])
        if new_servers and group["vms"]["is_enabled"] and len(mine) + new_servers > group["vms"]["limit"]:
            raise invalid("limit", f"The user has reached the limit of {group['vms']['limit']} servers.")
        running = sum(1 for s in mine if s["status"] == "started")
        if (new_running and group["running_vms"]["is_enabled"]
                and running + new_running > group["running_vms"]["limit"]):
            raise invalid("limit", f"The user has reached the limit of {group['running_vms']['limit']} running servers.")
        if group["additional_ips"]["is_enabled"] and ips > group["additional_ips"]["limit"]:
            raise invalid("additional_ip_count",
                          f"At most {group['additional_ips']['limit']} additional IPs are allowed.")

    def patch_server(self, server_id: int, principal: Principal, data: dict[str, Any]) -> dict[str, Any]:
        """``PATCH servers/{id}``."""
        with self.lock:
            server = self.get_server(server_id, principal)
            server.update(data)
            return server

    def server_action(self, server_id: int, principal: Principal, action: str) -> dict[str, Any]:
        """start/stop/restart/suspend/resume/delete: applies at once and returns a task."""
        with self.lock:
            server = self.get_server(server_id, principal)
            if action in ("suspend", "resume") and not principal.is_admin:
                raise Forbidden()
            if action in ("start", "restart") and server["is_suspended"]:
                raise invalid("server", "The server is suspended and cannot be started.")
            if action in ("start", "restart"):
                owner = self.users[server["user_id"]]
                if action == "start" and server["status"] != "started":
                    self._check_limits(owner, new_servers=0, new_running=1, ips=0)
                server["status"] = "started"
            elif action == "stop":
                server["status"] = "stopped"
            elif action == "suspend":
                server.update(is_suspended=True, status="stopped")
            elif action == "resume":
                if self.users[server["user_id"]]["status"] == "suspended":
                    raise invalid("server", "The owner is suspended; set the user active to resume.")
                server.update(is_suspended=False, suspended_by_user=False)
            elif action == "delete":
                server["deleted_at"] = self.clock.now()
            return self._new_task(f"vm-{action}", server_id)

    # --- tasks --------------------------------------------------------------------------

    def _new_task(self, action: str, server_id: int) -> dict[str, Any]:
        tid = self._id("tasks")
        self.tasks[tid] = {"id": tid, "action": action, "server_id": server_id,
                           "created_at": self.clock.now(), "polls": 0}
        return self.task_view(self.tasks[tid], poll=False)

    def get_task(self, task_id: int) -> dict[str, Any]:
        """A task; every read counts as a poll (two polls complete it even on a frozen clock)."""
        with self.lock:
            task = self.tasks.get(task_id)
            if task is None:
                raise NotFound(f"No query results for model [Task] {task_id}")
            return self.task_view(task, poll=True)

    def task_view(self, task: dict[str, Any], poll: bool) -> dict[str, Any]:
        """Status from elapsed virtual time or the number of polls, whichever is further."""
        if poll:
            task["polls"] += 1
        elapsed = (self.clock.now() - task["created_at"]).total_seconds()
        stage = max(task["polls"] if poll else 0, time_stage(elapsed))
        status = ("pending", "running", "done")[min(stage, 2)]
        return {"id": task["id"], "compute_resource_id": 1, "queue": "default", "action": task["action"],
                "status": status, "output": "", "progress": (0, 50, 100)[min(stage, 2)],
                "duration": int(max(elapsed, 0)), "created_at": task["created_at"]}

    # --- settings -----------------------------------------------------------------------

    def resolve_role(self, role: int | str, field: str) -> int:
        """A role id from its id or its name (any case); 422 on ``field`` when there is no such role."""
        if isinstance(role, int) and role in self.roles:
            return role
        if isinstance(role, str):
            for r in self.roles.values():
                if r["name"].lower() == role.lower():
                    return r["id"]
        raise invalid(field, f"The selected {field} is invalid.")

    def patch_settings(self, data: dict[str, Any]) -> dict[str, Any]:
        """``PATCH settings``: merge ``features``/``registration``, replace the rest."""
        with self.lock:
            if "limit_group" in data and data["limit_group"] is not None and data["limit_group"] not in self.limit_groups:
                raise invalid("limit_group", "The selected limit group is invalid.")
            if (data.get("registration") or {}).get("role") is not None:
                data["registration"]["role"] = self.resolve_role(data["registration"]["role"], "registration.role")
            if "billing_integration" in data:
                self.settings["billing_integration"] = data["billing_integration"]
            if "features" in data:
                self.settings["features"].update(data["features"])
            if "registration" in data:
                self.settings["registration"].update(data["registration"])
            if "limit_group" in data:
                self.settings["limit_group"] = data["limit_group"]
            return self.settings

    def billing_target(self) -> tuple[str, str] | None:
        """``(url, token)`` of the configured billing integration, or None."""
        bi = self.settings.get("billing_integration")
        if not bi or not bi.get("type"):
            return None
        driver = (bi.get("drivers") or {}).get(bi["type"]) or {}
        if not driver.get("url"):
            return None
        return driver["url"], driver.get("token") or ""


class _NextIdReused(ValueError):
    """``next_ids`` of a state document would hand out an id a stored record has."""


def _check_next_ids(next_ids: dict[str, int], tables: dict[str, dict[int, Any]], tokens: dict[str, Any]) -> None:
    used: dict[str, list[int]] = {k: list(v) for k, v in tables.items()}
    used["os_versions"] = [int(v["id"]) for img in tables["os_images"].values() for v in img.get("versions", [])]
    used["tokens"] = [int(t["id"]) for t in tokens.values()]
    for kind, ids in used.items():
        if not ids:
            continue
        top = max(ids)
        nxt = next_ids.get(kind, 1)
        if nxt <= top:
            raise _NextIdReused(kind, f"next_ids.{kind} is {nxt} but a stored {kind} record has id {top}: "
                                      f"the next create would overwrite it. Give at least {top + 1}.")


class TooManyNamespaces(MockError):
    """A new namespace would pass the configured maximum (idle ones were expired first)."""

    status = 507


class Namespaces:
    """namespace name -> Backend, created on first use; bounded in number, idle ones expire.

    ``max_namespaces`` caps how many exist at once (0: no cap); a namespace unused for
    ``idle_seconds`` of real time (0: never) is dropped when room is needed or on ``expire``.
    ``default`` never expires.
    """

    def __init__(self, factory: Callable[[str], Backend] = Backend, max_namespaces: int = 0,
                 idle_seconds: float = 0, now: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._backends: dict[str, Backend] = {}
        self._used: dict[str, float] = {}
        self._factory = factory
        self.max_namespaces, self.idle_seconds, self._now = max_namespaces, idle_seconds, now

    def get(self, name: str) -> Backend:
        """The backend of ``name`` (created empty-but-default on first use); ``TooManyNamespaces`` when full."""
        now = self._now()
        backend = self._backends.get(name)
        if backend is not None:
            self._used[name] = now
            return backend
        with self._lock:
            backend = self._backends.get(name)
            if backend is None:
                self._expire(now)
                if self.max_namespaces and len(self._backends) >= self.max_namespaces:
                    raise TooManyNamespaces(
                        f"The mock holds its maximum of {self.max_namespaces} namespaces; drop one "
                        "(DELETE /__mock/namespace), wait until idle ones expire, or raise MAX_NAMESPACES.")
                backend = self._backends[name] = self._factory(name)
            self._used[name] = now
        return backend

    def existing(self, name: str) -> Backend | None:
        """The backend of ``name`` if it exists (counts as a use, like ``get``); never creates one."""
        backend = self._backends.get(name)
        if backend is not None:
            self._used[name] = self._now()
        return backend

    def _expire(self, now: float) -> None:
        if not self.idle_seconds:
            return
        for name, used in list(self._used.items()):
            if name != "default" and now - used > self.idle_seconds:
                self._backends.pop(name, None)
                self._used.pop(name, None)

    def expire(self) -> None:
        """Drop the namespaces idle for longer than ``idle_seconds``."""
        with self._lock:
            self._expire(self._now())

    def names(self) -> list[str]:
        """Known namespace names."""
        return sorted(self._backends)

    def drop(self, name: str) -> None:
        """Forget a namespace entirely."""
        with self._lock:
            self._backends.pop(name, None)
            self._used.pop(name, None)


def token_digest(token: str) -> str:
    """Tokens are stored and dumped only as SHA-256 digests; a lookup by digest leaks no timing about the secret."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def _jsonify(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_instant(value)
    if isinstance(value, dict):
        return {k: _jsonify(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonify(v) for v in value]
    return value


def _unjsonify(rec: dict[str, Any]) -> dict[str, Any]:
    return {k: (parse_instant(v) if k in DATETIME_KEYS and isinstance(v, str) else v) for k, v in rec.items()}
