"""GetTokenPricing while SolusVM is 10 s late and SolusVM-bound pages are being loaded.

The live mock (``MockServer``, loopback, port 0) holds a few hundred SolusVM users with their
servers and plans; the bridge (``solus-bridge serve``, granian, 2 workers, SQLite) has as many
enrolled clients, each linked to its SolusVM user, and one admin. The script then

1. measures GetTokenPricing unloaded (``wrk -c16``, a random ``userid``);
2. adds a fault to the mock through its control API, every ``/api/v1/*`` answer 10 s late,
   and measures it again while ``--loaders`` threads (default 4: three logged-in clients
   loading their dashboard, whose usage comes from SolusVM, and one admin loading
   ``/admin/pricing?client_id=N``, whose plan list comes from SolusVM) load pages in a loop,
   each pausing ``--page-pause`` seconds between pages like a visitor;
3. repeats 1-2 for ``--rounds`` rounds (medians, so a noisy neighbour hits both alike);
4. once more under the same page loads with SolusVM prompt (a reference: what the pages' own
   work costs pricing). It comes last because the pages then keep fresh snapshots for a
   minute, and the SolusVM-late runs must find none (no page ever saw SolusVM answer).

Goal: pricing p99 under the page loads with SolusVM late <= 2 x unloaded p99.
Also reported: pages loaded and their p50/max time. JSON goes to
bench/results/pricing_under_slow_solusvm.json. Loopback only; the loaders stop by themselves
after each measurement. About 40 s.

    .venv/bin/python bench/pricing_under_slow_solusvm.py [--duration 4] [--rounds 3] [--clients 300]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchlib import PRICING_LUA, free_port, median_of, mock_seed, stop, wait_http, write_result, wrk  # noqa: E402

TOKEN = "bench-token"
SOLUS_TOKEN = "bench-solus-token"
PASSWORD = "bench correct horse 42"
ADMIN = "benchadmin"
DELAY = 10.0
# wrk leaves answers slower than its --timeout (default 2 s) out of its percentiles: a
# GetTokenPricing stuck behind a page waiting on SolusVM (up to the 3 s budget) must count.
WRK_TIMEOUT = 30
PRICING_PATH = "/modules/addons/solusio/api/"
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def seed_doc(n: int) -> dict[str, Any]:
    """n SolusVM users, two servers each (this month), two plans."""
    servers = [{"id": i + 1, "name": f"vm-{i + 1}", "user_id": i % n + 1, "plan_id": 1 + i % 2, "location_id": 1,
                "created_at": "2026-01-01T00:00:00Z", "deleted_at": None, "additional_ip_count": 0}
               for i in range(2 * n)]
    users = [{"id": u, "email": f"user{u}@bench.test", "status": "active", "billing_user_id": u,
              "roles": [2], "limit_group_id": 1} for u in range(1, n + 1)]
    return mock_seed(users, servers)


def make_db(path: Path, n: int) -> str:
    """n enrolled, verified clients (client u is SolusVM user u; one password hash for all) and an admin."""
    from datetime import UTC, datetime

    from sqlalchemy import insert, select

    from bridge import db
    from bridge.models import Client, Currency
    from bridge.services import accounts, catalogue
    from bridge.services.clients import hash_password
    from bridge.services.unit_of_work import make_session_factory  # noqa: E402

    url = f"sqlite:///{path}"
    engine = db.make_engine(url)
    db.upgrade(engine)
    factory = make_session_factory(engine)
    pw = hash_password(PASSWORD)
    now = datetime.now(UTC)
    with factory() as s, s.begin():
        catalogue.load_toml(s, catalogue.DEFAULT_CATALOGUE, actor="bench")
        usd = s.scalar(select(Currency.id).where(Currency.code == "USD"))
        s.execute(insert(Client), [{"id": u, "email": f"user{u}@bench.test", "email_normalized": f"user{u}@bench.test",
                                    "firstname": f"User{u}", "lastname": "Bench", "currency_id": usd,
                                    "password_hash": pw, "email_verified": True, "solusvm_user_id": u,
                                    "enrolled_at": now, "uuid": f"00000000-0000-0000-0000-{u:012d}"}
                                   for u in range(1, n + 1)])
        accounts.create_admin(s, ADMIN, PASSWORD)
    engine.dispose()
    return url


def start_bridge(url: str, mock_url: str, work: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")},
           "BRIDGE_DATABASE_URL": url, "BRIDGE_PRICING_TOKEN": TOKEN, "HOME": str(work),
           "BRIDGE_SECRET_KEY": "bench-secret-" + "s" * 20, "BRIDGE_SOLUSVM_URL": mock_url,
           "BRIDGE_SOLUSVM_API_TOKEN": SOLUS_TOKEN, "BRIDGE_SYSTEM_URL": base, "BRIDGE_LOG_LEVEL": "ERROR",
           "BRIDGE_MAIL_OUTBOX_DIR": str(work / "outbox")}
    log = open(work / "bridge.log", "wb")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen([sys.executable, "-c", "from bridge.cli import main; main()", "serve", "--workers", "2",
                             "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=log)
    wait_http(base + "/login", proc=proc)
    return proc, base


def logged_in(base: str, login_path: str, data: dict[str, str]) -> requests.Session:
    """A session logged in through the page's form (CSRF token included)."""
    http = requests.Session()
    page = http.get(base + login_path, timeout=30)
    match = CSRF_RE.search(page.text)
    if not match:
        raise SystemExit(f"no CSRF token on {login_path}")
    answer = http.post(base + login_path, data={"csrf_token": match.group(1), **data}, timeout=30,
                       allow_redirects=False)
    if answer.status_code != 302:
        raise SystemExit(f"log-in at {login_path} failed: {answer.status_code}")
    return http


class Loaders:
    """Page loaders in threads, each loading its page in a loop until ``stop()`` (or ``limit`` s)."""

    def __init__(self, pages: list[tuple[requests.Session, Any]], limit: float, pause: float) -> None:
        self.pages, self.limit, self.pause = pages, limit, pause
        self.done = threading.Event()
        self.times: list[float] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=page, daemon=True) for page in pages]

    def _run(self, http: requests.Session, next_url: Any) -> None:
        deadline = time.monotonic() + self.limit
        while not self.done.is_set() and time.monotonic() < deadline:
            t0 = time.perf_counter()
            try:
                answer = http.get(next_url(), timeout=30, allow_redirects=False)
                ok = answer.status_code == 200
                note = f"{answer.status_code} {answer.url}"
            except requests.RequestException as exc:
                ok, note = False, str(exc)[:200]
            with self._lock:
                (self.times.append(time.perf_counter() - t0) if ok else self.errors.append(note))
            self.done.wait(self.pause)

    def __enter__(self) -> Loaders:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        for t in self.threads:
            t.join(timeout=60)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=4, help="seconds per wrk run (default 4)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="unloaded / loaded rounds; medians are reported (the first slowdown costs each worker one page wait)")
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--loaders", type=int, default=4, help="concurrent page loaders (the last one is the admin)")
    parser.add_argument("--page-pause", type=float, default=0.2, help="seconds each loader waits between pages")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    from mock_solusvm.server import MockServer

    started = time.monotonic()
    n = args.clients
    # Threads enough for the delayed requests still sleeping from an earlier round.
    mock = MockServer(port=0, api_tokens=[SOLUS_TOKEN], threads=16).start()
    control = mock.control()
    control.seed(seed_doc(n))
    unloaded: list[dict[str, float]] = []
    loaded: list[dict[str, float]] = []
    prompt: list[dict[str, float]] = []
    pages: dict[str, list[float]] = {"prompt": [], "late": []}
    page_errors: list[str] = []
    cleared_at = 0.0
    try:
        with tempfile.TemporaryDirectory(prefix="pricing-slow-solusvm-") as tmp:
            work = Path(tmp)
            url = make_db(work / "bridge.sqlite3", n)
            script = work / "pricing.lua"
            script.write_text(PRICING_LUA % (TOKEN, n))
            proc, base = start_bridge(url, mock.url, work)
            try:
                rnd = random.Random(14)
                sessions: list[tuple[requests.Session, Any]] = []
                for i in range(args.loaders - 1):
                    http = logged_in(base, "/login", {"email": f"user{i + 1}@bench.test", "password": PASSWORD})
                    sessions.append((http, lambda: base + "/clientarea"))
                admin = logged_in(base, "/admin/login", {"name": ADMIN, "password": PASSWORD})
                sessions.append((admin, lambda: f"{base}/admin/pricing?client_id={rnd.randint(1, n)}"))
                wrk(base + PRICING_PATH, 2, 16, script)  # warm every worker's caches
                def under_pages(kind: str) -> dict[str, float]:
                    # The loaders start first, so the workers are already busy with pages when wrk starts.
                    with Loaders(sessions, args.duration + 5, args.page_pause) as loaders:
                        time.sleep(0.5)
                        figures = wrk(base + PRICING_PATH, args.duration, 16, script, timeout=WRK_TIMEOUT)
                    pages[kind] += loaders.times
                    page_errors.extend(loaders.errors)
                    return figures

                for _ in range(args.rounds):
                    control.faults.clear()
                    unloaded.append(wrk(base + PRICING_PATH, args.duration, 16, script, timeout=WRK_TIMEOUT))
                    control.faults.add(path="/api/v1/*", delay=DELAY)
                    loaded.append(under_pages("late"))
                    control.faults.clear()
                    cleared_at = time.monotonic()
                prompt.append(under_pages("prompt"))
            finally:
                stop(proc)
    finally:
        control.faults.clear()
        # Requests delayed before the fault was cleared are still sleeping in the mock's threads:
        # stopping the in-thread server under them aborts the process (a granian panic).
        time.sleep(max(0.0, cleared_at + DELAY + 0.5 - time.monotonic()) if cleared_at else 0)
        mock.stop()
    u, lo, pr = median_of(unloaded), median_of(loaded), median_of(prompt)

    def page_figures(times: list[float]) -> dict[str, Any]:
        return {"loaded": len(times), "p50_ms": round(statistics.median(times) * 1000, 1) if times else None,
                "max_ms": round(max(times) * 1000, 1) if times else None}

    result = {
        "load": (f"wrk -t2 -c16 -d{args.duration}s --latency, random userid among {n}; {args.rounds} rounds "
                 f"alternating unloaded / pages with SolusVM late, medians; then pages with SolusVM prompt once"),
        "server": "solus-bridge serve --workers 2 (granian), SQLite",
        "solusvm": f"live mock, every /api/v1/* answer delayed {DELAY:.0f} s during the loaded runs",
        "page_loaders": (f"{args.loaders - 1} client dashboards + 1 admin /admin/pricing?client_id=N, "
                         f"{args.page_pause:g} s pause between a loader's pages"),
        "unloaded": u,
        "loaded_solusvm_prompt": pr,
        "loaded": lo,
        "ratio_p99_loaded_to_unloaded": round(lo["p99_ms"] / u["p99_ms"], 3),
        "ratio_p50_loaded_to_unloaded": round(lo["p50_ms"] / u["p50_ms"], 3),
        "ratio_p99_loaded_to_loaded_solusvm_prompt": round(lo["p99_ms"] / pr["p99_ms"], 3),
        "goal": "ratio_p99_loaded_to_unloaded <= 2",
        "pages_solusvm_prompt": page_figures(pages["prompt"]),
        "pages_solusvm_late": page_figures(pages["late"]),
        "runs": {"unloaded": unloaded, "loaded": loaded},
        "page_errors": page_errors[:5],
        "page_error_count": len(page_errors),
        "seconds": round(time.monotonic() - started, 1),
    }
    out = write_result("pricing_under_slow_solusvm", result)
    print(json.dumps(result, indent=2))
    print(f"written to {out}")
    return result


if __name__ == "__main__":
    main()
