"""docs/configuration.md lists every setting the code reads (so the table stays complete)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bridge.flask_glue import flask_config
from bridge.settings import KEYS, Settings

ROOT = Path(__file__).resolve().parents[2]
# Set by the code itself, not by operators.
INTERNAL = {"SESSION_COOKIE_HTTPONLY", "WTF_CSRF_CHECK_DEFAULT"}
# Copied into app.config for Flask itself (bridge.flask_glue.flask_config); reading them there is Flask's way.
FLASK_KEYS = set(flask_config(Settings()))
# Any other key read from a mapping would be a setting outside bridge.settings.
READS = re.compile(r'(?:config|cfg)(?:\.get\(|\[)\s*"([A-Z][A-Z0-9_]+)"')


def settings_in_code() -> set[str]:
    """Every key of ``bridge.settings.KEYS`` (the one table), plus any key still read ad hoc."""
    keys = set(KEYS)
    for path in (ROOT / "bridge").rglob("*.py"):
        keys.update(READS.findall(path.read_text()))
    return keys - INTERNAL


def test_settings_are_read_in_one_place() -> None:
    """No module reads a setting from a config mapping: they all come from ``bridge.settings``."""
    ad_hoc = {str(path.relative_to(ROOT)): READS.findall(path.read_text())
              for path in (ROOT / "bridge").rglob("*.py")}
    assert {path: found for path, found in ad_hoc.items() if set(found) - FLASK_KEYS} == {}


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
    rows = table_rows()
    defaults = KEYS
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
    from bridge import settings

    toml = tmp_path / "bridge.toml"
    toml.write_text('METRICS_TOKEN = "m"\ninvoice_pause = 2\nUSAGE_PER_PAGE = 50\n')
    cfg = settings.load(tmp_path, environ={"BRIDGE_CONFIG_FILE": str(toml), "BRIDGE_SECRET_KEY": "k"})
    assert (cfg.metrics_token, cfg.invoicing.pause, cfg.invoicing.usage_per_page) == ("m", 2, 50)


def test_values_of_every_source_are_read_by_one_parser(tmp_path: Path) -> None:
    """A yes/no or number setting means the same from the environment, a TOML file or create_app."""
    from bridge import settings

    env = {"BRIDGE_INVOICE_EMPTY": "yes", "BRIDGE_ACCESS_LOG": "off", "BRIDGE_SOLUSVM_RETRIES": "2",
           "BRIDGE_SECRET_KEY": "k"}
    from_env = settings.load(tmp_path, environ=env)
    given = settings.load(tmp_path, {"INVOICE_EMPTY": True, "ACCESS_LOG": False, "SOLUSVM_RETRIES": 2}, environ={})
    for cfg in (from_env, given):
        assert cfg.invoicing.empty is True and cfg.logging.access_log is False and cfg.solusvm.retries == 2


def test_a_value_that_cannot_be_read_stops_the_start_with_check_configs_words(tmp_path: Path) -> None:
    from bridge import settings

    with pytest.raises(settings.SettingsError) as exc:
        settings.load(tmp_path, {"OVERDUE_LOCK_DAYS": "soon", "LOG_FORMAT": "xml"}, environ={})
    assert str(exc.value) == ("OVERDUE_LOCK_DAYS must be a whole number >= 0, got 'soon'; "
                              "LOG_FORMAT must be one of json, text, got 'xml'")
