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


def table_rows() -> list[list[str]]:
    """The settings table of docs/configuration.md: [keys, environment, default, meaning] per row."""
    doc = (ROOT / "docs" / "configuration.md").read_text()
    rows = []
    for line in doc.splitlines():
        if line.startswith("| `") or line.startswith("| —"):
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            assert len(cells) == 4, f"a settings row needs 4 columns: {line}"
            rows.append(cells)
    return rows


def documented_default(value: object) -> str:
    if value == "" or value is None:
        return "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def test_every_setting_has_its_environment_variable_default_and_meaning() -> None:
    from bridge.web import WEB_DEFAULTS

    rows = table_rows()
    defaults = {**DEFAULTS, **WEB_DEFAULTS}
    for key in sorted(settings_in_code()):
        row = next((r for r in rows if f"`{key}`" in r[0]), None)
        assert row is not None, f"{key}: no row in the settings table"
        keys, env, default, meaning = row
        wildcard = re.findall(r"`BRIDGE_([A-Z0-9_]+)\*`", env)
        assert f"`BRIDGE_{key}`" in env or any(key.startswith(p) for p in wildcard), f"{key}: environment column"
        assert default and meaning, f"{key}: default and meaning columns must not be empty"
        # The documented default is the code's (multi-key rows list theirs in the same order).
        if key in defaults and defaults[key] is not None and key not in {"CONFIG_FILE"}:
            assert documented_default(defaults[key]) in default, f"{key}: default {defaults[key]!r} vs {default}"


def test_toml_keys_are_the_documented_keys(tmp_path: Path) -> None:
    """A TOML file uses the table's keys (upper-cased on load)."""
    from bridge.config import load_config

    toml = tmp_path / "bridge.toml"
    toml.write_text('METRICS_TOKEN = "m"\ninvoice_pause = 2\nUSAGE_PER_PAGE = 50\n')
    cfg = load_config(tmp_path, environ={"BRIDGE_CONFIG_FILE": str(toml), "BRIDGE_SECRET_KEY": "k"})
    assert (cfg["METRICS_TOKEN"], cfg["INVOICE_PAUSE"], cfg["USAGE_PER_PAGE"]) == ("m", 2, 50)
