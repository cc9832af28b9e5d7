"""GetTokenPricing throughput beside a trivial JSON route of the same app, in one run.

Creates a temporary SQLite database with 10,000 clients (mixed currencies, groups and tax
rules), serves the bridge twice on free loopback ports, with gunicorn (2 sync workers) and
with ``solus-bridge serve`` (granian, 2 workers), and drives each with ``wrk`` (POSTs with a
random userid among the 10,000) and the trivial ``/bench/ping`` route of the same app. The
four targets alternate for ``--rounds`` rounds and the medians are reported, so load from
other processes affects all alike. Reports requests/s, p50/p99 and the ratios; JSON goes
to bench/results/pricing_throughput.json.

It also counts the Python function calls one request of each route makes through the whole
Flask app (``calls_per_request``: ``cProfile`` around ``app(environ, start_response)``, no
server): a figure that moves with the work done and not with the load of a shared machine.
``--calls`` prints only that (a second, no servers, no wrk).
Usage: ``.venv/bin/python bench/pricing_throughput.py [--duration 5] [--rounds 2] [--calls]``.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import insert
from werkzeug.test import EnvironBuilder

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchlib import PRICING_LUA, alternate, free_port, stop, wait_http, write_result, wrk  # noqa: E402
from bridge import create_app, db  # noqa: E402
from bridge.models import Client  # noqa: E402
from bridge.services import catalogue  # noqa: E402
from bridge.services.unit_of_work import make_session_factory  # noqa: E402

TOKEN = "bench-token"
N_CLIENTS = 10_000


def prepare(url: str) -> None:
    db.upgrade(url)
    engine = db.make_engine(url)
    factory = make_session_factory(engine)
    with factory() as s, s.begin():
        catalogue.load_toml(s, catalogue.DEFAULT_CATALOGUE, actor="bench")
        catalogue.load_catalogue(s, {
            "groups": [{"name": "Resellers", "discount_percent": "5"}],
            "tax_rules": [{"level": 1, "name": "City Tax", "country": "US", "rate": "6"},
                          {"level": 2, "name": "State Tax", "country": "US", "state": "IL", "rate": "2"},
                          {"level": 1, "name": "VAT", "country": "DE", "rate": "19"}],
            "settings": {"TaxEnabled": True, "TaxL2Compound": True}}, actor="bench")
    rows = [{"firstname": f"F{i}", "lastname": f"L{i}", "email": f"c{i}@bench.test",
             "email_normalized": f"c{i}@bench.test", "currency_id": 1 + i % 2, "group_id": 1 if i % 3 == 0 else None,
             "country": ("US", "DE", "FR")[i % 3], "state": "IL" if i % 2 else "NY", "tax_exempt": i % 10 == 0,
             "uuid": f"00000000-0000-0000-0000-{i:012d}"} for i in range(1, N_CLIENTS + 1)]
    with engine.begin() as conn:
        conn.execute(insert(Client), rows)
    engine.dispose()


def calls_per_request(url: str, n: int = 200) -> dict[str, float]:
    """Python function calls per request of each route through the whole app (hooks included),
    after a warm-up; no server, so the count is the same on a quiet or a busy machine."""
    app = create_app({"DATABASE_URL": url, "PRICING_TOKEN": TOKEN, "SECRET_KEY": "bench-secret",
                      "BENCH_ROUTES": "true", "LOG_LEVEL": "WARNING", "LOG_CONFIGURE": "false"})

    def environ(route: str, i: int) -> dict[str, Any]:
        if route == "ping":
            return EnvironBuilder(path="/bench/ping").get_environ()
        return EnvironBuilder(path="/modules/addons/solusio/api/", method="POST",
                              data=f"token={TOKEN}&action=GetTokenPricing&userid={1 + i % N_CLIENTS}",
                              content_type="application/x-www-form-urlencoded").get_environ()

    def start_response(status: str, _headers: Any, _exc_info: Any = None) -> None:
        if not status.startswith("200"):
            raise SystemExit(f"calls_per_request: {status}")

    counts = {}
    for route in ("ping", "pricing"):
        for i in range(n):  # warm-up: caches, compiled statements, the held connection
            b"".join(app(environ(route, i), start_response))
        environs = [environ(route, i) for i in range(n)]
        profile = cProfile.Profile()
        profile.enable()
        for env in environs:
            b"".join(app(env, start_response))
        profile.disable()
        counts[route] = round(sum(stat[1] for stat in profile.getstats()) / n, 1)  # type: ignore[index]
    return counts


def start_servers(url: str, workdir: Path) -> dict[str, tuple[subprocess.Popen[bytes], str]]:
    """gunicorn (2 sync workers, what `serve` used before) and `solus-bridge serve` (granian,
    2 workers), both up at once on their own ports so that the rounds can alternate."""
    env = {**os.environ, "BRIDGE_DATABASE_URL": url, "BRIDGE_PRICING_TOKEN": TOKEN, "HOME": str(workdir),
           "BRIDGE_SECRET_KEY": "bench-secret", "BRIDGE_BENCH_ROUTES": "true", "BRIDGE_LOG_LEVEL": "WARNING"}
    ports = {"gunicorn": free_port(), "granian": free_port()}
    cmds = {
        "gunicorn": [sys.executable, "-m", "gunicorn", "-w", "2", "-k", "sync", "-b", f"127.0.0.1:{ports['gunicorn']}",
                     "--no-control-socket", "bridge:create_app()"],
        "granian": [sys.executable, "-c", "from bridge.cli import main; main()", "serve", "--workers", "2",
                    "--port", str(ports["granian"])],
    }
    servers = {}
    for name, cmd in cmds.items():
        log = open(workdir / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the server
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=log)
        servers[name] = (proc, f"http://127.0.0.1:{ports[name]}")
    for proc, base in servers.values():
        wait_http(base + "/bench/ping", proc=proc)
    return servers


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per route per round (default 5)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="alternating rounds; medians are reported, so a noisy neighbour hits both routes")
    parser.add_argument("--calls", action="store_true",
                        help="only count the function calls per request of each route (no servers, no wrk)")
    args = parser.parse_args(argv)
    if args.calls:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
            prepare(url)
            calls = calls_per_request(url)
        print(json.dumps({"calls_per_request": calls}))
        return {"calls_per_request": calls}
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        url = f"sqlite:///{work / 'bench.sqlite3'}"
        t0 = time.monotonic()
        prepare(url)
        print(f"prepared {N_CLIENTS} clients in {time.monotonic() - t0:.1f}s")
        calls = calls_per_request(url)
        script = work / "pricing.lua"
        script.write_text(PRICING_LUA % (TOKEN, N_CLIENTS))
        servers = start_servers(url, work)
        try:
            pricing_url = "/modules/addons/solusio/api/"
            sample = requests.post(servers["granian"][1] + pricing_url,
                                   data={"token": TOKEN, "action": "GetTokenPricing", "userid": "2"}, timeout=5)
            sample.raise_for_status()
            targets: dict[str, tuple[str, Path | None]] = {}
            for name, (_proc, base) in servers.items():
                wrk(base + pricing_url, 2, 16, script)  # warm every worker's caches
                targets[f"{name}_pricing"] = (base + pricing_url, script)
                targets[f"{name}_ping"] = (base + "/bench/ping", None)
            medians = alternate(targets, args.rounds, args.duration)
        finally:
            for proc, _base in servers.values():
                stop(proc)
    g, gp = medians["granian_pricing"], medians["granian_ping"]
    result = {
        "load": (f"wrk -t2 -c16 -d{args.duration}s --latency, random userid among {N_CLIENTS}; "
                 f"{args.rounds} rounds alternating the four targets, medians"),
        "clients": N_CLIENTS,
        "servers": {"gunicorn": "gunicorn 2 sync workers", "granian": "solus-bridge serve --workers 2 (granian)"},
        "medians": medians,
        "ratio_pricing_to_ping": round(g["rps"] / gp["rps"], 3),
        "ratio_p99_pricing_to_ping": round(g["p99_ms"] / gp["p99_ms"], 3),
        "ratio_granian_to_gunicorn_pricing": round(g["rps"] / medians["gunicorn_pricing"]["rps"], 3),
        "ratio_granian_to_gunicorn_ping": round(gp["rps"] / medians["gunicorn_ping"]["rps"], 3),
        "calls_per_request": calls,
        "sample_response": sample.json(),
    }
    out = write_result("pricing_throughput", result)
    print(json.dumps({k: v for k, v in result.items() if k != "sample_response"}, indent=2))
    print(f"written to {out}")
    return result


if __name__ == "__main__":
    main()
