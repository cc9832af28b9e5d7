#!/usr/bin/env bash
# The test command of the README: installs what is missing, then runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --browser
.venv/bin/ruff check .
.venv/bin/lint-imports --no-cache  # the layers (pyproject.toml [tool.importlinter], docs/internals.md)
.venv/bin/mypy  # types (pyproject.toml [tool.mypy])
exec .venv/bin/python -m pytest -n 2 "$@"
