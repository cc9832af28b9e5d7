"""Suite-wide settings.

Hypothesis runs derandomized by default so a red CI always means the code changed, not the
dice; ``HYPOTHESIS_PROFILE=explore`` draws fresh random examples (and more of them) for a
local bug hunt. A failure found that way gets its own explicit regression test.

Tests marked ``slow`` (fresh virtualenvs, real server processes, cron subprocesses) run
first, heaviest first (``@pytest.mark.slow(seconds=N)``: rough CPU seconds): pytest-xdist hands
the first tests out to the workers in turn, so the long ones start at once on both workers and
the many short tests that follow fill in until both finish together, instead of one worker
starting a 40-second test near the end while the other sits idle.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from tests.pg import fresh_url  # noqa: F401 - a fixture for every package's migration tests

settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore", max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _slowness(item: pytest.Item) -> float:
    """0 for a test not marked ``slow``; else the mark's rough ``seconds`` of CPU (1 when not given)."""
    mark = item.get_closest_marker("slow")
    return 0.0 if mark is None else float(mark.kwargs.get("seconds", 1))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The ``slow`` tests first, heaviest first; the rest in their collected order (a stable sort).

    xdist's load scheduler deals the first tests out in turn, so the heaviest two start at
    once on different workers.
    """
    items.sort(key=lambda item: -_slowness(item))
