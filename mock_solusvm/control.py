"""The control API under ``/__mock/`` (namespaced by ``X-Mock-Namespace``; no auth: it is a mock)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, current_app, g, request
from marshmallow import Schema

from contracts.mock_control import (
    ClockAdvanceSchema,
    ClockSchema,
    ClockSetSchema,
    ControlIndexSchema,
    FaultCreatedSchema,
    FaultListSchema,
    JournalCountSchema,
    JournalListSchema,
    ResetResultSchema,
    RestoreResultSchema,
    SeedResultSchema,
    StateDumpSchema,
)
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

from .clock import parse_instant
from .errors import Invalid, invalid
from .parsing import load
from .views import plan_view, project_view, server_view, settings_view, user_view
from .wire import json_response, namespaces, request_json, validate_response

control_bp = Blueprint("control", __name__, url_prefix="/__mock")


def _answer(schema: type[Schema], body: Any, status: int = 200) -> Response:
    """``body`` as JSON, checked against its contracts schema when ``VALIDATE_RESPONSES`` is on."""
    validate_response(schema, body)
    return json_response(body, status)


def _clock() -> Response:
    return _answer(ClockSchema, ClockSchema().dump(g.backend.clock.to_json()))


@control_bp.get("/")
def index() -> Response:
    """What this control API offers, and the namespaces in use."""
    return _answer(ControlIndexSchema, {"namespace": g.namespace, "namespaces": namespaces(current_app).names(),
                          "endpoints": ["POST reset", "POST seed", "GET|POST state", "GET|PUT clock",
                                        "POST clock/advance", "POST clock/freeze", "POST clock/unfreeze",
                                        "GET|POST|DELETE faults", "GET|DELETE journal", "GET journal/count", "DELETE namespace",
                                        "GET openapi.json"]})


@control_bp.get("/openapi.json")
def openapi_document() -> Response:
    """The OpenAPI document of this control API (contracts/openapi/mock-control.json)."""
    # apispec and every contracts schema load only when someone asks for the document
    from contracts.openapi import mock_control_spec

    return json_response(mock_control_spec())


@control_bp.post("/reset")
def reset() -> Response:
    g.backend.reset()
    return _answer(ResetResultSchema, {"namespace": g.namespace, "reset": True})


@control_bp.post("/seed")
def seed() -> Response:
    counts = g.backend.seed(request_json())
    return _answer(SeedResultSchema, {"namespace": g.namespace, "counts": counts,
                                      "clock": ClockSchema().dump(g.backend.clock.to_json())})


@control_bp.get("/state")
def dump_state() -> Response:
    wanted = request.args.get("password_hashes", "")
    if wanted not in ("", "0", "1", "true", "false"):
        raise invalid("password_hashes", "password_hashes must be 1 or 0.")
    return _answer(StateDumpSchema, g.backend.dump(password_hashes=wanted in ("1", "true")))


@control_bp.delete("/namespace")
def drop_namespace() -> Response:
    """Forget this namespace entirely (the next request to it starts from the default fixture)."""
    namespaces(current_app).drop(g.namespace)
    return Response(status=204)


@control_bp.post("/state")
def restore_state() -> Response:
    backend = g.backend
    before = backend.dump(password_hashes=True)
    backend.restore(request_json())
    problem = _unrenderable(backend)
    if problem:
        # All or nothing: a document whose records the API could not serve is refused and the
        # namespace goes back to what it was, instead of answering 500 on the next GET.
        backend.restore(before)
        raise Invalid({"_schema": [f"Bad state document: {problem}"]})
    return _answer(RestoreResultSchema, {"namespace": g.namespace, "restored": True})


def _unrenderable(backend: Any) -> str | None:
    """The first restored record that does not serialise through its response schema, if any."""
    views: list[tuple[type[Schema], Callable[[Any], Any], Mapping[int, Any]]] = [(UserSchema, lambda r: user_view(backend, r), backend.users),
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
    problems: object
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
    return _clock()


@control_bp.route("/clock", methods=["PUT", "POST"])
def set_clock() -> Response:
    data = load(ClockSetSchema(), request_json())
    clock = g.backend.clock
    if "now" in data:
        try:
            clock.set(parse_instant(data["now"]))
        except ValueError:
            # the schema checked the type; the clock refuses what it cannot hold (years 1970-9000)
            raise invalid("now", "now must be an ISO 8601 instant.") from None
    if "frozen" in data:
        clock.freeze() if data["frozen"] else clock.unfreeze()
    return _clock()


@control_bp.post("/clock/advance")
def advance_clock() -> Response:
    data = load(ClockAdvanceSchema(), request_json())
    try:
        g.backend.clock.advance(timedelta(**data))
    except (OverflowError, ValueError):
        raise invalid("clock", "The clock cannot move that far.") from None
    return _clock()


@control_bp.post("/clock/freeze")
def freeze_clock() -> Response:
    g.backend.clock.freeze()
    return _clock()


@control_bp.post("/clock/unfreeze")
def unfreeze_clock() -> Response:
    g.backend.clock.unfreeze()
    return _clock()


@control_bp.get("/faults")
def list_faults() -> Response:
    return _answer(FaultListSchema, {"data": g.backend.faults.list()})


@control_bp.post("/faults")
def add_fault() -> Response:
    rule = g.backend.faults.add(request_json())
    return _answer(FaultCreatedSchema, FaultCreatedSchema().dump({"data": rule}), 201)


@control_bp.delete("/faults")
def clear_faults() -> Response:
    g.backend.faults.clear()
    return Response(status=204)


@control_bp.get("/journal")
def journal() -> Response:
    return _answer(JournalListSchema,
                   {"data": g.backend.journal.find(request.args.get("method"), request.args.get("path"))})


@control_bp.get("/journal/count")
def journal_count() -> Response:
    return _answer(JournalCountSchema,
                   {"count": len(g.backend.journal.find(request.args.get("method"), request.args.get("path")))})


@control_bp.delete("/journal")
def clear_journal() -> Response:
    g.backend.journal.clear()
    return Response(status=204)
