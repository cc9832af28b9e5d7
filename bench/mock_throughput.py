"""The mock beside its references, in one run: ``GET /api/v1/users?page=N`` with 10,000 users.

Live (``wrk``, 8 connections, ``--rounds`` rounds alternating the targets, medians):

- the mock as ``mock-solusvm serve`` (granian, one in-thread worker) and under gunicorn
  (one sync worker: the mock's state lives in one process);
- a bare Flask route serving the same page bytes on the same granian server (the ceiling);
- Prism (``@stoplight/prism-cli``, ``mock -v warn``) serving the same page as a static example;
- WireMock (npm ``wiremock``, its bundled jar) serving it as a static stub;
- the mock at one connection: p50.

npm packages go to ``bench/.node/`` (git-ignored); a reference that cannot be installed or
started is reported as skipped with the reason. Then, in this process:

- in-process mode (``mock_solusvm.inprocess``) against a static ``responses`` stub with the
  same body: calls/s from one thread and one ``requests.Session``, in alternating rounds;
- ``/usage`` scaling: the time to read every page of ``GET /api/v1/usage`` (100 per page) for
  1,000 and 5,000 users (2.5 servers each); the ratio should stay near 5.

JSON goes to bench/results/mock_throughput.json.

    .venv/bin/python bench/mock_throughput.py [--duration 4] [--rounds 2] [--skip-npm]
    .venv/bin/python bench/mock_throughput.py --usage-only [--usage-sizes 2000,10000]
"""

from __future__ import annotations

import argparse
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchlib import alternate, free_port, stop, wait_http, write_result, wrk  # noqa: E402

TOKEN = "bench-token"
USERS = 10_000
PAGES = USERS // 15
NODE = ROOT / "bench" / ".node"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WRK_LUA = """
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", "/api/v1/users?page=" .. ((counter %% %d) + 1), {["Authorization"] = "Bearer %s"})
end
"""


def users_seed() -> dict[str, Any]:
    """10,000 users, no passwords (hashing is not what is measured)."""
    return {"clock": "2026-10-01T00:00:00Z",
            "users": [{"email": f"user{i:05d}@bench.test", "billing_user_id": i} for i in range(1, USERS + 1)]}


def npm_install(install_timeout: int) -> str | None:
    """Install Prism and WireMock under bench/.node once; returns why not, or None."""
    if (NODE / "node_modules" / ".bin" / "prism").exists() and any(NODE.glob("node_modules/wiremock/**/*.jar")):
        return None
    if not shutil.which("npm"):
        return "npm not found"
    NODE.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(NODE), "@stoplight/prism-cli",
                        "wiremock"], capture_output=True, text=True, timeout=install_timeout, check=True)
    except (subprocess.SubprocessError, OSError) as err:
        return f"npm install failed: {type(err).__name__}"
    return None


def start(cmd: list[str], workdir: Path, name: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    log = open(workdir / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the server
    return subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=log, env={**os.environ, "HOME": str(workdir),
                                                                         **(env or {})})


def start_prism(body: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    spec = {"openapi": "3.0.3", "info": {"title": "users page", "version": "1"},
            "paths": {"/api/v1/users": {"get": {
                "parameters": [{"name": "page", "in": "query", "schema": {"type": "integer"}}],
                "responses": {"200": {"description": "a page of users",
                                      "content": {"application/json": {"example": json.loads(body)}}}}}}}}
    path = workdir / "prism.json"
    path.write_text(json.dumps(spec))
    port = free_port()
    proc = start([str(NODE / "node_modules" / ".bin" / "prism"), "mock", "-h", "127.0.0.1", "-p", str(port),
                  "-v", "warn", str(path)], workdir, "prism")
    return proc, f"http://127.0.0.1:{port}"


def start_wiremock(body: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    jar = next(NODE.glob("node_modules/wiremock/**/*.jar"))
    port = free_port()
    proc = start(["java", "-jar", str(jar), "--port", str(port), "--bind-address", "127.0.0.1", "--disable-banner"],
                 workdir, "wiremock")
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/__admin/mappings", timeout=90, proc=proc)
    stub = {"request": {"method": "GET", "urlPath": "/api/v1/users"},
            "response": {"status": 200, "body": body, "headers": {"Content-Type": "application/json"}}}
    requests.post(f"{base}/__admin/mappings", json=stub, timeout=10).raise_for_status()
    return proc, base


def bench_live(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    seed = workdir / "seed.json"
    seed.write_text(json.dumps(users_seed()))
    script = workdir / "users.lua"
    script.write_text(WRK_LUA % (PAGES, TOKEN))
    procs: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    skipped: dict[str, str] = {}
    try:
        port = free_port()
        procs["mock_granian"] = (start([sys.executable, "-c", "from mock_solusvm.cli import main; main()", "serve",
                                        "--port", str(port), "--api-token", TOKEN, "--seed", str(seed)],
                                       workdir, "mock"), f"http://127.0.0.1:{port}")
        port = free_port()
        procs["mock_gunicorn"] = (start([sys.executable, "-m", "gunicorn", "-w", "1", "-k", "sync", "-b",
                                         f"127.0.0.1:{port}", "--no-control-socket", "bench.mock_app:mock_from_env()"],
                                        workdir, "mock-gunicorn", {"BENCH_MOCK_SEED": str(seed),
                                                                   "BENCH_MOCK_TOKEN": TOKEN}),
                                  f"http://127.0.0.1:{port}")
        for name in ("mock_granian", "mock_gunicorn"):
            wait_http(procs[name][1] + "/api/v1/users?page=17", timeout=120, proc=procs[name][0], headers=AUTH)
        body = requests.get(procs["mock_granian"][1] + "/api/v1/users?page=17", headers=AUTH, timeout=10).text
        (workdir / "page.json").write_text(body)
        port = free_port()
        procs["bare_flask_granian"] = (start([sys.executable, "-m", "bench.mock_app", "bare", "--port", str(port),
                                              "--body", str(workdir / "page.json")], workdir, "bare"),
                                       f"http://127.0.0.1:{port}")
        wait_http(procs["bare_flask_granian"][1] + "/api/v1/users", proc=procs["bare_flask_granian"][0])
        why = "--skip-npm" if args.skip_npm else npm_install(args.install_timeout)
        if why:
            skipped = {"prism": why, "wiremock": why}
        else:
            for name, starter in (("prism", start_prism), ("wiremock", start_wiremock)):
                try:
                    procs[name] = starter(body, workdir)
                    wait_http(procs[name][1] + "/api/v1/users?page=1", timeout=90, proc=procs[name][0])
                except (SystemExit, OSError, StopIteration, requests.RequestException) as err:
                    skipped[name] = f"did not start: {err}"
                    if name in procs:
                        stop(procs.pop(name)[0])
        targets: dict[str, tuple[str, Path | str | None]] = {
            name: (base + "/api/v1/users?page=1", script) for name, (_p, base) in procs.items()}
        for url, scr in targets.values():
            wrk(url, 2, args.connections, scr)  # warm-up (the JVM's JIT above all)
        medians = alternate(targets, args.rounds, args.duration, args.connections)
        one = wrk(procs["mock_granian"][1] + "/api/v1/users?page=1", args.duration, 1, script, threads=1)
    finally:
        for proc, _base in procs.values():
            stop(proc)
    return {"medians": medians, "one_connection": one, "skipped": skipped, "page_bytes": len(body),
            "connections": args.connections}


def bench_inprocess(calls: int, rounds: int = 6) -> dict[str, Any]:
    """The in-process mock and a static ``responses`` stub with the same body, one thread.

    Both are registered on one ``responses`` mock (different hosts) and measured in
    alternating rounds, medians kept: load from other processes then hits both alike (one
    block each, one after the other, moved the ratio between 0.6 and 1.1 on a loaded machine).
    """
    import statistics

    import responses

    from mock_solusvm.inprocess import mock_solusvm

    def run(session: requests.Session, base: str, n_calls: int) -> float:
        t = time.perf_counter()
        for n in range(n_calls):
            r = session.get(f"{base}/api/v1/users?page={n % PAGES + 1}")
        elapsed = time.perf_counter() - t
        assert r.status_code == 200
        return n_calls / elapsed

    s = requests.Session()
    s.headers.update(AUTH)
    per_round = max(1, calls // rounds)
    rates: dict[str, list[float]] = {"mock": [], "static": []}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps, \
            mock_solusvm(base_url="https://bench.test", api_token=TOKEN, seed=users_seed(), responses_mock=rsps):
        body = s.get("https://bench.test/api/v1/users?page=17").content
        rsps.get("https://static.test/api/v1/users", body=body, content_type="application/json")
        for base in ("https://bench.test", "https://static.test"):
            run(s, base, PAGES)  # warm-up: every page once
        for _ in range(rounds):
            rates["mock"].append(run(s, "https://bench.test", per_round))
            rates["static"].append(run(s, "https://static.test", per_round))
    mock_rate, static_rate = statistics.median(rates["mock"]), statistics.median(rates["static"])
    return {"calls": per_round * rounds, "rounds": rounds, "mock_calls_per_s": round(mock_rate, 1),
            "responses_static_calls_per_s": round(static_rate, 1), "ratio": round(mock_rate / static_rate, 3)}


def usage_seed(users: int) -> dict[str, Any]:
    servers = [{"id": i + 1, "name": f"vm-{i + 1}", "user_id": i % users + 1, "plan_id": 1, "location_id": 1,
                "created_at": "2026-09-15T00:00:00Z" if i % 3 else "2026-10-05T10:00:00Z",
                "deleted_at": "2026-10-20T05:30:00Z" if i % 7 == 0 else None}
               for i in range(int(users * 2.5))]
    return {"clock": "2026-11-01T00:00:00Z",
            "plans": [{"id": 1, "name": "small", "tokens_per_hour": 7, "tokens_per_month": 5000}],
            "users": [{"id": u, "email": f"u{u}@bench.test", "billing_user_id": u} for u in range(1, users + 1)],
            "servers": servers}


def bench_usage(sizes: tuple[int, int]) -> dict[str, Any]:
    """Seconds to read every /usage page (100 per page) at two sizes; the mock in this process."""
    from mock_solusvm.server import MockServer

    out: dict[str, Any] = {}
    for users in sizes:
        with MockServer(port=0, api_tokens=[TOKEN], seed=usage_seed(users)) as srv:
            s = requests.Session()
            s.headers.update(AUTH)
            t = time.perf_counter()
            page, items = 1, 0
            while True:
                params: dict[str, str | int] = {"date_from": "2026-10-01", "date_to": "2026-10-31", "per_page": 100,
                                                "page": page}
                body = s.get(f"{srv.url}/api/v1/usage", params=params, timeout=60).json()
                items += len(body["data"])
                if not body["links"].get("next"):
                    break
                page += 1
            out[str(users)] = {"servers": int(users * 2.5), "items": items, "pages": page,
                               "seconds": round(time.perf_counter() - t, 3)}
    small, big = out[str(sizes[0])], out[str(sizes[1])]
    out["ratio_time"] = round(big["seconds"] / small["seconds"], 2)
    out["ratio_size"] = round(big["servers"] / small["servers"], 2)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--calls", type=int, default=3000, help="in-process calls per side")
    parser.add_argument("--skip-npm", action="store_true", help="no Prism or WireMock")
    parser.add_argument("--install-timeout", type=int, default=300)
    parser.add_argument("--usage-sizes", default="1000,5000", help="two user counts (2.5 servers each)")
    parser.add_argument("--usage-only", action="store_true",
                        help="only the /usage scaling row (no wrk, no npm); JSON to bench/results/mock_usage.json")
    args = parser.parse_args(argv)
    if args.usage_only:
        small, big = (int(x) for x in args.usage_sizes.split(","))
        usage = bench_usage((small, big))
        out = write_result("mock_usage", usage)
        print(json.dumps(usage, indent=2))
        print(f"written to {out}")
        return usage
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    with tempfile.TemporaryDirectory(prefix="mock-bench-") as tmp:
        live = bench_live(args, Path(tmp))
    inproc = bench_inprocess(args.calls)
    small, big = (int(x) for x in args.usage_sizes.split(","))
    usage = bench_usage((small, big))
    m = live["medians"]
    mock = m["mock_granian"]["rps"]
    result = {
        "users": USERS, "live": live, "inprocess": inproc, "usage": usage,
        "ratio_mock_to_bare_flask": round(mock / m["bare_flask_granian"]["rps"], 3),
        "ratio_mock_to_prism": round(mock / m["prism"]["rps"], 3) if "prism" in m else None,
        "ratio_mock_to_wiremock": round(mock / m["wiremock"]["rps"], 3) if "wiremock" in m else None,
        "ratio_granian_to_gunicorn_mock": round(mock / m["mock_gunicorn"]["rps"], 3),
        "p50_one_connection_ms": live["one_connection"]["p50_ms"],
    }
    out = write_result("mock_throughput", result)
    print(json.dumps(result, indent=2))
    print(f"written to {out}")
    return result


if __name__ == "__main__":
    main()
