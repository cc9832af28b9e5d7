"""Suite-wide settings.

Hypothesis runs derandomized by default so a red CI always means the code changed, not the
dice; ``HYPOTHESIS_PROFILE=explore`` draws fresh random examples (and more of them) for a
local bug hunt. A failure found that way gets its own explicit regression test.
"""

from __future__ import annotations

import os

from hypothesis import settings

from tests.pg import fresh_url  # noqa: F401 - a fixture for every package's migration tests

settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore", max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
