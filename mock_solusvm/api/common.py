"""The ``/api/v1`` blueprint and what its route modules share: Bearer auth, body parsing, paging, serialisation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, g, request
from marshmallow import Schema

from contracts.solusvm import envelope

from ..errors import Forbidden, Invalid, NotFound, Unauthenticated
from ..pagecache import is_admin_token
from ..state import Backend, Principal
from ..wire import json_response, request_json, validate_response

api_bp = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_PAGE = 1_000_000


@api_bp.before_request
def _authenticate() -> None:
    if request.endpoint == "api.login":
        return
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated()
    is_admin = is_admin_token(current_app.config["API_TOKENS"], token)
    g.principal = Principal("admin") if is_admin else backend().authenticate_user_token(token)


def backend() -> Backend:
    """The current namespace's backend."""
    return g.backend


def principal() -> Principal:
    """Who the current request acts as."""
    return g.principal


def require_admin() -> None:
    """403 for user tokens."""
    if not principal().is_admin:
        raise Forbidden()


def body() -> Any:
    """The JSON body (``{}`` when empty); 422 for anything that is not JSON."""
    return request_json()


def get_or_404(table: dict[int, dict[str, Any]], key: int, model: str) -> dict[str, Any]:
    """``table[key]``, or Laravel's 404 for ``model`` (``No query results for model [...]``)."""
    if key not in table:
        raise NotFound(f"No query results for model [{model}] {key}")
    return table[key]


def int_arg(name: str, default: int | None = None, lo: int = 0, hi: int = 2**63 - 1) -> int | None:
    """An integer query parameter; 422 when it is not one or is out of range."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    text = raw.strip()
    if not (text.isdigit() or (text.startswith("-") and text[1:].isdigit())) or len(text) > 19:
        raise Invalid({name: [f"The {name} must be an integer."]})
    value = int(text)
    if not lo <= value <= hi:
        raise Invalid({name: [f"The {name} must be between {lo} and {hi}."]})
    return value


class Pageable(Protocol):
    """What ``page`` slices: a list, or a lazy view that builds only the records of the page asked for."""

    def __len__(self) -> int: ...

    def __getitem__(self, item: slice, /) -> Sequence[Any]: ...


_INSTANCES: dict[tuple[type[Schema], bool], Schema] = {}


def _dumper(schema: type[Schema], many: bool) -> Schema:
    """One reused envelope instance per schema: building nested schemas per request dominated the cost."""
    key = (schema, many)
    inst = _INSTANCES.get(key)
    if inst is None:
        inst = _INSTANCES[key] = envelope(schema, many=many)()
    return inst


def one(schema: type[Schema], obj: Any, status: int = 200) -> Response:
    """``{data: obj}`` serialised (and, in tests, validated) through the contracts schema."""
    env = envelope(schema)
    out = _dumper(schema, False).dump({"data": obj})
    validate_response(env, out)
    return json_response(out, status)


def page(schema: type[Schema], items: Pageable, dumped: bool = False) -> Response:
    """A paginated list: ``data`` + absolute ``links`` that keep the filters + Laravel ``meta``.

    ``items`` is sliced before anything is serialised; with ``dumped`` the slice already holds
    schema output (the users list caches it per user).
    """
    per_page = int_arg("per_page", 15, 1, current_app.config["MAX_PER_PAGE"])
    current = int_arg("page", 1, 1, MAX_PAGE)
    assert per_page is not None and current is not None
    total = len(items)
    last = max(1, -(-total // per_page))
    start = (current - 1) * per_page
    chunk = list(items[start:start + per_page])
    base = request.base_url

    # The query with ``page`` replaced (where it stood, else last): every other argument is
    # encoded once for the four links (copying and re-encoding the arguments per link was a
    # tenth of a users page's cost).
    parts: list[str | None] = []
    at = -1
    for key, value in request.args.items(multi=True):
        if key == "page":
            if at < 0:
                at = len(parts)
                parts.append(None)
        else:
            parts.append(urlencode([(key, value)]))
    if at < 0:
        at = len(parts)
        parts.append(None)

    def link(n: int) -> str:
        query = parts.copy()
        query[at] = f"page={n}"
        return f"{base}?{'&'.join(query)}"  # type: ignore[arg-type]

    out = {
        "data": chunk if dumped else _item_dumper(schema).dump(chunk, many=True),
        # links and meta are plain ints and strings: identical to their schema dump, without the cost
        "links": {"first": link(1), "last": link(last), "prev": link(current - 1) if 1 < current <= last + 1 else None,
                  "next": link(current + 1) if current < last else None},
        "meta": {"current_page": current, "from": start + 1 if chunk else None, "last_page": last,
                 "path": base, "per_page": per_page, "to": start + len(chunk) if chunk else None, "total": total},
    }
    validate_response(envelope(schema, many=True), out)
    return json_response(out)


_ITEM_INSTANCES: dict[type[Schema], Schema] = {}


def _item_dumper(schema: type[Schema]) -> Schema:
    inst = _ITEM_INSTANCES.get(schema)
    if inst is None:
        inst = _ITEM_INSTANCES[schema] = schema()
    return inst


__all__ = ["api_bp", "backend", "body", "get_or_404", "int_arg", "one", "page", "principal",
           "require_admin"]
