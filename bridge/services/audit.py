"""Audit log: one row per change, with who made it.

Actors are strings: ``"api:<credential name>"``, ``"cli"``, ``"system"``, ``"client:<id>"``,
``"admin:<name>"``, ``"api-admin:<name>"`` (an admin through the WHMCS API). ``record`` only
adds to the session, so the entry commits (or rolls back) together with the change it describes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from bridge.models import AuditLog


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def record(session: Session, actor: str, action: str, entity: str, entity_id: Any = "",
           detail: dict[str, Any] | None = None) -> AuditLog:
    """Add an audit entry to the session (no commit: it belongs to the caller's transaction)."""
    entry = AuditLog(actor=actor, action=action, entity=entity, entity_id=str(entity_id or ""),
                     detail=_jsonable(detail or {}))
    session.add(entry)
    return entry
