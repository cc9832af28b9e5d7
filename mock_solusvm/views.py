"""Turn stored records into the objects the contracts schemas serialise (no Flask)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from .extras import server_settings
from .pricing import BillingUnavailable, UserPricing, fetch_pricing, plan_price
from .records import find
from .state import Backend

LANGUAGES = {1: "English"}


def role_view(backend: Backend, role: dict[str, Any], count: bool = False) -> dict[str, Any]:
    """A role; ``users_count`` only on the roles list (it scans all users)."""
    out = dict(role)
    if count:
        out["users_count"] = backend.users_count(role["id"])
    return out


def user_view(backend: Backend, user: dict[str, Any]) -> dict[str, Any]:
    """A user without its password hash."""
    lang = user.get("language_id")
    return {
        "id": user["id"], "email": user["email"], "status": user["status"], "created_at": user["created_at"],
        "roles": [backend.roles[r] for r in user["roles"] if r in backend.roles],
        "billing_user_id": user["billing_user_id"], "billing_token": user.get("billing_token"),
        "language": {"id": lang, "name": LANGUAGES.get(lang, f"Language {lang}")} if lang is not None else None,
        "limit_group": _group_ref(find(backend.limit_groups, user.get("limit_group_id"))),
    }


def settings_view(backend: Backend) -> dict[str, Any]:
    """Settings as the API shows them: the default limit group as an object, the registration role by name."""
    st = backend.settings
    registration = st.get("registration") or {}
    role = find(backend.roles, registration.get("role"))
    return {**st, "registration": {**registration, "role": role["name"] if role else None},
            "limit_group": find(backend.limit_groups, st.get("limit_group"))}


def _group_ref(group: dict[str, Any] | None) -> dict[str, Any] | None:
    return {"id": group["id"], "name": group["name"]} if group else None


def plan_view(plan: dict[str, Any], price: dict[str, Any] | None = None, price_error: str | None = None
              ) -> dict[str, Any]:
    """A plan with its (optional) per-user price."""
    return {**plan, "price": price, "price_error": price_error}


class PlanPricer:
    """Prices plans for one user, asking the billing system at most once per instance."""

    def __init__(self, backend: Backend, user: dict[str, Any] | None, timeout: float,
                 around_fetch: Callable[[], AbstractContextManager[None]] = nullcontext) -> None:
        self.backend, self.user, self.timeout = backend, user, timeout
        self.around_fetch = around_fetch
        self._pricing: UserPricing | None = None
        self._error: str | None = None
        self._done = False

    def _load(self) -> None:
        if self._done:
            return
        self._done = True
        target = self.backend.billing_target()
        if target is None or self.user is None:
            return  # no integration or nobody to price for: price stays null, no error
        try:
            with self.around_fetch():
                self._pricing = fetch_pricing(target[0], target[1], self.user["billing_user_id"], self.timeout)
        except BillingUnavailable as err:
            self._error = f"Billing integration failed: {err}"

    def view(self, plan: dict[str, Any]) -> dict[str, Any]:
        """The plan, priced when possible."""
        self._load()
        if self._pricing is None:
            return plan_view(plan, None, self._error)
        return plan_view(plan, plan_price(plan, self._pricing))


def _ip(n: int) -> str:
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def _ipv6(n: int) -> dict[str, Any]:
    prefix = f"fd00:{(n >> 32) & 0xffff:x}:{(n >> 16) & 0xffff:x}:{n & 0xffff:x}"
    return {"id": n, "range": f"{prefix}::/64", "primary_ip": f"{prefix}::1"}


def server_view(backend: Backend, server: dict[str, Any], pricer: PlanPricer | None = None) -> dict[str, Any]:
    """A server with embedded plan, user, project and location; both IP shapes."""
    plan = backend.plans[server["plan_id"]]
    sid = server["id"]
    addrs = [_ip(sid * 8 + i) for i in range(1 + server["additional_ip_count"])]
    project = backend.projects.get(server["project_id"])
    return {
        **{k: server[k] for k in ("id", "uuid", "name", "description", "status", "is_suspended", "fqdns",
                                  "boot_mode", "additional_ip_count", "created_at")},
        "virtualization_type": "kvm",
        "is_processing": False,
        "plan": pricer.view(plan) if pricer else plan_view(plan),
        "user": user_view(backend, backend.users[server["user_id"]]),
        "project": {"id": project["id"], "name": project["name"]} if project else None,
        "location": backend.locations.get(server["location_id"]),
        "specifications": {k: int(plan["params"].get(k, 0)) for k in ("vcpu", "ram", "disk")},
        "ip_addresses": {"ipv4": [{"id": sid * 8 + i, "ip": a, "is_primary": i == 0} for i, a in enumerate(addrs)],
                         "ipv6": _ipv6(sid)},
        "ips": [{"id": sid * 8 + i, "ip": a, "ip_block": {"id": 1, "name": "Default block"}}
                for i, a in enumerate(addrs)],
        "settings": server_settings(server),
        "usage": {"cpu": 0.0, "network": {"incoming": {"value": 0}, "outgoing": {"value": 0}}},
    }


def project_view(backend: Backend, project: dict[str, Any]) -> dict[str, Any]:
    """A project with owner and server count."""
    owner = backend.users.get(project["owner_id"])
    return {**{k: project[k] for k in ("id", "name", "description", "is_default")},
            "is_owner": True, "members": 1,
            "servers": sum(1 for s in backend.servers.values()
                           if s["project_id"] == project["id"] and s["deleted_at"] is None),
            "owner": user_view(backend, owner) if owner else None}
