"""Server actions beyond start/stop: resize, reinstall, passwords, VNC, boot, settings, IPs, disks,
backups and snapshots. Long actions answer a task on the virtual clock, like start/stop."""

from __future__ import annotations

from flask import Response

from contracts.solusvm import (
    AdditionalIpsCreateSchema,
    AdditionalIpsDeleteSchema,
    BackupSchema,
    BootSchema,
    DiskSchema,
    ServerReinstallSchema,
    ServerResizeSchema,
    ServerSchema,
    ServerSettingsPatchSchema,
    SnapshotCreateSchema,
    SnapshotSchema,
    TaskSchema,
    VncSchema,
)

from ..parsing import load
from ..views import server_view
from .common import api_bp, backend, body, one, page, principal


@api_bp.post("/servers/<int:server_id>/resize")
def resize_server(server_id: int) -> Response:
    data = load(ServerResizeSchema(), body())
    return one(TaskSchema, backend().resize_server(server_id, principal(), data))


@api_bp.post("/servers/<int:server_id>/reinstall")
def reinstall_server(server_id: int) -> Response:
    data = load(ServerReinstallSchema(), body())
    return one(TaskSchema, backend().reinstall_server(server_id, principal(), data))


@api_bp.post("/servers/<int:server_id>/reset_password")
def reset_password(server_id: int) -> Response:
    return one(TaskSchema, backend().reset_password(server_id, principal()))


@api_bp.post("/servers/<int:server_id>/vnc_up")
def vnc_up(server_id: int) -> Response:
    return one(VncSchema, backend().vnc_up(server_id, principal()))


@api_bp.get("/servers/<int:server_id>/boot")
def get_boot(server_id: int) -> Response:
    return one(BootSchema, backend().get_boot(server_id, principal()))


@api_bp.post("/servers/<int:server_id>/boot")
def set_boot(server_id: int) -> Response:
    data = load(BootSchema(), body())
    return one(BootSchema, backend().set_boot(server_id, principal(), data))


@api_bp.patch("/servers/<int:server_id>/settings")
def patch_server_settings(server_id: int) -> Response:
    b = backend()
    data = load(ServerSettingsPatchSchema(), body())
    return one(ServerSchema, server_view(b, b.patch_server_settings(server_id, principal(), data)))


@api_bp.post("/servers/<int:server_id>/ips")
def add_ips(server_id: int) -> Response:
    data = load(AdditionalIpsCreateSchema(), body())
    return one(TaskSchema, backend().add_ips(server_id, principal(), data["count"]))


@api_bp.delete("/servers/<int:server_id>/ips")
def delete_ips(server_id: int) -> Response:
    data = load(AdditionalIpsDeleteSchema(), body())
    return one(TaskSchema, backend().delete_ips(server_id, principal(), data["ids"]))


@api_bp.get("/servers/<int:server_id>/disks")
def server_disks(server_id: int) -> Response:
    return page(DiskSchema, backend().disks(server_id, principal()))


@api_bp.get("/servers/<int:server_id>/backups")
def list_backups(server_id: int) -> Response:
    return page(BackupSchema, backend().list_backups(server_id, principal()))


@api_bp.post("/servers/<int:server_id>/backups")
def create_backup(server_id: int) -> Response:
    body()  # VPS sends {"id": server_id}; nothing else is read, but a malformed body is still a 422
    return one(BackupSchema, backend().create_backup(server_id, principal()), 201)


@api_bp.get("/backups/<int:backup_id>")
def get_backup(backup_id: int) -> Response:
    b = backend()
    return one(BackupSchema, b.backup_view(b.get_backup(backup_id, principal())))


@api_bp.post("/backups/<int:backup_id>/restore")
def restore_backup(backup_id: int) -> Response:
    return one(TaskSchema, backend().restore_backup(backup_id, principal()))


@api_bp.delete("/backups/<int:backup_id>")
def delete_backup(backup_id: int) -> Response:
    backend().delete_backup(backup_id, principal())
    return Response(status=204)


@api_bp.get("/servers/<int:server_id>/snapshots")
def list_snapshots(server_id: int) -> Response:
    return page(SnapshotSchema, backend().list_snapshots(server_id, principal()))


@api_bp.post("/servers/<int:server_id>/snapshots")
def create_snapshot(server_id: int) -> Response:
    data = load(SnapshotCreateSchema(), body())
    return one(SnapshotSchema, backend().create_snapshot(server_id, principal(), data["name"]), 201)


@api_bp.get("/snapshots/<int:snapshot_id>")
def get_snapshot(snapshot_id: int) -> Response:
    b = backend()
    return one(SnapshotSchema, b.snapshot_view(b.get_snapshot(snapshot_id, principal())))


@api_bp.post("/snapshots/<int:snapshot_id>/revert")
def revert_snapshot(snapshot_id: int) -> Response:
    return one(TaskSchema, backend().revert_snapshot(snapshot_id, principal()))


@api_bp.delete("/snapshots/<int:snapshot_id>")
def delete_snapshot(snapshot_id: int) -> Response:
    return one(TaskSchema, backend().delete_snapshot(snapshot_id, principal()))
