"""The control API under ``/__mock/`` (namespaced by ``X-Mock-Namespace``; no auth: it is a mock)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, current_app, g, request

from contracts.solusvm import (
    READ_ONLY_COLLECTIONS,
    ApplicationSchema,
    BackupSchema,
    IsoImageSchema,
    LicenseSchema,
    LimitGroupSchema,
    LocationSchema,
    OsImageSchema,
    PlanSchema,
    ProjectSchema,
    RoleSchema,
    ServerSchema,
    SettingsSchema,
    SnapshotSchema,
    SshKeySchema,
    TaskSchema,
    UserSchema,
)

from .app import json_response, namespaces, request_json
from .clock import parse_instant
from .errors import Invalid, invalid
from .views import plan_view, project_view, server_view, settings_view, user_view

control_bp = Blueprint("control", __name__, url_prefix="/__mock")

ADVANCE_UNITS = ("weeks", "days", "hours", "minutes", "seconds", "milliseconds", "microseconds")


def _obj() -> dict[str, Any]:
    data = request_json()
    if not isinstance(data, dict):
        raise Invalid({"body": ["The request body must be a JSON object."]})
    return data


@control_bp.get("/")
def index() -> Response:
    """What this control API offers, and the namespaces in use."""
    return json_response({"namespace": g.namespace, "namespaces": namespaces(current_app).names(),
                          "endpoints": ["POST reset", "POST seed", "GET|POST state", "GET|PUT clock",
                                        "POST clock/advance", "POST clock/freeze", "POST clock/unfreeze",
                                        "GET|POST|DELETE faults", "GET|DELETE journal", "GET journal/count", "DELETE namespace",
                                        "GET openapi.json"]})


@control_bp.get("/openapi.json")
def openapi_document() -> Response:
    """The OpenAPI document of this control API (contracts/openapi/mock-control.json)."""
    from contracts.openapi import mock_control_spec

    return json_response(mock_control_spec())


@control_bp.post("/reset")
def reset() -> Response:
    g.backend.reset()
    return json_response({"namespace": g.namespace, "reset": True})


@control_bp.post("/seed")
def seed() -> Response:
    counts = g.backend.seed(_obj())
    return json_response({"namespace": g.namespace, "counts": counts, "clock": g.backend.clock.to_json()})


@control_bp.get("/state")
def dump_state() -> Response:
    wanted = request.args.get("password_hashes", "")
    if wanted not in ("", "0", "1", "true", "false"):
        raise invalid("password_hashes", "password_hashes must be 1 or 0.")
    return json_response(g.backend.dump(password_hashes=wanted in ("1", "true")))


@control_bp.delete("/namespace")
def drop_namespace() -> Response:
    """Forget this namespace entirely (the next request to it starts from the default fixture)."""
    namespaces(current_app).drop(g.namespace)
    return Response(status=204)


@control_bp.post("/state")
def restore_state() -> Response:
    backend = g.backend
    before = backend.dump(password_hashes=True)
    backend.restore(_obj())
    problem = _unrenderable(backend)
    if problem:
        # All or nothing: a document whose records the API could not serve is refused and the
        # namespace goes back to what it was, instead of answering 500 on the next GET.
        backend.restore(before)
        raise Invalid({"_schema": [f"Bad state document: {problem}"]})
    return json_response({"namespace": g.namespace, "restored": True})


def _unrenderable(backend: Any) -> str | None:
    """The first restored record that does not serialise through its response schema, if any."""
    views = [(UserSchema, lambda r: user_view(backend, r), backend.users),
             (PlanSchema, plan_view, backend.plans),
             (ServerSchema, lambda r: server_view(backend, r), backend.servers),
             (ProjectSchema, lambda r: project_view(backend, r), backend.projects),
             (RoleSchema, lambda r: r, backend.roles),
             (LimitGroupSchema, lambda r: r, backend.limit_groups),
             (LocationSchema, lambda r: r, backend.locations),
             (OsImageSchema, lambda r: r, backend.os_images),
             (TaskSchema, lambda r: backend.task_view(r, poll=False), backend.tasks),
             (SshKeySchema, lambda r: r, backend.ssh_keys),
             (ApplicationSchema, lambda r: r, backend.applications),
             (IsoImageSchema, lambda r: r, backend.iso_images),
             (BackupSchema, backend.backup_view, backend.backups),
             (SnapshotSchema, backend.snapshot_view, backend.snapshots)]
    views += [(schema, lambda r: r, backend.readonly.get(name, {}))
              for name, (schema, _) in READ_ONLY_COLLECTIONS.items()]
    views.append((LicenseSchema, lambda r: r, {0: backend.license}))
    for schema, view, table in views:
        for rid, record in table.items():
            try:
                out = schema().dump(view(record))
                problems = schema().validate(out)
            except Exception as err:  # noqa: BLE001 - any failure to render is the answer we want
                problems = repr(err)
            if problems:
                return f"{schema.__name__.removesuffix('Schema').lower()} {rid}: {problems}"
    try:
        problems = SettingsSchema().validate(SettingsSchema().dump(settings_view(backend)))
    except Exception as err:  # noqa: BLE001
        problems = repr(err)
    return f"settings: {problems}" if problems else None


@control_bp.get("/clock")
def get_clock() -> Response:
    return json_response(g.backend.clock.to_json())


@control_bp.route("/clock", methods=["PUT", "POST"])
def set_clock() -> Response:
    data = _obj()
    clock = g.backend.clock
    if "now" in data:
        try:
            clock.set(parse_instant(data["now"]))
        except ValueError:
            raise invalid("now", "now must be an ISO 8601 instant.") from None
    if "frozen" in data:
        if not isinstance(data["frozen"], bool):
            raise invalid("frozen", "frozen must be a boolean.")
        clock.freeze() if data["frozen"] else clock.unfreeze()
    return json_response(clock.to_json())


@control_bp.post("/clock/advance")
def advance_clock() -> Response:
    data = _obj()
    unknown = set(data) - set(ADVANCE_UNITS)
    if unknown or not data:
        raise invalid("clock", f"Give one or more of {', '.join(ADVANCE_UNITS)}.")
    for k, v in data.items():
        if isinstance(v, bool) or not isinstance(v, int | float) or abs(v) > 1e7:
            raise invalid(k, f"{k} must be a number.")
    try:
        delta = timedelta(**data)
        g.backend.clock.advance(delta)
    except (OverflowError, ValueError):
        raise invalid("clock", "The clock cannot move that far.") from None
    return json_response(g.backend.clock.to_json())


@control_bp.post("/clock/freeze")
def freeze_clock() -> Response:
    g.backend.clock.freeze()
    return json_response(g.backend.clock.to_json())


@control_bp.post("/clock/unfreeze")
def unfreeze_clock() -> Response:
    g.backend.clock.unfreeze()
    return json_response(g.backend.clock.to_json())


@control_bp.get("/faults")
def list_faults() -> Response:
    return json_response({"data": g.backend.faults.list()})


@control_bp.post("/faults")
def add_fault() -> Response:
    return json_response({"data": g.backend.faults.add(_obj()).to_json()}, 201)


@control_bp.delete("/faults")
def clear_faults() -> Response:
    g.backend.faults.clear()
    return Response(status=204)


@control_bp.get("/journal")
def journal() -> Response:
    return json_response({"data": g.backend.journal.find(request.args.get("method"), request.args.get("path"))})


@control_bp.get("/journal/count")
def journal_count() -> Response:
    return json_response({"count": len(g.backend.journal.find(request.args.get("method"), request.args.get("path")))})


@control_bp.delete("/journal")
def clear_journal() -> Response:
    g.backend.journal.clear()
    return Response(status=204)
