"""SolusVM 2 API resources and envelopes, as marshmallow schemas (no Flask import).

One definition of the wire: the mock serialises every resource through these schemas and,
with ``VALIDATE_RESPONSES`` on, validates every JSON body it sends against them. Output
schemas ignore unknown keys on load (the real SolusVM sends many more fields than a billing
system reads); input schemas are lenient where real clients differ (``billing_user_id`` as an
int or a numeric string) and ignore unknown fields the way a Laravel request does.

Evidence levels and sources are in ``docs/solusvm-api.md``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

#: RFC 3339 with microseconds and ``Z``, as SolusVM prints timestamps.
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

USER_STATUSES = ("active", "locked", "suspended")
TASK_STATUSES = ("pending", "queued", "running", "done", "done_with_errors", "failed", "canceled")
SERVER_STATUSES = ("not exists", "processing", "started", "stopped", "paused", "unavailable")


def Timestamp(**kwargs: Any) -> fields.DateTime:  # noqa: N802 - reads like a field class
    """A UTC timestamp field in SolusVM's format."""
    return fields.DateTime(format=TIMESTAMP_FORMAT, **kwargs)


class _Lenient(Schema):
    class Meta:
        unknown = EXCLUDE


class LooseInteger(fields.Integer):
    """An integer that also accepts a numeric string (BL sends ``billing_user_id`` as a string)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, str):
            value = value.strip()
            if not value.isdigit():
                raise self.make_error("invalid")
            if len(value) > 18:  # keep ids inside 64-bit range; anything bigger is garbage
                raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


def StrictInt(**kwargs: Any) -> fields.Integer:  # noqa: N802
    """A JSON integer (no strings, no floats) within a sane 64-bit range."""
    kwargs.setdefault("validate", validate.Range(min=0, max=2**63 - 1))
    return fields.Integer(strict=True, **kwargs)


# --- small resources -------------------------------------------------------------------


class RoleSchema(_Lenient):
    """A role (``GET roles``)."""

    id = StrictInt(required=True)
    name = fields.String(required=True)
    is_default = fields.Boolean(load_default=False)
    users_count = StrictInt(load_default=0, metadata={"description": "Users that have this role"})


class LimitSchema(_Lenient):
    """One limit of a limit group."""

    limit = StrictInt(required=True)
    is_enabled = fields.Boolean(required=True)


class LimitGroupSchema(_Lenient):
    """A limit group; enforced by the mock when a server is created or started."""

    id = StrictInt(required=True)
    name = fields.String(required=True)
    vms = fields.Nested(LimitSchema, required=True, metadata={"description": "Servers a user may own"})
    running_vms = fields.Nested(LimitSchema, required=True, metadata={"description": "Servers that may run at once"})
    additional_ips = fields.Nested(LimitSchema, required=True, metadata={"description": "Extra IPs per server"})
    created_at = Timestamp(allow_none=True)
    updated_at = Timestamp(allow_none=True)


class LimitGroupRefSchema(_Lenient):
    """The short limit group embedded in a user (not in the Go SDK's User; a mock convenience)."""

    id = StrictInt(required=True)
    name = fields.String(required=True)


class LocationSchema(_Lenient):
    """A location."""

    id = StrictInt(required=True)
    name = fields.String(required=True)
    description = fields.String(load_default="")
    is_visible = fields.Boolean(load_default=True)


class OsImageVersionSchema(_Lenient):
    """One version of an OS image; servers are created with ``os`` = a version id."""

    id = StrictInt(required=True)
    version = fields.String(required=True)


class OsImageSchema(_Lenient):
    """An OS image with its versions."""

    id = StrictInt(required=True)
    name = fields.String(required=True)
    versions = fields.List(fields.Nested(OsImageVersionSchema), required=True)


class LanguageSchema(_Lenient):
    """A user's language (shape from a third-party client)."""

    id = StrictInt(required=True)
    name = fields.String(required=True)


class UserSchema(_Lenient):
    """A SolusVM user. The password is write-only and never sent."""

    id = StrictInt(required=True)
    email = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(USER_STATUSES))
    created_at = Timestamp(required=True)
    roles = fields.List(fields.Nested(RoleSchema), required=True)
    billing_user_id = StrictInt(
        required=True, allow_none=True,
        metadata={"description": "The user's id in the billing system (WHMCS client id); null when not linked"},
    )
    billing_token = fields.String(allow_none=True, load_default=None, metadata={"description": "Meaning unknown"})
    language = fields.Nested(LanguageSchema, allow_none=True, load_default=None)
    limit_group = fields.Nested(LimitGroupRefSchema, allow_none=True, load_default=None)


class UserRefSchema(_Lenient):
    """The short user object embedded in usage items."""

    id = StrictInt(required=True)
    email = fields.String(required=True)
    billing_user_id = StrictInt(required=True, allow_none=True)


class TokenInfoSchema(_Lenient):
    """The stored token's metadata (the secret is only in ``access_token``)."""

    id = StrictInt(required=True)
    name = fields.String(required=True)
    created_at = Timestamp(required=True)


class AccessTokenSchema(_Lenient):
    """Answer of ``POST users/{id}/tokens`` (VPS reads ``data.access_token``)."""

    access_token = fields.String(required=True)
    token_type = fields.String(required=True)
    is_one_time = fields.Boolean(required=True, metadata={"description": "Burns on first use"})
    token = fields.Nested(TokenInfoSchema, required=True)


class PriceTaxSchema(_Lenient):
    """One tax line inside a plan price (element shape unknown in the real API; guessed)."""

    label = fields.String(required=True)
    rate = fields.String(required=True, metadata={"description": "Percent, as a decimal string"})


class PriceSchema(_Lenient):
    """A plan price as shown to one user. All money values are decimal strings."""

    per_hour = fields.String(required=True)
    per_month = fields.String(required=True)
    currency_code = fields.String(required=True)
    taxes_inclusive = fields.Boolean(required=True)
    taxes = fields.List(fields.Nested(PriceTaxSchema), required=True)
    total_price = fields.String(required=True)
    total_price_without_backups = fields.String(required=True)
    backup_price = fields.String(required=True)
    additional_ips_per_hour = fields.String(required=True)
    additional_ips_per_month = fields.String(required=True)


class PlanParamsSchema(_Lenient):
    """Plan sizing: ``ram`` in bytes, ``disk`` in GiB."""

    vcpu = StrictInt(load_default=1)
    ram = StrictInt(load_default=1073741824)
    disk = StrictInt(load_default=10)


#: Units of each plan limit, as the Go SDK defaults them when a caller leaves ``unit`` empty.
PLAN_LIMIT_UNITS: dict[str, tuple[str, ...]] = {
    "disk_bandwidth": ("Bps",),
    "disk_iops": ("iops",),
    "network_incoming_bandwidth": ("Kbps", "Mbps", "Gbps"),
    "network_outgoing_bandwidth": ("Kbps", "Mbps", "Gbps"),
    "network_incoming_traffic": ("KiB", "MiB", "GiB", "TiB", "PiB"),
    "network_outgoing_traffic": ("KiB", "MiB", "GiB", "TiB", "PiB"),
    "network_total_traffic": ("KiB", "MiB", "GiB", "TiB", "PiB"),
    "network_reduce_bandwidth": ("Kbps", "Mbps", "Gbps"),
    "backups_number": ("units",),
}
STORAGE_TYPES = ("fb", "lvm", "thin_lvm", "nfs", "vz")
IMAGE_FORMATS = ("raw", "qcow2", "plo")


def _plan_limit_schema(name: str, units: tuple[str, ...]) -> type[Schema]:
    attrs: dict[str, Any] = {
        "is_enabled": fields.Boolean(required=True),
        "limit": StrictInt(required=True),
        "unit": fields.String(required=True, validate=validate.OneOf(units)),
        "__doc__": f"``plan.limits.{name}``: off unless ``is_enabled``; ``limit`` counted in ``unit``.",
    }
    return type(f"PlanLimit{''.join(w.capitalize() for w in name.split('_'))}Schema", (_Lenient,), attrs)


#: ``plan.limits`` (Go SDK ``PlanLimits``; VPS reads ``network_total_traffic``).
PlanLimitsSchema = type("PlanLimitsSchema", (_Lenient,), {
    **{k: fields.Nested(_plan_limit_schema(k, u), required=True) for k, u in PLAN_LIMIT_UNITS.items()},
    "__doc__": "The limits of a plan; every key is present (disabled limits say so).",
})


class PlanSchema(_Lenient):
    """A plan with its token prices.

    ``price`` is filled from the billing integration (GetTokenPricing) for a known user;
    it is null when no billing integration is set, no user is known, or billing failed, in
    which case ``price_error`` says why (mock extension).
    """

    id = StrictInt(required=True)
    name = fields.String(required=True)
    virtualization_type = fields.String(load_default="kvm")
    tokens_per_hour = StrictInt(required=True, metadata={"description": "Tokens per started hour"})
    tokens_per_month = StrictInt(required=True, metadata={"description": "Monthly cap; 0 = hourly only"})
    ip_tokens_per_hour = StrictInt(required=True)
    ip_tokens_per_month = StrictInt(required=True)
    backup_price = fields.Float(load_default=0, metadata={"description": "Unit unknown in the real API"})
    params = fields.Nested(PlanParamsSchema, load_default=dict)
    limits = fields.Nested(PlanLimitsSchema, required=True)
    storage_type = fields.String(load_default="fb", validate=validate.OneOf(STORAGE_TYPES))
    image_format = fields.String(load_default="qcow2", validate=validate.OneOf(IMAGE_FORMATS))
    is_backup_available = fields.Boolean(load_default=False)
    is_snapshots_enabled = fields.Boolean(load_default=False)
    is_additional_ips_available = fields.Boolean(load_default=True)
    is_default = fields.Boolean(load_default=False)
    is_visible = fields.Boolean(load_default=True)
    price = fields.Nested(PriceSchema, allow_none=True, load_default=None)
    price_error = fields.String(
        allow_none=True, load_default=None,
        metadata={"description": "Mock extension: why price is null although billing integration is set"},
    )


class ProjectRefSchema(_Lenient):
    """A project as embedded in a server."""

    id = StrictInt(required=True)
    name = fields.String(required=True)


class ProjectSchema(_Lenient):
    """A project (``GET projects``)."""

    id = StrictInt(required=True)
    name = fields.String(required=True)
    description = fields.String(load_default="")
    is_default = fields.Boolean(load_default=False)
    is_owner = fields.Boolean(load_default=True)
    members = StrictInt(load_default=1)
    servers = StrictInt(load_default=0, metadata={"description": "Number of servers in the project"})
    owner = fields.Nested(UserSchema, required=True, allow_none=True)


class IpSchema(_Lenient):
    """One IPv4 address in ``ip_addresses.ipv4``."""

    id = StrictInt(required=True)
    ip = fields.String(required=True)
    is_primary = fields.Boolean(required=True)


class Ipv6Schema(_Lenient):
    """``ip_addresses.ipv6``: one object, the server's range and its primary address (VPS reads ``primary_ip``)."""

    id = StrictInt(required=True)
    range = fields.String(required=True, metadata={"description": "The server's IPv6 subnet"})
    primary_ip = fields.String(required=True)


class IpAddressesSchema(_Lenient):
    """``ip_addresses`` as read by the WHMCS/Blesta modules."""

    ipv4 = fields.List(fields.Nested(IpSchema), required=True)
    ipv6 = fields.Nested(Ipv6Schema, required=True, allow_none=True)


class IpBlockIpSchema(_Lenient):
    """One entry of ``ips`` as read by the Go SDK."""

    id = StrictInt(required=True)
    ip = fields.String(required=True)
    ip_block = fields.Dict(required=True)


class SpecificationsSchema(_Lenient):
    """Server sizing copied from its plan."""

    vcpu = StrictInt(required=True)
    ram = StrictInt(required=True)
    disk = StrictInt(required=True)


class ServerSchema(_Lenient):
    """A virtual server. Emits both ``ip_addresses`` (VPS/BL/RC) and ``ips`` (Go SDK)."""

    id = StrictInt(required=True)
    uuid = fields.String(required=True)
    name = fields.String(required=True)
    description = fields.String(load_default="")
    virtualization_type = fields.String(load_default="kvm")
    status = fields.String(required=True, validate=validate.OneOf(SERVER_STATUSES))
    is_suspended = fields.Boolean(required=True)
    is_processing = fields.Boolean(required=True)
    plan = fields.Nested(PlanSchema, required=True)
    user = fields.Nested(UserSchema, required=True)
    project = fields.Nested(ProjectRefSchema, allow_none=True, load_default=None)
    location = fields.Nested(LocationSchema, allow_none=True, load_default=None)
    specifications = fields.Nested(SpecificationsSchema, required=True)
    fqdns = fields.List(fields.String(), required=True)
    boot_mode = fields.String(load_default="disk", validate=validate.OneOf(["disk", "rescue", "iso"]))
    ip_addresses = fields.Nested(IpAddressesSchema, required=True)
    ips = fields.List(fields.Nested(IpBlockIpSchema), required=True)
    additional_ip_count = StrictInt(load_default=0, metadata={"description": "Extra IPv4 addresses (billed)"})
    settings = fields.Dict(load_default=dict, metadata={"description": "Hypervisor settings (PATCH servers/{id}/settings)"})
    usage = fields.Dict(required=True, metadata={"description": "cpu and network counters"})
    created_at = Timestamp(required=True)


class TaskSchema(_Lenient):
    """An asynchronous task; progresses pending → running → done on the mock's clock."""

    id = StrictInt(required=True, validate=validate.Range(min=1))
    compute_resource_id = StrictInt(allow_none=True, load_default=None)
    queue = fields.String(load_default="")
    action = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(TASK_STATUSES))
    output = fields.String(load_default="")
    progress = StrictInt(required=True)
    duration = StrictInt(load_default=0)
    created_at = Timestamp(allow_none=True, load_default=None)


class BillingDriverSchema(_Lenient):
    """One billing driver: the GetTokenPricing URL and its optional token."""

    url = fields.Url(required=True, require_tld=False, schemes={"http", "https"})
    token = fields.String(load_default="", allow_none=True)


class BillingIntegrationSchema(_Lenient):
    """``settings.billing_integration``: ``type`` names the driver used under ``drivers``.

    ``type: "custom"`` with ``drivers.custom`` is a guess (the real API value is unknown).
    """

    type = fields.String(required=True, allow_none=True, validate=validate.OneOf(["whmcs", "custom"]))
    drivers = fields.Dict(keys=fields.String(), values=fields.Nested(BillingDriverSchema), load_default=dict)


class FeaturesSchema(_Lenient):
    """``settings.features`` flags."""

    allow_registration = fields.Boolean(load_default=True)
    allow_password_recovery = fields.Boolean(load_default=True)
    hide_plan_name = fields.Boolean(load_default=False)
    hide_plan_section = fields.Boolean(load_default=False)
    hide_location_section = fields.Boolean(load_default=False)
    hide_user_data = fields.Boolean(load_default=False)
    hide_api_documentation_link = fields.Boolean(load_default=False)


class RegistrationSchema(_Lenient):
    """``settings.registration``: the role of self-registered users, by name (Go SDK ``settings.go``)."""

    role = fields.String(allow_none=True, load_default=None, metadata={"description": "Role name"})


class IdRef(fields.Field):
    """An id given as an integer or as an object carrying it (``{"id": 1, ...}``), loaded as the int."""

    default_error_messages = {"invalid": "Not a valid id or object with an id."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, dict):
            value = value.get("id")
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**63 - 1:
            raise self.make_error("invalid")
        return value


class RoleRef(fields.Field):
    """A role given by name (as the Go SDK sends it) or by id (older callers); loaded unchanged."""

    default_error_messages = {"invalid": "Not a valid role name or id."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int | str:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise self.make_error("invalid")
        if isinstance(value, int) and not 0 <= value <= 2**63 - 1:
            raise self.make_error("invalid")
        if isinstance(value, str) and not 0 < len(value) <= 255:
            raise self.make_error("invalid")
        return value


class RegistrationPatchSchema(_Lenient):
    """``registration`` in ``PATCH settings``: the role's name (or id)."""

    role = RoleRef(allow_none=True)


class SettingsSchema(_Lenient):
    """The settings object (``GET``/``PATCH settings``)."""

    billing_integration = fields.Nested(BillingIntegrationSchema, allow_none=True, load_default=None)
    features = fields.Nested(FeaturesSchema, load_default=dict)
    registration = fields.Nested(RegistrationSchema, load_default=dict)
    limit_group = fields.Nested(LimitGroupSchema, allow_none=True, load_default=None,
                                metadata={"description": "The default limit group of new users"})


# --- resources billing modules and the Go SDK use beyond the billing core ------------------

BOOT_MODES = ("disk", "rescue", "iso")
BACKUP_STATUSES = ("pending", "in_progress", "created", "failed", "restoring")
SNAPSHOT_STATUSES = ("available", "processing", "failed")


class NamedRefSchema(_Lenient):
    """``{id, name}``: a short reference to another record."""

    id = StrictInt(required=True)
    name = fields.String(required=True)


class SshKeySchema(_Lenient):
    """An SSH key (Go SDK ``SSHKey``); ``user_id`` is its owner."""

    id = StrictInt(required=True)
    name = fields.String(required=True)
    body = fields.String(required=True)
    user_id = StrictInt(required=True, allow_none=True)


class SshKeyCreateSchema(_Lenient):
    """``POST ssh_keys`` (VPS sends ``{name, body, user_id}``; a user token may leave ``user_id`` out)."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    body = fields.String(required=True, validate=validate.Length(min=1, max=16384))
    user_id = StrictInt(allow_none=True, load_default=None)


class ApplicationSchema(_Lenient):
    """A one-click application (Go SDK ``Application``); ``reinstall`` takes its id."""

    id = StrictInt(required=True)
    name = fields.String(required=True)
    url = fields.String(load_default="")
    json_schema = fields.String(load_default="", metadata={"description": "Schema of application_data"})
    is_default = fields.Boolean(load_default=False)
    is_visible = fields.Boolean(load_default=True)
    is_buildin = fields.Boolean(load_default=True, metadata={"description": "Sic: the API's spelling"})


class ApplicationCreateSchema(_Lenient):
    """``POST applications`` (admin; Go SDK ``ApplicationCreateRequest``, the fields the mock keeps)."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    url = fields.String(load_default="", validate=validate.Length(max=2048))
    json_schema = fields.String(load_default="")
    is_visible = fields.Boolean(load_default=True)


class IsoImageSchema(_Lenient):
    """An ISO image a server can boot from (``mode: iso``); shape guessed from the Blesta module."""

    id = StrictInt(required=True)
    name = fields.String(required=True)
    iso_url = fields.String(load_default="")
    os_type = fields.String(load_default="linux")
    is_visible = fields.Boolean(load_default=True)


class ServerRefSchema(_Lenient):
    """A short server reference (``compute_resource_vm`` of a backup)."""

    id = StrictInt(required=True)
    name = fields.String(required=True)
    uuid = fields.String(required=True)


class CreatorRefSchema(_Lenient):
    """Who made a backup."""

    id = StrictInt(required=True)
    email = fields.String(required=True)


class BackupSchema(_Lenient):
    """A server backup (Go SDK ``Backup``); ``status`` moves pending → in_progress → created on the clock."""

    id = StrictInt(required=True)
    type = fields.String(required=True, validate=validate.OneOf(["full", "incremental"]))
    creation_method = fields.String(required=True, validate=validate.OneOf(["auto", "manual"]))
    status = fields.String(required=True, validate=validate.OneOf(BACKUP_STATUSES))
    size = fields.Float(required=True, metadata={"description": "GiB"})
    disk = StrictInt(required=True)
    backup_progress = fields.Float(required=True)
    backup_fail_reason = fields.String(load_default="")
    compute_resource_vm = fields.Nested(ServerRefSchema, required=True)
    backup_node = fields.Nested(NamedRefSchema, required=True, allow_none=True)
    creator = fields.Nested(CreatorRefSchema, required=True, allow_none=True)
    created_at = Timestamp(required=True)


class SnapshotSchema(_Lenient):
    """A server snapshot (Go SDK ``Snapshot``)."""

    id = StrictInt(required=True)
    name = fields.String(required=True)
    size = fields.Float(required=True)
    status = fields.String(required=True, validate=validate.OneOf(SNAPSHOT_STATUSES))
    created_at = Timestamp(required=True)


class SnapshotCreateSchema(_Lenient):
    """``POST servers/{id}/snapshots``."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=255))


class DiskSchema(_Lenient):
    """A server disk (``GET servers/{id}/disks``); the primary disk has the plan's size (GiB)."""

    id = StrictInt(required=True)
    name = fields.String(required=True)
    size = StrictInt(required=True)
    is_primary = fields.Boolean(required=True)


class BootSchema(_Lenient):
    """``GET|POST servers/{id}/boot`` (Blesta module): the boot mode and, for ``iso``, the image."""

    mode = fields.String(required=True, validate=validate.OneOf(BOOT_MODES))
    iso_image_id = StrictInt(allow_none=True, load_default=None)


class ServerResizeSchema(_Lenient):
    """``POST servers/{id}/resize`` (Go SDK ``VirtualServerResizeRequest``; VPS and Blesta add fields)."""

    plan_id = StrictInt(required=True)
    preserve_disk = fields.Boolean(load_default=False)
    backup_settings = fields.Dict(load_default=None, allow_none=True)


class ServerReinstallSchema(_Lenient):
    """``POST servers/{id}/reinstall``: ``os`` (a version id) or ``application`` (+ ``application_data``)."""

    os = StrictInt(allow_none=True, load_default=None)
    application = StrictInt(allow_none=True, load_default=None)
    application_data = fields.Dict(load_default=dict)
    ssh_keys = fields.List(StrictInt(), load_default=list)


class ServerSettingsPatchSchema(_Lenient):
    """``PATCH servers/{id}/settings`` (Go SDK ``VirtualServerUpdateSettingsRequest``)."""

    disk_cache_mode = fields.String(validate=validate.OneOf(["none", "writethrough", "writeback", "directsync",
                                                             "unsafe", "default"]))
    disk_driver = fields.String(validate=validate.OneOf(["virtio", "scsi", "ide"]))
    firmware = fields.String(validate=validate.OneOf(["bios", "efi"]))


class ServerSettingsSchema(_Lenient):
    """A server's hypervisor settings as ``PATCH servers/{id}/settings`` stores them."""

    disk_cache_mode = fields.String(required=True)
    disk_driver = fields.String(required=True)
    firmware = fields.String(required=True)


class AdditionalIpsCreateSchema(_Lenient):
    """``POST servers/{id}/ips``: how many extra IPv4 addresses to add (billed per IP)."""

    count = StrictInt(load_default=1, validate=validate.Range(min=1, max=256))


class AdditionalIpsDeleteSchema(_Lenient):
    """``DELETE servers/{id}/ips``: the ids (from ``ip_addresses.ipv4``) of extra addresses to remove."""

    ids = fields.List(StrictInt(), required=True, validate=validate.Length(min=1))


class VncSchema(_Lenient):
    """``POST servers/{id}/vnc_up``: where a VNC client connects (a mock address)."""

    url = fields.String(required=True)
    password = fields.String(required=True)


class ResetPasswordSchema(_Lenient):
    """``POST servers/{id}/reset_password``: the task and the new root password (mock: random)."""

    password = fields.String(required=True)


class RoleCreateSchema(_Lenient):
    """``POST roles`` / ``PUT roles/{id}``."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    is_default = fields.Boolean(load_default=False)


class LocationCreateSchema(_Lenient):
    """``POST locations`` / ``PUT`` / ``PATCH locations/{id}``."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    description = fields.String(load_default="", validate=validate.Length(max=1024))
    is_visible = fields.Boolean(load_default=True)


class OsImageCreateSchema(_Lenient):
    """``POST os_images`` / ``PUT os_images/{id}``."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=255))


class OsImageVersionCreateSchema(_Lenient):
    """``POST os_images/{id}/versions`` / ``PUT os_image_versions/{id}``."""

    version = fields.String(required=True, validate=validate.Length(min=1, max=255))


class ProjectCreateSchema(_Lenient):
    """``POST projects`` / ``PUT projects/{id}``; an admin may give ``owner_id``."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    description = fields.String(load_default="", validate=validate.Length(max=1024))
    owner_id = StrictInt(allow_none=True, load_default=None)


# read-only catalogue resources of the Go SDK (list + get, seedable)


class ActivityLogSchema(_Lenient):
    """An activity log entry (Go SDK ``ActivityLogs``)."""

    id = StrictInt(required=True)
    event = fields.String(required=True)
    user_email = fields.String(load_default="")
    created_at = fields.String(required=True)


class BackupNodeSchema(_Lenient):
    """A backup node (Go SDK ``BackupNode``)."""

    id = StrictInt(required=True)
    name = fields.String(required=True)
    type = fields.String(load_default="ssh_rsync")
    compute_resources_count = StrictInt(load_default=0)
    backups_count = StrictInt(load_default=0)
    total_backups_size = StrictInt(load_default=0)


class ComputeResourceSchema(_Lenient):
    """A compute resource (Go SDK ``ComputeResource``)."""

    id = StrictInt(required=True)
    name = fields.String(required=True)
    host = fields.String(load_default="")
    agent_port = StrictInt(load_default=8080)
    status = fields.String(load_default="active")
    vms_count = StrictInt(load_default=0)
    version = fields.String(load_default="")
    is_locked = fields.Boolean(load_default=False)


class IpBlockSchema(_Lenient):
    """An IP block (Go SDK ``IPBlock``)."""

    id = StrictInt(required=True)
    name = fields.String(required=True)
    type = fields.String(load_default="IPv4")
    gateway = fields.String(load_default="")
    netmask = fields.String(load_default="")
    ns_1 = fields.String(load_default="")
    ns_2 = fields.String(load_default="")
    subnet = StrictInt(load_default=0)
    range = fields.String(load_default="")


class IconSchema(_Lenient):
    """An icon (Go SDK ``Icon``)."""

    id = StrictInt(required=True)
    name = fields.String(required=True)
    url = fields.String(load_default="")
    type = fields.String(load_default="os")


class PermissionSchema(_Lenient):
    """A permission (Go SDK ``Permission``)."""

    id = StrictInt(required=True)
    name = fields.String(required=True)


class StorageSchema(_Lenient):
    """A storage (Go SDK ``Storage``)."""

    id = StrictInt(required=True)
    name = fields.String(required=True)
    type = fields.String(load_default="fb")
    path = fields.String(load_default="")
    is_available_for_balancing = fields.Boolean(load_default=True)
    servers_count = StrictInt(load_default=0)
    compute_resources_count = StrictInt(load_default=0)
    free_space = fields.Float(load_default=0)


class StorageTypeSchema(_Lenient):
    """A storage type (Go SDK ``StorageType``) with the image formats it takes."""

    id = StrictInt(required=True)
    name = fields.String(required=True)
    formats = fields.List(fields.String(), load_default=list)


class ServersMigrationSchema(_Lenient):
    """A servers migration (Go SDK ``ServersMigration``)."""

    id = StrictInt(required=True)
    destination_compute_resource = fields.Dict(load_default=dict)
    task = fields.Dict(load_default=dict)
    children = fields.List(fields.Dict(), load_default=list)


class LicenseSchema(_Lenient):
    """The installation's license (Go SDK ``License``)."""

    cpu_cores = StrictInt(required=True)
    cpu_cores_in_use = StrictInt(required=True)
    is_active = fields.Boolean(required=True)
    key = fields.String(required=True)
    key_type = fields.String(required=True)
    product = fields.String(required=True)
    expiration_date = fields.String(required=True)
    update_date = fields.String(required=True)


class LicenseActivateSchema(_Lenient):
    """``POST license/activate`` (Go SDK ``LicenseActivateRequest``)."""

    activation_code = fields.String(required=True, validate=validate.Length(min=1, max=255))


#: Read-only collections: URL name -> (schema, model name in 404 messages). Seeded under the same key.
READ_ONLY_COLLECTIONS: dict[str, tuple[type[Schema], str]] = {
    "activity_logs": (ActivityLogSchema, "ActivityLog"),
    "backup_nodes": (BackupNodeSchema, "BackupNode"),
    "compute_resources": (ComputeResourceSchema, "ComputeResource"),
    "ip_blocks": (IpBlockSchema, "IpBlock"),
    "icons": (IconSchema, "Icon"),
    "permissions": (PermissionSchema, "Permission"),
    "storages": (StorageSchema, "Storage"),
    "storage_types": (StorageTypeSchema, "StorageType"),
    "servers_migrations": (ServersMigrationSchema, "ServersMigration"),
}


# --- usage -----------------------------------------------------------------------------


class UsageServerRefSchema(_Lenient):
    """The server of a usage item; deleted servers are included."""

    id = StrictInt(required=True)
    uuid = fields.String(required=True)
    name = fields.String(required=True)
    is_deleted = fields.Boolean(required=True)
    deleted_at = Timestamp(allow_none=True, required=True)


class UsagePlanRefSchema(_Lenient):
    """The plan prices the usage was computed with."""

    id = StrictInt(required=True)
    name = fields.String(required=True)
    tokens_per_hour = StrictInt(required=True)
    tokens_per_month = StrictInt(required=True)
    ip_tokens_per_hour = StrictInt(required=True)
    ip_tokens_per_month = StrictInt(required=True)


class UsagePeriodSchema(_Lenient):
    """The inclusive UTC date range of a usage item."""

    from_ = fields.Date(required=True, data_key="from")
    to = fields.Date(required=True)


class UsageIpsSchema(_Lenient):
    """Additional IPs: ``hours`` per IP, ``tokens`` for all of them (cap per IP per month)."""

    count = StrictInt(required=True)
    hours = StrictInt(required=True)
    tokens = StrictInt(required=True)


class UsageBackupsSchema(_Lenient):
    """Backup charges: the plan's ``backup_price`` percent of the item's server tokens while backups exist (guess)."""

    tokens = StrictInt(required=True)


class UsageItemSchema(_Lenient):
    """One item of ``GET usage`` (INFERRED shape, reference §5.3): one user × server × period."""

    user = fields.Nested(UserRefSchema, required=True)
    server = fields.Nested(UsageServerRefSchema, required=True)
    plan = fields.Nested(UsagePlanRefSchema, required=True)
    period = fields.Nested(UsagePeriodSchema, required=True)
    hours = StrictInt(required=True, metadata={"description": "Started hours in the period"})
    tokens = StrictInt(required=True, metadata={"description": "Server tokens after the monthly cap"})
    monthly_cap_applied = fields.Boolean(required=True)
    additional_ips = fields.Nested(UsageIpsSchema, required=True)
    backups = fields.Nested(UsageBackupsSchema, required=True)
    total_tokens = StrictInt(required=True)


class MetricsSchema(_Lenient):
    """``GET usage/{cpu,network,disks,memory}/{uuid}``: ``{items: [...]}``."""

    items = fields.List(fields.Dict(), required=True)


# --- envelopes -------------------------------------------------------------------------


class LinksSchema(_Lenient):
    """Absolute page links; ``prev``/``next`` are null at the ends."""

    first = fields.String(required=True)
    last = fields.String(required=True)
    prev = fields.String(required=True, allow_none=True)
    next = fields.String(required=True, allow_none=True)


class MetaSchema(_Lenient):
    """Laravel paginator meta."""

    current_page = StrictInt(required=True)
    from_ = StrictInt(required=True, allow_none=True, data_key="from")
    last_page = StrictInt(required=True)
    path = fields.String(required=True)
    per_page = StrictInt(required=True)
    to = StrictInt(required=True, allow_none=True)
    total = StrictInt(required=True)


class ErrorSchema(Schema):
    """The error body: ``{message, errors}``; ``errors`` maps fields to messages."""

    message = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), load_default=dict)


_ENVELOPES: dict[tuple[type[Schema], bool], type[Schema]] = {}


def envelope(item: type[Schema], many: bool = False) -> type[Schema]:
    """The ``{data}`` (or ``{data, links, meta}`` with ``many``) envelope schema for ``item``."""
    key = (item, many)
    if key not in _ENVELOPES:
        name = f"{item.__name__.removesuffix('Schema')}{'List' if many else ''}EnvelopeSchema"
        attrs: dict[str, Any] = {"data": fields.List(fields.Nested(item), required=True) if many
                                 else fields.Nested(item, required=True)}
        if many:
            attrs["links"] = fields.Nested(LinksSchema, required=True)
            attrs["meta"] = fields.Nested(MetaSchema, required=True)
        attrs["Meta"] = type("Meta", (), {"unknown": EXCLUDE})
        attrs["__doc__"] = f"Envelope of {item.__name__}."
        _ENVELOPES[key] = type(name, (Schema,), attrs)
    return _ENVELOPES[key]


# --- requests (inputs) -----------------------------------------------------------------


class UserCreateSchema(_Lenient):
    """``POST users``. Unknown fields are ignored, as a Laravel request does."""

    email = fields.Email(required=True, validate=validate.Length(max=255))
    password = fields.String(required=True, validate=validate.Length(min=1, max=255))
    status = fields.String(load_default="active", validate=validate.OneOf(USER_STATUSES))
    billing_user_id = LooseInteger(allow_none=True, load_default=None, validate=validate.Range(min=0, max=2**63 - 1))
    roles = fields.List(StrictInt(), load_default=None)
    limit_group_id = StrictInt(allow_none=True, load_default=None)
    language_id = StrictInt(allow_none=True, load_default=None)
    billing_token = fields.String(allow_none=True, load_default=None)


class UserUpdateSchema(_Lenient):
    """``PUT users/{id}``: a partial update in practice (VPS sends ``{status, billing_user_id}``)."""

    password = fields.String(validate=validate.Length(min=1, max=255))
    status = fields.String(validate=validate.OneOf(USER_STATUSES))
    billing_user_id = LooseInteger(allow_none=True, validate=validate.Range(min=0, max=2**63 - 1))
    roles = fields.List(StrictInt())
    language_id = StrictInt(allow_none=True)
    limit_group_id = StrictInt(allow_none=True)
    billing_token = fields.String(allow_none=True)


class UserPatchSchema(UserUpdateSchema):
    """``PATCH users/{id}`` (VPS uses it for the e-mail); also takes the PUT fields."""

    email = fields.Email(validate=validate.Length(max=255))


class TokenCreateSchema(_Lenient):
    """``POST users/{id}/tokens``."""

    is_one_time = fields.Boolean(load_default=False)
    name = fields.String(load_default="billing", validate=validate.Length(max=255))


class LoginSchema(_Lenient):
    """``POST auth/login``."""

    email = fields.String(required=True)
    password = fields.String(required=True)


class ServerCreateSchema(_Lenient):
    """``POST servers`` (VPS ``ServerCreateRequestBuilder``); ``user`` is admin-only."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    plan = StrictInt(required=True)
    location = StrictInt(allow_none=True, load_default=None)
    os = StrictInt(allow_none=True, load_default=None, metadata={"description": "OS image version id"})
    user = StrictInt(allow_none=True, load_default=None, metadata={"description": "Owner id (admin only)"})
    project = StrictInt(allow_none=True, load_default=None)
    password = fields.String(allow_none=True, load_default=None)
    description = fields.String(load_default="")
    fqdns = fields.List(fields.String(), load_default=list)
    additional_ip_count = StrictInt(load_default=0, validate=validate.Range(min=0, max=256))
    boot_mode = fields.String(load_default="disk", validate=validate.OneOf(["disk", "rescue"]))
    ssh_keys = fields.List(StrictInt(), load_default=list, metadata={"description": "SSH key ids to install"})


class PlanLimitInputSchema(_Lenient):
    """One limit in a plan create/update/seed; missing keys keep their default."""

    is_enabled = fields.Boolean(truthy={True}, falsy={False})
    limit = StrictInt(validate=validate.Range(min=0, max=2**53))
    unit = fields.String(validate=validate.Length(min=1, max=16))


PlanLimitsInputSchema = type("PlanLimitsInputSchema", (_Lenient,), {
    **{k: fields.Nested(PlanLimitInputSchema) for k in PLAN_LIMIT_UNITS},
    "__doc__": "``limits`` in a plan create/update/seed: any subset of the limits.",
})


class PlanParamsInputSchema(_Lenient):
    """``params`` in a plan create/update/seed: ``ram`` in bytes, ``disk`` in GiB."""

    vcpu = StrictInt(validate=validate.Range(min=1, max=1024))
    ram = StrictInt(validate=validate.Range(min=1, max=2**53))
    disk = StrictInt(validate=validate.Range(min=1, max=2**40))


MAX_PLAN_TOKENS = 10**12


class PlanCreateSchema(_Lenient):
    """``POST plans`` (admin), and each plan of a seed document. Unknown fields are ignored."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    virtualization_type = fields.String(load_default="kvm", validate=validate.OneOf(["kvm", "vz"]))
    tokens_per_hour = StrictInt(load_default=0, validate=validate.Range(min=0, max=MAX_PLAN_TOKENS))
    tokens_per_month = StrictInt(load_default=0, validate=validate.Range(min=0, max=MAX_PLAN_TOKENS))
    ip_tokens_per_hour = StrictInt(load_default=0, validate=validate.Range(min=0, max=MAX_PLAN_TOKENS))
    ip_tokens_per_month = StrictInt(load_default=0, validate=validate.Range(min=0, max=MAX_PLAN_TOKENS))
    backup_price = fields.Decimal(load_default=None, allow_none=True, allow_nan=False,
                                  validate=validate.Range(min=Decimal(0), max=Decimal(10**6)),
                                  metadata={"description": "Percent of the server's tokens charged for backups (guess)"})
    params = fields.Nested(PlanParamsInputSchema, load_default=dict)
    limits = fields.Nested(PlanLimitsInputSchema, load_default=dict)
    storage_type = fields.String(load_default="fb", validate=validate.OneOf(STORAGE_TYPES))
    image_format = fields.String(load_default="qcow2", validate=validate.OneOf(IMAGE_FORMATS))
    is_default = fields.Boolean(load_default=False)
    is_visible = fields.Boolean(load_default=True)
    is_backup_available = fields.Boolean(load_default=False)
    is_snapshots_enabled = fields.Boolean(load_default=False)
    is_additional_ips_available = fields.Boolean(load_default=True)


class PlanUpdateSchema(PlanCreateSchema):
    """``PUT plans/{id}``: any subset of the create fields (loaded with ``partial``)."""


class ServerPatchSchema(_Lenient):
    """``PATCH servers/{id}``."""

    name = fields.String(validate=validate.Length(min=1, max=255))
    description = fields.String()
    fqdns = fields.List(fields.String())
    boot_mode = fields.String(validate=validate.OneOf(["disk", "rescue"]))
    backup_settings = fields.Dict(allow_none=True, metadata={"description": "Go SDK; stored as sent"})


class ServerActionSchema(_Lenient):
    """Body of ``POST servers/{id}/start|stop|restart|suspend|resume`` (usually empty)."""

    force = fields.Boolean(load_default=False, metadata={"description": "Sent by Blesta on stop"})


class SettingsPatchSchema(_Lenient):
    """``PATCH settings``: any subset; ``features`` keys merge into the stored ones."""

    billing_integration = fields.Nested(BillingIntegrationSchema, allow_none=True)
    features = fields.Dict(keys=fields.String(), values=fields.Boolean())
    registration = fields.Nested(RegistrationPatchSchema)
    limit_group = IdRef(allow_none=True, metadata={"description": "The limit group (object with id, or its id)"})


#: marshmallow's default messages in Laravel's wording (``{a}`` = the attribute, underscores as spaces).
_LARAVEL: list[tuple[re.Pattern[str], str]] = [(re.compile(p), t) for p, t in (
    (r"^Missing data for required field\.$", "The {a} field is required."),
    (r"^Field may not be null\.$", "The {a} field is required."),
    (r"^Not a valid integer\.$", "The {a} must be an integer."),
    (r"^Not a valid (number|decimal)\.$|^Special numeric values \(nan or infinity\) are not permitted\.$",
     "The {a} must be a number."),
    (r"^Not a valid string\.$", "The {a} must be a string."),
    (r"^Not a valid boolean\.$", "The {a} field must be true or false."),
    (r"^Not a valid email address\.$", "The {a} must be a valid email address."),
    (r"^Not a valid URL\.$", "The {a} format is invalid."),
    (r"^Not a valid list\.$|^Not a valid mapping type\.$|^Invalid input type\.$", "The {a} must be an array."),
    (r"^Must be one of: .*\.$|^Not a valid (id or object with an id|role name or id)\.$",
     "The selected {a} is invalid."),
    (r"^Shorter than minimum length (?P<min>\d+)\.$", "The {a} must be at least {min} characters."),
    (r"^Longer than maximum length (?P<max>\d+)\.$", "The {a} may not be greater than {max} characters."),
    (r"^Length must be between (?P<min>\d+) and (?P<max>\d+)\.$", "The {a} must be between {min} and {max} characters."),
    (r"^Must be greater than or equal to (?P<min>[-\d.e+]+) and less than or equal to (?P<max>[-\d.e+]+)\.$",
     "The {a} must be between {min} and {max}."),
    (r"^Must be greater than or equal to (?P<min>[-\d.e+]+)\.$", "The {a} must be at least {min}."),
    (r"^Must be less than or equal to (?P<max>[-\d.e+]+)\.$", "The {a} may not be greater than {max}."),
)]
#: Path segments marshmallow adds for ``Dict`` keys and values: no client knows them.
_INTERNAL_SEGMENTS = {"key", "value"}


def laravel_message(key: str, message: str) -> str:
    """``message`` (marshmallow's default wording) as Laravel words it for the attribute ``key``."""
    attribute = (key if key and key != "_schema" else "data").replace("_", " ")
    for pattern, template in _LARAVEL:
        m = pattern.match(message)
        if m:
            return template.format(a=attribute, **m.groupdict())
    return message


def validation_messages(err: ValidationError) -> dict[str, list[str]]:
    """Flatten marshmallow messages into Laravel's ``{field: [messages]}``: dotted keys, Laravel wording."""
    out: dict[str, list[str]] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if k in _INTERNAL_SEGMENTS and prefix:
                    walk(prefix, v)  # a Dict field's key/value layer: the client sent ``prefix``
                else:
                    walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            key = prefix or "_schema"
            out.setdefault(key, []).extend(laravel_message(key, v) for v in value)
        elif isinstance(value, list):
            for v in value:
                walk(prefix, v)
        else:
            key = prefix or "_schema"
            out.setdefault(key, []).append(laravel_message(key, str(value)))

    walk("", err.messages)
    return out
