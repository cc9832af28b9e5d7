"""`solus-bridge demo` (what `bash scripts/demo.sh` runs) as a real subprocess: URLs, prices, browser, cleanup."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from bridge.demo import CLIENT_PASSWORD, PLANS, Demo

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


def field(banner: str, label: str) -> str:
    m = re.search(rf"^\s+{label}:\s+(\S+)", banner, re.M)
    assert m, f"{label} missing from the banner:\n{banner}"
    return m.group(1)


ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def running_demo(cmd: list[str], tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Start a demo command, read its banner, yield what it printed; always stopped at the end."""
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    # Settings in the environment must not leak into the demo: it embeds its own.
    env["BRIDGE_DATABASE_URL"] = "postgresql+psycopg://nobody@127.0.0.1:1/not-used"
    env["BRIDGE_PRICING_TOKEN"] = "from-the-environment"
    errors = open(tmp_path / "demo.stderr", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=errors, text=True)
    out: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            out.append(line)
            if "Press Ctrl-C" in line:
                break
        banner = "".join(out)
        assert "Press Ctrl-C" in banner, f"the demo did not come up:\n{banner}"
        yield {"proc": proc, "banner": banner, "tmp": tmp_path}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        errors.close()
        # On failure pytest shows this: the demo's own log lines (JSON) and any traceback.
        print((tmp_path / "demo.stderr").read_text()[-5000:])


@pytest.fixture
def demo_process(tmp_path: Path) -> Iterator[dict[str, Any]]:
    with running_demo([sys.executable, "-c", "from bridge.cli import main; main()", "demo", "--port", "0"],
                      tmp_path) as demo:
        yield demo


def test_demo_command_serves_seeded_bridge_and_mock_then_cleans_up(demo_process: dict[str, Any]) -> None:
    banner, proc = demo_process["banner"], demo_process["proc"]
    bridge = field(banner, "Bridge").rstrip("/")
    pricing_url = field(banner, "GetTokenPricing")
    token = re.search(r"GetTokenPricing:\s+\S+\s+token (\S+)", banner).group(1)  # type: ignore[union-attr]
    mock = field(banner, "Mock SolusVM").rstrip("/")
    mock_token = re.search(r"Mock SolusVM:.*token (\S+)", banner).group(1)  # type: ignore[union-attr]
    data_dir = Path(field(banner, "Data"))
    assert bridge.startswith("http://127.0.0.1:") and mock.startswith("http://127.0.0.1:")
    assert data_dir.is_dir() and str(data_dir).startswith(str(demo_process["tmp"]))
    assert token != "from-the-environment"

    # GetTokenPricing for the seeded clients: seed 001 prices, 5 % group, compound City 6 % + State 2 %.
    def price(userid: int) -> dict[str, Any]:
        resp = requests.post(pricing_url, data={"token": token, "action": "GetTokenPricing", "userid": userid},
                             timeout=10)
        assert resp.status_code == 200, resp.text
        return resp.json()

    admin = requests.Session()
    admin.headers["Authorization"] = f"Bearer {mock_token}"
    users = {u["email"]: u for u in admin.get(f"{mock}/api/v1/users", timeout=10).json()["data"]}
    assert set(users) >= {"demo@example.com", "reseller@example.com", "euro@example.com", "pound@example.com"}
    ids = {email: u["billing_user_id"] for email, u in users.items()}
    demo = price(ids["demo@example.com"])
    assert Decimal(str(demo["user_token_unit_cost"])) == Decimal("0.0010812")
    assert demo["taxes"] == {"compound": True, "rates": [{"label": "City Tax", "rate": 6},
                                                         {"label": "State Tax", "rate": 2}]}
    assert Decimal(str(price(ids["reseller@example.com"])["user_token_unit_cost"])) == \
        Decimal("0.001") * Decimal("0.95") * Decimal("1.0812")
    assert price(ids["euro@example.com"])["currency"]["code"] == "EUR"
    assert Decimal(str(price(ids["euro@example.com"])["user_token_unit_cost"])) == Decimal("0.00091")
    assert price(ids["pound@example.com"])["currency"]["code"] == "GBP"
    assert requests.post(pricing_url, data={"token": "wrong", "action": "GetTokenPricing", "userid": 1},
                         timeout=10).status_code == 403

    # The mock asks the bridge for prices: seed 001's plan table priced for the demo client.
    plans = admin.get(f"{mock}/api/v1/plans", params={"user_id": users["demo@example.com"]["id"]},
                      timeout=10).json()["data"]
    assert [(p["tokens_per_hour"], p["tokens_per_month"]) for p in plans] == \
        [(p["tokens_per_hour"], p["tokens_per_month"]) for p in PLANS] == [(7, 5000), (14, 10000), (21, 15000),
                                                                          (28, 20000)]
    assert plans[0]["price_error"] is None
    assert plans[0]["price"]["currency_code"] == "USD"
    assert plans[0]["price"]["per_month"] == "5.41"  # 5000 tokens x 0.0010812
    euro_plans = admin.get(f"{mock}/api/v1/plans", params={"user_id": users["euro@example.com"]["id"]},
                           timeout=10).json()["data"]
    assert euro_plans[3]["price"]["per_month"] == "18.20"  # 20000 x 0.00091 EUR
    settings = admin.get(f"{mock}/api/v1/settings", timeout=10).json()["data"]
    assert settings["features"]["allow_registration"] is False

    # Servers of different ages: one deleted after five minutes, one older than a month.
    servers = admin.get(f"{mock}/api/v1/servers", params={"per_page": 100}, timeout=10).json()["data"]
    assert {s["name"] for s in servers} >= {"web-1", "db-1", "shop-1", "berlin-1"}

    # Health and metrics answer.
    health = requests.get(f"{bridge}/healthz", timeout=10).json()
    assert health["status"] == "ok" and health["solusvm"]["state"] == "ok"
    assert "bridge_http_requests_total" in requests.get(f"{bridge}/metrics", timeout=10).text

    # Ctrl-C stops both servers and removes the temporary data.
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "temporary data removed" in rest
    assert not data_dir.exists()
    for url in (f"{bridge}/healthz", f"{mock}/api/v1/account"):
        with pytest.raises(requests.ConnectionError):
            requests.get(url, timeout=5)


def test_demo_landing_page_in_a_browser(demo_process: dict[str, Any]) -> None:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (bash scripts/bootstrap.sh --browser installs it)")
    from playwright.sync_api import sync_playwright

    banner = demo_process["banner"]
    bridge = field(banner, "Bridge").rstrip("/")
    email = re.search(r"Client area:.*login (\S+) / (\S+)", banner)
    assert email and email.group(2) == CLIENT_PASSWORD
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            resp = page.goto(bridge + "/", wait_until="load")
            assert resp is not None and resp.status == 200
            assert page.locator("form button", has_text="Sign up").count() == 1
            # The printed login works: the demo client reaches the client area.
            page.goto(bridge + "/login")
            page.fill("input[name=email]", email.group(1))
            page.fill("input[name=password]", email.group(2))
            page.click("form button:has-text('Log in')")
            page.wait_for_url(re.compile(r".*/clientarea.*"))
            assert "demo@example.com" in page.content() or "Dana" in page.content()
            # "Log in to SolusVM": a one-time token opens the mock's user area, whose plan prices
            # SolusVM (the mock) got from the bridge's GetTokenPricing for this client.
            page.click("form button:has-text('Log in to SolusVM')")
            mock = field(banner, "Mock SolusVM").rstrip("/")
            page.wait_for_url(re.compile(re.escape(mock) + r"/.*"))
            prices = page.locator("td.price").all_inner_texts()
            assert "5.41 USD" in prices  # web-1: 5000 tokens/month x 0.0010812
            assert "21.62 USD" in prices  # db-1: 20000 tokens/month x 0.0010812
            assert page.locator("td.price-error").count() == 0
        finally:
            browser.close()
    demo_process["proc"].send_signal(signal.SIGTERM)
    demo_process["proc"].communicate(timeout=30)
    assert demo_process["proc"].returncode == 0


def test_demo_refuses_a_taken_port(tmp_path: Path) -> None:
    """A port in use is a clear message and leaves nothing behind."""
    with Demo(data_dir=None) as running:
        port = int(running.info["bridge_url"].rsplit(":", 1)[1])
        proc = subprocess.run([sys.executable, "-c", "from bridge.cli import main; main()", "demo", "--port",
                               str(port)], capture_output=True, text=True, timeout=60,
                              env={**os.environ, "TMPDIR": str(tmp_path)})
    assert proc.returncode != 0
    assert "cannot start the demo" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_keep_and_data_dir_leave_the_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with Demo(keep=True) as kept:
        kept_dir = Path(kept.info["data_dir"])
        assert kept_dir.parent == tmp_path
    assert (kept_dir / "bridge.sqlite3").is_file()
    given = tmp_path / "given"
    with Demo(data_dir=str(given)) as running:
        assert running.info["data_dir"] == str(given)
        assert "removed on exit" not in running.banner()
    assert (given / "bridge.sqlite3").is_file()
    with Demo() as temporary:
        temp_dir = Path(temporary.info["data_dir"])
        assert "removed on exit" in temporary.banner()
    assert not temp_dir.exists()


def test_the_readme_demo_command_itself(tmp_path: Path) -> None:
    """`bash scripts/demo.sh`, word for word as the README gives it (on a set-up machine its
    bootstrap step is a no-op): the landing page answers and Ctrl-C cleans up."""
    venv_python = ROOT / ".venv" / "bin" / "python"
    if not venv_python.exists() or Path(sys.prefix).resolve() != venv_python.parent.parent.resolve():
        pytest.skip("runs only inside the project's .venv (the one scripts/bootstrap.sh makes)")
    with running_demo(["bash", "scripts/demo.sh", "--port", "0"], tmp_path) as demo:
        bridge = field(demo["banner"], "Bridge").rstrip("/")
        landing = requests.get(bridge + "/", timeout=10)
        assert landing.status_code == 200 and "Sign up" in landing.text
        demo["proc"].send_signal(signal.SIGINT)
        rest, _ = demo["proc"].communicate(timeout=30)
        assert demo["proc"].returncode == 0
        assert "temporary data removed" in rest
