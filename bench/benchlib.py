"""Shared helpers of the benchmarks: wrk runs, free ports, waiting for a server, results files."""

from __future__ import annotations

import json
import re
import socket
import statistics
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 60, proc: subprocess.Popen[Any] | None = None, **kw: Any) -> None:
    """Wait until ``url`` answers (any status below 500)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"server exited early: {proc.args}")
        try:
            if requests.get(url, timeout=2, **kw).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout}s")


def stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def to_ms(value: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", value)
    if not m:
        raise ValueError(value)
    n, unit = float(m.group(1)), m.group(2)
    return n / 1000 if unit == "us" else n * 1000 if unit == "s" else n


def wrk(url: str, duration: float, connections: int = 16, script: Path | str | None = None,
        threads: int = 2, timeout: float | None = None) -> dict[str, float]:
    """One ``wrk --latency`` run: requests/s, p50 and p99 in ms. Non-2xx answers abort the bench.

    ``timeout`` (seconds) replaces wrk's default of 2 s, and answers slower than it, which wrk
    leaves out of its percentiles, abort the bench: a latency bench must count every answer."""
    cmd = ["wrk", f"-t{min(threads, connections)}", f"-c{connections}", f"-d{duration}s", "--latency"]
    if timeout is not None:
        cmd += ["--timeout", f"{timeout:g}s"]
    if script:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True,
                         timeout=duration + 60 + (timeout or 0)).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"non-2xx responses from {url}:\n{out}")
    timeouts = re.search(r"Socket errors:.*timeout (\d+)", out)
    if timeout is not None and timeouts and int(timeouts.group(1)):
        raise SystemExit(f"answers slower than {timeout:g} s from {url}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = to_ms(re.search(r"^\s*50(?:\.000)?%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = to_ms(re.search(r"^\s*99(?:\.000)?%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99}


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: round(statistics.median(r[k] for r in runs), 3) for k in runs[0]}


def alternate(targets: dict[str, tuple[str, Path | str | None]], rounds: int, duration: float,
              connections: int = 16) -> dict[str, dict[str, float]]:
    """Run every target once per round, in turn, and keep the medians: load from other
    processes on a shared machine then hits every target alike."""
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
    for _ in range(rounds):
        for name, (url, script) in targets.items():
            runs[name].append(wrk(url, duration, connections, script))
    return {name: median_of(r) for name, r in runs.items()}


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {"at": datetime.now(UTC).isoformat(timespec="seconds"), **data}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


# wrk script for GetTokenPricing: a random userid among the first %d clients (format with
# (token, n_clients)).
PRICING_LUA = """
math.randomseed(os.time())
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
request = function()
  return wrk.format(nil, nil, nil, "token=%s&action=GetTokenPricing&userid=" .. math.random(1, %d))
end
"""


def mock_seed(users: list[dict[str, Any]], servers: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """A mock seed with the benches' shared limit group and two plans (a capped one, an hourly one)."""
    return {
        **extra,
        "limit_groups": [{"id": 1, "name": "Default", "vms": {"limit": 100, "is_enabled": False},
                          "running_vms": {"limit": 100, "is_enabled": False},
                          "additional_ips": {"limit": 10, "is_enabled": False}}],
        "plans": [{"id": 1, "name": "small", "tokens_per_hour": 7, "tokens_per_month": 5000,
                   "ip_tokens_per_hour": 1, "ip_tokens_per_month": 500, "backup_price": 0,
                   "params": {"vcpu": 1, "ram": 1073741824, "disk": 10}},
                  {"id": 2, "name": "hourly", "tokens_per_hour": 11, "tokens_per_month": 0,
                   "ip_tokens_per_hour": 1, "ip_tokens_per_month": 0, "backup_price": 0,
                   "params": {"vcpu": 2, "ram": 2147483648, "disk": 20}}],
        "users": users,
        "servers": servers,
    }
