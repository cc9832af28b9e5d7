"""plans, roles, limit_groups, locations, os_images, projects, settings, tasks."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request

from contracts.solusvm import (
    LimitGroupSchema,
    LocationSchema,
    OsImageSchema,
    PlanSchema,
    ProjectSchema,
    RoleSchema,
    SettingsPatchSchema,
    SettingsSchema,
    TaskSchema,
)

from ..errors import NotFound, invalid
from ..parsing import load
from ..records import find
from ..views import PlanPricer, project_view, role_view, settings_view
from ..wire import outside_namespace_lock
from .common import api_bp, backend, body, get_or_404, int_arg, one, page, principal, require_admin


def _search() -> str:
    """``filter[search]``, lower-cased ('' when absent): a case-insensitive substring of the name."""
    return (request.args.get("filter[search]") or "").lower()


def pricer() -> PlanPricer:
    """Prices for the acting user, or for ``?user_id=`` when an admin asks."""
    b, p = backend(), principal()
    user = None
    if not p.is_admin:
        user = find(b.users, p.user_id)
    else:
        uid = int_arg("user_id")
        if uid is not None:
            user = b.users.get(uid)
            if user is None:
                raise invalid("user_id", "The selected user id is invalid.")
    return PlanPricer(b, user, current_app.config["BILLING_TIMEOUT"], outside_namespace_lock)


@api_bp.get("/plans")
def list_plans() -> Response:
    search = _search()
    disk = int_arg("filter[disk]")
    storage = request.args.get("filter[storage_type]") or None
    image = request.args.get("filter[image_format]") or None
    plans = [pl for pl in backend().plans.values() if search in pl["name"].lower()
             and (disk is None or pl["params"]["disk"] == disk)
             and (storage is None or pl["storage_type"] == storage)
             and (image is None or pl["image_format"] == image)]
    pr = pricer()
    # price only the page that is sent
    return page(PlanSchema, _Priced(plans, pr))


class _Priced:
    """Plans whose page slice is priced lazily (one GetTokenPricing call per request at most)."""

    def __init__(self, items: list[dict[str, Any]], pr: PlanPricer) -> None:
        self._items, self._pr = items, pr

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, item: slice) -> list[dict[str, Any]]:
        return [self._pr.view(p) for p in self._items[item]]


@api_bp.get("/plans/<int:plan_id>")
def get_plan(plan_id: int) -> Response:
    plan = get_or_404(backend().plans, plan_id, "Plan")
    return one(PlanSchema, pricer().view(plan))


@api_bp.get("/roles")
def list_roles() -> Response:
    require_admin()
    b = backend()
    return page(RoleSchema, [role_view(b, r, count=True) for r in b.roles.values()])


@api_bp.get("/roles/<int:role_id>")
def get_role(role_id: int) -> Response:
    require_admin()
    return one(RoleSchema, role_view(backend(), get_or_404(backend().roles, role_id, "Role"), count=True))


@api_bp.get("/limit_groups")
def list_limit_groups() -> Response:
    require_admin()
    return page(LimitGroupSchema, list(backend().limit_groups.values()))


@api_bp.get("/limit_groups/<int:group_id>")
def get_limit_group(group_id: int) -> Response:
    require_admin()
    return one(LimitGroupSchema, get_or_404(backend().limit_groups, group_id, "LimitGroup"))


@api_bp.get("/locations")
def list_locations() -> Response:
    search = _search()
    return page(LocationSchema, [loc for loc in backend().locations.values() if search in loc["name"].lower()])


@api_bp.get("/locations/<int:location_id>")
def get_location(location_id: int) -> Response:
    return one(LocationSchema, get_or_404(backend().locations, location_id, "Location"))


@api_bp.get("/os_images")
def list_os_images() -> Response:
    search = _search()
    return page(OsImageSchema, [img for img in backend().os_images.values() if search in img["name"].lower()])


@api_bp.get("/os_images/<int:image_id>")
def get_os_image(image_id: int) -> Response:
    return one(OsImageSchema, get_or_404(backend().os_images, image_id, "OsImage"))


def _visible_projects() -> list[dict[str, Any]]:
    p = principal()
    return [pr for pr in backend().projects.values() if p.is_admin or pr["owner_id"] == p.user_id]


@api_bp.get("/projects")
def list_projects() -> Response:
    search = _search()
    b = backend()
    return page(ProjectSchema, [project_view(b, pr) for pr in _visible_projects() if search in pr["name"].lower()])


@api_bp.get("/projects/<int:project_id>")
def get_project(project_id: int) -> Response:
    for pr in _visible_projects():
        if pr["id"] == project_id:
            return one(ProjectSchema, project_view(backend(), pr))
    raise NotFound(f"No query results for model [Project] {project_id}")


@api_bp.get("/settings")
def get_settings() -> Response:
    require_admin()
    return one(SettingsSchema, settings_view(backend()))


@api_bp.patch("/settings")
def patch_settings() -> Response:
    require_admin()
    data = load(SettingsPatchSchema(), body())
    backend().patch_settings(data)
    return one(SettingsSchema, settings_view(backend()))


@api_bp.get("/tasks/<int:task_id>")
def get_task(task_id: int) -> Response:
    return one(TaskSchema, backend().get_task(task_id))
