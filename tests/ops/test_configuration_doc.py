"""docs/configuration.md lists every setting the code reads (so the table stays complete)."""

from __future__ import annotations

import re
from pathlib import Path

from bridge.config import DEFAULTS

ROOT = Path(__file__).resolve().parents[2]
# Set by the code itself, not by operators.
INTERNAL = {"INSTANCE_PATH", "SESSION_COOKIE_HTTPONLY", "WTF_CSRF_CHECK_DEFAULT"}
READS = re.compile(r'(?:config|cfg)(?:\.get\(|\[)\s*"([A-Z][A-Z0-9_]+)"|(?:as_int|flag)\("([A-Z][A-Z0-9_]+)"\)')


def settings_in_code() -> set[str]:
    keys = set(DEFAULTS)
    for path in (ROOT / "bridge").rglob("*.py"):
        for a, b in READS.findall(path.read_text()):
            keys.add(a or b)
    try:
        from bridge.web import WEB_DEFAULTS
    except ImportError:
        pass
    else:
        keys |= set(WEB_DEFAULTS)
    return keys - INTERNAL


def test_every_setting_is_documented() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()
    keys = settings_in_code()
    assert {"DATABASE_URL", "PRICING_TOKEN", "LOG_FORMAT", "HEALTH_SOLUSVM_TTL"} <= keys  # the scan finds them
    missing = sorted(k for k in keys if f"`{k}`" not in doc)
    assert missing == [], f"add these settings to docs/configuration.md: {missing}"
