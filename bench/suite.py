"""Every benchmark with its side-by-side references, one table of ratios against their goals.

Runs ``bench/pricing_throughput.py`` (the bridge on gunicorn and granian), ``bench/mock_throughput.py``
(the mock beside a bare Flask route, Prism, WireMock, ``responses``; /usage scaling),
``bench/invoicing_scale.py`` (the monthly run against its usage-fetch floor) and
``bench/pricing_under_slow_solusvm.py`` (GetTokenPricing while SolusVM is 10 s late and pages
load), then prints the table and writes bench/results/suite.json. Each ratio compares figures
taken in the same run.

    .venv/bin/python bench/suite.py [--quick] [--skip-invoicing]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import mock_throughput, pricing_throughput  # noqa: E402
from bench.benchlib import write_result  # noqa: E402


def invoicing(sizes: str) -> dict[str, Any]:
    """bench/invoicing_scale.py in a child process; its JSON lines are the results per size."""
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "invoicing_scale.py"), "--sizes", sizes],
                         capture_output=True, text=True, timeout=900)
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    result: dict[str, Any] = {"sizes": rows}
    missing = [n for n in sizes.split(",") if int(n) not in {r["clients"] for r in rows}]
    if missing:
        last = (out.stderr.strip().splitlines() or ["no output"])[-1][:200]
        result["skipped"] = f"no result for {', '.join(missing)} clients (exit {out.returncode}): {last}"
    return result


def slow_solusvm(quick: bool) -> dict[str, Any]:
    """bench/pricing_under_slow_solusvm.py in a child process (its in-thread mock is stopped at its
    exit); the figures are read back from its results file."""
    args = ["--duration", "2", "--rounds", "1"] if quick else []
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "pricing_under_slow_solusvm.py"), *args],
                         capture_output=True, text=True, timeout=180)
    path = ROOT / "bench" / "results" / "pricing_under_slow_solusvm.json"
    if out.returncode != 0 or not path.exists():
        last = (out.stderr.strip().splitlines() or ["no output"])[-1][:200]
        return {"skipped": f"exit {out.returncode}: {last}"}
    return json.loads(path.read_text())


def row(name: str, value: float | None, goal: str, ok: bool | None, note: str = "") -> dict[str, Any]:
    return {"measure": name, "value": value, "goal": goal, "met": ok, "note": note}


def table(p: dict[str, Any], m: dict[str, Any], inv: dict[str, Any], slow: dict[str, Any]) -> list[dict[str, Any]]:
    med, live = p["medians"], m["live"]["medians"]
    rows = [
        row("1. bridge ping: granian / gunicorn sync (2 workers each)", p["ratio_granian_to_gunicorn_ping"], "> 1",
            p["ratio_granian_to_gunicorn_ping"] > 1, "the server comparison"),
        row("1. mock page: granian / gunicorn sync (1 worker each)", m["ratio_granian_to_gunicorn_mock"], "> 1",
            m["ratio_granian_to_gunicorn_mock"] > 1, "the server comparison"),
        row("2. GetTokenPricing / trivial JSON route (granian, c=16)", p["ratio_pricing_to_ping"], ">= 0.95",
            p["ratio_pricing_to_ping"] >= 0.95,
            f"{med['granian_pricing']['rps']:.0f} vs {med['granian_ping']['rps']:.0f} req/s"),
        row("2. GetTokenPricing p99 / trivial route p99", p["ratio_p99_pricing_to_ping"], "<= 1.2",
            p["ratio_p99_pricing_to_ping"] <= 1.2,
            f"{med['granian_pricing']['p99_ms']} vs {med['granian_ping']['p99_ms']} ms"),
        row("2. GetTokenPricing: granian / gunicorn sync", p["ratio_granian_to_gunicorn_pricing"], ">= 2",
            p["ratio_granian_to_gunicorn_pricing"] >= 2,
            f"{med['granian_pricing']['rps']:.0f} vs {med['gunicorn_pricing']['rps']:.0f} req/s"),
    ]
    name = "2. GetTokenPricing p99, SolusVM 10 s late + 4 page loaders / unloaded"
    if "skipped" in slow:
        rows.append(row(name, None, "<= 2", None, slow["skipped"]))
    else:
        ratio = slow["ratio_p99_loaded_to_unloaded"]
        rows.append(row(name, ratio, "<= 2", ratio <= 2,
                        f"{slow['loaded']['p99_ms']} vs {slow['unloaded']['p99_ms']} ms; pages p50 "
                        f"{slow['pages_solusvm_late']['p50_ms']} ms"))
    for size in inv.get("sizes", []):
        rows.append(row(f"3. monthly run / usage-fetch floor, {size['clients']} clients",
                        size["ratio_to_floor"], "<= 1.25", size["ratio_to_floor"] <= 1.25,
                        f"{size['run_s']} s vs {size['floor_s']} s; peak RSS {size['run_rss_mib']} MiB"))
    if "skipped" in inv:
        rows.append(row("3. monthly run / usage-fetch floor", None, "<= 1.25", None, inv["skipped"]))
    mock = live["mock_granian"]["rps"]
    rows += [
        row("4. live mock / bare Flask route, same bytes, same server (c=8)", m["ratio_mock_to_bare_flask"],
            ">= 0.9", m["ratio_mock_to_bare_flask"] >= 0.9,
            f"{mock:.0f} vs {live['bare_flask_granian']['rps']:.0f} req/s"),
        row("4. live mock / Prism static example", m["ratio_mock_to_prism"], ">= 2",
            None if m["ratio_mock_to_prism"] is None else m["ratio_mock_to_prism"] >= 2,
            m["live"]["skipped"].get("prism", f"{live.get('prism', {}).get('rps', 0):.0f} req/s")),
        row("4. live mock / WireMock static stub", m["ratio_mock_to_wiremock"], ">= 0.6",
            None if m["ratio_mock_to_wiremock"] is None else m["ratio_mock_to_wiremock"] >= 0.6,
            m["live"]["skipped"].get("wiremock", f"{live.get('wiremock', {}).get('rps', 0):.0f} req/s")),
        row("4. live mock p50 at one connection (ms)", m["p50_one_connection_ms"], "<= 1",
            m["p50_one_connection_ms"] <= 1),
        row(f"4. /usage read-all time at {m['usage']['ratio_size']}x the servers", m["usage"]["ratio_time"],
            "<= 5.5", m["usage"]["ratio_time"] <= 5.5,
            " vs ".join(f"{v['seconds']} s" for k, v in m["usage"].items() if isinstance(v, dict))),
        row("5. in-process mock / static responses stub", m["inprocess"]["ratio"], ">= 0.6",
            m["inprocess"]["ratio"] >= 0.6,
            f"{m['inprocess']['mock_calls_per_s']:.0f} vs {m['inprocess']['responses_static_calls_per_s']:.0f} calls/s"),
    ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (a smoke test of the suite)")
    parser.add_argument("--skip-invoicing", action="store_true")
    parser.add_argument("--invoicing-sizes", default="2000,10000")
    args = parser.parse_args()
    started = time.monotonic()
    d, r = ("2", "1") if args.quick else ("5", "2")
    p = pricing_throughput.main(["--duration", d, "--rounds", r])
    m = mock_throughput.main(["--duration", str(int(d) - 1 if not args.quick else 2), "--rounds", r,
                              *(["--usage-sizes", "200,1000", "--calls", "500"] if args.quick else [])])
    slow = slow_solusvm(args.quick)
    inv = {"skipped": "--skip-invoicing"} if args.skip_invoicing else invoicing(
        "500" if args.quick else args.invoicing_sizes)
    rows = table(p, m, inv, slow)
    elapsed = round(time.monotonic() - started)
    width = max(len(x["measure"]) for x in rows)
    print(f"\n{'measure':<{width}}  {'ratio':>8}  {'goal':<8}  met  note")
    for x in rows:
        value = "-" if x["value"] is None else f"{x['value']:.3g}"
        met = "-" if x["met"] is None else ("yes" if x["met"] else "NO")
        print(f"{x['measure']:<{width}}  {value:>8}  {x['goal']:<8}  {met:<3}  {x['note']}")
    print("\n6. the test suite (<= 3 min on 2 cores) is timed by `bash scripts/test.sh`, not here.")
    print(f"suite took {elapsed} s")
    out = write_result("suite", {"seconds": elapsed, "table": rows, "pricing": p, "mock": m, "invoicing": inv,
                                      "pricing_under_slow_solusvm": slow})
    print(f"written to {out}")


if __name__ == "__main__":
    main()
