"""The SolusVM API verifier: passes against the live mock, fails clearly against broken APIs,
and runs against a real SolusVM when SOLUSVM_URL and SOLUSVM_API_TOKEN are set."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from werkzeug.wrappers import Request, Response

from contracts.cli import main
from contracts.verify_solusvm import normalise_base, verify_solusvm
from mock_solusvm import create_app
from mock_solusvm.client import ControlClient
from mock_solusvm.liveserver import serve_wsgi
from mock_solusvm.pytest_plugin import EXAMPLE_SEED

SEED_SERVER = {"id": 1, "name": "web-1", "user_id": 1, "plan_id": 1, "location_id": 1,
               "created_at": "2026-10-01T00:00:00Z", "deleted_at": None, "additional_ip_count": 1}


@pytest.fixture
def seeded(solusvm, solusvm_seed):
    """Five users (so pages can be walked), a server with an extra IP, clock at 2026-10-20."""
    solusvm_seed["users"] += [{"email": f"user{i}@example.com", "billing_user_id": 10 + i,
                               "status": "locked" if i == 3 else "active"} for i in range(4)]
    solusvm_seed["servers"] = [dict(SEED_SERVER)]
    solusvm.seed(solusvm_seed)
    solusvm.clock.set("2026-10-20T05:30:00Z")
    return solusvm


def run(handle, **kw):
    kw.setdefault("usage_period", "2026-10")
    return verify_solusvm(handle.url, api_token=handle.api_token, timeout=5,
                          headers={"X-Mock-Namespace": handle.namespace}, **kw)


def test_read_only_contract_passes_against_the_mock(seeded):
    report = run(seeded)
    assert report.ok, report.to_text()
    assert report.get("writes").status == "skip"
    assert "followed links.next over 3 page(s)" in report.get("pagination").detail
    assert "1 usage item(s) 2026-10-01..2026-10-31" in report.get("usage").detail
    # read-only means read-only: nothing but GETs reached the mock
    assert seeded.requests("POST", "/api/v1/*") == []
    assert seeded.requests("PUT", "/api/v1/*") == []


def test_write_cycle_passes_and_leaves_no_user_behind(seeded):
    before = {u["email"] for u in seeded.state()["users"]}
    report = run(seeded, allow_writes=True)
    assert report.ok, report.to_text()
    for name in ("write_create_user", "write_duplicate_email", "write_lock_user", "write_suspend_user",
                 "write_token", "write_delete_user"):
        assert report.get(name).status == "pass", report.to_text()
    created = seeded.assert_called("POST", "/api/v1/users", status=201, times=1,
                                   json_contains={"billing_user_id": "424242"})
    email = created[0]["body"]["email"]
    assert email.startswith("solus-contracts-") and created[0]["body"]["password"] == "<redacted>"
    seeded.assert_called("PUT", "/api/v1/users/*", json_contains={"status": "suspended"}, times=1)
    seeded.assert_called("DELETE", "/api/v1/users/*", status=204, times=1)
    assert {u["email"] for u in seeded.state()["users"]} == before


def test_a_failing_write_step_still_deletes_the_throwaway_user(seeded):
    seeded.faults.add(method="POST", path="/api/v1/users/*/tokens", status=503, times=1)
    report = run(seeded, allow_writes=True)
    assert not report.ok
    assert "HTTP 503" in report.get("write_token").detail
    seeded.assert_called("DELETE", "/api/v1/users/*", status=204, times=1)


def test_wrong_token_stops_early_with_a_clear_reason(seeded):
    report = verify_solusvm(seeded.url, api_token="not-the-token", timeout=5,
                            headers={"X-Mock-Namespace": seeded.namespace}, allow_writes=True)
    assert not report.ok
    assert "GET /api/v1/users: HTTP 401, expected 200" in report.get("users_list").detail
    assert report.get("writes").status == "skip"
    with pytest.raises(KeyError):
        report.get("plans")


# --- deliberately broken APIs: the mock behind a response-rewriting middleware -------------


def _rewrite(app: Any, path: str, change: Callable[[Request, Response], Response | None]) -> Any:
    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        response = Response.from_app(app, environ)
        if request.path == path:
            response = change(request, response) or response
        return response(environ, start_response)
    return wsgi


def _edit_json(edit: Callable[[dict[str, Any]], None]) -> Callable[[Request, Response], None]:
    def change(request: Request, response: Response) -> None:
        body = json.loads(response.get_data())
        edit(body)
        response.set_data(json.dumps(body))
    return change


def _set_first_user(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(body: dict[str, Any]) -> None:
        if body.get("data"):
            body["data"][0][key] = value
    return edit


BROKEN = {
    "missing field": ("/api/v1/users", _edit_json(lambda b: [u.pop("email") for u in b["data"]]),
                      "users_list", "email"),
    "number as string": ("/api/v1/users", _edit_json(_set_first_user("billing_user_id", "1")),
                         "users_list", "billing_user_id"),
    "server error": ("/api/v1/plans", lambda rq, rs: Response("boom", 500), "plans", "HTTP 500, expected 200"),
    "html page": ("/api/v1/settings", lambda rq, rs: Response("<html><body>Maintenance</body></html>", 200,
                                                              content_type="text/html"),
                  "settings", "Content-Type 'text/html', expected application/json"),
    "no auth": ("/api/v1/users", lambda rq, rs: None if rq.headers.get("Authorization") else
                Response(rs.get_data(), 200, content_type="application/json"), "auth_required",
                "without a token: HTTP 200, expected 401"),
    "relative links": ("/api/v1/users", _edit_json(lambda b: b["links"].update(first="/api/v1/users?page=1")),
                       "users_list", "links.first is not an absolute URL"),
    "cap rule broken": ("/api/v1/usage", _edit_json(lambda b: [i.update(tokens=i["tokens"] + 1) for i in b["data"]]),
                        "usage", "the cap rule says"),
}


@pytest.fixture(scope="module")
def broken_base() -> Iterator[Callable[[str], str]]:
    """One live server per broken variant, all over one mock app; yields name → URL."""
    app = create_app({"API_TOKENS": ["tok"], "VALIDATE_RESPONSES": True})
    urls: dict[str, str] = {}
    stack = []
    for name, (path, change, _, _) in BROKEN.items():
        ctx = serve_wsgi(_rewrite(app, path, change))
        urls[name] = ctx.__enter__()
        stack.append(ctx)
    ctl_url = urls["missing field"]
    seed = dict(EXAMPLE_SEED, servers=[dict(SEED_SERVER)])
    ControlClient(ctl_url, "broken").seed(seed)
    ControlClient(ctl_url, "broken").clock.set("2026-10-20T00:00:00Z")
    try:
        yield urls.__getitem__
    finally:
        for ctx in reversed(stack):
            ctx.__exit__(None, None, None)


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_api_fails_with_a_clear_reason(broken_base, name):
    _, _, check, reason = BROKEN[name]
    report = verify_solusvm(broken_base(name), api_token="tok", timeout=5, usage_period="2026-10",
                            headers={"X-Mock-Namespace": "broken"})
    assert not report.ok
    assert report.get(check).status == "fail", report.to_text()
    assert reason in report.get(check).detail, report.get(check).detail


def test_cli_against_the_mock(seeded):
    runner = CliRunner()
    args = ["verify-solusvm", seeded.api_url + "/", "--api-token", seeded.api_token,
            "--namespace", seeded.namespace, "--usage-period", "2026-10"]
    ok = runner.invoke(main, args + ["--json"])
    assert ok.exit_code == 0, ok.output
    doc = json.loads(ok.output)
    assert doc["ok"] is True and doc["target"] == seeded.api_url
    bad = runner.invoke(main, [*args[:3], "wrong", *args[4:]])
    assert bad.exit_code == 1
    assert "FAIL  users_list" in bad.output
    period = runner.invoke(main, [*args[:-1], "2026-13"])
    assert period.exit_code == 2 and "YYYY-MM" in period.output


def test_normalise_base():
    assert normalise_base("https://s.example/api/v1/") == "https://s.example"
    assert normalise_base("https://s.example") == "https://s.example"


def test_real_solusvm():
    """Runs only when a real SolusVM is configured; never writes unless SOLUSVM_ALLOW_WRITES=1."""
    url, token = os.environ.get("SOLUSVM_URL"), os.environ.get("SOLUSVM_API_TOKEN")
    if not (url and token):
        pytest.skip("SOLUSVM_URL and SOLUSVM_API_TOKEN are not set: no real SolusVM to check against")
    report = verify_solusvm(url, api_token=token, allow_writes=os.environ.get("SOLUSVM_ALLOW_WRITES") == "1")
    assert report.ok, report.to_text()


def test_the_new_shapes_are_checked(seeded):
    report = run(seeded)
    for name in ("locations", "os_images", "applications", "iso_images", "ssh_keys", "tasks", "ip_blocks",
                 "compute_resources", "storage_types", "license", "server_extras"):
        assert report.get(name).status == "pass", report.to_text()
    assert "server 1: boot, disks, backups and snapshots valid" in report.get("server_extras").detail


def test_a_wrong_new_shape_fails(seeded):
    # an SSH key without its body, as a broken SolusVM might send it
    seeded.faults.add(method="GET", path="/api/v1/ssh_keys", status=200, body={
        "data": [{"id": 1, "name": "k"}], "links": {"first": "x", "last": "x", "prev": None, "next": None},
        "meta": {"current_page": 1, "from": 1, "last_page": 1, "path": "x", "per_page": 15, "to": 1, "total": 1}})
    report = run(seeded)
    assert report.get("ssh_keys").status == "fail" and "body" in report.get("ssh_keys").detail
