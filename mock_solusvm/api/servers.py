"""servers and their actions."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from contracts.solusvm import (
    SERVER_STATUSES,
    ServerActionSchema,
    ServerCreateSchema,
    ServerPatchSchema,
    ServerSchema,
    TaskSchema,
)

from ..errors import invalid
from ..parsing import load
from ..state import Backend
from ..views import server_view
from .common import api_bp, backend, body, int_arg, one, page, principal


@api_bp.get("/servers")
def list_servers() -> Response:
    status = request.args.get("filter[status]") or None
    if status is not None and status not in SERVER_STATUSES:
        raise invalid("filter.status", "The selected status is invalid.")
    b = backend()
    servers = b.list_servers(principal(), user_id=int_arg("filter[user_id]"), status=status)
    virtualization = request.args.get("filter[virtualization_type]") or None
    if virtualization is not None:  # every server of the mock is KVM
        servers = servers if virtualization == "kvm" else []
    return page(ServerSchema, _Views(b, servers))


class _Views:
    """Servers whose page slice alone is turned into views (a list used to build every server's view)."""

    def __init__(self, b: Backend, servers: list[dict[str, Any]]) -> None:
        self._b, self._servers = b, servers

    def __len__(self) -> int:
        return len(self._servers)

    def __getitem__(self, item: slice) -> list[dict[str, Any]]:
        return [server_view(self._b, s) for s in self._servers[item]]


@api_bp.get("/servers/<int:server_id>")
def get_server(server_id: int) -> Response:
    b = backend()
    return one(ServerSchema, server_view(b, b.get_server(server_id, principal())))


@api_bp.post("/servers")
def create_server() -> Response:
    b = backend()
    data = load(ServerCreateSchema(), body())
    return one(ServerSchema, server_view(b, b.create_server(principal(), data)), 201)


@api_bp.patch("/servers/<int:server_id>")
def patch_server(server_id: int) -> Response:
    b = backend()
    data = load(ServerPatchSchema(), body(), partial=True)
    return one(ServerSchema, server_view(b, b.patch_server(server_id, principal(), data)))


@api_bp.delete("/servers/<int:server_id>")
def delete_server(server_id: int) -> Response:
    return one(TaskSchema, backend().server_action(server_id, principal(), "delete"))


@api_bp.post("/servers/<int:server_id>/<any(start,stop,restart,suspend,resume):action>")
def server_action(server_id: int, action: str) -> Response:
    load(ServerActionSchema(), body())  # a malformed body still gets its 422
    return one(TaskSchema, backend().server_action(server_id, principal(), action))
