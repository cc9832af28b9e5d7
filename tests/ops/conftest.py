"""Fixtures for the operations tests: the bridge fixtures (one migrated database per test) reused."""

from __future__ import annotations

from tests.bridge.conftest import (  # noqa: F401 - pytest finds fixtures by name
    _cheap_password_hashing,
    api,
    app,
    client,
    cred,
    db_url,
    make_client,
    pg_database,
    pg_reset_engine,
    sqlite_catalogue_template,
    sqlite_template,
    sqlite_url,
)
