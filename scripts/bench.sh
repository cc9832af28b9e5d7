#!/usr/bin/env bash
# Every benchmark with its side-by-side references, one table of ratios and goals (docs/performance.md).
# Installs what it needs: the venv (bootstrap), wrk (Debian), Prism and WireMock (npm, into bench/.node/).
# Results: bench/results/*.json. Bounded: about 8 minutes on 2 cores, never more than 10.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
  else sudo apt-get install -y wrk >/dev/null; fi
fi
exec timeout 600 .venv/bin/python bench/suite.py "$@"
