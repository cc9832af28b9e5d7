"""Fault rules: answer a matching request with a given status/body, delay it, drop it or garble it."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

from contracts.mock_control import FaultRuleCreateSchema, FaultRuleSchema

from .journal import matches
from .parsing import load


@dataclass
class FaultRule:
    """One active rule; ``remaining`` counts down when ``times`` was given."""

    id: int
    method: str | None = None
    path: str | None = None
    status: int | None = None
    body: Any = None
    headers: dict[str, str] | None = None
    delay: float | None = None
    drop: bool = False
    malformed: bool = False
    times: int | None = None
    probability: float | None = None
    seed: int | None = None
    remaining: int | None = None
    hits: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False)


#: The rules as the control API shows them (``GET /__mock/faults``, the state dump).
_RULES = FaultRuleSchema(many=True)


class Faults:
    """The fault rules of one namespace; the first matching, firing rule wins."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._next = 1

    def add(self, spec: Any) -> FaultRule:
        """Validate (``FaultRuleCreateSchema``) and add a rule; raises ``Invalid`` for bad specs."""
        data = load(FaultRuleCreateSchema(), spec)
        with self._lock:
            rule = FaultRule(id=self._next, remaining=data.get("times"), **data)
            rule.rng = random.Random(data.get("seed"))
            self._next += 1
            self._rules.append(rule)
        return rule

    def match(self, method: str, path: str) -> FaultRule | None:
        """The rule that fires for this request, if any (consumes one of its ``times``)."""
        with self._lock:
            for rule in self._rules:
                if rule.remaining == 0 or not matches(method, path, rule.method, rule.path):
                    continue
                if rule.probability is not None and rule.rng.random() >= rule.probability:
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                rule.hits += 1
                return rule
        return None

    def armed(self) -> bool:
        """Whether any rule can still fire (one whose ``times`` are not spent)."""
        with self._lock:
            return any(rule.remaining != 0 for rule in self._rules)

    def list(self) -> list[dict[str, Any]]:
        """All rules, spent ones included (``remaining == 0``)."""
        with self._lock:
            return _RULES.dump(self._rules)

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()
