"""Invoicing at scale: N clients with 2.5 N servers in the LIVE mock, invoiced by the CLI.

For each size (default 2,000 and 10,000 clients) the script

1. seeds the live mock (``mock-solusvm serve`` in its own process, loopback, port 0) with
   N users and 2.5 N servers through the control API; servers are interleaved across users
   (server i belongs to user i mod N), so the usage listing is not grouped by client;
2. creates a SQLite bridge database in a temp dir with the N clients;
3. measures the fetch-only floor: a child process pages through ``GET /api/v1/usage`` for
   the month with the bridge's own ``SolusVMClient`` and does nothing else;
4. runs ``solus-bridge invoices generate --period 2026-10 --no-mail`` as a child process.

Each child's wall time and peak RSS (``os.wait4`` rusage) are reported: invoices/s, the
ratio of the run to the floor, and how the run's RSS grows from the small to the big size.

    .venv/bin/python bench/invoicing_scale.py [--sizes 2000,10000] [--servers-per-client 2.5]

Bounded and loopback only; everything lives in a temp dir removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchlib import mock_seed  # noqa: E402

TOKEN = "bench-token"
# Peak RSS is read from /proc/self/status (VmHWM) at exit: rusage's ru_maxrss of a child
# also counts the bench process's memory copied at fork, before exec.
HWM = """
import atexit, os
def _hwm():
    with open("/proc/self/status") as fh:
        kib = next(int(l.split()[1]) for l in fh if l.startswith("VmHWM:"))
    with open(os.environ["BENCH_HWM_FILE"], "w") as out:
        out.write(str(kib))
atexit.register(_hwm)
"""
FLOOR = HWM + """
import sys, time
from datetime import date
from bridge.services.solusvm_client import SolusVMClient
solus = SolusVMClient(sys.argv[1], sys.argv[2], retries=2)
n = 0
for _ in solus.iter_usage(date(2026, 10, 1), date(2026, 10, 31), per_page=int(sys.argv[3])):
    n += 1
print(n)
"""


def child(cmd: list[str], env: dict[str, str], tmp: Path) -> tuple[float, int, str]:
    """Run a child; return (wall seconds, its own peak RSS in KiB, stdout)."""
    hwm = tmp / "hwm"
    start = time.perf_counter()
    proc = subprocess.run(cmd, env={**env, "BENCH_HWM_FILE": str(hwm)}, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"child failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-2000:]}")
    return wall, int(hwm.read_text()), proc.stdout


def start_mock(per_page: int) -> Any:
    """The live mock in a thread of this process (idle otherwise: the work runs in children).

    ``MAX_PER_PAGE`` is raised because the mock recomputes the whole usage list for every
    page request (O(servers) per page), which at 100 per page would make the floor itself
    quadratic in the number of servers.
    """
    from mock_solusvm.server import MockServer

    return MockServer(port=0, api_tokens=[TOKEN], config={"MAX_PER_PAGE": per_page}).start()


def seed_doc(n: int, per_client: float) -> dict[str, Any]:
    servers = []
    total = int(n * per_client)
    for i in range(total):
        uid = i % n + 1
        deleted = "2026-10-20T05:30:00Z" if i % 7 == 0 else None
        created = "2026-09-15T00:00:00Z" if i % 3 else f"2026-10-{1 + i % 28:02d}T{i % 24:02d}:10:00Z"
        servers.append({"id": i + 1, "name": f"vm-{i + 1}", "user_id": uid, "plan_id": 1 + i % 2,
                        "location_id": 1, "created_at": created, "deleted_at": deleted,
                        "additional_ip_count": 1 if i % 5 == 0 else 0})
    users = [{"id": u, "email": f"user{u}@example.com", "status": "active", "billing_user_id": u,
              "roles": [2], "limit_group_id": 1} for u in range(1, n + 1)]
    return mock_seed(users, servers, clock="2026-11-01T00:00:00Z")


def make_db(path: Path, n: int) -> str:
    from sqlalchemy import insert, select

    from bridge import db
    from bridge.models import Client, Currency
    from bridge.services import catalogue
    from bridge.services.unit_of_work import make_session_factory  # noqa: E402

    url = f"sqlite:///{path}"
    engine = db.make_engine(url)
    db.upgrade(engine)
    factory = make_session_factory(engine)
    with factory() as s, s.begin():
        catalogue.load_toml(s, catalogue.DEFAULT_CATALOGUE, actor="bench")
        usd = s.scalar(select(Currency.id).where(Currency.code == "USD"))
        s.execute(insert(Client), [{"id": u, "email": f"user{u}@example.com", "email_normalized": f"user{u}@example.com",
                                    "firstname": f"User{u}", "lastname": "Bench", "currency_id": usd}
                                   for u in range(1, n + 1)])
    engine.dispose()
    return url


def run_size(n: int, per_client: float, mock_url: str, tmp: Path, per_page: int,
             profile: Path | None = None) -> dict[str, Any]:
    from mock_solusvm.client import ControlClient

    t0 = time.perf_counter()
    ControlClient(mock_url, timeout=120).seed(seed_doc(n, per_client))  # a busy machine seeds slowly
    seed_s = time.perf_counter() - t0
    url = make_db(tmp / f"bridge-{n}.sqlite3", n)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")},
           "PYTHONPATH": str(ROOT), "BRIDGE_DATABASE_URL": url, "BRIDGE_SOLUSVM_URL": mock_url,
           "BRIDGE_SOLUSVM_API_TOKEN": TOKEN, "BRIDGE_SECRET_KEY": "b" * 32,
           "BRIDGE_MAIL_OUTBOX_DIR": str(tmp / "outbox"), "BRIDGE_USAGE_PER_PAGE": str(per_page)}
    floor_s, floor_rss, out = child([sys.executable, "-c", FLOOR, mock_url, TOKEN, str(per_page)], env, tmp)
    items = int(out.strip().splitlines()[-1])
    cli = HWM + "from bridge.cli import main; main()"
    if profile is not None:  # the run under cProfile (slower: compare ratios of unprofiled runs only)
        cli = HWM + f"import cProfile; from bridge.cli import main; cProfile.run('main()', {str(profile)!r})"
    run_s, run_rss, out = child([sys.executable, "-c", cli, "invoices", "generate", "--period", "2026-10",
                                 "--no-mail"], env, tmp)
    summary = next((line for line in out.splitlines() if "invoices created" in line), out[-500:])
    invoices = int(summary.split(" invoices created")[0].rsplit(" ", 1)[1]) if "invoices created" in summary else 0
    fetch = summary.rsplit(" in ", 1)[-1].rstrip("s") if " in " in summary else "nan"
    return {"clients": n, "run_fetch_s": float(fetch), "servers": int(n * per_client), "usage_items": items, "seed_s": round(seed_s, 1),
            "floor_s": round(floor_s, 2), "floor_rss_mib": round(floor_rss / 1024, 1),
            "run_s": round(run_s, 2), "run_rss_mib": round(run_rss / 1024, 1), "invoices": invoices,
            "invoices_per_s": round(invoices / run_s, 1), "ratio_to_floor": round(run_s / floor_s, 2),
            "summary": summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="2000,10000", help="comma-separated client counts")
    parser.add_argument("--servers-per-client", type=float, default=2.5)
    parser.add_argument("--per-page", type=int, default=1000, help="usage page size (mock MAX_PER_PAGE too)")
    parser.add_argument("--profile", metavar="DIR", help="run the CLI under cProfile; write DIR/run-N.prof "
                        "and print the top functions by cumulative time")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    sys.path.insert(0, str(ROOT))
    mock = start_mock(args.per_page)
    mock_url = mock.url
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="invoicing-bench-") as tmp:
            for n in sizes:
                prof = Path(args.profile) / f"run-{n}.prof" if args.profile else None
                res = run_size(n, args.servers_per_client, mock_url, Path(tmp), args.per_page, prof)
                results.append(res)
                print(json.dumps(res), flush=True)
                if prof is not None:
                    pstats.Stats(str(prof)).sort_stats("cumulative").print_stats(45)
    finally:
        mock.stop()
    print()
    print("| clients | servers | usage items | floor s | run s | run / floor | invoices/s | floor RSS MiB | run peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['clients']} | {r['servers']} | {r['usage_items']} | {r['floor_s']} | {r['run_s']} | "
              f"{r['ratio_to_floor']} | {r['invoices_per_s']} | {r['floor_rss_mib']} | {r['run_rss_mib']} |")
    if len(results) > 1:
        a, b = results[0], results[-1]
        print(f"\nRSS growth {a['clients']} → {b['clients']} clients: {b['run_rss_mib'] - a['run_rss_mib']:+.1f} MiB "
              f"({b['clients'] / a['clients']:.0f}× the clients)")
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "invoicing_scale.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
