"""Throughput of the mock: ``GET /api/v1/users?page=N`` with 10,000 users.

Measures, in one run, on loopback, with bounded durations:
1. the live mock (``MockServer``, werkzeug threaded) under ``wrk`` (or a Python load generator
   when wrk is missing): requests/s, p50, p99;
2. the in-process mode (``responses`` → Flask test client): calls/s from one thread;
3. WireMock (npm package ``wiremock``, bundles its jar) serving the same page body as a static
   stub, when it can be installed; the ratio mock/WireMock.

Prints a table and writes JSON to ``bench/results/mock_throughput.json``.

    .venv/bin/python bench/mock_throughput.py [--duration 5] [--connections 8] [--skip-wiremock]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
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

from mock_solusvm.inprocess import mock_solusvm  # noqa: E402
from mock_solusvm.server import MockServer  # noqa: E402

TOKEN = "bench-token"
USERS = 10_000
PAGES = USERS // 15


def seed() -> dict[str, Any]:
    """10,000 users, no passwords (hashing is not what is measured)."""
    return {"clock": "2026-10-01T00:00:00Z",
            "users": [{"email": f"user{i:05d}@bench.test", "billing_user_id": i} for i in range(1, USERS + 1)]}


WRK_LUA = """
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", "/api/v1/users?page=" .. ((counter %% %d) + 1), {["Authorization"] = "Bearer %s"})
end
"""


def _units(value: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", value)
    if not m:
        return float("nan")
    n, unit = float(m.group(1)), m.group(2)
    return n / 1000 if unit == "us" else n if unit == "ms" else n * 1000


def run_wrk(base: str, path_script: str | None, duration: int, connections: int, url_path: str) -> dict[str, Any]:
    """Run wrk with latency stats; returns rps, p50_ms, p99_ms."""
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency"]
    if path_script:
        cmd += ["-s", path_script]
    cmd.append(base + url_path)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _units(re.search(r"50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _units(re.search(r"99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"tool": "wrk", "rps": rps, "p50_ms": p50, "p99_ms": p99,
            "non_2xx": int(non2xx.group(1)) if non2xx else 0, "connections": connections, "duration_s": duration}


def run_python_load(base: str, duration: int, threads: int, headers: dict[str, str],
                    url_for: Any) -> dict[str, Any]:
    """A bounded threaded load generator (when wrk is not installed)."""
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + duration

    def worker(k: int) -> None:
        s = requests.Session()
        n, local = k, []
        while time.monotonic() < stop:
            t = time.perf_counter()
            s.get(base + url_for(n), headers=headers, timeout=10)
            local.append((time.perf_counter() - t) * 1000)
            n += threads
        with lock:
            latencies.extend(local)

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    start = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    elapsed = time.monotonic() - start
    q = statistics.quantiles(latencies, n=100)
    return {"tool": "python", "rps": len(latencies) / elapsed, "p50_ms": q[49], "p99_ms": q[98],
            "connections": threads, "duration_s": duration}


def bench_live(duration: int, connections: int) -> tuple[dict[str, Any], str]:
    with MockServer(port=0, api_tokens=[TOKEN], seed=seed()) as srv:
        body = requests.get(f"{srv.url}/api/v1/users?page=17", headers={"Authorization": f"Bearer {TOKEN}"}).text
        if shutil.which("wrk"):
            with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
                f.write(WRK_LUA % (PAGES, TOKEN))
            try:
                result = run_wrk(srv.url, f.name, duration, connections, "/api/v1/users?page=1")
            finally:
                os.unlink(f.name)
        else:
            result = run_python_load(srv.url, duration, 4, {"Authorization": f"Bearer {TOKEN}"},
                                     lambda n: f"/api/v1/users?page={n % PAGES + 1}")
    return result, body


def bench_inprocess(calls: int) -> dict[str, Any]:
    with mock_solusvm(base_url="https://bench.test", api_token=TOKEN, seed=seed()):
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {TOKEN}"
        for n in range(50):  # warm-up
            s.get(f"https://bench.test/api/v1/users?page={n + 1}")
        start = time.perf_counter()
        for n in range(calls):
            r = s.get(f"https://bench.test/api/v1/users?page={n % PAGES + 1}")
        elapsed = time.perf_counter() - start
        assert r.status_code == 200
    return {"calls": calls, "calls_per_s": calls / elapsed, "mean_ms": elapsed / calls * 1000}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_wiremock(body: str, duration: int, connections: int, install_timeout: int) -> dict[str, Any]:
    """Serve ``body`` as a WireMock static stub; skipped (with the reason) when it cannot run."""
    if not shutil.which("npm") or not shutil.which("java"):
        return {"skipped": "npm or java not found"}
    workdir = Path(tempfile.gettempdir()) / "mock-solusvm-bench-wiremock"
    workdir.mkdir(exist_ok=True)
    jar = next(workdir.glob("node_modules/wiremock/**/*.jar"), None)
    if jar is None:
        try:
            subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(workdir), "wiremock"],
                           capture_output=True, text=True, timeout=install_timeout, check=True)
        except (subprocess.SubprocessError, OSError) as err:
            return {"skipped": f"npm install wiremock failed: {type(err).__name__}"}
        jar = next(workdir.glob("node_modules/wiremock/**/*.jar"), None)
    if jar is None:
        return {"skipped": "wiremock jar not found in the npm package"}
    port = _free_port()
    proc = subprocess.Popen(["java", "-jar", str(jar), "--port", str(port), "--bind-address", "127.0.0.1",
                             "--disable-banner"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                requests.get(f"{base}/__admin/mappings", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.3)
        else:
            return {"skipped": "wiremock did not start within 60 s"}
        stub = {"request": {"method": "GET", "urlPath": "/api/v1/users"},
                "response": {"status": 200, "body": body, "headers": {"Content-Type": "application/json"}}}
        requests.post(f"{base}/__admin/mappings", json=stub, timeout=5).raise_for_status()
        if shutil.which("wrk"):
            with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
                f.write(WRK_LUA % (PAGES, TOKEN))
            try:
                run_wrk(base, f.name, 2, connections, "/api/v1/users?page=1")  # JIT warm-up
                result = run_wrk(base, f.name, duration, connections, "/api/v1/users?page=1")
            finally:
                os.unlink(f.name)
        else:
            result = run_python_load(base, duration, 4, {}, lambda n: f"/api/v1/users?page={n % PAGES + 1}")
        result["jar"] = jar.name
        return result
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--calls", type=int, default=3000, help="in-process calls")
    parser.add_argument("--skip-wiremock", action="store_true")
    parser.add_argument("--install-timeout", type=int, default=120)
    args = parser.parse_args()

    live, body = bench_live(args.duration, args.connections)
    inproc = bench_inprocess(args.calls)
    wm = {"skipped": "--skip-wiremock"} if args.skip_wiremock else bench_wiremock(
        body, args.duration, args.connections, args.install_timeout)
    ratio = live["rps"] / wm["rps"] if "rps" in wm else None

    print(f"\nGET /api/v1/users?page=N with {USERS} users, loopback, {os.cpu_count()} CPUs")
    print(f"{'target':<34}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    print(f"{'mock live (' + live['tool'] + ', c=' + str(live['connections']) + ')':<34}"
          f"{live['rps']:>10.0f}{live['p50_ms']:>10.2f}{live['p99_ms']:>10.2f}")
    print(f"{'mock in-process (1 thread)':<34}{inproc['calls_per_s']:>10.0f}{inproc['mean_ms']:>10.2f}{'':>10}")
    if "rps" in wm:
        print(f"{'WireMock static stub':<34}{wm['rps']:>10.0f}{wm['p50_ms']:>10.2f}{wm['p99_ms']:>10.2f}")
        print(f"ratio mock live / WireMock: {ratio:.3f}")
    else:
        print(f"WireMock: skipped ({wm['skipped']})")

    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "mock_throughput.json").write_text(json.dumps(
        {"users": USERS, "live": live, "inprocess": inproc, "wiremock": wm, "ratio_live_to_wiremock": ratio,
         "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, indent=2))
    print(f"written {out / 'mock_throughput.json'}")


if __name__ == "__main__":
    main()
