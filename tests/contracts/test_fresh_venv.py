"""The plugin's README example passes in a fresh virtualenv that installs only the package.

Slow (it installs the package and its dependencies): it proves the plugin, the mock and
the OpenAPI files ship in the distribution and need nothing from the dev extras.
"""

from __future__ import annotations

import os
import subprocess
import venv
from pathlib import Path

import pytest

from tests.contracts.test_plugin_example import example_source

REPO = Path(__file__).resolve().parents[2]
# Messages pip prints when it cannot reach (or find things in) the package index.
OFFLINE_HINTS = ("No matching distribution", "Could not find a version", "Failed to establish a new connection",
                 "Temporary failure in name resolution", "Network is unreachable", "ProxyError")


@pytest.mark.slow(seconds=30)  # a virtualenv with every dependency
@pytest.mark.timeout(240)
def test_example_in_a_fresh_virtualenv(tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    # The package as an integrator installs it (the `mock` extra for the in-process fixture, no dev
    # extras), and only pytest on top.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # PIP_COMPILE=0 is --no-compile (PIP_NO_COMPILE=1 would mean the opposite): no byte-compiling
    # of every dependency at install time, seconds of CPU this test does not need.
    env["PIP_COMPILE"] = "0"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"{REPO}[mock]", "pytest"],
        capture_output=True, text=True, env=env, timeout=200,
    )
    if install.returncode != 0:
        output = install.stdout + install.stderr
        if any(hint in output for hint in OFFLINE_HINTS):
            pytest.skip(f"pip cannot reach the package index: {output.strip().splitlines()[-1]}")
        pytest.fail(f"pip install failed:\n{output[-3000:]}")

    work = tmp_path / "integrator"
    work.mkdir()
    (work / "test_integrator.py").write_text(example_source(), encoding="utf-8")
    run = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_integrator.py"],
                         cwd=work, capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "4 passed" in run.stdout
    # and it really used the installed copy, not this checkout
    where = subprocess.run([str(python), "-c", "import mock_solusvm.pytest_plugin as p; print(p.__file__)"],
                           cwd=work, capture_output=True, text=True, env=env, check=True).stdout
    assert where.startswith(str(env_dir)), where
    # the OpenAPI documents ship with the package and match its schemas
    shipped = subprocess.run([str(python), "-c", "from contracts.openapi import check_specs; print(check_specs())"],
                             cwd=work, capture_output=True, text=True, env=env, check=True).stdout
    assert shipped.strip() == "[]"
