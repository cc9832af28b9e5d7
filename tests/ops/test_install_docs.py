"""docs/install.md's wheel and git-URL commands, word for word, from a fresh clone."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "install.md"


def install_block() -> str:
    section = DOC.read_text().split("## From a git URL, and from a wheel", 1)[1]
    return section.split("```sh\n", 1)[1].split("```", 1)[0]


def test_no_doc_points_outside_the_repository() -> None:
    """A person who clones the repository has only the repository."""
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text()
        assert "../shared" not in text and "shared/reference" not in text, path
        for link in re.findall(r"\]\((?!https?://|#)([^)]+)\)", text):
            target = (path.parent / link.split("#")[0]).resolve()
            assert target.exists() and ROOT in target.parents, (path, link)


def test_install_doc_names_the_extra_for_pytest_n() -> None:
    text = DOC.read_text()
    assert "pytest-xdist" in text and "pytest -n" in text and '".[dev]"' in text
    dev = re.search(r"dev = \[(.*?)\]", (ROOT / "pyproject.toml").read_text(), re.S)
    assert dev and '"pytest-xdist' in dev.group(1) and '"build' in dev.group(1)


@pytest.mark.slow(seconds=40)  # builds a wheel, two virtualenvs with every dependency
def test_wheel_and_git_url_installs_as_documented(tmp_path: Path) -> None:
    venv_bin = Path(sys.executable).parent
    try:
        import build  # noqa: F401 - the dev extra provides it
    except ImportError:
        pytest.skip("the `build` package (dev extra) is not installed")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    # PIP_COMPILE=0 (the same as --no-compile; PIP_NO_COMPILE=1 would mean the opposite): pip does
    # not byte-compile every installed dependency, seconds of CPU per install that this test does
    # not need; the commands still run (Python compiles what they import).
    env = {**os.environ, "PATH": f"{venv_bin}{os.pathsep}{os.environ['PATH']}", "VIRTUAL_ENV": str(venv_bin.parent),
           "PIP_COMPILE": "0"}
    proc = subprocess.run(["bash", "-e", "-c", install_block()], cwd=clone, env=env, capture_output=True,
                          text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Usage: solus-bridge" in proc.stdout and "Usage: solus-contracts" in proc.stdout
    wheel_site = next((tmp_path / "bridge-wheel" / "lib").glob("python3*/site-packages"))
    assert (wheel_site / "bridge" / "web" / "templates" / "clientarea" / "_invoice_body.html").is_file()
    assert (wheel_site / "bridge" / "migrations").is_dir()
