"""The README's quick tour, word for word, in one bash: it must end with an invoice.

The tour uses fixed ports (8081, 5000) because a person pastes it; the test runs it in a
fresh network namespace (``unshare``) so it cannot collide with anything else on the
machine, or directly when unshare is unavailable and both ports are free.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def tour_block() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## A quick tour", 1)[1].split("\n## ", 1)[0]
    return section.split("```sh\n", 1)[1].split("```", 1)[0]


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def isolated_command(script: Path) -> list[str]:
    """bash in its own network namespace when possible; else plain bash if the ports are free."""
    unshare = shutil.which("unshare")
    if unshare:
        for flags in (["-n"], ["-r", "-n"]):
            probe = subprocess.run([unshare, *flags, "true"], capture_output=True)
            if probe.returncode == 0:
                return [unshare, *flags, "bash", "-c", f'ip link set lo up 2>/dev/null; exec bash -e "{script}"']
    if port_free(8081) and port_free(5000):
        return ["bash", "-e", str(script)]
    pytest.skip("no unshare and ports 8081/5000 are taken: cannot run the tour as written")


@pytest.mark.slow(seconds=15)
def test_the_readme_quick_tour_runs_word_for_word_and_ends_with_an_invoice(tmp_path: Path) -> None:
    venv_python = ROOT / ".venv" / "bin" / "python"
    if not venv_python.exists() or Path(sys.prefix).resolve() != venv_python.parent.parent.resolve():
        pytest.skip("runs only inside the project's .venv (the one scripts/bootstrap.sh makes)")
    script = tmp_path / "tour.sh"
    script.write_text(tour_block())
    # A person's shell has no BRIDGE_* settings of ours; the tour sets what it needs.
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    env["TMPDIR"] = str(tmp_path)
    proc = subprocess.run(isolated_command(script), cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "client 1 created: Ann Tour <ann@example.com>, billed in USD" in out
    assert '"user_token_unit_cost":0.001' in out
    assert "OK: every required check passed" in out
    assert "enrolled" in out
    assert "1 invoices created" in out and "written to the outbox" in out and "mails sent" not in out
    # the invoice, as `invoices show` prints it
    assert "Invoice #1  Unpaid  issued 2026-11-01, due 2026-11-15  (usage for 2026-10)" in out
    assert "5.00 USD  web-1, 1 Core, 1 GB RAM, 2026-10: 744 h, monthly price 5000 tokens" in out
    assert "1.34 USD  test-1 (deleted), 2 Cores, 4 GB RAM, 2026-10: 48 h × 28 tokens/h = 1344 tokens" in out
    assert "6.34 USD  Total" in out and "6.34 USD  Balance due" in out
    assert "PDF written to" in out
    # the last line stopped both servers and removed the scratch folder
    assert list(tmp_path.iterdir()) == [script]
