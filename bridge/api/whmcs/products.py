"""GetClientsProducts: one product per SolusVM server of the client (post-paid, billed monthly).

Servers are read from SolusVM (the bridge keeps no copy): a client that is not enrolled has
none; SolusVM being unreachable is a WHMCS error, never an empty list that looks true. With
no ``clientid`` every enrolled client is listed (one SolusVM query each).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bridge.api.whmcs.params import answer, bridged
from bridge.api.whmcs.registry import ActionContext, action
from bridge.errors import BridgeError
from bridge.models import Client
from bridge.services import clients
from bridge.services.solusvm_client import SolusVMError, connect
from contracts import whmcs
from contracts import whmcs_requests as req

GetClientsProductsSchema = bridged(req.GetClientsProductsSchema)
PRODUCT_NAME = "SolusVM Pay As You Go"
PAYMENT = "Postpaid"


class SolusVMUnreachable(BridgeError):
    """SolusVM did not answer the server listing."""


def _status(server: dict[str, Any], client: Client) -> str:
    if client.status == "Closed":
        return "Cancelled"
    return "Suspended" if server.get("is_suspended") else "Active"


def product_row(server: dict[str, Any], client: Client) -> dict[str, Any]:
    """What a SolusVM server gives a WHMCS product row (``contracts.whmcs.ProductRowSchema``)."""
    ips = server.get("ip_addresses") or {}
    ipv4 = [ip.get("ip", "") for ip in ips.get("ipv4", []) if isinstance(ip, dict)] if isinstance(ips, dict) else []
    plan = server.get("plan") or {}
    return {
        "id": server["id"], "clientid": client.id, "pid": plan.get("id", 0),
        "regdate": str(server.get("created_at") or "")[:10] or None, "name": str(plan.get("name", "")),
        "groupname": PRODUCT_NAME, "domain": str(server.get("name", "")), "dedicatedip": ipv4[0] if ipv4 else "",
        "billingcycle": PAYMENT, "status": _status(server, client), "assignedips": "\n".join(ipv4[1:]),
    }


@action("GetClientsProducts")
def get_clients_products(ctx: ActionContext) -> dict[str, Any]:
    data = GetClientsProductsSchema.load_params(ctx.params)
    if data["clientid"] is not None:
        targets = [clients.get(ctx.session, data["clientid"])]
    else:
        targets = list(ctx.session.scalars(select(Client).where(Client.solusvm_user_id.is_not(None))
                                           .order_by(Client.id)))
    rows: list[dict[str, Any]] = []
    enrolled = [c for c in targets if c.solusvm_user_id]
    if enrolled:
        solus = connect(ctx.settings.solusvm, ctx.settings.outbox, retries=1)
        try:
            for c in enrolled:
                for server in solus.iter_servers(user_id=c.solusvm_user_id):
                    if data["serviceid"] is None or server.get("id") == data["serviceid"]:
                        rows.append(product_row(server, c))
        except SolusVMError as exc:
            raise SolusVMUnreachable(f"SolusVM is unavailable: {exc}") from None
    page = rows[data["limitstart"]:data["limitstart"] + data["limitnum"]]
    return answer(whmcs.GetClientsProductsResponseSchema, {
        "clientid": data["clientid"], "serviceid": data["serviceid"], "pid": None, "domain": None,
        "totalresults": len(rows), "startnumber": data["limitstart"], "numreturned": len(page), "products": page})
