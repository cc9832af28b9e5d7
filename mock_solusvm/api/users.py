"""users, users/{id}/tokens, account, auth/login."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from marshmallow import EXCLUDE, Schema, fields

from contracts.solusvm import AccessTokenSchema, LoginSchema, TokenCreateSchema, UserSchema, envelope

from ..errors import Forbidden
from ..pagecache import cacheable
from ..parsing import load
from ..state import Backend
from ..views import user_view
from ..wire import json_response, validate_response
from .common import api_bp, backend, body, one, page, principal, require_admin


class _CredentialsSchema(Schema):
    """The ``data`` of a login answer (the token pair is free-form)."""

    class Meta:
        unknown = EXCLUDE

    credentials = fields.Dict(required=True)


@api_bp.get("/users")
@cacheable()
def list_users() -> Response:
    require_admin()
    status = request.args.get("filter[status]") or None
    search = request.args.get("filter[search]") or None
    b = backend()
    users = b.list_users(status=status, search=search)
    return page(UserSchema, _DumpedUsers(b, users), dumped=True)


_USER_SCHEMA = UserSchema()


def dumped_user(b: Backend, user: dict[str, Any]) -> dict[str, Any]:
    """The user's schema dump, cached in the backend until the user changes (paging 10k users is hot)."""
    out = b.view_cache.get(user["id"])
    if out is None:
        out = b.view_cache[user["id"]] = _USER_SCHEMA.dump(user_view(b, user))
    return out


class _DumpedUsers:
    """A sequence over user records whose slices are serialised lazily (only the page is dumped)."""

    def __init__(self, b: Backend, users: list[dict[str, Any]]) -> None:
        self._b, self._users = b, users

    def __len__(self) -> int:
        return len(self._users)

    def __getitem__(self, item: slice) -> list[dict[str, Any]]:
        return [dumped_user(self._b, u) for u in self._users[item]]


@api_bp.get("/users/<int:user_id>")
@cacheable()
def get_user(user_id: int) -> Response:
    require_admin()
    return one(UserSchema, user_view(backend(), backend().get_user(user_id)))


@api_bp.post("/users")
def create_user() -> Response:
    require_admin()
    return one(UserSchema, user_view(backend(), backend().create_user(body())), 201)


@api_bp.put("/users/<int:user_id>")
def put_user(user_id: int) -> Response:
    require_admin()
    return one(UserSchema, user_view(backend(), backend().update_user(user_id, body(), allow_email=False)))


@api_bp.patch("/users/<int:user_id>")
def patch_user(user_id: int) -> Response:
    require_admin()
    return one(UserSchema, user_view(backend(), backend().update_user(user_id, body(), allow_email=True)))


@api_bp.delete("/users/<int:user_id>")
def delete_user(user_id: int) -> Response:
    require_admin()
    backend().delete_user(user_id)
    return Response(status=204)


@api_bp.post("/users/<int:user_id>/tokens")
def create_token(user_id: int) -> Response:
    p = principal()
    if not p.is_admin and p.user_id != user_id:
        raise Forbidden()
    data = load(TokenCreateSchema(), body())
    return one(AccessTokenSchema, backend().create_token(user_id, data["is_one_time"], data["name"]), 201)


@api_bp.get("/account")
def account() -> Response:
    p = principal()
    if p.is_admin:
        return one(UserSchema, user_view(backend(), backend().admin_user()))
    assert p.user_id is not None  # a user token always names its user
    return one(UserSchema, user_view(backend(), backend().get_user(p.user_id)))


@api_bp.post("/auth/login", endpoint="login")
def login() -> Response:
    data = load(LoginSchema(), body())
    out = {"data": backend().login(data["email"], data["password"])}
    validate_response(envelope(_CredentialsSchema), out)
    return json_response(out)
