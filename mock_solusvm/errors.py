"""The mock's exception tree. Mapped to SolusVM's ``{message, errors}`` in ``mock_solusvm.app``."""

from __future__ import annotations


class MockError(Exception):
    """Base of every error the mock answers with; ``status`` is the HTTP code."""

    status = 400

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class Unauthenticated(MockError):
    """Missing, unknown or burnt Bearer token."""

    status = 401

    def __init__(self, message: str = "Unauthenticated.") -> None:
        super().__init__(message)


class Forbidden(MockError):
    """A valid token that may not do this (a user token on an admin endpoint)."""

    status = 403

    def __init__(self, message: str = "This action is unauthorized.") -> None:
        super().__init__(message)


class NotFound(MockError):
    """Unknown id or path."""

    status = 404

    def __init__(self, message: str = "Not Found.") -> None:
        super().__init__(message)


class Invalid(MockError):
    """Validation failure (Laravel 422)."""

    status = 422

    def __init__(self, errors: dict[str, list[str]], message: str | None = None) -> None:
        if message is None:
            first = next(iter(errors.values()), ["The given data was invalid."])
            message = first[0] if first else "The given data was invalid."
            extra = sum(len(v) for v in errors.values()) - 1
            if extra > 0:
                message += f" (and {extra} more error{'s' if extra > 1 else ''})"
        super().__init__(message, errors)


def invalid(field: str, message: str) -> Invalid:
    """A one-field 422."""
    return Invalid({field: [message]})


class ResponseContractError(Exception):
    """The mock produced a body its own contract rejects: a mock bug, answered with a 500."""
