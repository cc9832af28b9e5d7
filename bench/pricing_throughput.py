"""GetTokenPricing throughput beside a trivial JSON route of the same app, in one run.

Creates a temporary SQLite database with 10,000 clients (mixed currencies, groups and tax
rules), serves the bridge with gunicorn (2 sync workers) on a free loopback port, and
drives it with ``wrk`` (POSTs with a random userid among the 10,000) then the trivial
``/bench/ping`` route. Reports requests/s, p50/p99 latency and the ratio, and writes JSON
to bench/results/. The two routes alternate for ``--rounds`` rounds and the medians are
reported, so load from other processes affects both alike.
Usage: ``.venv/bin/python bench/pricing_throughput.py [--duration 5] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import requests
from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge import db  # noqa: E402
from bridge.models import Client  # noqa: E402
from bridge.services import catalogue  # noqa: E402

TOKEN = "bench-token"
N_CLIENTS = 10_000
LUA = """
math.randomseed(os.time())
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
request = function()
  return wrk.format(nil, nil, nil, "token=%s&action=GetTokenPricing&userid=" .. math.random(1, %d))
end
"""


def prepare(url: str) -> None:
    db.upgrade(url)
    engine = db.make_engine(url)
    factory = db.make_session_factory(engine)
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


def start_gunicorn(url: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {**os.environ, "BRIDGE_DATABASE_URL": url, "BRIDGE_PRICING_TOKEN": TOKEN,
           "BRIDGE_SECRET_KEY": "bench-secret", "BRIDGE_BENCH_ROUTES": "true"}
    log = workdir / "gunicorn.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-k", "sync", "-b", "127.0.0.1:0", "--error-logfile",
         str(log), "bridge:create_app()"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = log.read_text() if log.exists() else ""
        m = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", text)
        if m:
            base = f"http://127.0.0.1:{m.group(1)}"
            try:
                if requests.get(base + "/bench/ping", timeout=1).status_code == 200:
                    return proc, base
            except requests.RequestException:
                pass
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit("gunicorn did not start:\n" + (log.read_text() if log.exists() else ""))


def to_ms(value: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", value)
    if not m:
        raise ValueError(value)
    n, unit = float(m.group(1)), m.group(2)
    return n / 1000 if unit == "us" else n * 1000 if unit == "s" else n


def run_wrk(url: str, duration: int, script: Path | None) -> dict[str, float]:
    cmd = ["wrk", "-t2", "-c16", f"-d{duration}s", "--latency"]
    if script:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True, timeout=duration + 30).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"non-2xx responses during the run:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = to_ms(re.search(r"^\s*50(?:\.000)?%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = to_ms(re.search(r"^\s*99(?:\.000)?%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    return {"requests_per_second": rps, "p50_ms": p50, "p99_ms": p99}


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per route per round (default 5)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating rounds; medians are reported, so a noisy neighbour hits both routes")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        url = f"sqlite:///{work / 'bench.sqlite3'}"
        t0 = time.monotonic()
        prepare(url)
        print(f"prepared {N_CLIENTS} clients in {time.monotonic() - t0:.1f}s")
        script = work / "pricing.lua"
        script.write_text(LUA % (TOKEN, N_CLIENTS))
        proc, base = start_gunicorn(url, work)
        try:
            sample = requests.post(base + "/modules/addons/solusio/api/",
                                   data={"token": TOKEN, "action": "GetTokenPricing", "userid": "2"}, timeout=5)
            sample.raise_for_status()
            run_wrk(base + "/modules/addons/solusio/api/", 2, script)  # warm both workers' caches
            rounds_p, rounds_t = [], []
            for _ in range(args.rounds):
                rounds_p.append(run_wrk(base + "/modules/addons/solusio/api/", args.duration, script))
                rounds_t.append(run_wrk(base + "/bench/ping", args.duration, None))
            pricing, ping = median_of(rounds_p), median_of(rounds_t)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    result = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "server": "gunicorn, 2 sync workers, SQLite (WAL)",
        "load": (f"wrk -t2 -c16 -d{args.duration}s --latency, random userid among {N_CLIENTS}; "
                 f"{args.rounds} alternating rounds per route, medians"),
        "rounds": {"get_token_pricing": rounds_p, "trivial_json_route": rounds_t},
        "clients": N_CLIENTS,
        "get_token_pricing": pricing,
        "trivial_json_route": ping,
        "ratio_rps": round(pricing["requests_per_second"] / ping["requests_per_second"], 3),
        "sample_response": sample.json(),
    }
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"pricing_throughput-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("sample_response", "rounds")}, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
