"""The endpoints billing modules and the Go SDK call beyond the billing core: happy path, 404/422,
effect on state and on ``/usage``. Every test runs in-process and against the live server."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import seed_doc
from .test_client_compat import BOOL, FLOAT, INT, STR, go_decodes

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMockKeyMockKeyMockKeyMockKeyMockKeyMockKey ann@laptop"
GO_TASK = {"id": INT, "compute_resource_id": INT, "queue": STR, "action": STR, "status": STR, "output": STR,
           "progress": INT, "duration": INT}
GO_BACKUP = {"id": INT, "type": STR, "creation_method": STR, "status": STR, "size": FLOAT, "disk": INT,
             "backup_progress": FLOAT, "backup_fail_reason": STR, "created_at": STR,
             "compute_resource_vm": {"id": INT, "name": STR, "uuid": STR}, "backup_node": {"id": INT, "name": STR},
             "creator": {"id": INT, "email": STR}}


def server(mock, **over: Any) -> dict[str, Any]:
    r = mock.post("/servers", json={"name": "web", "plan": 1, "user": 1, **over})
    assert r.status_code == 201, r.text
    return r.json()["data"]


def usage(mock, **params: str) -> list[dict[str, Any]]:
    r = mock.get("/usage", params={"date_from": "2026-10-01", "date_to": "2026-10-31", **params})
    assert r.status_code == 200, r.text
    return r.json()["data"]


def advance(mock, **delta: float) -> None:
    mock.ctl.clock.advance(**delta)


def backup_plans_doc() -> dict[str, Any]:
    doc = seed_doc()
    doc["plans"][0].update(is_backup_available=True, is_snapshots_enabled=True, backup_price=10,
                           limits={"backups_number": {"is_enabled": True, "limit": 2}})
    return doc


# --- SSH keys -------------------------------------------------------------------------------


def test_ssh_keys_lifecycle(mock):
    r = mock.post("/ssh_keys", json={"name": "laptop", "body": KEY, "user_id": 1})
    assert r.status_code == 201, r.text
    key = r.json()["data"]
    assert go_decodes(key, {"id": INT, "name": STR, "body": STR}) == [] and key["user_id"] == 1
    assert [k["id"] for k in mock.get("/ssh_keys").json()["data"]] == [key["id"]]
    assert mock.get("/ssh_keys", params={"filter[search]": "lap"}).json()["meta"]["total"] == 1
    assert mock.get("/ssh_keys", params={"filter[search]": "zzz"}).json()["meta"]["total"] == 0
    # a user token sees only its own keys
    bob = mock.as_token(mock.user_token(2))
    assert bob.get(mock.url("/ssh_keys")).json()["meta"]["total"] == 0
    assert bob.get(mock.url(f"/ssh_keys/{key['id']}")).status_code == 404
    # installed on create
    s = server(mock, ssh_keys=[key["id"]])
    assert s["id"]
    assert mock.post("/servers", json={"name": "b", "plan": 1, "user": 2, "ssh_keys": [key["id"]]}).status_code == 422
    assert mock.delete(f"/ssh_keys/{key['id']}").status_code == 204
    assert mock.get(f"/ssh_keys/{key['id']}").status_code == 404
    assert mock.delete(f"/ssh_keys/{key['id']}").status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"body": KEY}, "name"), ({"name": "x"}, "body"), ({"name": "x", "body": "not a key"}, "body"),
    ({"name": "x", "body": KEY, "user_id": 99}, "user_id"), ({"name": "x", "body": KEY, "user_id": "1"}, "user_id"),
])
def test_ssh_key_validation(mock, body, field):
    r = mock.post("/ssh_keys", json=body)
    assert r.status_code == 422 and field in r.json()["errors"], r.text
    assert mock.get("/ssh_keys").json()["meta"]["total"] == 0


def test_applications_and_iso_images(mock):
    apps = mock.get("/applications").json()["data"]
    assert apps[0]["name"] == "WordPress" and mock.get(f"/applications/{apps[0]['id']}").status_code == 200
    isos = mock.get("/iso_images").json()["data"]
    assert isos and mock.get(f"/iso_images/{isos[0]['id']}").status_code == 200
    assert mock.get("/applications/99").status_code == 404 and mock.get("/iso_images/99").status_code == 404
    mock.ctl.seed(seed_doc(applications=[{"id": 7, "name": "Docker"}], iso_images=[]))
    assert [a["id"] for a in mock.get("/applications").json()["data"]] == [7]
    assert mock.get("/iso_images").json()["meta"]["total"] == 0


# --- server actions ---------------------------------------------------------------------------


def test_resize_switches_plans_in_usage_at_that_instant(mock):
    s = server(mock)
    advance(mock, hours=10)
    r = mock.post(f"/servers/{s['id']}/resize", json={"plan_id": 2, "preserve_disk": True})
    assert r.status_code == 200, r.text
    assert go_decodes(r.json()["data"], GO_TASK) == [] and r.json()["data"]["action"] == "vm-resize"
    assert mock.get(f"/servers/{s['id']}").json()["data"]["plan"]["id"] == 2
    advance(mock, hours=5)
    items = usage(mock)
    got = [(i["plan"]["id"], i["hours"], i["tokens"]) for i in items]
    assert got == [(1, 10, 70), (2, 5, 15)]


@pytest.mark.parametrize("body, status, field", [
    ({"plan_id": 99}, 422, "plan_id"), ({}, 422, "plan_id"), ({"plan_id": "2"}, 422, "plan_id"),
])
def test_resize_validation(mock, body, status, field):
    s = server(mock)
    r = mock.post(f"/servers/{s['id']}/resize", json=body)
    assert r.status_code == status and field in r.json()["errors"]
    assert mock.get(f"/servers/{s['id']}").json()["data"]["plan"]["id"] == 1
    assert mock.post("/servers/999/resize", json={"plan_id": 2}).status_code == 404


def test_reinstall_reset_password_vnc(mock):
    s = server(mock)
    sid = s["id"]
    assert mock.post(f"/servers/{sid}/reinstall", json={"os": 1}).json()["data"]["action"] == "vm-reinstall"
    assert mock.post(f"/servers/{sid}/reinstall", json={"application": 1, "application_data": {}}).status_code == 200
    for bad, field in (({}, "os"), ({"os": 9}, "os"), ({"application": 9}, "application")):
        r = mock.post(f"/servers/{sid}/reinstall", json=bad)
        assert r.status_code == 422 and field in r.json()["errors"], bad
    assert mock.post(f"/servers/{sid}/reset_password").json()["data"]["action"] == "vm-reset-password"
    vnc = mock.post(f"/servers/{sid}/vnc_up").json()["data"]
    assert s["uuid"] in vnc["url"] and vnc["password"]
    mock.post(f"/servers/{sid}/stop")
    assert mock.post(f"/servers/{sid}/vnc_up").status_code == 422
    for path in ("reinstall", "reset_password", "vnc_up"):
        assert mock.post(f"/servers/999/{path}", json={"os": 1}).status_code == 404


def test_boot_mode_get_and_set(mock):
    sid = server(mock)["id"]
    assert mock.get(f"/servers/{sid}/boot").json()["data"] == {"mode": "disk", "iso_image_id": None}
    r = mock.post(f"/servers/{sid}/boot", json={"mode": "iso", "iso_image_id": 1})
    assert r.status_code == 200 and r.json()["data"] == {"mode": "iso", "iso_image_id": 1}
    assert mock.get(f"/servers/{sid}").json()["data"]["boot_mode"] == "iso"
    for bad, field in (({"mode": "iso"}, "iso_image_id"), ({"mode": "iso", "iso_image_id": 9}, "iso_image_id"),
                       ({"mode": "floppy"}, "mode")):
        r = mock.post(f"/servers/{sid}/boot", json=bad)
        assert r.status_code == 422 and field in r.json()["errors"], bad
    mock.post(f"/servers/{sid}/boot", json={"mode": "rescue", "iso_image_id": 1})
    assert mock.get(f"/servers/{sid}/boot").json()["data"] == {"mode": "rescue", "iso_image_id": None}


def test_server_settings_and_hostname(mock):
    sid = server(mock)["id"]
    r = mock.patch(f"/servers/{sid}/settings", json={"firmware": "efi"})
    assert r.status_code == 200 and r.json()["data"]["settings"]["firmware"] == "efi"
    assert mock.patch(f"/servers/{sid}/settings", json={"firmware": "coreboot"}).status_code == 422
    # VPS changes the hostname with PATCH servers/{id} {name, fqdns}
    r = mock.patch(f"/servers/{sid}", json={"name": "host.example.com", "fqdns": ["host.example.com"]})
    assert r.json()["data"]["fqdns"] == ["host.example.com"]
    assert mock.patch("/servers/999/settings", json={}).status_code == 404


def test_additional_ips_bill_from_when_they_exist(mock):
    s = server(mock)
    advance(mock, hours=10)
    r = mock.post(f"/servers/{s['id']}/ips", json={"count": 2})
    assert r.status_code == 200 and r.json()["data"]["action"] == "vm-add-additional-ips"
    ipv4 = mock.get(f"/servers/{s['id']}").json()["data"]["ip_addresses"]["ipv4"]
    assert len(ipv4) == 3
    advance(mock, hours=5)
    [item] = usage(mock)
    assert item["hours"] == 15 and item["additional_ips"] == {"count": 2, "hours": 5, "tokens": 10}
    assert item["total_tokens"] == 15 * 7 + 10
    # remove one by id; the primary cannot go; unknown ids are refused
    assert mock.delete(f"/servers/{s['id']}/ips", json={"ids": [ipv4[0]["id"]]}).status_code == 422
    assert mock.delete(f"/servers/{s['id']}/ips", json={"ids": [424242]}).status_code == 422
    assert mock.delete(f"/servers/{s['id']}/ips", json={"ids": [ipv4[2]["id"]]}).status_code == 200
    assert mock.get(f"/servers/{s['id']}").json()["data"]["additional_ip_count"] == 1
    # the limit group caps extra IPs at 2
    assert mock.post(f"/servers/{s['id']}/ips", json={"count": 2}).status_code == 422
    assert mock.post(f"/servers/{s['id']}/ips", json={"count": 0}).status_code == 422


def test_disks(mock):
    sid = server(mock)["id"]
    disks = mock.get(f"/servers/{sid}/disks").json()["data"]
    assert disks == [{"id": sid, "name": "primary", "size": 10, "is_primary": True}]
    assert mock.get("/servers/999/disks").status_code == 404


# --- backups and snapshots ------------------------------------------------------------------


def test_backups_lifecycle_and_billing(mock):
    mock.ctl.seed(backup_plans_doc())
    s = server(mock)
    advance(mock, hours=10)
    assert usage(mock)[0]["backups"] == {"tokens": 0}  # no backup yet: nothing billed
    r = mock.post(f"/servers/{s['id']}/backups", json={"id": s["id"]})
    assert r.status_code == 201, r.text
    backup = r.json()["data"]
    assert go_decodes(backup, GO_BACKUP) == [] and backup["status"] == "pending"
    assert mock.post(f"/backups/{backup['id']}/restore").status_code == 422  # not created yet
    advance(mock, hours=10)
    assert mock.get(f"/backups/{backup['id']}").json()["data"]["status"] == "created"
    assert [b["id"] for b in mock.get(f"/servers/{s['id']}/backups").json()["data"]] == [backup["id"]]
    [item] = usage(mock)
    assert item["tokens"] == 140 and item["backups"] == {"tokens": 14}  # backup_price 10 % of 140
    assert item["total_tokens"] == 154
    r = mock.post(f"/backups/{backup['id']}/restore")
    assert r.status_code == 200 and r.json()["data"]["action"] == "vm-restore-backup"
    # the plan allows two backups
    mock.post(f"/servers/{s['id']}/backups")
    assert mock.post(f"/servers/{s['id']}/backups").status_code == 422
    assert mock.delete(f"/backups/{backup['id']}").status_code == 204
    assert mock.get(f"/backups/{backup['id']}").status_code == 404


def test_backups_refused_without_the_plan_allowing_them(mock):
    sid = server(mock)["id"]
    r = mock.post(f"/servers/{sid}/backups")
    assert r.status_code == 422 and "server" in r.json()["errors"]
    assert mock.get(f"/servers/{sid}/backups").json()["meta"]["total"] == 0
    assert mock.post(f"/servers/{sid}/snapshots", json={"name": "s"}).status_code == 422
    assert mock.get("/backups/999").status_code == 404 and mock.post("/backups/999/restore").status_code == 404


def test_snapshots_lifecycle(mock):
    mock.ctl.seed(backup_plans_doc())
    sid = server(mock)["id"]
    r = mock.post(f"/servers/{sid}/snapshots", json={"name": "before-upgrade"})
    assert r.status_code == 201 and r.json()["data"]["status"] == "processing"
    snap = r.json()["data"]
    assert mock.post(f"/servers/{sid}/snapshots", json={}).status_code == 422
    assert mock.post(f"/snapshots/{snap['id']}/revert").status_code == 422
    advance(mock, seconds=10)
    assert mock.get(f"/snapshots/{snap['id']}").json()["data"]["status"] == "available"
    assert mock.get(f"/servers/{sid}/snapshots").json()["meta"]["total"] == 1
    assert mock.post(f"/snapshots/{snap['id']}/revert").json()["data"]["action"] == "vm-snapshot-revert"
    assert mock.delete(f"/snapshots/{snap['id']}").json()["data"]["action"] == "vm-snapshot-delete"
    assert mock.get(f"/snapshots/{snap['id']}").status_code == 404


# --- tasks, projects/{id}/servers -----------------------------------------------------------


def test_tasks_list_filtered(mock):
    sid = server(mock)["id"]
    mock.post(f"/servers/{sid}/stop")
    mock.post(f"/servers/{sid}/start")
    tasks = mock.get("/tasks").json()["data"]
    assert [t["action"] for t in tasks] == ["vm-start", "vm-stop"]
    assert all(go_decodes(t, GO_TASK) == [] for t in tasks)
    assert mock.get("/tasks", params={"filter[action]": "vm-stop"}).json()["meta"]["total"] == 1
    assert mock.get("/tasks", params={"filter[status]": "pending"}).json()["meta"]["total"] == 2
    assert mock.get("/tasks", params={"filter[status]": "bogus"}).status_code == 422
    assert mock.as_token(mock.user_token(1)).get(mock.url("/tasks")).status_code == 403


def test_project_servers(mock):
    s = server(mock)
    pid = s["project"]["id"]
    assert [x["id"] for x in mock.get(f"/projects/{pid}/servers").json()["data"]] == [s["id"]]
    r = mock.post(f"/projects/{pid}/servers", json={"name": "second", "plan": 1, "project": pid})
    assert r.status_code == 201 and r.json()["data"]["user"]["id"] == 1
    assert mock.get(f"/projects/{pid}/servers").json()["meta"]["total"] == 2
    assert mock.get("/projects/999/servers").status_code == 404
    assert mock.post(f"/projects/{pid}/servers", json={"plan": 1}).status_code == 422
    # another user's token cannot see the project
    assert mock.as_token(mock.user_token(2)).get(mock.url(f"/projects/{pid}/servers")).status_code == 404


# --- admin CRUD -------------------------------------------------------------------------------


def test_roles_create(mock):
    r = mock.post("/roles", json={"name": "RESELLER"})
    assert r.status_code == 201 and r.json()["data"]["name"] == "RESELLER"
    assert mock.post("/roles", json={"name": "reseller"}).status_code == 422
    assert mock.post("/roles", json={}).status_code == 422
    assert mock.as_token(mock.user_token(1)).post(mock.url("/roles"), json={"name": "X"}).status_code == 403


def test_plans_create_update_delete(mock):
    body = {"name": "Big", "tokens_per_hour": 20, "tokens_per_month": 10000, "params": {"disk": 80},
            "limits": {"network_total_traffic": {"is_enabled": True, "limit": 5, "unit": "TiB"}}}
    r = mock.post("/plans", json=body)
    assert r.status_code == 201, r.text
    plan = r.json()["data"]
    assert plan["params"]["disk"] == 80 and plan["limits"]["network_total_traffic"]["limit"] == 5
    r = mock.put(f"/plans/{plan['id']}", json={"tokens_per_hour": 25, "limits": {"network_total_traffic": {"limit": 6}}})
    assert r.status_code == 200, r.text
    plan = r.json()["data"]
    assert plan["tokens_per_hour"] == 25 and plan["limits"]["network_total_traffic"] == {
        "is_enabled": True, "limit": 6, "unit": "TiB"}
    assert mock.put(f"/plans/{plan['id']}", json={"tokens_per_hour": -1}).status_code == 422
    assert mock.put(f"/plans/{plan['id']}", json={"limits": {"disk_iops": {"unit": "GiB"}}}).status_code == 422
    assert mock.post("/plans", json={"name": "x", "backup_price": "abc"}).status_code == 422
    # a plan a server used stays (usage needs its prices); an unused one goes
    server(mock, plan=plan["id"])
    assert mock.delete(f"/plans/{plan['id']}").status_code == 422
    assert mock.delete("/plans/3").status_code == 204
    assert mock.get("/plans/3").status_code == 404 and mock.delete("/plans/3").status_code == 404


def test_locations_crud(mock):
    r = mock.post("/locations", json={"name": "Frankfurt", "description": "DE"})
    assert r.status_code == 201
    lid = r.json()["data"]["id"]
    assert mock.put(f"/locations/{lid}", json={"name": "Berlin"}).json()["data"]["name"] == "Berlin"
    assert mock.patch(f"/locations/{lid}", json={"is_visible": False}).json()["data"]["is_visible"] is False
    assert mock.patch(f"/locations/{lid}", json={"name": ""}).status_code == 422
    server(mock, location=lid)
    assert mock.delete(f"/locations/{lid}").status_code == 422
    lid2 = mock.post("/locations", json={"name": "Paris"}).json()["data"]["id"]
    assert mock.delete(f"/locations/{lid2}").status_code == 204 and mock.get(f"/locations/{lid2}").status_code == 404


def test_os_images_and_versions_crud(mock):
    iid = mock.post("/os_images", json={"name": "Ubuntu"}).json()["data"]["id"]
    assert mock.put(f"/os_images/{iid}", json={"name": "Ubuntu LTS"}).json()["data"]["name"] == "Ubuntu LTS"
    r = mock.post(f"/os_images/{iid}/versions", json={"version": "24.04"})
    assert r.status_code == 201
    vid = r.json()["data"]["id"]
    assert [v["version"] for v in mock.get(f"/os_images/{iid}/versions").json()["data"]] == ["24.04"]
    assert mock.put(f"/os_image_versions/{vid}", json={"version": "24.04.1"}).json()["data"]["version"] == "24.04.1"
    assert mock.get(f"/os_image_versions/{vid}").json()["data"]["version"] == "24.04.1"
    assert mock.post(f"/os_images/{iid}/versions", json={}).status_code == 422
    # a version a live server was installed from stays
    sid = server(mock)["id"]
    mock.post(f"/servers/{sid}/reinstall", json={"os": vid})
    assert mock.delete(f"/os_image_versions/{vid}").status_code == 422
    assert mock.delete(f"/os_images/{iid}").status_code == 422
    mock.delete(f"/servers/{sid}")
    assert mock.delete(f"/os_image_versions/{vid}").status_code == 204
    assert mock.get(f"/os_image_versions/{vid}").status_code == 404
    assert mock.delete(f"/os_images/{iid}").status_code == 204 and mock.get(f"/os_images/{iid}").status_code == 404


def test_projects_crud(mock):
    r = mock.post("/projects", json={"name": "Team", "owner_id": 1})
    assert r.status_code == 201 and r.json()["data"]["owner"]["id"] == 1
    pid = r.json()["data"]["id"]
    assert mock.put(f"/projects/{pid}", json={"description": "ours"}).json()["data"]["description"] == "ours"
    assert mock.post("/projects", json={"name": "x", "owner_id": 99}).status_code == 422
    server(mock, project=pid)
    assert mock.delete(f"/projects/{pid}").status_code == 422
    # a user creates its own; another user cannot touch it
    ann = mock.as_token(mock.user_token(1))
    own = ann.post(mock.url("/projects"), json={"name": "Mine"}).json()["data"]
    bob = mock.as_token(mock.user_token(2))
    assert bob.delete(mock.url(f"/projects/{own['id']}")).status_code == 404
    assert ann.delete(mock.url(f"/projects/{own['id']}")).status_code == 204


# --- read-only collections of the Go SDK ------------------------------------------------------


@pytest.mark.parametrize("name", ["activity_logs", "backup_nodes", "compute_resources", "ip_blocks", "icons",
                                  "permissions", "storages", "storage_types", "servers_migrations"])
def test_read_only_collections(mock, name):
    r = mock.get(f"/{name}")
    assert r.status_code == 200, r.text
    for rec in r.json()["data"]:
        assert go_decodes(rec, {"id": INT}) == []
        assert mock.get(f"/{name}/{rec['id']}").status_code == 200
    assert mock.get(f"/{name}/999").status_code == 404
    assert mock.as_token(mock.user_token(1)).get(mock.url(f"/{name}")).status_code == 403


def test_read_only_collections_are_seedable(mock):
    mock.ctl.seed(seed_doc(ip_blocks=[{"id": 5, "name": "Public v4", "range": "192.0.2.0/24"}],
                           activity_logs=[{"event": "server_created", "created_at": "2026-10-01T00:00:00Z"}]))
    assert mock.get("/ip_blocks/5").json()["data"]["range"] == "192.0.2.0/24"
    assert mock.get("/activity_logs").json()["data"][0]["event"] == "server_created"
    lic = mock.get("/license").json()["data"]
    assert go_decodes(lic, {"cpu_cores": INT, "is_active": BOOL, "key": STR}) == []


# --- faults, journal and namespaces reach the new endpoints -----------------------------------


def test_new_endpoints_honour_faults_journal_and_namespaces(mock):
    sid = server(mock)["id"]
    mock.ctl.faults.add(method="POST", path="/api/v1/servers/*/resize", status=503, times=1)
    assert mock.post(f"/servers/{sid}/resize", json={"plan_id": 2}).status_code == 503
    assert mock.get(f"/servers/{sid}").json()["data"]["plan"]["id"] == 1  # the faulted call changed nothing
    assert mock.post(f"/servers/{sid}/resize", json={"plan_id": 2}).status_code == 200
    assert mock.ctl.journal.count(method="POST", path="/api/v1/servers/*/resize") == 2
    mock.post("/ssh_keys", json={"name": "k", "body": KEY, "user_id": 1})
    other = mock.as_token("admin-token")
    other.headers["X-Mock-Namespace"] = mock.namespace + "-other"
    if mock.mode == "live":  # the in-process handle serves its own namespace only
        assert other.get(mock.url("/ssh_keys")).json()["meta"]["total"] == 0


def test_state_dump_and_restore_keep_the_new_records(mock):
    mock.ctl.seed(backup_plans_doc())
    sid = server(mock)["id"]
    assert mock.post(f"/servers/{sid}/backups").status_code == 201
    advance(mock, hours=3)
    mock.post(f"/servers/{sid}/resize", json={"plan_id": 2})
    mock.post("/ssh_keys", json={"name": "k", "body": KEY, "user_id": 1})
    advance(mock, hours=2)
    before = usage(mock)
    assert [i["plan"]["id"] for i in before] == [1, 2] and before[0]["backups"]["tokens"] == 2  # 10 % of 21
    dump = mock.ctl.state()
    mock.ctl.reset()
    mock.ctl.restore(dump)
    assert usage(mock) == before
    assert mock.get("/ssh_keys").json()["meta"]["total"] == 1
    assert mock.get(f"/servers/{sid}/backups").json()["meta"]["total"] == 1


def test_read_only_filters_of_the_sdk(mock):
    mock.ctl.seed(seed_doc(
        icons=[{"id": 1, "name": "debian", "type": "os"}, {"id": 2, "name": "wordpress", "type": "application"}],
        activity_logs=[{"id": 1, "event": "server_created", "user_id": 1, "created_at": "2026-10-01T00:00:00Z"},
                       {"id": 2, "event": "backups_deleted", "user_id": 2, "created_at": "2026-10-01T00:00:00Z"}]))
    assert [i["id"] for i in mock.get("/icons", params={"filter[type]": "application"}).json()["data"]] == [2]
    assert [i["id"] for i in mock.get("/activity_logs", params={"filter[user_id]": "2"}).json()["data"]] == [2]
    assert [i["id"] for i in mock.get("/activity_logs", params={"filter[event]": "server_created"}).json()["data"]] == [1]


def test_license_activate(mock):
    r = mock.post("/license/activate", json={"activation_code": "A1B2-C3D4"})
    assert r.status_code == 200 and r.json()["data"]["key"] == "A1B2-C3D4" and r.json()["data"]["is_active"] is True
    assert mock.get("/license").json()["data"]["key"] == "A1B2-C3D4"
    r = mock.post("/license/activate", json={})
    assert r.status_code == 422 and "activation_code" in r.json()["errors"]


def test_applications_create(mock):
    r = mock.post("/applications", json={"name": "Nextcloud", "url": "https://nextcloud.com", "icon_id": 1})
    assert r.status_code == 201 and r.json()["data"]["name"] == "Nextcloud"
    aid = r.json()["data"]["id"]
    assert mock.get(f"/applications/{aid}").status_code == 200
    sid = server(mock)["id"]
    assert mock.post(f"/servers/{sid}/reinstall", json={"application": aid}).status_code == 200
    assert mock.post("/applications", json={"url": "x"}).status_code == 422
    assert mock.as_token(mock.user_token(1)).post(mock.url("/applications"), json={"name": "x"}).status_code == 403
