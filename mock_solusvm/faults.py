"""Fault rules: answer a matching request with a given status/body, delay it, drop it or garble it."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from contracts.mock_control import FAULT_STATUS, fault_headers
from contracts.solusvm import validation_messages

from .errors import Invalid
from .journal import matches


class FaultRuleSchema(Schema):
    """A fault rule as posted to ``/__mock/faults``."""

    class Meta:
        unknown = EXCLUDE

    method = fields.String(load_default=None, allow_none=True)
    path = fields.String(load_default=None, allow_none=True,
                         metadata={"description": "Exact path or fnmatch glob, e.g. /api/v1/users/*"})
    status = fields.Integer(strict=True, load_default=None, allow_none=True, validate=FAULT_STATUS)
    body = fields.Raw(load_default=None, allow_none=True)
    headers = fault_headers(load_default=None, allow_none=True)
    delay = fields.Float(load_default=None, allow_none=True, validate=validate.Range(0, 60))
    drop = fields.Boolean(load_default=False, truthy={True}, falsy={False})
    malformed = fields.Boolean(load_default=False, truthy={True}, falsy={False})
    times = fields.Integer(strict=True, load_default=None, allow_none=True, validate=validate.Range(min=1))
    probability = fields.Float(load_default=None, allow_none=True, validate=validate.Range(0, 1))
    seed = fields.Integer(strict=True, load_default=None, allow_none=True)

    @validates_schema
    def _does_something(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not (data["status"] or data["delay"] or data["drop"] or data["malformed"]):
            raise ValidationError("a rule needs one of status, delay, drop, malformed", "status")


@dataclass
class FaultRule:
    """One active rule; ``remaining`` counts down when ``times`` was given."""

    id: int
    method: str | None
    path: str | None
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

    def to_json(self) -> dict[str, Any]:
        """The rule as the control API shows it."""
        keys = ("id", "method", "path", "status", "body", "headers", "delay", "drop", "malformed",
                "times", "probability", "seed", "remaining", "hits")
        return {k: getattr(self, k) for k in keys}


class Faults:
    """The fault rules of one namespace; the first matching, firing rule wins."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._next = 1

    def add(self, spec: Any) -> FaultRule:
        """Validate and add a rule; raises ``Invalid`` for bad specs."""
        if not isinstance(spec, dict):
            raise Invalid({"_schema": ["a fault rule is a JSON object"]})
        try:
            data = FaultRuleSchema().load(spec)
        except ValidationError as err:
            raise Invalid(validation_messages(err)) from None
        with self._lock:
            rule = FaultRule(id=self._next, remaining=data["times"], **data)
            rule.rng = random.Random(data["seed"])
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

    def list(self) -> list[dict[str, Any]]:
        """All rules, spent ones included (``remaining == 0``)."""
        with self._lock:
            return [r.to_json() for r in self._rules]

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()
