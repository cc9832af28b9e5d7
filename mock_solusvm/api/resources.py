"""ssh_keys, applications, iso_images, the tasks list, projects/{id}/servers, and the read-only
collections of the Go SDK (activity logs, backup nodes, compute resources, ...), plus license."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from contracts.solusvm import (
    READ_ONLY_COLLECTIONS,
    TASK_STATUSES,
    ApplicationCreateSchema,
    ApplicationSchema,
    IsoImageSchema,
    LicenseActivateSchema,
    LicenseSchema,
    ServerCreateSchema,
    ServerSchema,
    SshKeyCreateSchema,
    SshKeySchema,
    TaskSchema,
)

from ..errors import NotFound, invalid
from ..parsing import load
from ..views import server_view
from .common import api_bp, backend, body, get_or_404, one, page, principal, require_admin


def _search(items: list[dict[str, Any]], key: str = "name") -> list[dict[str, Any]]:
    needle = (request.args.get("filter[search]") or "").lower()
    return [i for i in items if needle in str(i.get(key, "")).lower()] if needle else items


@api_bp.get("/ssh_keys")
def list_ssh_keys() -> Response:
    return page(SshKeySchema, _search(backend().visible_ssh_keys(principal())))


@api_bp.post("/ssh_keys")
def create_ssh_key() -> Response:
    data = load(SshKeyCreateSchema(), body())
    return one(SshKeySchema, backend().create_ssh_key(principal(), data), 201)


@api_bp.get("/ssh_keys/<int:key_id>")
def get_ssh_key(key_id: int) -> Response:
    return one(SshKeySchema, backend().get_ssh_key(key_id, principal()))


@api_bp.delete("/ssh_keys/<int:key_id>")
def delete_ssh_key(key_id: int) -> Response:
    backend().delete_ssh_key(key_id, principal())
    return Response(status=204)


@api_bp.get("/applications")
def list_applications() -> Response:
    return page(ApplicationSchema, _search(list(backend().applications.values())))


@api_bp.post("/applications")
def create_application() -> Response:
    require_admin()
    b = backend()
    data = load(ApplicationCreateSchema(), body())
    with b.lock:
        aid = b._id("applications")
        b.applications[aid] = {"id": aid, **data, "is_default": False, "is_buildin": False}
    return one(ApplicationSchema, b.applications[aid], 201)


@api_bp.get("/applications/<int:app_id>")
def get_application(app_id: int) -> Response:
    return one(ApplicationSchema, get_or_404(backend().applications, app_id, "Application"))


@api_bp.get("/iso_images")
def list_iso_images() -> Response:
    return page(IsoImageSchema, _search(list(backend().iso_images.values())))


@api_bp.get("/iso_images/<int:iso_id>")
def get_iso_image(iso_id: int) -> Response:
    return one(IsoImageSchema, get_or_404(backend().iso_images, iso_id, "IsoImage"))


@api_bp.get("/tasks")
def list_tasks() -> Response:
    require_admin()
    status = request.args.get("filter[status]") or None
    if status is not None and status not in TASK_STATUSES:
        raise invalid("filter.status", "The selected filter.status is invalid.")
    return page(TaskSchema, backend().list_tasks(request.args.get("filter[action]") or None, status))


def _project(project_id: int) -> dict[str, Any]:
    p = principal()
    proj = backend().projects.get(project_id)
    if proj is None or not (p.is_admin or proj["owner_id"] == p.user_id):
        raise NotFound(f"No query results for model [Project] {project_id}")
    return proj


@api_bp.get("/projects/<int:project_id>/servers")
def list_project_servers(project_id: int) -> Response:
    b = backend()
    _project(project_id)
    return page(ServerSchema, [server_view(b, s) for s in b.servers.values()
                               if s["project_id"] == project_id and s["deleted_at"] is None])


@api_bp.post("/projects/<int:project_id>/servers")
def create_project_server(project_id: int) -> Response:
    b = backend()
    proj = _project(project_id)
    data = load(ServerCreateSchema(), body())
    if data["project"] not in (None, project_id):
        raise invalid("project", "The project in the body differs from the one in the URL.")
    # the server belongs to the project's owner
    data.update(project=project_id, user=data["user"] if data["user"] is not None else proj["owner_id"])
    if not principal().is_admin:
        data["user"] = None
    return one(ServerSchema, server_view(b, b.create_server(principal(), data)), 201)


@api_bp.get("/license")
def get_license() -> Response:
    require_admin()
    return one(LicenseSchema, backend().license)


#: Filters of the Go SDK on read-only collections: query parameter -> record key (compared as text).
READ_ONLY_FILTERS = {"activity_logs": {"filter[event]": "event", "filter[user_id]": "user_id"},
                     "icons": {"filter[type]": "type"}}


@api_bp.post("/license/activate")
def activate_license() -> Response:
    """The Go SDK's only license call: the code becomes the key and the license active."""
    require_admin()
    data = load(LicenseActivateSchema(), body())
    lic = backend().license
    lic.update(key=data["activation_code"], is_active=True)
    return one(LicenseSchema, lic)


def _register_read_only(name: str, schema: Any, model: str) -> None:
    def list_view() -> Response:
        require_admin()
        items = _search(list(backend().readonly.get(name, {}).values()))
        for arg, key in READ_ONLY_FILTERS.get(name, {}).items():
            wanted = request.args.get(arg)
            if wanted:
                items = [i for i in items if str(i.get(key, "")) == wanted]
        return page(schema, items)

    def get_view(item_id: int) -> Response:
        require_admin()
        return one(schema, get_or_404(backend().readonly.get(name, {}), item_id, model))

    api_bp.add_url_rule(f"/{name}", f"list_{name}", list_view, methods=["GET"])
    api_bp.add_url_rule(f"/{name}/<int:item_id>", f"get_{name}", get_view, methods=["GET"])


for _name, (_schema, _model) in READ_ONLY_COLLECTIONS.items():
    _register_read_only(_name, _schema, _model)
