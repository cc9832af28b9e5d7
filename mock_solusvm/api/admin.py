"""Admin CRUD of what the mock models: roles, plans, locations, OS images and versions, projects."""

from __future__ import annotations

from typing import Any

from flask import Response

from contracts.solusvm import (
    LocationCreateSchema,
    LocationSchema,
    OsImageCreateSchema,
    OsImageSchema,
    OsImageVersionCreateSchema,
    OsImageVersionSchema,
    PlanCreateSchema,
    PlanSchema,
    PlanUpdateSchema,
    ProjectCreateSchema,
    ProjectSchema,
    RoleCreateSchema,
    RoleSchema,
)

from ..errors import NotFound, invalid
from ..parsing import load
from ..state import merge_plan_limits, plan_record
from ..views import plan_view, project_view, role_view
from .common import api_bp, backend, body, get_or_404, one, page, principal, require_admin

# --- roles ----------------------------------------------------------------------------------


@api_bp.post("/roles")
def create_role() -> Response:
    require_admin()
    data = load(RoleCreateSchema(), body())
    return one(RoleSchema, role_view(backend(), backend().create_role(data), count=True), 201)


# --- plans ----------------------------------------------------------------------------------


@api_bp.post("/plans")
def create_plan() -> Response:
    require_admin()
    b = backend()
    data = load(PlanCreateSchema(), body())
    with b.lock:
        pid = b._id("plans")
        b.plans[pid] = plan_record(pid, data)
    return one(PlanSchema, plan_view(b.plans[pid]), 201)


@api_bp.put("/plans/<int:plan_id>")
def update_plan(plan_id: int) -> Response:
    """Partial in practice: the given fields change. New token prices price all the plan's usage, past
    hours included (guess: the mock keeps one price per plan)."""
    require_admin()
    b = backend()
    plan = get_or_404(b.plans, plan_id, "Plan")
    data = load(PlanUpdateSchema(), body(), partial=True)
    with b.lock:
        # everything is computed before anything is stored: a refused unit leaves the plan as it was
        changes: dict[str, Any] = dict(data)
        if "limits" in data:
            changes["limits"] = merge_plan_limits(plan["limits"], data["limits"])
        if "params" in data:
            changes["params"] = {**plan["params"], **data["params"]}
        if "backup_price" in data:
            price = data["backup_price"]
            changes["backup_price"] = format(price.normalize(), "f") if price is not None else "0"
        plan.update(changes)
    return one(PlanSchema, plan_view(plan))


@api_bp.delete("/plans/<int:plan_id>")
def delete_plan(plan_id: int) -> Response:
    require_admin()
    backend().delete_plan(plan_id)
    return Response(status=204)


# --- locations ------------------------------------------------------------------------------


@api_bp.post("/locations")
def create_location() -> Response:
    require_admin()
    b = backend()
    data = load(LocationCreateSchema(), body())
    with b.lock:
        lid = b._id("locations")
        b.locations[lid] = {"id": lid, **data}
    return one(LocationSchema, b.locations[lid], 201)


@api_bp.route("/locations/<int:location_id>", methods=["PUT", "PATCH"])
def update_location(location_id: int) -> Response:
    require_admin()
    b = backend()
    loc = get_or_404(b.locations, location_id, "Location")
    data = load(LocationCreateSchema(), body(), partial=True)
    loc.update(data)
    return one(LocationSchema, loc)


@api_bp.delete("/locations/<int:location_id>")
def delete_location(location_id: int) -> Response:
    require_admin()
    backend().delete_location(location_id)
    return Response(status=204)


# --- OS images and versions -------------------------------------------------------------------


@api_bp.post("/os_images")
def create_os_image() -> Response:
    require_admin()
    b = backend()
    data = load(OsImageCreateSchema(), body())
    with b.lock:
        iid = b._id("os_images")
        b.os_images[iid] = {"id": iid, "name": data["name"], "versions": []}
    return one(OsImageSchema, b.os_images[iid], 201)


@api_bp.put("/os_images/<int:image_id>")
def update_os_image(image_id: int) -> Response:
    require_admin()
    img = get_or_404(backend().os_images, image_id, "OsImage")
    img.update(load(OsImageCreateSchema(), body(), partial=True))
    return one(OsImageSchema, img)


def _version_in_use(b: Any, version_ids: set[int]) -> None:
    if any(s.get("os_version_id") in version_ids and s["deleted_at"] is None for s in b.servers.values()):
        raise invalid("os_image", "A live server was installed from it; it cannot be deleted.")


@api_bp.delete("/os_images/<int:image_id>")
def delete_os_image(image_id: int) -> Response:
    require_admin()
    b = backend()
    img = get_or_404(b.os_images, image_id, "OsImage")
    _version_in_use(b, {v["id"] for v in img["versions"]})
    del b.os_images[image_id]
    return Response(status=204)


@api_bp.get("/os_images/<int:image_id>/versions")
def list_os_image_versions(image_id: int) -> Response:
    return page(OsImageVersionSchema, get_or_404(backend().os_images, image_id, "OsImage")["versions"])


@api_bp.post("/os_images/<int:image_id>/versions")
def create_os_image_version(image_id: int) -> Response:
    require_admin()
    b = backend()
    img = get_or_404(b.os_images, image_id, "OsImage")
    data = load(OsImageVersionCreateSchema(), body())
    with b.lock:
        version = {"id": b._id("os_versions"), "version": data["version"]}
        img["versions"].append(version)
    return one(OsImageVersionSchema, version, 201)


@api_bp.get("/os_image_versions/<int:version_id>")
def get_os_image_version(version_id: int) -> Response:
    return one(OsImageVersionSchema, backend().find_os_version(version_id)[1])


@api_bp.put("/os_image_versions/<int:version_id>")
def update_os_image_version(version_id: int) -> Response:
    require_admin()
    _, version = backend().find_os_version(version_id)
    version.update(load(OsImageVersionCreateSchema(), body(), partial=True))
    return one(OsImageVersionSchema, version)


@api_bp.delete("/os_image_versions/<int:version_id>")
def delete_os_image_version(version_id: int) -> Response:
    require_admin()
    b = backend()
    img, version = b.find_os_version(version_id)
    _version_in_use(b, {version_id})
    img["versions"].remove(version)
    return Response(status=204)


# --- projects -------------------------------------------------------------------------------


def _own_project(project_id: int) -> dict[str, Any]:
    p = principal()
    proj = backend().projects.get(project_id)
    if proj is None or not (p.is_admin or proj["owner_id"] == p.user_id):
        raise NotFound(f"No query results for model [Project] {project_id}")
    return proj


@api_bp.post("/projects")
def create_project() -> Response:
    b, p = backend(), principal()
    data = load(ProjectCreateSchema(), body())
    with b.lock:
        if p.is_admin:
            owner = data["owner_id"] if data["owner_id"] is not None else b.admin_user()["id"]
            if owner not in b.users:
                raise invalid("owner_id", "The selected owner id is invalid.")
        else:
            owner = p.user_id
        pid = b._id("projects")
        b.projects[pid] = {"id": pid, "name": data["name"], "description": data["description"],
                           "owner_id": owner, "is_default": False}
    return one(ProjectSchema, project_view(b, b.projects[pid]), 201)


@api_bp.put("/projects/<int:project_id>")
def update_project(project_id: int) -> Response:
    proj = _own_project(project_id)
    data = load(ProjectCreateSchema(), body(), partial=True)
    data.pop("owner_id", None)  # ownership does not move with an update
    proj.update(data)
    return one(ProjectSchema, project_view(backend(), proj))


@api_bp.delete("/projects/<int:project_id>")
def delete_project(project_id: int) -> Response:
    _own_project(project_id)
    backend().delete_project(project_id)
    return Response(status=204)
