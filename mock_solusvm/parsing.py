"""The one way the mock parses a request body: a contracts schema, errors as Laravel's 422.

The API, the control API and the seed all use :func:`load`, so a body that is not a JSON
object gets the same answer everywhere (``errors.body``), as SolusVM's Laravel does.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError

from contracts.solusvm import validation_messages

from .errors import Invalid

NOT_AN_OBJECT = "The request body must be a JSON object."


def load(schema: Schema, data: Any, partial: bool = False, prefix: str = "") -> dict[str, Any]:
    """``data`` loaded through ``schema``; 422 ``{message, errors}`` when it does not fit.

    ``prefix`` names where ``data`` sits inside a larger document (``plans.0``): error keys
    start with it. A value that is not an object is refused under ``prefix`` (or ``body``).
    """
    if not isinstance(data, dict):
        raise Invalid({prefix or "body": [NOT_AN_OBJECT]})
    try:
        loaded: dict[str, Any] = schema.load(data, partial=partial)
    except ValidationError as err:
        messages = validation_messages(err)
        if prefix:
            messages = {f"{prefix}.{k}": v for k, v in messages.items()}
        raise Invalid(messages) from None
    return loaded
