"""Scale-out: two bridge processes (gunicorn) on ONE PostgreSQL database.

Pricing answers agree after a catalogue change made elsewhere (cache invalidation across
processes), a sign-up verification link minted by one process is accepted by the other and
its session works on both (shared SECRET_KEY), login rate limits count across processes,
and two invoicing runs started at once leave exactly one invoice per client.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from bridge import db
from bridge.demo import DEMO_CATALOGUE, PLANS
from bridge.models import Client, ClientGroup, Invoice
from bridge.services import catalogue, clients, credentials
from bridge.services.unit_of_work import make_session_factory
from mock_solusvm.server import MockServer
from tests.pg import scratch_postgres

pytestmark = [pytest.mark.postgres, pytest.mark.slow(seconds=15)]  # ~30 s: two gunicorn bridges and four CLI runs

PRICING = "/modules/addons/solusio/api/"
TOKEN = "scaleout-pricing-token-0123456789"
API_TOKEN = "scaleout-solus-token"
CLI = [sys.executable, "-c", "from bridge.cli import main; main()"]


@pytest.fixture
def fresh_pg() -> Iterator[str]:
    """A new PostgreSQL database for this test only (dropped afterwards), or a skip with the reason."""
    with scratch_postgres("bridge_scale") as url:
        yield url


class Serve:
    """``solus-bridge serve --port 0`` as a subprocess; ``url`` once gunicorn reports its port."""

    def __init__(self, env: dict[str, str], workers: int, log: Path) -> None:
        self.log = open(log, "w+")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([*CLI, "serve", "--port", "0", "--workers", str(workers)], env=env,
                                     stdout=subprocess.DEVNULL, stderr=self.log, text=True)
        self.url = ""

    def wait_ready(self, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.log.seek(0)
            m = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", self.log.read())
            if m:
                self.url = m.group(1)
                try:
                    if requests.get(self.url + "/healthz", timeout=15).status_code == 200:
                        return self.url
                except requests.RequestException:  # workers still booting
                    pass
            assert self.proc.poll() is None, "the bridge process exited:\n" + self._tail()
            time.sleep(0.1)
        raise AssertionError("the bridge did not come up:\n" + self._tail())

    def _tail(self) -> str:
        self.log.seek(0)
        return self.log.read()[-3000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()


def price(base: str, userid: int) -> Decimal:
    resp = requests.post(base + PRICING, data={"token": TOKEN, "action": "GetTokenPricing", "userid": userid},
                         timeout=10)
    assert resp.status_code == 200, resp.text
    return Decimal(str(resp.json()["user_token_unit_cost"]))


def pricing_count(base: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    body = requests.get(base + "/metrics", timeout=10).text
    return sum(sample.value for family in text_string_to_metric_families(body) for sample in family.samples
               if sample.name == "bridge_http_requests_total" and sample.labels.get("route") == PRICING
               and sample.labels.get("status") == "200")


def csrf(session: requests.Session, url: str) -> str:
    page = session.get(url, timeout=10)
    assert page.status_code == 200, page.text[:500]
    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text) or \
        re.search(r'value="([^"]+)"[^>]*name="csrf_token"', page.text)
    assert m, "no CSRF token on " + url
    return m.group(1)


def test_two_bridge_processes_on_one_postgresql(fresh_pg: str, tmp_path: Path) -> None:
    url = fresh_pg
    db.upgrade(url)
    engine = db.make_engine(url)
    factory = make_session_factory(engine)
    with factory() as s, s.begin():
        catalogue.load_toml(s, DEMO_CATALOGUE, actor="test")
        cred = credentials.create(s, "scaleout", actor="test")
        ids = []
        for n in range(3):
            c = clients.create(s, {"firstname": "C", "lastname": str(n), "email": f"c{n}@example.com",
                                   "country": "US", "state": "CA"}, actor="test")
            c.solusvm_user_id = c.id
            ids.append(c.id)
        resellers = s.scalar(select(ClientGroup.id).where(ClientGroup.name == "Resellers"))
    seed = {"clock": "2026-11-02T00:00:00Z", "plans": PLANS,
            "users": [{"id": cid, "email": f"c{n}@example.com", "status": "active", "billing_user_id": cid,
                       "roles": [2], "limit_group_id": 1} for n, cid in enumerate(ids)],
            "servers": [{"id": n + 1, "name": f"vm-{n}", "user_id": cid, "plan_id": 1, "location_id": 1,
                         "created_at": "2026-10-01T00:00:00Z"} for n, cid in enumerate(ids)]}
    outbox = tmp_path / "outbox"
    with MockServer(port=0, api_tokens=[API_TOKEN], seed=seed) as mock:
        env = {**os.environ, "BRIDGE_DATABASE_URL": url, "BRIDGE_SECRET_KEY": "shared-secret-" + "x" * 40,
               "BRIDGE_PRICING_TOKEN": TOKEN, "BRIDGE_SOLUSVM_URL": mock.url, "BRIDGE_SOLUSVM_API_TOKEN": API_TOKEN,
               "BRIDGE_MAIL_OUTBOX_DIR": str(outbox), "BRIDGE_MAIL_SERVER": "", "BRIDGE_RATE_LIMIT_LOGIN": "3/86400",
               "BRIDGE_SYSTEM_URL": "http://127.0.0.1:9", "BRIDGE_LOG_LEVEL": "WARNING"}
        prom = tmp_path / "prometheus"
        prom.mkdir()
        a = Serve({**env, "PROMETHEUS_MULTIPROC_DIR": str(prom)}, workers=2, log=tmp_path / "a.log")
        b = Serve(env, workers=1, log=tmp_path / "b.log")
        try:
            A, B = a.wait_ready(), b.wait_ready()

            # 1. Pricing agrees, and a catalogue change made by a third process reaches every worker.
            cid = ids[0]
            for _ in range(4):  # several calls so that both of A's workers have a warm cache
                assert price(A, cid) == Decimal("0.0010812")
            assert price(B, cid) == Decimal("0.0010812")
            new_catalogue = tmp_path / "catalogue.toml"
            new_catalogue.write_text(DEMO_CATALOGUE.read_text().replace('token_price = "0.00100"',
                                                                        'token_price = "0.00200"'))
            done = subprocess.run([*CLI, "init-db", "--catalogue", str(new_catalogue)], env=env, capture_output=True,
                                  text=True, timeout=120)
            assert done.returncode == 0, done.stderr
            assert {price(A, cid) for _ in range(4)} == {Decimal("0.0021624")}
            assert price(B, cid) == Decimal("0.0021624")
            # A's /metrics sums both workers (multi-process mode): exactly the 8 pricing calls A served,
            # whichever worker answers the scrape.
            assert list(prom.glob("counter_*.db")), "the workers did not write multi-process metrics"
            for _ in range(3):
                assert pricing_count(A) == 8
            # A client change through A's WHMCS API is priced by B at once.
            resp = requests.post(A + "/includes/api.php", data={
                "action": "UpdateClient", "identifier": cred.identifier, "secret": cred.secret,
                "responsetype": "json", "clientid": ids[1], "groupid": resellers}, timeout=10)
            assert resp.json()["result"] == "success", resp.text
            assert price(B, ids[1]) == Decimal("0.002") * Decimal("0.95") * Decimal("1.0812")

            # 2. Sign-up on A, the e-mailed link followed on B, the session valid on A again.
            visitor = requests.Session()
            token = csrf(visitor, A + "/signup")
            resp = visitor.post(A + "/signup", data={"csrf_token": token, "firstname": "Sam", "lastname": "Scale",
                                                     "companyname": "", "email": "sam@example.com",
                                                     "password": "scale-out-pass-1"}, timeout=10)
            assert resp.status_code == 200, resp.text[:500]
            mails = sorted(outbox.iterdir())
            assert len(mails) == 1
            body = message_from_bytes(mails[0].read_bytes(), policy=policy.default).get_body(
                preferencelist=("plain",)).get_content()
            link = re.search(r"/signup/verify/[^\s\"<>]+", body)
            assert link, body
            token = csrf(visitor, B + link.group(0))
            verified = visitor.post(B + link.group(0), data={"csrf_token": token, "password": "scale-out-pass-1"},
                                    timeout=10, allow_redirects=False)
            assert verified.status_code in (302, 303), verified.text[:500]
            with factory() as s:
                sam = s.scalar(select(Client).where(Client.email == "sam@example.com"))
                assert sam is not None and sam.email_verified
            # B's session cookie (signed with the shared key) is honoured by A.
            assert visitor.get(A + "/signup/terms", timeout=10, allow_redirects=False).status_code == 200
            assert requests.get(A + "/signup/terms", timeout=10, allow_redirects=False).status_code != 200

            # 3. Login rate limits count across processes (3 tries per day per e-mail; windows are
            #    fixed and aligned to the epoch, so a short window could be crossed mid-test).
            statuses = []
            for base in (A, B, A, B):
                s2 = requests.Session()
                tok = csrf(s2, base + "/login")
                statuses.append(s2.post(base + "/login", data={"csrf_token": tok, "email": "sam@example.com",
                                                               "password": "wrong-password-1"}, timeout=10).status_code)
            assert statuses[:3] == [401, 401, 401] and statuses[3] == 429, statuses

            # 4. Two invoicing runs at once, one per end: one invoice per client, right amounts.
            runs = [subprocess.Popen([*CLI, "invoices", "generate", "--period", "2026-10", "--no-mail"], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                    for _ in range(2)]
            outputs = [r.communicate(timeout=180)[0] for r in runs]
            assert any(r.returncode == 0 for r in runs), outputs
            again = subprocess.run([*CLI, "cron", "--date", "2026-11-01", "--no-mail"], env=env,
                                   capture_output=True, text=True, timeout=180)
            assert "Traceback" not in again.stdout + again.stderr
            with factory() as s:
                per_client = dict(s.execute(select(Invoice.client_id, func.count()).where(
                    Invoice.period == "2026-10").group_by(Invoice.client_id)).all())
                assert per_client == {cid: 1 for cid in ids}, outputs
                inv = s.scalar(select(Invoice).where(Invoice.client_id == ids[0], Invoice.period == "2026-10"))
                # 744 started hours x 7 tokens, capped at 5000; at the new USD price 0.002.
                assert inv is not None and inv.subtotal == Decimal("10.00")
                assert inv.total == Decimal("10.81")  # + City 6 % (0.60) + State 2 % on 10.60 (0.21)
        finally:
            a.stop()
            b.stop()
            engine.dispose()
