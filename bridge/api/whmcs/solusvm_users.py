"""Custom WHMCS actions for the SolusVM user lifecycle (bridge extensions, documented in docs/users.md).

``SolusVMEnrollClient``, ``SolusVMLockClient``, ``SolusVMUnlockClient``,
``SolusVMSuspendClient``, ``SolusVMUnsuspendClient``, ``SolusVMGetLoginURL``,
``SolusVMSyncStatus``. Each takes ``clientid``; the status actions take an optional
``reason``; ``SolusVMSyncStatus`` takes ``retryfailed=1`` to re-queue failed changes.
Changes are queued and tried right after the transaction commits; the answer says what is
still pending.
"""

from __future__ import annotations

from typing import Any

from bridge.api.whmcs.params import answer, bridged
from bridge.api.whmcs.registry import ActionContext, action
from bridge.errors import ValidationFailed
from bridge.services import clients, hooks, outbox, provisioning, sso
from bridge.services.solusvm_client import connect
from contracts import whmcs
from contracts import whmcs_requests as req

# The parameters are defined once, in contracts.whmcs_requests (and documented in bridge.json).
ClientSchema = bridged(req.SolusVMClientSchema)
SyncStatusSchema = bridged(req.SolusVMSyncStatusSchema)


def _state(ctx: ActionContext, client_id: int) -> dict[str, Any]:
    """The client's SolusVM state (SolusVMStateResponseSchema's fields, not yet dumped)."""
    client = clients.get(ctx.session, client_id)
    status, reason = provisioning.status_and_reason(ctx.session, client)
    pending = outbox.pending_changes(ctx.session, client_id)
    return {"clientid": client_id, "solusvm_user_id": client.solusvm_user_id,
            "enrolled": client.enrolled_at is not None, "solusvm_status": status, "reason": reason,
            "pendingchanges": sum(1 for r in pending if r.status == "pending"),
            "failedchanges": sum(1 for r in pending if r.status == "failed")}


@action("SolusVMEnrollClient")
def enroll(ctx: ActionContext) -> dict[str, Any]:
    """Enrol a client: its SolusVM user is created (or linked by e-mail)."""
    data = ClientSchema.load_params(ctx.params)
    clients.get(ctx.session, data["clientid"])
    provisioning.enroll_client(ctx.session, data["clientid"], actor=ctx.actor)
    hooks.apply_after_commit(ctx.session, data["clientid"])
    return answer(whmcs.SolusVMStateResponseSchema, _state(ctx, data["clientid"]))


def _set(ctx: ActionContext, status: str) -> dict[str, Any]:
    data = ClientSchema.load_params(ctx.params)
    clients.get(ctx.session, data["clientid"])
    provisioning.set_status(ctx.session, data["clientid"], status, actor=ctx.actor, reason=data["reason"])
    hooks.apply_after_commit(ctx.session, data["clientid"])
    return answer(whmcs.SolusVMStateResponseSchema, _state(ctx, data["clientid"]))


@action("SolusVMLockClient")
def lock(ctx: ActionContext) -> dict[str, Any]:
    """Admin lock: the user can log in and manage servers but not create new ones."""
    return _set(ctx, "locked")


@action("SolusVMSuspendClient")
def suspend(ctx: ActionContext) -> dict[str, Any]:
    """Admin suspension: the user's servers are suspended and the user cannot log in."""
    return _set(ctx, "suspended")


@action("SolusVMUnlockClient")
def unlock(ctx: ActionContext) -> dict[str, Any]:
    """Release the admin hold (and waive today's overdue stage)."""
    return _set(ctx, "active")


@action("SolusVMUnsuspendClient")
def unsuspend(ctx: ActionContext) -> dict[str, Any]:
    """Release the admin hold (same as unlock: the user goes back to what billing says)."""
    return _set(ctx, "active")


@action("SolusVMGetLoginURL")
def login_url(ctx: ActionContext) -> dict[str, Any]:
    """A one-time "Log in to SolusVM" link for the client (the link is a credential: pass it on, never log it)."""
    data = ClientSchema.load_params(ctx.params)
    clients.get(ctx.session, data["clientid"])
    if not ctx.settings.solusvm.configured:
        raise ValidationFailed("SolusVM is not configured")
    solus = connect(ctx.settings.solusvm, ctx.settings.outbox, retries=1, request_budget=True)
    url = sso.login_url(ctx.session, data["clientid"], solus, ctx.settings.solusvm.login_url_template,
                        actor=ctx.actor)
    return answer(whmcs.SolusVMLoginUrlResponseSchema, {"clientid": data["clientid"], "url": url})


@action("SolusVMSyncStatus")
def sync_status(ctx: ActionContext) -> dict[str, Any]:
    """Pending and failed SolusVM changes (of one client, or all); ``retryfailed=1`` re-queues failed ones."""
    data = SyncStatusSchema.load_params(ctx.params)
    cid = data["clientid"]
    if cid is not None:
        clients.get(ctx.session, cid)
    retried = outbox.retry_failed(ctx.session, cid) if data["retryfailed"] else 0
    if retried and cid is not None:
        hooks.apply_after_commit(ctx.session, cid)
    rows = outbox.pending_changes(ctx.session, cid)
    out: dict[str, Any] = {"totalresults": len(rows), "retried": retried, "changes": rows}
    if cid is not None:
        out.update(_state(ctx, cid))
    return answer(whmcs.SolusVMSyncStatusResponseSchema, out)
