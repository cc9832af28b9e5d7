"""Backend operations beyond the billing core: server actions, backups, snapshots, SSH keys,
admin CRUD of the catalogue, and the read-only collections of the Go SDK.

A mixin of :class:`mock_solusvm.state.Backend` (plain Python, no Flask). Everything here runs
under the backend's lock and on its virtual clock. Behaviours the real API does not document
are marked "guess" here and in docs/mock.md.
"""

from __future__ import annotations

import copy
import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Any

from contracts.solusvm import READ_ONLY_COLLECTIONS

from .clock import Clock, time_stage
from .errors import Forbidden, Invalid, NotFound, invalid
from .records import find

#: Collections a seed may give besides the core ones (each a list of records with ids).
EXTRA_SEED_COLLECTIONS = ("ssh_keys", "applications", "iso_images", *READ_ONLY_COLLECTIONS)


def default_extras() -> dict[str, Any]:
    """The default fixture of the extra collections: one of each so an SDK caller sees a real record."""
    return {
        "ssh_keys": [],
        "applications": [{"id": 1, "name": "WordPress", "url": "https://wordpress.org", "is_default": True}],
        "iso_images": [{"id": 1, "name": "SystemRescue", "iso_url": "https://iso.example.test/systemrescue.iso"}],
        "activity_logs": [],
        "backup_nodes": [{"id": 1, "name": "Backups", "type": "ssh_rsync"}],
        "compute_resources": [{"id": 1, "name": "cr1.mock", "host": "192.0.2.10", "status": "active",
                               "version": "2.0.0"}],
        "ip_blocks": [{"id": 1, "name": "Default block", "type": "IPv4", "gateway": "10.0.0.1",
                       "netmask": "255.0.0.0", "subnet": 8, "range": "10.0.0.0/8"}],
        "icons": [{"id": 1, "name": "debian", "type": "os", "url": "https://icons.example.test/debian.svg"}],
        "permissions": [{"id": 1, "name": "manage_servers"}, {"id": 2, "name": "manage_users"}],
        "storages": [{"id": 1, "name": "local", "type": "fb", "path": "/var/lib/libvirt/images"}],
        "storage_types": [{"id": 1, "name": "fb", "formats": ["raw", "qcow2"]},
                          {"id": 2, "name": "lvm", "formats": ["raw"]}],
        "servers_migrations": [],
        "license": {"cpu_cores": 64, "cpu_cores_in_use": 0, "is_active": True, "key": "MOCK-LICENSE",
                    "key_type": "mock", "product": "SolusVM 2", "expiration_date": "2099-12-31T00:00:00Z",
                    "update_date": "2099-12-31T00:00:00Z"},
    }


class ExtrasMixin:
    """Operations on the extra collections (mixed into ``Backend``)."""

    # attributes provided by Backend (declared for readers and type checkers)
    lock: Any
    clock: Clock
    plans: dict[int, dict[str, Any]]
    users: dict[int, dict[str, Any]]
    servers: dict[int, dict[str, Any]]
    projects: dict[int, dict[str, Any]]
    roles: dict[int, dict[str, Any]]
    locations: dict[int, dict[str, Any]]
    os_images: dict[int, dict[str, Any]]
    tasks: dict[int, dict[str, Any]]
    ssh_keys: dict[int, dict[str, Any]]
    applications: dict[int, dict[str, Any]]
    iso_images: dict[int, dict[str, Any]]
    backups: dict[int, dict[str, Any]]
    snapshots: dict[int, dict[str, Any]]
    readonly: dict[str, dict[int, dict[str, Any]]]
    license: dict[str, Any]

    if TYPE_CHECKING:
        # Methods Backend provides (state.py imports this module, so it cannot be imported here);
        # declared only for the type checker: at run time Backend's own definitions are the ones.
        def _id(self, kind: str, wanted: Any = None) -> int: ...
        def get_server(self, server_id: int, principal: Any = None) -> dict[str, Any]: ...
        def _new_task(self, action: str, server_id: int) -> dict[str, Any]: ...
        def task_view(self, task: dict[str, Any], poll: bool) -> dict[str, Any]: ...
        def _check_limits(self, owner: dict[str, Any], new_servers: int, new_running: int, ips: int) -> None: ...
        def admin_user(self) -> dict[str, Any]: ...

    # --- seeding ----------------------------------------------------------------------

    def _apply_extras(self, fx: dict[str, Any]) -> None:
        """Load the extra collections of a seed (records already checked by the seed schema)."""
        for key in ("ssh_keys", "applications", "iso_images"):
            table = getattr(self, key)
            for rec in fx.get(key) or []:
                rid = self._id(key, rec.get("id"))
                table[rid] = {**copy.deepcopy(rec), "id": rid}
                if key == "ssh_keys":
                    table[rid].setdefault("user_id", None)
                    if table[rid]["user_id"] is not None and table[rid]["user_id"] not in self.users:
                        raise invalid("ssh_keys", f"ssh key {rid}: unknown user_id {table[rid]['user_id']}")
        for key in READ_ONLY_COLLECTIONS:
            self.readonly[key] = {}
            for rec in fx.get(key) or []:
                rid = self._id(key, rec.get("id"))
                self.readonly[key][rid] = {**copy.deepcopy(rec), "id": rid}
        self.license = copy.deepcopy(fx.get("license") or default_extras()["license"])

    # --- history of a server (plan and IP count over time; /usage reads it) -------------

    def _history(self, server: dict[str, Any]) -> list[dict[str, Any]]:
        hist = server.get("history")
        if not hist:
            hist = server["history"] = [{"from": server["created_at"], "plan_id": server["plan_id"],
                                         "ips": server["additional_ip_count"]}]
        return hist

    def _change(self, server: dict[str, Any], **change: Any) -> None:
        """Record a plan or IP-count change at the current virtual instant (usage splits there)."""
        hist = self._history(server)
        now = self.clock.now()
        entry = {"from": now, "plan_id": change.get("plan_id", server["plan_id"]),
                 "ips": change.get("ips", server["additional_ip_count"])}
        if hist[-1]["from"] >= now:
            hist[-1].update(plan_id=entry["plan_id"], ips=entry["ips"])  # same instant: last word wins
        else:
            hist.append(entry)
        server["plan_id"], server["additional_ip_count"] = entry["plan_id"], entry["ips"]

    # --- server actions ---------------------------------------------------------------

    def resize_server(self, server_id: int, principal: Any, data: dict[str, Any]) -> dict[str, Any]:
        """``POST servers/{id}/resize``: the plan changes now; usage bills the new plan from this instant."""
        with self.lock:
            server = self.get_server(server_id, principal)
            if data["plan_id"] not in self.plans:
                raise invalid("plan_id", "The selected plan id is invalid.")
            if server["is_suspended"]:
                raise invalid("server", "The server is suspended and cannot be resized.")
            old, new = self.plans[server["plan_id"]], self.plans[data["plan_id"]]
            if data["preserve_disk"] is False and new["params"]["disk"] < old["params"]["disk"]:
                raise invalid("plan_id", "The disk of the new plan is smaller than the server's disk.")
            self._change(server, plan_id=data["plan_id"])
            return self._new_task("vm-resize", server_id)

    def reinstall_server(self, server_id: int, principal: Any, data: dict[str, Any]) -> dict[str, Any]:
        """``POST servers/{id}/reinstall`` with an OS version or an application."""
        with self.lock:
            server = self.get_server(server_id, principal)
            if (data["os"] is None) == (data["application"] is None):
                raise Invalid({"os": ["The os field is required when application is not present."]})
            if data["os"] is not None and not any(v["id"] == data["os"] for i in self.os_images.values()
                                                  for v in i["versions"]):
                raise invalid("os", "The selected os is invalid.")
            if data["application"] is not None and data["application"] not in self.applications:
                raise invalid("application", "The selected application is invalid.")
            self._check_ssh_keys(data["ssh_keys"], server["user_id"])
            if server["is_suspended"]:
                raise invalid("server", "The server is suspended and cannot be reinstalled.")
            server.update(os_version_id=data["os"], application_id=data["application"], status="started")
            return self._new_task("vm-reinstall", server_id)

    def reset_password(self, server_id: int, principal: Any) -> dict[str, Any]:
        """``POST servers/{id}/reset_password``: a task (the real API mails the password; the mock drops it)."""
        with self.lock:
            self.get_server(server_id, principal)
            return self._new_task("vm-reset-password", server_id)

    def vnc_up(self, server_id: int, principal: Any) -> dict[str, Any]:
        """``POST servers/{id}/vnc_up``: a (fake) VNC address and one-time password."""
        with self.lock:
            server = self.get_server(server_id, principal)
            if server["status"] != "started":
                raise invalid("server", "The server is not running.")
            return {"url": f"wss://vnc.solusvm.mock/{server['uuid']}", "password": secrets.token_urlsafe(12)}

    def get_boot(self, server_id: int, principal: Any) -> dict[str, Any]:
        """``GET servers/{id}/boot``."""
        server = self.get_server(server_id, principal)
        return {"mode": server["boot_mode"], "iso_image_id": server.get("iso_image_id")}

    def set_boot(self, server_id: int, principal: Any, data: dict[str, Any]) -> dict[str, Any]:
        """``POST servers/{id}/boot``: ``iso`` needs an existing ``iso_image_id``; other modes clear it."""
        with self.lock:
            server = self.get_server(server_id, principal)
            iso = data.get("iso_image_id")
            if data["mode"] == "iso":
                if iso is None:
                    raise invalid("iso_image_id", "The iso image id field is required when mode is iso.")
                if iso not in self.iso_images:
                    raise invalid("iso_image_id", "The selected iso image id is invalid.")
            else:
                iso = None
            server.update(boot_mode=data["mode"], iso_image_id=iso)
            return self.get_boot(server_id, principal)

    def patch_server_settings(self, server_id: int, principal: Any, data: dict[str, Any]) -> dict[str, Any]:
        """``PATCH servers/{id}/settings``: hypervisor settings (stored, no other effect)."""
        with self.lock:
            server = self.get_server(server_id, principal)
            server["settings"] = {**server_settings(server), **data}
            return server

    def add_ips(self, server_id: int, principal: Any, count: int) -> dict[str, Any]:
        """``POST servers/{id}/ips``: more extra IPv4 addresses, billed from this instant."""
        with self.lock:
            server = self.get_server(server_id, principal)
            plan = self.plans[server["plan_id"]]
            if not plan.get("is_additional_ips_available", True):
                raise invalid("count", "The server's plan does not allow additional IPs.")
            self._check_limits(self.users[server["user_id"]], 0, 0, server["additional_ip_count"] + count)
            self._change(server, ips=server["additional_ip_count"] + count)
            return self._new_task("vm-add-additional-ips", server_id)

    def delete_ips(self, server_id: int, principal: Any, ids: list[int]) -> dict[str, Any]:
        """``DELETE servers/{id}/ips``: remove extra addresses by id; the primary cannot go."""
        with self.lock:
            server = self.get_server(server_id, principal)
            extra = {server_id * 8 + i for i in range(1, server["additional_ip_count"] + 1)}
            if server_id * 8 in ids:
                raise invalid("ids", "The primary IP address cannot be deleted.")
            unknown = [i for i in ids if i not in extra]
            if unknown:
                raise invalid("ids", f"The selected ids are invalid: {unknown}.")
            self._change(server, ips=server["additional_ip_count"] - len(set(ids)))
            return self._new_task("vm-delete-additional-ips", server_id)

    def disks(self, server_id: int, principal: Any) -> list[dict[str, Any]]:
        """``GET servers/{id}/disks``: the primary disk, sized by the plan."""
        server = self.get_server(server_id, principal)
        return [{"id": server_id, "name": "primary", "size": int(self.plans[server["plan_id"]]["params"]["disk"]),
                 "is_primary": True}]

    # --- backups and snapshots ----------------------------------------------------------

    def _progress(self, rec: dict[str, Any]) -> tuple[int, float]:
        # the same virtual-time stages as tasks (pending → in progress → created)
        stage = time_stage((self.clock.now() - rec["created_at"]).total_seconds())
        return stage, (0.0, 50.0, 100.0)[stage]

    def backup_view(self, backup: dict[str, Any]) -> dict[str, Any]:
        """A backup; ``status`` from virtual time (pending → in_progress → created)."""
        stage, progress = self._progress(backup)
        server = self.servers.get(backup["server_id"])
        creator = find(self.users, backup.get("creator_id"))
        node = find(self.readonly.get("backup_nodes", {}), backup.get("backup_node_id"))
        status = ("pending", "in_progress", "created")[stage]
        return {"id": backup["id"], "type": "full", "creation_method": backup.get("creation_method", "manual"),
                "status": status, "size": float(backup.get("size", 0.0)), "disk": backup["disk"],
                "backup_progress": progress, "backup_fail_reason": "",
                "compute_resource_vm": {"id": backup["server_id"], "name": server["name"] if server else "",
                                        "uuid": server["uuid"] if server else ""},
                "backup_node": {"id": node["id"], "name": node["name"]} if node else None,
                "creator": {"id": creator["id"], "email": creator["email"]} if creator else None,
                "created_at": backup["created_at"]}

    def create_backup(self, server_id: int, principal: Any) -> dict[str, Any]:
        """``POST servers/{id}/backups``: a manual full backup (billed, see ``usage``)."""
        with self.lock:
            server = self.get_server(server_id, principal)
            plan = self.plans[server["plan_id"]]
            if not plan.get("is_backup_available", False):
                raise invalid("server", "Backups are not available for the server's plan.")
            limit = plan["limits"]["backups_number"]
            live = [b for b in self.backups.values() if b["server_id"] == server_id and b["deleted_at"] is None]
            if limit["is_enabled"] and len(live) >= limit["limit"]:
                raise invalid("server", f"The server already has the maximum of {limit['limit']} backups.")
            creator = principal.user_id if not principal.is_admin else self.admin_user()["id"]
            bid = self._id("backups")
            self.backups[bid] = {"id": bid, "server_id": server_id, "disk": int(plan["params"]["disk"]),
                                 "size": float(plan["params"]["disk"]) / 4, "creator_id": creator,
                                 "backup_node_id": next(iter(self.readonly.get("backup_nodes", {})), None),
                                 "created_at": self.clock.now(), "deleted_at": None, "creation_method": "manual"}
            return self.backup_view(self.backups[bid])

    def _visible_server_ids(self, principal: Any) -> set[int] | None:
        return None if principal.is_admin else {
            s["id"] for s in self.servers.values() if s["user_id"] == principal.user_id}

    def get_backup(self, backup_id: int, principal: Any) -> dict[str, Any]:
        """A live backup visible to ``principal``, or 404."""
        rec = self.backups.get(backup_id)
        visible = self._visible_server_ids(principal)
        if rec is None or rec["deleted_at"] is not None or (visible is not None and rec["server_id"] not in visible):
            raise NotFound(f"No query results for model [Backup] {backup_id}")
        return rec

    def list_backups(self, server_id: int, principal: Any) -> list[dict[str, Any]]:
        """``GET servers/{id}/backups``, newest first as the panel shows them."""
        self.get_server(server_id, principal)
        recs = [b for b in self.backups.values() if b["server_id"] == server_id and b["deleted_at"] is None]
        return [self.backup_view(b) for b in reversed(recs)]

    def restore_backup(self, backup_id: int, principal: Any) -> dict[str, Any]:
        """``POST backups/{id}/restore``: only a created backup of a live server."""
        with self.lock:
            rec = self.get_backup(backup_id, principal)
            if self.backup_view(rec)["status"] != "created":
                raise invalid("backup", "The backup is not created yet.")
            server = self.get_server(rec["server_id"], principal)
            if server["is_suspended"]:
                raise invalid("server", "The server is suspended.")
            return self._new_task("vm-restore-backup", rec["server_id"])

    def delete_backup(self, backup_id: int, principal: Any) -> None:
        """``DELETE backups/{id}`` (204); billing stops counting it from now."""
        with self.lock:
            self.get_backup(backup_id, principal)["deleted_at"] = self.clock.now()

    def snapshot_view(self, snap: dict[str, Any]) -> dict[str, Any]:
        """A snapshot; ``processing`` until created on the virtual clock."""
        stage, _ = self._progress(snap)
        return {"id": snap["id"], "name": snap["name"], "size": float(snap.get("size", 0.0)),
                "status": "available" if stage == 2 else "processing", "created_at": snap["created_at"]}

    def create_snapshot(self, server_id: int, principal: Any, name: str) -> dict[str, Any]:
        """``POST servers/{id}/snapshots`` (201)."""
        with self.lock:
            server = self.get_server(server_id, principal)
            if not self.plans[server["plan_id"]].get("is_snapshots_enabled", False):
                raise invalid("server", "Snapshots are not enabled for the server's plan.")
            sid = self._id("snapshots")
            self.snapshots[sid] = {"id": sid, "server_id": server_id, "name": name, "size": 1.0,
                                   "created_at": self.clock.now(), "deleted_at": None}
            return self.snapshot_view(self.snapshots[sid])

    def get_snapshot(self, snapshot_id: int, principal: Any) -> dict[str, Any]:
        """A live snapshot visible to ``principal``, or 404."""
        rec = self.snapshots.get(snapshot_id)
        visible = self._visible_server_ids(principal)
        if rec is None or rec["deleted_at"] is not None or (visible is not None and rec["server_id"] not in visible):
            raise NotFound(f"No query results for model [Snapshot] {snapshot_id}")
        return rec

    def list_snapshots(self, server_id: int, principal: Any) -> list[dict[str, Any]]:
        """``GET servers/{id}/snapshots``."""
        self.get_server(server_id, principal)
        return [self.snapshot_view(s) for s in self.snapshots.values()
                if s["server_id"] == server_id and s["deleted_at"] is None]

    def revert_snapshot(self, snapshot_id: int, principal: Any) -> dict[str, Any]:
        """``POST snapshots/{id}/revert``: a task."""
        with self.lock:
            rec = self.get_snapshot(snapshot_id, principal)
            if self.snapshot_view(rec)["status"] != "available":
                raise invalid("snapshot", "The snapshot is still processing.")
            return self._new_task("vm-snapshot-revert", rec["server_id"])

    def delete_snapshot(self, snapshot_id: int, principal: Any) -> dict[str, Any]:
        """``DELETE snapshots/{id}``: a task (the SDK's asyncDelete)."""
        with self.lock:
            rec = self.get_snapshot(snapshot_id, principal)
            rec["deleted_at"] = self.clock.now()
            return self._new_task("vm-snapshot-delete", rec["server_id"])

    # --- SSH keys ---------------------------------------------------------------------

    def _check_ssh_keys(self, ids: list[int], owner_id: int) -> None:
        bad = [k for k in ids if k not in self.ssh_keys or self.ssh_keys[k]["user_id"] not in (owner_id, None)]
        if bad:
            raise invalid("ssh_keys", f"The selected ssh keys are invalid: {bad}.")

    def create_ssh_key(self, principal: Any, data: dict[str, Any]) -> dict[str, Any]:
        """``POST ssh_keys``: an admin names the owner (``user_id``), a user token owns it."""
        with self.lock:
            if principal.is_admin:
                owner = data["user_id"] if data["user_id"] is not None else self.admin_user()["id"]
                if owner not in self.users:
                    raise invalid("user_id", "The selected user id is invalid.")
            else:
                if data["user_id"] not in (None, principal.user_id):
                    raise Forbidden("A user token can only create keys for itself.")
                owner = principal.user_id
            if not data["body"].startswith(("ssh-", "ecdsa-", "sk-")):
                raise invalid("body", "The body must be an OpenSSH public key.")
            kid = self._id("ssh_keys")
            self.ssh_keys[kid] = {"id": kid, "name": data["name"], "body": data["body"].strip(), "user_id": owner}
            return self.ssh_keys[kid]

    def visible_ssh_keys(self, principal: Any) -> list[dict[str, Any]]:
        """All keys for an admin; a user's own keys otherwise."""
        return [k for k in self.ssh_keys.values() if principal.is_admin or k["user_id"] == principal.user_id]

    def get_ssh_key(self, key_id: int, principal: Any) -> dict[str, Any]:
        """A key visible to ``principal``, or 404."""
        rec = self.ssh_keys.get(key_id)
        if rec is None or not (principal.is_admin or rec["user_id"] == principal.user_id):
            raise NotFound(f"No query results for model [SshKey] {key_id}")
        return rec

    def delete_ssh_key(self, key_id: int, principal: Any) -> None:
        """``DELETE ssh_keys/{id}`` (204)."""
        with self.lock:
            self.get_ssh_key(key_id, principal)
            del self.ssh_keys[key_id]

    # --- admin CRUD of the catalogue ----------------------------------------------------

    def _in_use(self, field: str, value: int, what: str) -> None:
        n = sum(1 for s in self.servers.values() if s["deleted_at"] is None and s.get(field) == value)
        if n:
            raise invalid(what, f"The {what} is used by {n} server(s); it cannot be deleted.")

    def create_role(self, data: dict[str, Any]) -> dict[str, Any]:
        """``POST roles``."""
        with self.lock:
            if any(r["name"].lower() == data["name"].lower() for r in self.roles.values()):
                raise invalid("name", "The name has already been taken.")
            rid = self._id("roles")
            self.roles[rid] = {"id": rid, "name": data["name"], "is_default": data["is_default"]}
            return self.roles[rid]

    def delete_plan(self, plan_id: int) -> None:
        """``DELETE plans/{id}`` (204); refused while live servers use it (usage still needs its prices)."""
        with self.lock:
            if plan_id not in self.plans:
                raise NotFound(f"No query results for model [Plan] {plan_id}")
            self._in_use("plan_id", plan_id, "plan")
            if any(h["plan_id"] == plan_id for s in self.servers.values() for h in s.get("history", [])) or any(
                    s["plan_id"] == plan_id for s in self.servers.values()):
                raise invalid("plan", "The plan has usage history; it cannot be deleted.")
            del self.plans[plan_id]

    def delete_location(self, location_id: int) -> None:
        """``DELETE locations/{id}`` (204); refused while live servers are there."""
        with self.lock:
            if location_id not in self.locations:
                raise NotFound(f"No query results for model [Location] {location_id}")
            self._in_use("location_id", location_id, "location")
            del self.locations[location_id]

    def find_os_version(self, version_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(image, version)`` of an OS image version id, or 404."""
        for img in self.os_images.values():
            for v in img["versions"]:
                if v["id"] == version_id:
                    return img, v
        raise NotFound(f"No query results for model [OsImageVersion] {version_id}")

    def delete_project(self, project_id: int) -> None:
        """``DELETE projects/{id}`` (204); refused while it holds live servers or is a default project."""
        with self.lock:
            proj = self.projects.get(project_id)
            if proj is None:
                raise NotFound(f"No query results for model [Project] {project_id}")
            self._in_use("project_id", project_id, "project")
            if proj["is_default"]:
                raise invalid("project", "A default project cannot be deleted.")
            del self.projects[project_id]

    # --- tasks list -------------------------------------------------------------------

    def list_tasks(self, action: str | None, status: str | None) -> list[dict[str, Any]]:
        """Tasks, newest first, filtered by action and (computed) status; listing is not a poll."""
        views = [self.task_view(t, poll=False) for t in reversed(list(self.tasks.values()))]
        return [v for v in views if (not action or v["action"] == action) and (not status or v["status"] == status)]


def server_settings(server: dict[str, Any]) -> dict[str, Any]:
    """A server's hypervisor settings with the defaults a fresh KVM server has."""
    return {"disk_cache_mode": "none", "disk_driver": "virtio", "firmware": "bios", **(server.get("settings") or {})}


def history_segments(server: dict[str, Any]) -> list[tuple[datetime, datetime | None, int, int]]:
    """``(from, to, plan_id, ips)`` of a server's life; ``to`` is the next change, deletion or None."""
    hist = server.get("history") or [{"from": server["created_at"], "plan_id": server["plan_id"],
                                      "ips": server["additional_ip_count"]}]
    out = []
    for i, h in enumerate(hist):
        to = hist[i + 1]["from"] if i + 1 < len(hist) else server["deleted_at"]
        out.append((h["from"], to, h["plan_id"], h["ips"]))
    return out
