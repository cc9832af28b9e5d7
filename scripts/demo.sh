#!/usr/bin/env bash
# The demo command of the README: installs what is missing, then starts the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/solus-bridge demo "$@"
