"""Shared helpers of the contracts tests: a migrated bridge app with one priced client.

The migrations run once per process into a template file that each app copies (the
Schemathesis per-action test builds one app per WHMCS action), and client passwords use the
cheap test hashing of tests/bridge/conftest.py: these tests are about answer shapes.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path
from typing import Any

from bridge import create_app, db
from bridge.services import catalogue, clients
from tests.bridge.conftest import _cheap_password_hashing  # noqa: F401 - autouse fixture

PRICING_TOKEN = "contracts-pricing-token"

CLIENT = {"firstname": "Ann", "lastname": "Lee", "email": "ann@example.com", "address1": "1 Main St",
          "city": "Springfield", "state": "IL", "postcode": "62701", "country": "US",
          "phonenumber": "+1.5551234", "password2": "hunter2!"}

#: A 5 % group discount and compound taxes 6 % and 2 %, so every pricing field carries weight.
CATALOGUE = {"groups": [{"name": "Special Client Group Discount", "discount_percent": "5"}],
             "tax_rules": [{"level": 1, "name": "City Tax", "country": "", "rate": "6"},
                           {"level": 2, "name": "State Tax", "country": "", "rate": "2"}],
             "settings": {"TaxEnabled": True, "TaxL2Compound": True}}


def make_bridge_app(tmp_path: Path) -> tuple[Any, int]:
    """A bridge on a fresh migrated SQLite file, default catalogue plus ``CATALOGUE``, one client.

    Returns ``(app, client_id)``; dispose ``app.extensions["bridge_db"]["engine"]`` when done.
    """
    path = tmp_path / "bridge.sqlite3"
    shutil.copy(_migrated_template(), path)
    url = f"sqlite:///{path}"
    catalogue.clear_cache()
    # Fuzzing sends many wrong credentials from one address: no throttle here (429 is documented).
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "contracts-tests", "PRICING_TOKEN": PRICING_TOKEN,
                      "SYSTEM_URL": "https://billing.test", "RATE_LIMIT_WHMCS_AUTH": "1000000/60"})
    app.instance_path = str(tmp_path / "instance")
    factory = app.extensions["bridge_db"]["session_factory"]
    with factory() as s, s.begin():
        catalogue.load_toml(s, catalogue.DEFAULT_CATALOGUE, actor="test")
        catalogue.load_catalogue(s, CATALOGUE, actor="test")
        client = clients.create(s, {**CLIENT, "groupid": 1}, actor="test")
        client_id = client.id
    return app, client_id


_TEMPLATE_DIRS: list[tempfile.TemporaryDirectory[str]] = []  # removed when the process exits


@functools.cache
def _migrated_template() -> Path:
    """A migrated, empty SQLite file, built once per process (module-scoped fixtures need it too)."""
    folder = tempfile.TemporaryDirectory(prefix="contracts-template-")
    _TEMPLATE_DIRS.append(folder)
    path = Path(folder.name) / "bridge.sqlite3"
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    engine.dispose()  # closing the last connection checkpoints the WAL into the file we copy
    return path
