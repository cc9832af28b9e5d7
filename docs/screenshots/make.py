"""Regenerate the screenshots in this folder: runs the browser journey with its output here.

    .venv/bin/python docs/screenshots/make.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

if __name__ == "__main__":
    env = {**os.environ, "BRIDGE_SCREENSHOTS_DIR": str(HERE)}
    sys.exit(subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                              "tests/web/test_browser.py", "tests/web/test_browser_pages.py"], cwd=ROOT, env=env))
