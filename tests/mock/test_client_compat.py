"""What three clients written for the real SolusVM 2 send and expect, replayed as plain requests.

The clients are the vendor's Go SDK, the vendor's WHMCS module and a third-party Blesta module;
docs/mock.md says which of their calls each test stands for. Nothing here runs those clients:
each test sends the request they send and checks the answer the way they read it (for the Go
SDK: whether ``encoding/json`` could decode the body into the SDK's field types).
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import seed_doc

# --- a tiny model of Go's encoding/json: does a JSON value decode into a Go field type? --------

INT, STR, BOOL, FLOAT = "int", "string", "bool", "float64"


def go_decodes(value: Any, go_type: Any, where: str = "data") -> list[str]:
    """Problems Go's ``json.Unmarshal`` would report decoding ``value`` into ``go_type``.

    ``go_type`` is a scalar name, a dict (a struct: missing keys are fine, Go leaves the zero
    value), or a one-element list (a slice). ``null`` decodes into anything.
    """
    if value is None:
        return []
    if isinstance(go_type, dict):
        if not isinstance(value, dict):
            return [f"{where}: cannot unmarshal {type(value).__name__} into a struct"]
        out: list[str] = []
        for key, sub in go_type.items():
            if key in value:
                out += go_decodes(value[key], sub, f"{where}.{key}")
        return out
    if isinstance(go_type, list):
        if not isinstance(value, list):
            return [f"{where}: cannot unmarshal {type(value).__name__} into a slice"]
        return [p for i, v in enumerate(value) for p in go_decodes(v, go_type[0], f"{where}.{i}")]
    ok = {INT: lambda v: isinstance(v, int) and not isinstance(v, bool),
          FLOAT: lambda v: isinstance(v, int | float) and not isinstance(v, bool),
          STR: lambda v: isinstance(v, str), BOOL: lambda v: isinstance(v, bool)}[go_type](value)
    return [] if ok else [f"{where}: cannot unmarshal {value!r} into Go value of type {go_type}"]


LIMIT = {"limit": INT, "is_enabled": BOOL}
GO_LIMIT_GROUP = {"id": INT, "name": STR, "vms": LIMIT, "running_vms": LIMIT, "additional_ips": LIMIT}
GO_SETTINGS = {  # settings.go: Settings (the fields the mock sends)
    "limit_group": GO_LIMIT_GROUP,
    "registration": {"role": STR},
    "billing_integration": {"type": STR, "drivers": {"whmcs": {"url": STR, "token": STR}}},
    "features": {k: BOOL for k in ("hide_plan_name", "hide_user_data", "hide_plan_section", "hide_location_section",
                                   "allow_registration", "allow_password_recovery", "hide_api_documentation_link")},
}
PLAN_LIMIT = {"is_enabled": BOOL, "limit": INT, "unit": STR}
GO_PLAN = {  # plans.go: Plan
    "id": INT, "name": STR, "virtualization_type": STR, "storage_type": STR, "image_format": STR,
    "is_default": BOOL, "is_visible": BOOL, "backup_price": FLOAT, "tokens_per_hour": INT, "tokens_per_month": INT,
    "ip_tokens_per_hour": INT, "ip_tokens_per_month": INT,
    "params": {"disk": INT, "ram": INT, "vcpu": INT},
    "limits": {k: PLAN_LIMIT for k in ("disk_bandwidth", "disk_iops", "network_incoming_bandwidth",
                                       "network_outgoing_bandwidth", "network_incoming_traffic",
                                       "network_outgoing_traffic", "network_total_traffic",
                                       "network_reduce_bandwidth", "backups_number")},
}


# --- 1. settings decode into the Go SDK's Settings ----------------------------------------------


def test_settings_decode_into_the_sdk_types(mock):
    data = mock.get("/settings").json()["data"]
    assert go_decodes(data, GO_SETTINGS) == []
    assert data["limit_group"]["id"] == 1 and data["limit_group"]["vms"] == {"limit": 5, "is_enabled": True}
    assert data["registration"]["role"] == "CLIENT"


def test_settings_patch_takes_the_sdk_shapes(mock):
    # SettingsUpdateRequest sends the limit group as an object and the role by name
    group = mock.get("/limit_groups/1").json()["data"]
    r = mock.patch("/settings", json={"limit_group": group, "registration": {"role": "ADMIN"}})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert go_decodes(data, GO_SETTINGS) == []
    assert data["registration"]["role"] == "ADMIN" and data["limit_group"]["id"] == 1
    assert mock.get("/settings").json()["data"]["registration"]["role"] == "ADMIN"
    r = mock.patch("/settings", json={"registration": {"role": "NOBODY"}})
    assert r.status_code == 422 and "registration.role" in r.json()["errors"]
    r = mock.patch("/settings", json={"limit_group": {"id": 77}})
    assert r.status_code == 422 and "limit_group" in r.json()["errors"]


def test_seeded_settings_take_the_role_by_name(mock):
    mock.ctl.seed(seed_doc(settings={"registration": {"role": "ADMIN"}, "limit_group": None}))
    data = mock.get("/settings").json()["data"]
    assert data["registration"]["role"] == "ADMIN" and data["limit_group"] is None


# --- 2. an admin-created server without `user` belongs to the token's admin user ---------------


def test_admin_creates_a_server_without_user(mock):
    # VirtualServerCreateRequest (Go SDK) has no user field; `project` is always sent
    r = mock.post("/servers", json={"name": "sdk-vm", "plan": 1, "location": 1, "os": 1, "project": None})
    assert r.status_code == 201, r.text
    owner = r.json()["data"]["user"]
    me = mock.get("/account").json()["data"]
    assert me["id"] == owner["id"] and me["id"] != 0
    assert [role["name"] for role in me["roles"]] == ["ADMIN"]
    # a real, stored user: the admin token's owner shows up like any other
    assert mock.get(f"/users/{me['id']}").json()["data"]["email"] == me["email"]
    assert mock.get("/servers", params={"filter[user_id]": me["id"]}).json()["meta"]["total"] == 1


def test_a_seeded_admin_user_owns_the_admin_token(mock):
    users = seed_doc()["users"] + [{"id": 9, "email": "root@example.com", "roles": [1]}]
    mock.ctl.seed(seed_doc(users=users))
    assert mock.get("/account").json()["data"]["id"] == 9
    assert mock.post("/servers", json={"name": "x", "plan": 1}).json()["data"]["user"]["id"] == 9


# --- 3. every plan has the limits block the WHMCS module reads ---------------------------------


def _traffic_as_whmcs_reads_it(server: dict[str, Any]) -> dict[str, Any]:
    """solusiovps reads data.plan.limits.network_total_traffic.{is_enabled,limit,unit} of a server."""
    block = server["plan"]["limits"]["network_total_traffic"]
    return {"traffic_limit": block["limit"] if block["is_enabled"] else None, "traffic_unit": block["unit"]}


def test_plans_carry_limits(mock):
    for plan in mock.get("/plans").json()["data"] + [mock.get("/plans/1").json()["data"]]:
        assert go_decodes(plan, GO_PLAN) == []
        assert plan["limits"]["network_total_traffic"] == {"is_enabled": False, "limit": 0, "unit": "KiB"}
    server = mock.post("/servers", json={"name": "a", "plan": 1, "user": 1}).json()["data"]
    assert _traffic_as_whmcs_reads_it(server) == {"traffic_limit": None, "traffic_unit": "KiB"}


def test_plan_limits_are_seedable(mock):
    plans = seed_doc()["plans"]
    plans[0]["limits"] = {"network_total_traffic": {"is_enabled": True, "limit": 2, "unit": "TiB"}}
    mock.ctl.seed(seed_doc(plans=plans))
    server = mock.post("/servers", json={"name": "a", "plan": 1, "user": 1}).json()["data"]
    assert _traffic_as_whmcs_reads_it(server) == {"traffic_limit": 2, "traffic_unit": "TiB"}
    assert server["plan"]["limits"]["backups_number"] == {"is_enabled": False, "limit": 0, "unit": "units"}


# --- 4. the filters the SDK's *Filter.go files send ---------------------------------------------


def test_filters_are_honoured(mock):
    doc = seed_doc(locations=[{"id": 1, "name": "Amsterdam"}, {"id": 2, "name": "Frankfurt"}],
                   os_images=[{"id": 1, "name": "Debian", "versions": [{"id": 1, "version": "12"}]},
                              {"id": 2, "name": "Ubuntu", "versions": [{"id": 2, "version": "24.04"}]}])
    doc["plans"][1].update(storage_type="lvm", params={"disk": 20})
    doc["plans"][2].update(image_format="raw")
    mock.ctl.seed(doc)

    def names(path: str, **params: str) -> list[str]:
        r = mock.get(path, params=params)
        assert r.status_code == 200, r.text
        return [x["name"] for x in r.json()["data"]]

    assert names("/locations", **{"filter[search]": "frank"}) == ["Frankfurt"]
    assert names("/os_images", **{"filter[search]": "ubu"}) == ["Ubuntu"]
    assert names("/plans", **{"filter[disk]": "20"}) == ["Hourly only"]
    assert names("/plans", **{"filter[storage_type]": "lvm"}) == ["Hourly only"]
    assert names("/plans", **{"filter[image_format]": "raw"}) == ["Monthly fixed"]
    assert names("/plans", **{"filter[image_format]": "qcow2", "filter[storage_type]": "fb"}) == ["1 Core, 1 GB RAM"]
    assert mock.get("/plans", params={"filter[disk]": "big"}).status_code == 422


def test_server_filters(mock):
    mock.post("/servers", json={"name": "a", "plan": 1, "user": 1})
    assert mock.get("/servers", params={"filter[virtualization_type]": "kvm"}).json()["meta"]["total"] == 1
    assert mock.get("/servers", params={"filter[virtualization_type]": "vz"}).json()["meta"]["total"] == 0


# --- 5. wire details people see --------------------------------------------------------------


def test_reason_phrases_are_title_case(mock):
    r = mock.get("/users/999")
    assert r.status_code == 404 and r.reason == "Not Found"
    r = mock.post("/users", json={})
    assert r.status_code == 422 and r.reason == "Unprocessable Entity"
    assert mock.get("/users").reason == "OK"


def test_validation_messages_in_laravel_wording(mock):
    r = mock.post("/users", json={"password": "x"})
    assert r.json() == {"message": "The email field is required.",
                        "errors": {"email": ["The email field is required."]}}
    r = mock.post("/users", json={"email": "a@example.com", "password": "x", "status": "gone", "roles": ["x"]})
    errors = r.json()["errors"]
    assert errors["status"] == ["The selected status is invalid."]
    assert errors["roles.0"] == ["The roles.0 must be an integer."]
    r = mock.post("/servers", json={"plan": 1, "user": 1})
    assert r.json()["errors"] == {"name": ["The name field is required."]}


def test_error_keys_name_what_the_client_sent(mock):
    bad = {"billing_integration": {"type": "whmcs", "drivers": {"whmcs": {"url": "not a url"}}}}
    r = mock.patch("/settings", json=bad)
    assert r.status_code == 422
    assert r.json()["errors"] == {
        "billing_integration.drivers.whmcs.url": ["The billing integration.drivers.whmcs.url format is invalid."]}


def test_ipv6_as_the_whmcs_module_reads_it(mock):
    server = mock.post("/servers", json={"name": "a", "plan": 1, "user": 1}).json()["data"]
    ipv6 = server["ip_addresses"]["ipv6"]
    # solusiovps: assignedips = ipv4[*].ip + ip_addresses.ipv6.primary_ip
    assert isinstance(ipv6, dict) and ipv6["primary_ip"].endswith("::1") and ipv6["range"].endswith("/64")


@pytest.mark.parametrize("path", ["/settings", "/plans", "/plans/1", "/servers"])
def test_compat_answers_validate_against_the_contract(mock, path):
    # the harness runs with VALIDATE_RESPONSES: a 200 means the body matched contracts/solusvm.py
    assert mock.get(path).status_code == 200


# --- the calls billing modules make beyond the core, as they send them ---------------------------

SSH_BODY = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDmock user@host"


def _seed_for_modules(mock) -> int:
    doc = seed_doc()
    doc["plans"][0].update(is_backup_available=True, is_snapshots_enabled=True)
    mock.ctl.seed(doc)
    r = mock.post("/servers", json={"name": "vps", "plan": 1, "user": 1})
    mock.ctl.clock.advance(seconds=10)
    return r.json()["data"]["id"]


def test_whmcs_module_calls(mock):
    """solusiovps lib/SolusAPI/Resources/*: the bodies it sends and the keys it reads."""
    sid = _seed_for_modules(mock)
    # SshKeyResource::create reads (int) data.id
    r = mock.post("/ssh_keys", json={"name": "whmcs", "body": SSH_BODY, "user_id": 1})
    assert r.status_code == 201 and isinstance(r.json()["data"]["id"], int)
    # ServerResource: reinstall by OS or by application, resize, hostname, boot mode, IPs
    for path, body in ((f"/servers/{sid}/reinstall", {"os": 1}),
                       (f"/servers/{sid}/reinstall", {"application": 1, "application_data": {"x": 1}}),
                       (f"/servers/{sid}/resize", {"plan_id": 2, "preserve_disk": True}),
                       (f"/servers/{sid}/ips", {"count": 1})):
        r = mock.post(path, json=body)
        assert r.status_code == 200 and r.json()["data"]["status"] == "pending", (path, r.text)
    ip = mock.get(f"/servers/{sid}").json()["data"]["ip_addresses"]["ipv4"][-1]["id"]
    assert mock.delete(f"/servers/{sid}/ips", json={"ids": [ip]}).status_code == 200
    r = mock.patch(f"/servers/{sid}", json={"name": "h.example.com", "fqdns": ["h.example.com"]})
    assert r.json()["data"]["name"] == "h.example.com"
    assert mock.patch(f"/servers/{sid}", json={"boot_mode": "rescue"}).json()["data"]["boot_mode"] == "rescue"
    assert mock.post(f"/servers/{sid}/vnc_up").json()["data"]["url"].startswith("wss://")
    assert mock.post(f"/servers/{sid}/reset_password").json()["data"]["action"] == "vm-reset-password"
    # BackupResource: create sends {"id": serverId}; restore has no body
    mock.patch(f"/servers/{sid}", json={"boot_mode": "disk"})
    mock.post(f"/servers/{sid}/resize", json={"plan_id": 1, "preserve_disk": True})
    r = mock.post(f"/servers/{sid}/backups", json={"id": sid})
    assert r.status_code == 201
    mock.ctl.clock.advance(seconds=10)
    assert mock.get(f"/servers/{sid}/backups").json()["data"][0]["status"] == "created"
    assert mock.post(f"/backups/{r.json()['data']['id']}/restore").status_code == 200
    # ListRequest trait: GET <entity>?page=N until meta.last_page
    for entity in ("applications", "plans", "locations", "os_images"):
        r = mock.get(f"/{entity}?page=1")
        assert r.status_code == 200 and r.json()["meta"]["last_page"] >= 1


def test_blesta_module_calls(mock):
    """apis/solusvm2_api.php: `delayed: true` riders, the boot tab, ISO images, SSH keys."""
    sid = _seed_for_modules(mock)
    assert mock.post(f"/servers/{sid}/resize", json={"plan_id": 2, "delayed": True}).status_code == 200
    assert mock.post(f"/servers/{sid}/ips", json={"count": 1, "delayed": True}).status_code == 200
    # the boot tab reads data.mode and data.iso_image_id, then posts {mode, iso_image_id}
    iso = mock.get("/iso_images", params={"page": 1}).json()["data"][0]["id"]
    boot = mock.get(f"/servers/{sid}/boot").json()["data"]
    assert boot["mode"] == "disk" and boot["iso_image_id"] is None
    assert mock.post(f"/servers/{sid}/boot", json={"mode": "iso", "iso_image_id": iso}).status_code == 200
    assert mock.get(f"/servers/{sid}/boot").json()["data"] == {"mode": "iso", "iso_image_id": iso}
    # stats: ipv4 entries have ip; the ipv6 loop reads ->ip or ->primary_ip
    server = mock.get(f"/servers/{sid}").json()["data"]
    assert all(x["ip"] for x in server["ip_addresses"]["ipv4"]) and server["ip_addresses"]["ipv6"]["primary_ip"]
    key = mock.post("/ssh_keys", json={"name": "b", "body": SSH_BODY, "user_id": 1}).json()["data"]
    assert mock.delete(f"/ssh_keys/{key['id']}").status_code == 204


def test_go_sdk_status_codes(mock):
    """The SDK checks exact codes: create → 201, asyncPost/asyncDelete → 200 + Task, syncDelete → 204."""
    sid = _seed_for_modules(mock)
    assert mock.post(f"/servers/{sid}/snapshots", json={"name": "s"}).status_code == 201
    assert mock.post(f"/servers/{sid}/backups").status_code == 201
    assert mock.post(f"/servers/{sid}/resize", json={"plan_id": 1, "preserve_disk": True}).status_code == 200
    assert mock.post("/roles", json={"name": "R"}).status_code == 201
    assert mock.post("/locations", json={"name": "L"}).status_code == 201
    plan = mock.post("/plans", json={"name": "P"}).json()["data"]
    assert mock.delete(f"/plans/{plan['id']}").status_code == 204
    project = mock.post("/projects", json={"name": "X"}).json()["data"]
    assert mock.delete(f"/projects/{project['id']}").status_code == 204
    snap = mock.get(f"/servers/{sid}/snapshots").json()["data"][0]
    mock.ctl.clock.advance(seconds=10)
    r = mock.delete(f"/snapshots/{snap['id']}")
    assert r.status_code == 200 and go_decodes(r.json()["data"], {"id": INT, "action": STR, "progress": INT}) == []
