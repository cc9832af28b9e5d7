"""Marshmallow schemas of the mock's control API (``/__mock/``) and its SSO login link.

They describe what ``mock_solusvm/control.py`` and ``mock_solusvm/sso.py`` accept and answer,
and the mock parses and serialises with them (one schema per wire shape);
:func:`contracts.openapi.build_mock_control_spec` turns them into ``mock-control.json``.
Request schemas ignore unknown keys where the mock does (``EXCLUDE``); answers are closed
(``RAISE``: no keys beyond the ones listed) unless they carry free-form records.
"""

from __future__ import annotations

import re
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from contracts.solusvm import (
    READ_ONLY_COLLECTIONS,
    SERVER_STATUSES,
    USER_STATUSES,
    ApplicationSchema,
    IsoImageSchema,
    LicenseSchema,
    PlanCreateSchema,
    SettingsPatchSchema,
)

#: ``format`` and ``version`` of a state dump (``mock_solusvm.state``).
STATE_FORMAT = "mock-solusvm-state"
STATE_VERSION = 1
#: Keyword arguments of ``POST /__mock/clock/advance`` (those of ``datetime.timedelta``).
ADVANCE_UNITS = ("weeks", "days", "hours", "minutes", "seconds", "milliseconds", "microseconds")
#: Collections a seed replaces and whose sizes ``POST /__mock/seed`` answers.
SEED_COLLECTIONS = ("roles", "limit_groups", "locations", "os_images", "plans", "users", "servers", "projects")
#: Tables of a state dump (lists of stored records, free-form).
STATE_TABLES = ("roles", "limit_groups", "locations", "os_images", "plans", "users", "servers", "projects",
                "tasks", "tokens")
NAMESPACE_PATTERN = r"^[A-Za-z0-9_.:\-]{1,128}$"


def _int(**kwargs: object) -> fields.Integer:
    return fields.Integer(strict=True, **kwargs)  # type: ignore[arg-type]


def _id(**kwargs: object) -> fields.Integer:
    """A record id: what ``mock_solusvm.state`` accepts (1 .. 2**53, exact in JavaScript)."""
    return fields.Integer(strict=True, validate=validate.Range(1, 2**53), **kwargs)  # type: ignore[arg-type]


#: Headers a fault rule may not set: they frame the answer, and a wrong value hangs or breaks the connection.
FRAMING_HEADERS = {"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "trailer"}
_TOKEN_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")


def _header_name(name: str) -> None:
    if not _TOKEN_RE.match(name):
        raise ValidationError("A header name is 1-128 token characters (letters, digits, !#$%&'*+.^_`|~-).")
    if name.lower() in FRAMING_HEADERS:
        raise ValidationError(f"The {name} header frames the answer and cannot be injected.")


def _header_value(value: str) -> None:
    if any(c in value for c in "\r\n\0"):
        raise ValidationError("A header value cannot contain CR, LF or NUL.")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise ValidationError("A header value must be Latin-1 text (HTTP/1.1 cannot send other characters).") from None
    if len(value) > 4096:
        raise ValidationError("A header value is at most 4096 characters.")


def fault_headers(**kwargs: object) -> fields.Dict:
    """The ``headers`` of a fault rule: names and values an HTTP/1.1 answer can carry."""
    return fields.Dict(keys=fields.String(validate=_header_name), values=fields.String(validate=_header_value),
                       **kwargs)  # type: ignore[arg-type]


#: A fault's status: a final answer (1xx is not one: clients would wait for the real answer).
FAULT_STATUS = validate.Range(200, 599)


def _instant(**kwargs: object) -> fields.String:
    meta = {"format": "date-time", "description": "ISO 8601 instant (naive values are UTC)"}
    return fields.String(metadata=meta, **kwargs)  # type: ignore[arg-type]


class _Open(Schema):
    class Meta:
        unknown = EXCLUDE


# --- answers ---------------------------------------------------------------------------------


class ClockSchema(Schema):
    """The namespace's virtual clock."""

    now = fields.String(required=True, metadata={"format": "date-time", "example": "2026-10-01T00:00:00Z"})
    frozen = fields.Boolean(required=True, metadata={"description": "True when it does not move with real time"})


class ControlIndexSchema(Schema):
    """``GET /__mock/``: the namespace in use, the known namespaces, the calls on offer."""

    namespace = fields.String(required=True)
    namespaces = fields.List(fields.String(), required=True)
    endpoints = fields.List(fields.String(), required=True, metadata={"description": "e.g. `GET|PUT clock`"})


class ResetResultSchema(Schema):
    """``POST /__mock/reset``."""

    namespace = fields.String(required=True)
    reset = fields.Boolean(required=True, validate=validate.OneOf([True]))


class SeedCountsSchema(Schema):
    """How many records each collection holds after the seed."""

    roles = _int(required=True)
    limit_groups = _int(required=True)
    locations = _int(required=True)
    os_images = _int(required=True)
    plans = _int(required=True)
    users = _int(required=True)
    servers = _int(required=True)
    projects = _int(required=True)


class SeedResultSchema(Schema):
    """``POST /__mock/seed``."""

    namespace = fields.String(required=True)
    counts = fields.Nested(SeedCountsSchema, required=True)
    clock = fields.Nested(ClockSchema, required=True)


class RestoreResultSchema(Schema):
    """``POST /__mock/state``."""

    namespace = fields.String(required=True)
    restored = fields.Boolean(required=True, validate=validate.OneOf([True]))


class FaultRuleSchema(Schema):
    """An active fault rule as the control API shows it (spent ones have ``remaining`` 0)."""

    id = _int(required=True)
    method = fields.String(required=True, allow_none=True)
    path = fields.String(required=True, allow_none=True)
    status = _int(required=True, allow_none=True)
    body = fields.Raw(required=True, allow_none=True, metadata={"description": "JSON value, or a text sent as-is"})
    headers = fields.Dict(keys=fields.String(), values=fields.String(), required=True, allow_none=True)
    delay = fields.Float(required=True, allow_none=True)
    drop = fields.Boolean(required=True)
    malformed = fields.Boolean(required=True)
    times = _int(required=True, allow_none=True)
    probability = fields.Float(required=True, allow_none=True)
    seed = _int(required=True, allow_none=True)
    remaining = _int(required=True, allow_none=True, metadata={"description": "Firings left (null: unlimited)"})
    hits = _int(required=True)


class FaultListSchema(Schema):
    """``GET /__mock/faults``."""

    data = fields.List(fields.Nested(FaultRuleSchema), required=True)


class FaultCreatedSchema(Schema):
    """``POST /__mock/faults`` (201)."""

    data = fields.Nested(FaultRuleSchema, required=True)


class JournalEntrySchema(Schema):
    """One request that reached the mock outside ``/__mock/`` (credentials redacted)."""

    id = _int(required=True)
    at = fields.String(required=True, metadata={"format": "date-time", "description": "Virtual clock"})
    method = fields.String(required=True)
    path = fields.String(required=True)
    query = fields.String(required=True, metadata={"description": "Raw query string"})
    headers = fields.Dict(keys=fields.String(), values=fields.String(), required=True,
                          metadata={"description": "Authorization and Cookie are `<redacted>`"})
    body = fields.Raw(required=True, allow_none=True,
                      metadata={"description": "Parsed JSON, else text; a `password` field is `<redacted>`"})
    status = _int(required=True)
    fault = _int(required=True, allow_none=True, metadata={"description": "Id of the fault rule that fired"})


class JournalListSchema(Schema):
    """``GET /__mock/journal``."""

    data = fields.List(fields.Nested(JournalEntrySchema), required=True)


class JournalCountSchema(Schema):
    """``GET /__mock/journal/count``."""

    count = _int(required=True)


class StateDumpSchema(_Open):
    """A versioned dump of one namespace (``GET /__mock/state``; ``POST`` it back to restore).

    Records are stored rows, datetimes as ISO strings; user tokens appear only as SHA-256
    digests. Faults are shown but not restored; the journal is not part of it.
    """

    format = fields.String(required=True, validate=validate.OneOf([STATE_FORMAT]))
    version = _int(required=True, validate=validate.OneOf([STATE_VERSION]))
    namespace = fields.String(required=True, metadata={"description": "Ignored on restore"})
    clock = fields.Nested(ClockSchema, required=True)
    settings = fields.Dict(required=True)
    next_ids = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    faults = fields.List(fields.Nested(FaultRuleSchema), required=True)
    roles = fields.List(fields.Dict(), required=True)
    limit_groups = fields.List(fields.Dict(), required=True)
    locations = fields.List(fields.Dict(), required=True)
    os_images = fields.List(fields.Dict(), required=True)
    plans = fields.List(fields.Dict(), required=True)
    users = fields.List(fields.Dict(), required=True)
    servers = fields.List(fields.Dict(), required=True)
    projects = fields.List(fields.Dict(), required=True)
    tasks = fields.List(fields.Dict(), required=True)
    tokens = fields.List(fields.Dict(), required=True,
                         metadata={"description": "`{token_sha256, ...}`: digests, never tokens"})
    ssh_keys = fields.List(fields.Dict())
    applications = fields.List(fields.Dict())
    iso_images = fields.List(fields.Dict())
    backups = fields.List(fields.Dict())
    snapshots = fields.List(fields.Dict())
    readonly = fields.Dict(keys=fields.String(), values=fields.List(fields.Dict()),
                           metadata={"description": "The read-only collections (activity_logs, ...)"})
    license = fields.Dict()


# --- requests --------------------------------------------------------------------------------


class ClockSetSchema(_Open):
    """``PUT /__mock/clock``: set the instant and/or freeze (both optional)."""

    now = _instant()
    frozen = fields.Boolean(truthy={True}, falsy={False})


class _Number(fields.Float):
    """A JSON number: unlike ``fields.Float`` it refuses numeric strings (``"5"``)."""

    def _validated(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        return super()._validated(value)


_UNIT_RANGE = validate.Range(-1e7, 1e7)


class ClockAdvanceSchema(Schema):
    """``POST /__mock/clock/advance``: one or more units (negative moves back); others are refused."""

    weeks = _Number(validate=_UNIT_RANGE)
    days = _Number(validate=_UNIT_RANGE)
    hours = _Number(validate=_UNIT_RANGE)
    minutes = _Number(validate=_UNIT_RANGE)
    seconds = _Number(validate=_UNIT_RANGE)
    milliseconds = _Number(validate=_UNIT_RANGE)
    microseconds = _Number(validate=_UNIT_RANGE)

    @validates_schema
    def _some_unit(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ValidationError(f"Give one or more of {', '.join(ADVANCE_UNITS)}.", "clock")


class FaultRuleCreateSchema(_Open):
    """``POST /__mock/faults``: matches ``method`` and ``path`` and needs one of status, delay, drop, malformed."""

    method = fields.String(allow_none=True, metadata={"description": "HTTP method; `*`, `ANY` or absent: any"})
    path = fields.String(allow_none=True, metadata={"description": "Exact path or fnmatch glob, e.g. /api/v1/users/*"})
    status = _int(allow_none=True, validate=FAULT_STATUS)
    body = fields.Raw(allow_none=True, metadata={"description": "JSON value, or a string sent as-is"})
    headers = fault_headers(allow_none=True, metadata={
        "description": "Extra answer headers, e.g. Retry-After (Latin-1, no CR/LF, no framing headers)"})
    delay = fields.Float(allow_none=True, validate=validate.Range(0, 60), metadata={"description": "Seconds"})
    drop = fields.Boolean(truthy={True}, falsy={False}, metadata={"description": "Drop the connection"})
    malformed = fields.Boolean(truthy={True}, falsy={False}, metadata={"description": "Answer truncated JSON"})
    times = _int(allow_none=True, validate=validate.Range(min=1), metadata={"description": "Fire N times only"})
    probability = fields.Float(allow_none=True, validate=validate.Range(0, 1))
    seed = _int(allow_none=True, metadata={"description": "Seed of the probability draws"})

    @validates_schema
    def _does_something(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not (data.get("status") or data.get("delay") or data.get("drop") or data.get("malformed")):
            raise ValidationError("a rule needs one of status, delay, drop, malformed", "status")


class SeedLimitSchema(_Open):
    """One limit of a limit group."""

    limit = _int(validate=validate.Range(0, 2**53))
    is_enabled = fields.Boolean(truthy={True}, falsy={False})


class SeedRoleSchema(_Open):
    id = _id()
    name = fields.String(required=True, validate=validate.Length(1, 255))
    is_default = fields.Boolean(truthy={True}, falsy={False})


class SeedLimitGroupSchema(_Open):
    id = _id()
    name = fields.String(required=True, validate=validate.Length(1, 255))
    vms = fields.Nested(SeedLimitSchema)
    running_vms = fields.Nested(SeedLimitSchema)
    additional_ips = fields.Nested(SeedLimitSchema)


class SeedLocationSchema(_Open):
    id = _id()
    name = fields.String(required=True, validate=validate.Length(1, 255))
    description = fields.String()


class SeedOsVersionSchema(_Open):
    id = _id()
    version = fields.String(required=True, validate=validate.Length(1, 255))


class SeedOsImageSchema(_Open):
    id = _id()
    name = fields.String(required=True, validate=validate.Length(1, 255))
    versions = fields.List(fields.Nested(SeedOsVersionSchema))


class SeedPlanSchema(PlanCreateSchema):
    """A plan of a seed: the fields of ``POST plans``, plus its id."""

    id = _id()


class SeedProjectSchema(_Open):
    id = _id()
    name = fields.String(validate=validate.Length(1, 255))
    description = fields.String()
    owner_id = _id(allow_none=True)
    is_default = fields.Boolean(truthy={True}, falsy={False})


class SeedUserSchema(_Open):
    id = _id()
    email = fields.String(required=True, validate=validate.Length(1, 255))
    password = fields.String(validate=validate.Length(1, 255))
    status = fields.String(validate=validate.OneOf(USER_STATUSES))
    roles = fields.List(_id())
    billing_user_id = fields.Raw(allow_none=True, metadata={"description": "Integer or numeric string"})
    limit_group_id = _id(allow_none=True)
    language_id = _id(allow_none=True)
    billing_token = fields.String(allow_none=True)
    created_at = _instant()


class SeedServerSchema(_Open):
    id = _id()
    uuid = fields.String(validate=validate.Length(1, 64))
    name = fields.String(validate=validate.Length(1, 255))
    description = fields.String()
    user_id = _id(required=True)
    plan_id = _id(required=True)
    location_id = _id(allow_none=True)
    project_id = _id(allow_none=True)
    status = fields.String(validate=validate.OneOf(SERVER_STATUSES))
    is_suspended = fields.Boolean(truthy={True}, falsy={False})
    fqdns = fields.List(fields.String())
    additional_ip_count = _int(validate=validate.Range(0, 256))
    created_at = _instant()
    deleted_at = _instant(allow_none=True)


class SeedSshKeySchema(_Open):
    id = _id()
    name = fields.String(required=True, validate=validate.Length(1, 255))
    body = fields.String(required=True, validate=validate.Length(1, 16384))
    user_id = _id(allow_none=True)


def _seed_variant(schema: type[Schema]) -> type[Schema]:
    """A resource schema whose ``id`` is optional (a seed may let the mock number records)."""
    name = schema.__name__.removesuffix("Schema")
    return type(f"Seed{name}Schema", (schema,), {"id": _id(), "__doc__": f"A seeded {name}: `id` optional."})


SeedApplicationSchema = _seed_variant(ApplicationSchema)
SeedIsoImageSchema = _seed_variant(IsoImageSchema)
SEED_READ_ONLY = {name: _seed_variant(schema) for name, (schema, _) in READ_ONLY_COLLECTIONS.items()}


class SeedDocumentSchema(_Open):
    """``POST /__mock/seed``: every key optional; a key given replaces that collection of the default
    fixture. A ``clock`` sets and freezes the clock; without it the clock runs with real time."""

    clock = _instant(allow_none=True)
    settings = fields.Nested(SettingsPatchSchema, allow_none=True)
    roles = fields.List(fields.Nested(SeedRoleSchema))
    limit_groups = fields.List(fields.Nested(SeedLimitGroupSchema))
    locations = fields.List(fields.Nested(SeedLocationSchema))
    os_images = fields.List(fields.Nested(SeedOsImageSchema))
    plans = fields.List(fields.Nested(SeedPlanSchema))
    users = fields.List(fields.Nested(SeedUserSchema))
    servers = fields.List(fields.Nested(SeedServerSchema))
    projects = fields.List(fields.Nested(SeedProjectSchema))
    ssh_keys = fields.List(fields.Nested(SeedSshKeySchema))
    applications = fields.List(fields.Nested(SeedApplicationSchema))
    iso_images = fields.List(fields.Nested(SeedIsoImageSchema))
    license = fields.Nested(LicenseSchema)


for _name, _schema in SEED_READ_ONLY.items():
    SeedDocumentSchema._declared_fields[_name] = fields.List(fields.Nested(_schema))
