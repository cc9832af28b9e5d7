"""servers, tasks, catalogue resources, settings, limit groups."""

from __future__ import annotations

import pytest


def make(mock, **body):
    return mock.post("/servers", json={"name": "web", "plan": 1, "user": 1, **body})


def test_create_get_list_patch(mock):
    r = make(mock, additional_ip_count=1, fqdns=["web.example.com"])
    assert r.status_code == 201
    s = r.json()["data"]
    assert s["user"]["email"] == "ann@example.com" and s["plan"]["name"] == "1 Core, 1 GB RAM"
    assert s["status"] == "started" and s["is_suspended"] is False
    assert len(s["ip_addresses"]["ipv4"]) == 2 and len(s["ips"]) == 2
    assert s["ip_addresses"]["ipv4"][0]["is_primary"] is True
    assert s["specifications"] == {"vcpu": 1, "ram": 1073741824, "disk": 10}
    make(mock, user=2, name="bob-1")
    assert [x["name"] for x in mock.get("/servers", params={"filter[user_id]": 1}).json()["data"]] == ["web"]
    assert mock.get("/servers", params={"filter[status]": "stopped"}).json()["data"] == []
    r = mock.patch(f"/servers/{s['id']}", json={"name": "renamed", "boot_mode": "rescue"})
    assert r.status_code == 200 and r.json()["data"]["name"] == "renamed"
    assert mock.patch(f"/servers/{s['id']}", json={"boot_mode": "usb"}).status_code == 422
    assert mock.get("/servers/777").status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"plan": 99}, "plan"), ({"location": 9}, "location"), ({"os": 5}, "os"), ({"user": 55}, "user"),
    ({"name": ""}, "name"), ({"plan": "1"}, "plan"),
    ({"additional_ip_count": 3}, "additional_ip_count"), ({"additional_ip_count": -1}, "additional_ip_count"),
])
def test_create_validation(mock, body, field):
    r = make(mock, **body)
    assert r.status_code == 422 and field in r.json()["errors"], r.text


def test_limit_group_caps_servers_and_running_servers(mock):
    for i in range(3):
        assert make(mock, name=f"s{i}").status_code == 201
    r = make(mock, name="s3")  # running_vms limit 3
    assert r.status_code == 422 and "limit" in r.json()["errors"]
    first = mock.get("/servers", params={"filter[user_id]": 1}).json()["data"][0]
    assert mock.post(f"/servers/{first['id']}/stop").status_code == 200
    assert make(mock, name="s3").status_code == 201
    assert mock.post(f"/servers/{first['id']}/start").status_code == 422  # would be the 4th running
    second = mock.get("/servers", params={"filter[user_id]": 1}).json()["data"][1]
    mock.post(f"/servers/{second['id']}/stop")
    assert make(mock, name="s4").status_code == 201  # 5 servers, 3 running
    third = mock.get("/servers", params={"filter[user_id]": 1}).json()["data"][2]
    mock.post(f"/servers/{third['id']}/stop")
    r = make(mock, name="s5")  # a 6th server: vms limit 5
    assert r.status_code == 422 and "5 servers" in r.json()["errors"]["limit"][0]


def test_actions_return_tasks_that_complete(mock):
    s = make(mock).json()["data"]
    for action, expected in [("stop", "stopped"), ("start", "started"), ("restart", "started")]:
        r = mock.post(f"/servers/{s['id']}/{action}")
        assert r.status_code == 200
        task = r.json()["data"]
        assert task["action"] == f"vm-{action}" and task["status"] == "pending" and task["id"] > 0
        assert mock.get(f"/servers/{s['id']}").json()["data"]["status"] == expected
    # polling twice completes a task even on a frozen clock
    statuses = [mock.get(f"/tasks/{task['id']}").json()["data"]["status"] for _ in range(3)]
    assert statuses == ["running", "done", "done"]
    assert mock.get("/tasks/4242").status_code == 404


def test_tasks_progress_on_the_virtual_clock(mock):
    s = make(mock).json()["data"]
    task = mock.post(f"/servers/{s['id']}/stop").json()["data"]
    mock.ctl.clock.advance(seconds=10)
    got = mock.get(f"/tasks/{task['id']}").json()["data"]
    assert (got["status"], got["progress"]) == ("done", 100)


def test_suspend_resume_and_delete(mock):
    s = make(mock).json()["data"]
    assert mock.post(f"/servers/{s['id']}/suspend").json()["data"]["action"] == "vm-suspend"
    assert mock.get(f"/servers/{s['id']}").json()["data"]["is_suspended"] is True
    assert mock.post(f"/servers/{s['id']}/start").status_code == 422
    mock.post(f"/servers/{s['id']}/resume")
    assert mock.get(f"/servers/{s['id']}").json()["data"]["is_suspended"] is False
    r = mock.delete(f"/servers/{s['id']}")
    assert r.status_code == 200 and r.json()["data"]["action"] == "vm-delete"
    assert mock.get(f"/servers/{s['id']}").status_code == 404
    assert mock.get("/servers").json()["meta"]["total"] == 0
    assert mock.post(f"/servers/{s['id']}/start").status_code == 404


def test_user_token_sees_only_own_servers_and_cannot_suspend(mock):
    mine = make(mock, user=2).json()["data"]
    theirs = make(mock, user=1).json()["data"]
    s = mock.as_token(mock.user_token(2))
    assert [x["id"] for x in s.get(mock.url("/servers")).json()["data"]] == [mine["id"]]
    assert s.get(mock.url(f"/servers/{theirs['id']}")).status_code == 404
    assert s.post(mock.url(f"/servers/{mine['id']}/suspend")).status_code == 403
    r = s.post(mock.url("/servers"), json={"name": "self", "plan": 1})
    assert r.status_code == 201 and r.json()["data"]["user"]["id"] == 2
    assert s.post(mock.url("/servers"), json={"name": "x", "plan": 1, "user": 1}).status_code == 403


def test_catalogue_lists(mock):
    plans = mock.get("/plans").json()
    assert [p["tokens_per_hour"] for p in plans["data"]] == [7, 3, 0]
    p1 = mock.get("/plans/1").json()["data"]
    assert p1["ip_tokens_per_month"] == 500 and p1["price"] is None and p1["price_error"] is None
    assert mock.get("/plans", params={"filter[search]": "hourly"}).json()["meta"]["total"] == 1
    roles = mock.get("/roles").json()["data"]
    assert {r["name"]: r["users_count"] for r in roles} == {"ADMIN": 0, "CLIENT": 2}
    lg = mock.get("/limit_groups").json()["data"][0]
    assert lg["vms"] == {"limit": 5, "is_enabled": True}
    assert mock.get("/locations").json()["data"][0]["name"] == "Amsterdam"
    assert mock.get("/os_images/1").json()["data"]["versions"] == [{"id": 1, "version": "12"}]
    make(mock)
    projects = mock.get("/projects").json()["data"]
    assert projects[0]["owner"]["id"] == 1 and projects[0]["servers"] == 1
    for path in ("/plans/9", "/roles/9", "/limit_groups/9", "/locations/9", "/os_images/9", "/projects/9"):
        assert mock.get(path).status_code == 404, path


def test_settings_get_and_patch(mock):
    s = mock.get("/settings").json()["data"]
    assert s["features"]["allow_registration"] is False and s["billing_integration"] is None
    bi = {"type": "whmcs", "drivers": {"whmcs": {"url": "https://billing.test/modules/addons/solusio/api/",
                                                 "token": "t"}}}
    r = mock.patch("/settings", json={"billing_integration": bi, "features": {"allow_registration": True}})
    assert r.status_code == 200
    data = r.json()["data"]
    assert data["billing_integration"]["drivers"]["whmcs"]["url"].endswith("/solusio/api/")
    assert data["features"]["allow_registration"] is True and data["features"]["hide_plan_name"] is False
    for bad in ({"billing_integration": {"type": "paypal"}},
                {"billing_integration": {"type": "custom", "drivers": {"custom": {"url": "not a url"}}}},
                {"features": {"allow_registration": "maybe"}}, {"limit_group": 77}, [1, 2]):
        r = mock.patch("/settings", json=bad)
        assert r.status_code == 422, bad
    assert mock.get("/settings").json()["data"]["features"]["allow_registration"] is True


def test_a_write_between_two_page_reads_is_seen(mock):
    """Listings are kept per state version for paging: a write shows on the next page read."""
    ids = [make(mock).json()["data"]["id"] for _ in range(3)]
    params = {"per_page": 2, "filter[status]": "started"}
    assert mock.get("/servers", params=params).json()["meta"]["total"] == 3
    assert mock.post(f"/servers/{ids[0]}/stop").status_code == 200
    page2 = mock.get("/servers", params={**params, "page": 2}).json()
    assert page2["meta"]["total"] == 2 and page2["data"] == []
    assert [s["id"] for s in mock.get("/servers", params=params).json()["data"]] == ids[1:]
    assert mock.delete(f"/servers/{ids[1]}").status_code == 200
    assert [s["id"] for s in mock.get("/servers", params={"per_page": 2}).json()["data"]] == [ids[0], ids[2]]
