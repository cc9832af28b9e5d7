"""``solus-bridge serve`` (granian worker processes) and ``mock-solusvm serve`` as an operator runs them.

One bridge process is started for the operational checks (it takes a few seconds): the port
comes from ``BRIDGE_PORT``, nothing is written under ``$HOME``, multi-process metrics add up
over both workers, a token in a URL never reaches the log, a killed worker is replaced, and
``SIGHUP`` replaces every worker while requests keep being answered.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from bridge.cli.serve import RequestDeadline
from bridge.services import catalogue
from bridge.services.clients import create

BRIDGE = [sys.executable, "-c", "from bridge.cli import main; main()"]
MOCK = [sys.executable, "-c", "from mock_solusvm.cli import main; main()"]
PRICING = "/modules/addons/solusio/api/"
TOKEN = "serve-test-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> set[int]:
    """The worker processes of granian's main process."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(p) for p in path.read_text().split()} if path.exists() else set()


def wait_for(predicate: Any, timeout: float = 60, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def price(base: str, cid: int) -> requests.Response:
    return requests.post(base + PRICING, data={"token": TOKEN, "action": "GetTokenPricing", "userid": cid},
                         timeout=10)


def pricing_count(base: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    body = requests.get(base + "/metrics", timeout=10).text
    return sum(sample.value for family in text_string_to_metric_families(body) for sample in family.samples
               if sample.name == "bridge_http_requests_total" and sample.labels.get("route") == PRICING
               and sample.labels.get("status") == "200")


def apply_change(url: str, cid: int, change: Any) -> None:
    """A client or catalogue change made by this (third) process, as the WHMCS API or CLI would."""
    from sqlalchemy import select

    from bridge import db
    from bridge.models import ClientGroup
    from bridge.services import clients
    from bridge.services.unit_of_work import make_session_factory

    engine = db.make_engine(url)
    factory = make_session_factory(engine)
    try:
        with factory() as s, s.begin():
            if change == "taxes":
                catalogue.load_catalogue(s, {
                    "groups": [{"name": "Resellers", "discount_percent": "5"}],
                    "tax_rules": [{"level": 1, "name": "State Tax", "country": "US", "state": "IL", "rate": "6.25"}],
                    "settings": {"TaxEnabled": True}}, actor="test")
                return
            if change.get("groupid") == "Resellers":
                change = {"groupid": s.scalar(select(ClientGroup.id).where(ClientGroup.name == "Resellers"))}
            clients.update(s, clients.get(s, cid), change, actor="test")
    finally:
        engine.dispose()


@pytest.fixture
def bridge_db(sqlite_url: str, tmp_path: Path) -> tuple[str, int]:
    from tests.bridge.conftest import build_app, session_of

    app = build_app(sqlite_url, tmp_path)
    with session_of(app) as s, s.begin():
        cid = create(s, {"firstname": "a", "lastname": "b", "email": "serve@example.com"}, actor="test").id
    app.extensions["bridge_db"]["engine"].dispose()
    catalogue.clear_cache()
    return sqlite_url, cid


@pytest.mark.slow(seconds=8)
def test_serve_operations_on_granian(bridge_db: tuple[str, int], tmp_path: Path) -> None:
    url, cid = bridge_db
    home, prom = tmp_path / "home", tmp_path / "prometheus"
    home.mkdir()
    prom.mkdir()
    port = free_port()
    env = {**os.environ, "HOME": str(home), "BRIDGE_PORT": str(port), "BRIDGE_DATABASE_URL": url,
           "BRIDGE_PRICING_TOKEN": TOKEN, "BRIDGE_SECRET_KEY": "serve-secret-" + "x" * 40,
           "PROMETHEUS_MULTIPROC_DIR": str(prom),
           "BRIDGE_LOG_FORMAT": "text"}
    log = open(tmp_path / "serve.log", "w+")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([*BRIDGE, "serve", "--workers", "2"], env=env, stdout=log, stderr=log, text=True)
    base = f"http://127.0.0.1:{port}"

    def tail() -> str:
        log.seek(0)
        return log.read()[-3000:]

    try:
        def up() -> bool:
            assert proc.poll() is None, tail()
            try:
                return requests.get(base + "/healthz", timeout=5).status_code == 200
            except requests.ConnectionError:
                return False

        wait_for(up, what="the bridge on BRIDGE_PORT")
        assert f"Listening at: http://127.0.0.1:{port}" in tail()
        workers = wait_for(lambda: len(children(proc.pid)) == 2 and children(proc.pid), what="two workers")

        # A second bridge on the same port is refused (granian's workers share a port through
        # SO_REUSEPORT: without the check it would silently join the first).
        second = subprocess.run([*BRIDGE, "serve"], env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 1, second.stderr
        assert second.stderr.strip() == f"Error: cannot listen on 127.0.0.1:{port}: address already in use"

        # Multi-process metrics: both workers' counts are summed, whichever answers the scrape.
        session = requests.Session()
        for _ in range(6):
            assert session.post(base + PRICING, data={"token": TOKEN, "action": "GetTokenPricing", "userid": cid},
                                timeout=10).status_code == 200
        assert list(prom.glob("counter_*.db")), "no multi-process metric files"
        assert {pricing_count(base) for _ in range(4)} == {6}

        # Correctness before speed: a price changes at once in both workers when the client's
        # currency, group, country or exemption, or the catalogue, is changed by another process.
        def prices() -> set[str]:
            return {price(base, cid).json()["user_token_unit_cost"].__str__() for _ in range(6)}

        apply_change(url, cid, {"country": "US", "state": "IL"})
        seen = [prices()]
        for change in ({"currency": 2}, "taxes", {"groupid": "Resellers"}, {"country": "FR"}, {"country": "US"},
                       {"taxexempt": True}):
            apply_change(url, cid, change)
            now = prices()
            assert len(now) == 1 and now != seen[-1], (change, now, seen)
            seen.append(now)

        # A token in a query string never reaches a log line.
        requests.get(base + "/oauth/singlesignon.php?access_token=leaky-secret-value-123", timeout=10)

        # A worker that dies (as a timed-out one does) is replaced, and the server keeps answering.
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        replaced = wait_for(lambda: len(children(proc.pid) - {victim}) == 2 and children(proc.pid),
                            what="a new worker")
        assert victim not in replaced
        assert price(base, cid).status_code == 200

        # SIGHUP: every worker is replaced while requests keep being answered.
        failures: list[str] = []
        stop = threading.Event()

        def hammer() -> None:
            s = requests.Session()
            while not stop.is_set():
                try:
                    r = s.post(base + PRICING, data={"token": TOKEN, "action": "GetTokenPricing", "userid": cid},
                               timeout=10)
                    if r.status_code != 200:
                        failures.append(str(r.status_code))
                except requests.RequestException as exc:
                    failures.append(type(exc).__name__)
                time.sleep(0.01)

        thread = threading.Thread(target=hammer)
        thread.start()
        try:
            os.kill(proc.pid, signal.SIGHUP)
            wait_for(lambda: len(children(proc.pid)) == 2 and not (children(proc.pid) & replaced), timeout=60,
                     what="SIGHUP to replace both workers")
            time.sleep(0.5)
        finally:
            stop.set()
            thread.join(timeout=30)
        assert failures == [], failures
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    text = tail()
    assert proc.returncode == 0, text
    assert "leaky-secret-value-123" not in text
    assert "Traceback" not in text
    assert list(home.iterdir()) == [], "serve wrote under $HOME"


def test_serve_on_a_port_in_use_says_so_in_one_line(bridge_db: tuple[str, int], tmp_path: Path) -> None:
    url, _ = bridge_db
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "BRIDGE_DATABASE_URL": url, "BRIDGE_SECRET_KEY": "serve-secret-" + "x" * 40}
        done = subprocess.run([*BRIDGE, "serve", "--port", str(port)], env=env, capture_output=True, text=True,
                              timeout=60)
        mock = subprocess.run([*MOCK, "serve", "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == f"Error: cannot listen on 127.0.0.1:{port}: address already in use"
    assert mock.returncode == 1
    assert mock.stderr.strip() == f"Error: cannot listen on 127.0.0.1:{port}: address already in use"


def test_request_deadline_calls_the_timeout_action_for_a_slow_request_only() -> None:
    fired = threading.Event()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        time.sleep(float(environ["QUERY_STRING"] or 0))
        start_response("200 OK", [])
        return [b"ok"]

    bounded = RequestDeadline(app, timeout=0.3, on_timeout=fired.set, interval=0.05)
    assert bounded({"QUERY_STRING": "", "PATH_INFO": "/fast"}, lambda *a: None) == [b"ok"]
    time.sleep(0.4)
    assert not fired.is_set()
    bounded({"QUERY_STRING": "0.8", "PATH_INFO": "/slow"}, lambda *a: None)
    assert fired.is_set()


def test_serve_help_names_the_variables_and_versions_are_printed() -> None:
    from click.testing import CliRunner

    from bridge.cli import main as bridge_main
    from contracts.cli import main as contracts_main
    from mock_solusvm.cli import main as mock_main

    runner = CliRunner()
    help_text = runner.invoke(bridge_main, ["serve", "--help"], terminal_width=200).output
    for var in ("BRIDGE_HOST", "BRIDGE_PORT", "BRIDGE_WORKERS", "BRIDGE_WORKER_TIMEOUT", "BRIDGE_DATABASE_URL",
                "BRIDGE_PRICING_TOKEN"):
        assert var in help_text, var
    for cli, name in ((bridge_main, "solus-bridge"), (mock_main, "mock-solusvm"), (contracts_main, "solus-contracts")):
        out = runner.invoke(cli, ["--version"])
        assert out.exit_code == 0 and re.fullmatch(rf"{name}, version \d+\.\d+\.\d+\S*\n", out.output), out.output
    assert "mock-admin-token" in runner.invoke(mock_main, ["serve", "--help"]).output


def test_mock_start_up_line_names_the_default_token() -> None:
    proc = subprocess.Popen([*MOCK, "serve", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.fullmatch(r"mock-solusvm listening on (http://127\.0\.0\.1:\d+) \(API token: mock-admin-token\)\n", line)
        assert m, line
        r = requests.get(m.group(1) + "/api/v1/users", headers={"Authorization": "Bearer mock-admin-token"},
                         timeout=10)
        assert r.status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_serve_rejects_a_timeout_below_granians_crash_loop_window() -> None:
    from click.testing import CliRunner

    from bridge.cli import main as bridge_main

    out = CliRunner().invoke(bridge_main, ["serve", "--timeout", "2"])
    assert out.exit_code == 2 and "--timeout" in out.output




def test_in_thread_server_refuses_a_taken_port_and_stops_at_exit() -> None:
    """``ThreadedServer`` (the mock, the demo, ``serve_wsgi``): a taken port is an OSError at
    once; a process that exits with a server still running exits cleanly; answers go out
    without Nagle delays (TCP_NODELAY is inherited by accepted connections)."""
    from mock_solusvm.server import ThreadedServer

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    with ThreadedServer(app) as server:
        assert requests.get(server.url, timeout=10).text == "ok"
        assert server._sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        with pytest.raises(OSError):
            ThreadedServer(app, port=server.port)
    code = ("from mock_solusvm.server import ThreadedServer\n"
            "def app(e, r):\n    r('200 OK', []); return [b'ok']\n"
            "import requests; s = ThreadedServer(app).start(); print(requests.get(s.url, timeout=10).text)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, "ok\n"), done.stderr[-2000:]
