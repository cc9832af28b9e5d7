"""The report both verifiers produce: one line per check, a verdict, text or JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["pass", "fail", "warn", "skip"]


@dataclass
class Check:
    """One contract check: its name, the outcome, and the reason (always given on failure)."""

    name: str
    status: Status
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.status == "fail"


@dataclass
class Report:
    """All checks run against one endpoint. ``ok`` only when no check failed (warnings are fine)."""

    target: str
    checks: list[Check] = field(default_factory=list)

    def add(self, name: str, status: Status, detail: str = "") -> Check:
        check = Check(name, status, detail)
        self.checks.append(check)
        return check

    def get(self, name: str) -> Check:
        """The check called ``name`` (``KeyError`` when it was never run)."""
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)

    @property
    def ok(self) -> bool:
        return not any(c.failed for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "ok": self.ok, "checks": [asdict(c) for c in self.checks]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_text(self) -> str:
        """Human-readable: ``PASS name  detail`` per line, then a verdict line."""
        width = max((len(c.name) for c in self.checks), default=0)
        lines = [f"Contract check of {self.target}"]
        for c in self.checks:
            lines.append(f"{c.status.upper():4}  {c.name:<{width}}  {c.detail}".rstrip())
        failed = [c.name for c in self.checks if c.failed]
        warned = sum(1 for c in self.checks if c.status == "warn")
        if failed:
            lines.append(f"FAILED: {len(failed)} check(s) failed ({', '.join(failed)}), {warned} warning(s)")
        else:
            lines.append(f"OK: every required check passed, {warned} warning(s)")
        return "\n".join(lines)
