"""Reconciliation: compare every SolusVM user with billing, report and optionally repair.

``reconcile`` walks every page of SolusVM users and reports:

- ``unlinked``: users with no ``billing_user_id`` whose e-mail is an enrolled client's;
- ``orphaned``: users linked to a client that does not exist (a deleted client's user left behind);
- ``unknown`` (a list of its own): users no billing client owns, created outside billing;
- ``unknown_active``: such users still active, when ``lock_unknown`` asks to lock them;
- ``wrong_status``: users whose status differs from billing's desired status;
- ``wrong_email``: linked users whose e-mail differs from the client's;
- ``missing``: enrolled clients whose SolusVM user does not exist (any more).

With ``fix`` it repairs what billing owns: a user whose e-mail is exactly an enrolled
client's is linked (``billing_user_id``, and the client's ``solusvm_user_id``); status and
e-mail are set to billing's; a user whose ``billing_user_id`` names a deleted client is
deleted (refused, and reported, while it owns servers); a missing user is
re-queued for creation; and with ``lock_unknown`` users created outside billing are locked. Clients with changes still queued in the outbox are reported as ``pending``
and left to the outbox, so the two never fight. It warns when SolusVM's
``features.allow_registration`` is on: billing can only be the master with it off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.models import Client, Outbox
from bridge.services import audit, clients, outbox, provisioning
from bridge.services.ports import SolusVM
from bridge.services.solusvm_client import SolusVMError
from contracts.solusvm import SettingsSchema


@dataclass
class Finding:
    """One inconsistency: what kind, which user/client, and what was done about it."""

    kind: str
    user_id: int | None
    client_id: int | None
    detail: str
    fixed: bool = False

    def __str__(self) -> str:
        who = f"SolusVM user {self.user_id}" if self.user_id is not None else f"client {self.client_id}"
        return f"{self.kind}: {who}: {self.detail}{' (fixed)' if self.fixed else ''}"


@dataclass
class SyncReport:
    """The outcome of one reconciliation."""

    users_seen: int = 0
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)
    #: SolusVM users no billing client owns (reported every run; see ``lock_unknown``).
    unknown: list[str] = field(default_factory=list)

    def of(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]

    @property
    def unfixed(self) -> list[Finding]:
        return [f for f in self.findings if not f.fixed]

    @property
    def consistent(self) -> bool:
        return not self.findings and not self.errors


def _try(report: SyncReport, finding: Finding, action: Any) -> None:
    try:
        action()
        finding.fixed = True
    except SolusVMError as exc:
        report.errors.append(f"could not fix {finding}: {exc}")


def reconcile(session: Session, solus: SolusVM, *, fix: bool = False, lock_unknown: bool = False,
              actor: str = "sync", per_page: int = 100) -> SyncReport:
    """Compare SolusVM's users with billing; with ``fix`` repair what billing owns (flushes only)."""
    report = SyncReport()
    try:
        settings = solus.get_settings()
        # Read through the contract: a SolusVM that does not say is assumed to allow registration.
        features = SettingsSchema().load(settings if isinstance(settings, dict) else {}).get("features") or {}
        if features.get("allow_registration", True):
            report.warnings.append(
                "SolusVM allows self-registration (settings.features.allow_registration is on): users can be "
                "created outside billing, so billing cannot be the master; turn registration off")
    except SolusVMError as exc:
        report.warnings.append(f"could not read SolusVM settings: {exc}")
    except ValidationError as exc:
        report.warnings.append(f"SolusVM's settings do not match the contract: {sorted(exc.messages)}")

    pending_clients = set(session.scalars(
        select(Outbox.client_id).where(Outbox.status.in_(("pending", "failed")), Outbox.client_id.is_not(None))))
    # Clients whose only queued work has failed: a missing user explains those failures (404s).
    still_trying = set(session.scalars(
        select(Outbox.client_id).where(Outbox.status == "pending", Outbox.client_id.is_not(None))))
    report.pending = sorted(c for c in pending_clients if c is not None)
    deleting = set(session.scalars(select(Outbox.solusvm_user_id).where(
        Outbox.kind == "delete", Outbox.status.in_(("pending", "failed")), Outbox.solusvm_user_id.is_not(None))))
    seen_users: set[int] = set()
    orphans: list[tuple[Finding, int]] = []
    for user in solus.iter_users(per_page=per_page):
        report.users_seen += 1
        uid = int(user["id"])
        seen_users.add(uid)
        email = str(user.get("email") or "")
        billing_id = user.get("billing_user_id")
        client = session.get(Client, int(billing_id)) if billing_id not in (None, "") else None
        if client is None:
            match = clients.get_by_email(session, email)
            if (match is not None and match.enrolled_at is not None and match.solusvm_user_id in (None, uid)
                    and match.email.strip().lower() == email.strip().lower()):
                finding = Finding("unlinked" if billing_id in (None, "") else "orphaned", uid, match.id,
                                  f"{email} belongs to client {match.id} (same e-mail) but is linked to "
                                  f"{billing_id if billing_id not in (None, '') else 'nobody'}")
                report.findings.append(finding)
                if fix:
                    _try(report, finding, lambda m=match, u=uid: _link(session, solus, m, u, actor))
                continue
            report.unknown.append(f"SolusVM user {uid} ({email}, {user.get('status')}) has no billing client"
                                  + (f" (linked to missing client {billing_id})" if billing_id not in (None, "")
                                     else ""))
            lock = lock_unknown and user.get("status") == "active"
            if billing_id not in (None, ""):
                if uid in deleting:
                    continue  # a DeleteClient already queued its deletion: the outbox finishes it
                finding = Finding("orphaned", uid, None,
                                  f"{email} is linked to client {billing_id}, which does not exist "
                                  "(the client was deleted)")
                report.findings.append(finding)
                if fix:
                    orphans.append((finding, uid))  # deleted after the walk: deleting now would shift the pages
            elif lock:
                finding = Finding("unknown_active", uid, None, f"{email} was created outside billing and is active")
                report.findings.append(finding)
                if fix:
                    _try(report, finding, lambda u=uid: solus.update_user(u, status="locked"))
            continue
        if client.id in pending_clients:
            continue  # the outbox still has work for this client: let it finish first
        if client.solusvm_user_id != uid:
            finding = Finding("unlinked_client", uid, client.id,
                              f"client {client.id} does not point at SolusVM user {uid} "
                              f"(has {client.solusvm_user_id})")
            report.findings.append(finding)
            if fix and client.solusvm_user_id is None:
                _try(report, finding, lambda c=client, u=uid: _link(session, solus, c, u, actor))
        want = provisioning.desired_status(client, session)
        if user.get("status") != want:
            finding = Finding("wrong_status", uid, client.id, f"status is {user.get('status')}, billing says {want}")
            report.findings.append(finding)
            if fix:
                _try(report, finding, lambda u=uid, s=want: solus.update_user(u, status=s))
        if email.strip().lower() != client.email.strip().lower():
            finding = Finding("wrong_email", uid, client.id, f"e-mail is {email}, billing says {client.email}")
            report.findings.append(finding)
            if fix:
                _try(report, finding, lambda u=uid, e=client.email: solus.patch_user(u, email=e))

    for finding, uid in orphans:
        # Billing is the master and the client is gone: the user goes too, as DeleteClient would
        # have done. Its servers are not deleted behind the operator's back: a user that still
        # owns servers is reported as not fixed.
        _try(report, finding, lambda u=uid: outbox.apply_delete(solus, {"delete_servers": False}, u, None))
    for client in session.scalars(select(Client).where(Client.enrolled_at.is_not(None),
                                                       Client.solusvm_user_id.is_not(None)).order_by(Client.id)):
        if client.solusvm_user_id in seen_users or client.id in still_trying:
            continue
        finding = Finding("missing", client.solusvm_user_id, client.id,
                          f"client {client.id}'s SolusVM user {client.solusvm_user_id} does not exist")
        report.findings.append(finding)
        if fix:
            # The failed changes were aimed at the vanished user; the re-created one gets billing's
            # current state instead (create, then the desired status).
            for row in session.scalars(select(Outbox).where(Outbox.client_id == client.id,
                                                            Outbox.status == "failed")):
                row.status = "cancelled"
                row.last_error = (row.last_error + "; " if row.last_error else "") + \
                    "cancelled: the SolusVM user is re-created by sync --fix"
            client.solusvm_user_id = None
            provisioning.queue_change(session, client.id, "create",
                                      {"email": client.email, "billing_user_id": client.id}, actor=actor)
            provisioning.sync_status(session, client, actor=actor, force=True)
            finding.fixed = True
    if fix:
        session.flush()
        audit.record(session, actor, "solusvm.sync", "solusvm", "",
                     {"findings": [str(f) for f in report.findings], "errors": report.errors})
    return report


def _link(session: Session, solus: SolusVM, client: Client, user_id: int, actor: str) -> None:
    status = provisioning.desired_status(client, session)
    solus.update_user(user_id, billing_user_id=client.id, status=status)
    client.solusvm_user_id = user_id
    session.flush()
    audit.record(session, actor, "solusvm.link", "client", client.id, {"solusvm_user_id": user_id})
