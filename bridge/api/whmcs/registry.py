"""The WHMCS action registry: ``@action("GetClients")`` registers a handler.

A handler takes an ``ActionContext`` and returns the success fields (without ``result``);
it raises ``bridge.errors.BridgeError`` subclasses for WHMCS errors. Names are matched
case-insensitively. Any module in this package is imported by the dispatcher, so a new
file with ``@action`` handlers is all it takes to add actions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from bridge.settings import Settings

Handler = Callable[["ActionContext"], dict[str, Any]]


@dataclass
class ActionSpec:
    name: str
    handler: Handler
    auth: bool = True  # False: the handler authenticates itself (GetTokenPricing's shared token)


ACTIONS: dict[str, ActionSpec] = {}


def action(name: str, *, auth: bool = True) -> Callable[[Handler], Handler]:
    """Register ``handler`` for WHMCS action ``name`` (case-insensitive)."""

    def deco(fn: Handler) -> Handler:
        key = name.lower()
        if key in ACTIONS and ACTIONS[key].handler is not fn:
            raise RuntimeError(f"WHMCS action {name} registered twice")
        ACTIONS[key] = ActionSpec(name, fn, auth)
        return fn

    return deco


@dataclass
class ActionContext:
    """What a handler gets: the request's parameters, session, actor and the bridge's settings."""

    params: Mapping[str, Any]
    session: Session
    actor: str
    settings: Settings
    remote_addr: str
    today: date
    responsetype: str = "json"
