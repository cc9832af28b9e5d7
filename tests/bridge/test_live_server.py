"""`solus-bridge serve` under gunicorn on a free loopback port: GetTokenPricing over real HTTP."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from bridge.services import catalogue
from bridge.services.clients import create
from tests.bridge.conftest import session_of


def test_serve_answers_get_token_pricing(sqlite_url: str, tmp_path: Path) -> None:
    from tests.bridge.conftest import build_app

    app = build_app(sqlite_url, tmp_path)
    with session_of(app) as s, s.begin():
        cid = create(s, {"firstname": "a", "lastname": "b", "email": "live@example.com"}, actor="test").id
    app.extensions["bridge_db"]["engine"].dispose()
    catalogue.clear_cache()
    env = {**os.environ, "BRIDGE_DATABASE_URL": sqlite_url, "BRIDGE_PRICING_TOKEN": "live-token",
           "BRIDGE_SECRET_KEY": "live-secret"}
    proc = subprocess.Popen([sys.executable, "-c", "from bridge.cli import main; main()", "serve", "--port", "0",
                             "--workers", "1"], env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            text=True)
    try:
        port = None
        deadline = time.monotonic() + 90  # generous: the machine may be busy
        assert proc.stderr is not None
        while port is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            m = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", line)
            if m:
                port = int(m.group(1))
        assert port, "gunicorn did not report its port"
        url = f"http://127.0.0.1:{port}/modules/addons/solusio/api/"
        resp: Any = None
        while time.monotonic() < deadline:
            try:
                resp = requests.post(url, data={"token": "live-token", "action": "GetTokenPricing", "userid": cid},
                                     timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert resp is not None and resp.status_code == 200
        assert resp.headers["Content-Type"].startswith("application/json")
        assert '"user_token_unit_cost":0.001' in resp.text
        bad = requests.post(url, data={"token": "nope", "action": "GetTokenPricing", "userid": cid}, timeout=5)
        assert bad.status_code == 403
    finally:
        proc.terminate()
        proc.wait(timeout=30)
