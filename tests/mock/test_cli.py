"""``mock-solusvm serve`` as a subprocess: --port 0 prints the port, --seed loads the default namespace."""

from __future__ import annotations

import json
import subprocess
import sys

import requests

from .conftest import seed_doc


def test_serve_port_0_with_seed_and_tokens(tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(seed_doc()))
    proc = subprocess.Popen(
        [sys.executable, "-c", "from mock_solusvm.cli import main; main()", "serve", "--port", "0",
         "--api-token", "t1", "--api-token", "t2", "--seed", str(seed), "--validate-responses"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("mock-solusvm listening on http://127.0.0.1:"), line
        url = line.split()[-1]
        for tok in ("t1", "t2"):
            r = requests.get(f"{url}/api/v1/users", headers={"Authorization": f"Bearer {tok}"}, timeout=5)
            assert [u["email"] for u in r.json()["data"]] == ["ann@example.com", "bob@example.com"]
        assert requests.get(f"{url}/api/v1/users", headers={"Authorization": "Bearer mock-admin-token"},
                            timeout=5).status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_serve_refuses_a_bad_seed_without_traceback(tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"users": [{"email": "a@b.c"}, {"email": "a@b.c"}]}))
    proc = subprocess.run(
        [sys.executable, "-c", "from mock_solusvm.cli import main; main()", "serve", "--port", "0",
         "--seed", str(seed)], capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0 and "cannot load the seed" in proc.stderr and "Traceback" not in proc.stderr
