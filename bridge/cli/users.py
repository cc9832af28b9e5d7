"""``solus-bridge users {sync,enroll,lock,unlock,suspend,unsuspend,delete}``: SolusVM users.

Exit codes: 0 done (and, for ``sync``, nothing left failed or unfixed); 1 something is
pending, failed or could not be fixed (listed); 2 bad arguments or configuration.
"""

from __future__ import annotations

import click
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from bridge.cli import make_app
from bridge.errors import BridgeError
from bridge.flask_glue import settings_of
from bridge.services import clients, outbox, provisioning, sync
from bridge.services.solusvm_client import SolusVMClient, SolusVMError, connect
from bridge.services.unit_of_work import UnitOfWork

EXIT_PROBLEMS = 1


def _services(app: Flask) -> tuple[sessionmaker[Session], SolusVMClient]:
    settings = settings_of(app)
    try:
        solus = connect(settings.solusvm, settings.outbox)
    except ValueError as exc:
        raise click.UsageError(f"{exc} (set BRIDGE_SOLUSVM_URL and BRIDGE_SOLUSVM_API_TOKEN)") from None
    return app.extensions["bridge_db"]["session_factory"], solus


def _show_changes(factory: sessionmaker[Session], client_id: int | None = None) -> tuple[int, int]:
    with factory() as session:
        rows = outbox.pending_changes(session, client_id)
    for r in rows:
        when = f", next try {r.next_attempt_at:%Y-%m-%d %H:%M}" if r.status == "pending" and r.next_attempt_at else ""
        why = f": {r.last_error}" if r.last_error else ""
        click.echo(f"  {r.status:8} #{r.id} client {r.client_id} {r.kind} {r.payload.get('status') or ''}"
                   f"(attempts {r.attempts}{when}){why}")
    return sum(r.status == "pending" for r in rows), sum(r.status == "failed" for r in rows)


def register(group: click.Group) -> None:
    @group.group("users")
    def users_group() -> None:
        """SolusVM users: billing is the master (see docs/users.md)."""

    @users_group.command("sync")
    @click.option("--fix", is_flag=True, help="Repair what billing owns (status, e-mail, billing_user_id).")
    @click.option("--lock-unknown", is_flag=True, help="With --fix: lock users created outside billing.")
    @click.option("--retry-failed", is_flag=True, help="Put failed changes back in the queue first.")
    @click.option("--no-apply", is_flag=True, help="Only report; do not apply pending changes.")
    def sync_cmd(fix: bool, lock_unknown: bool, retry_failed: bool, no_apply: bool) -> None:
        """Apply pending changes, then compare every SolusVM user with billing."""
        app = make_app()
        factory, solus = _services(app)
        settings = settings_of(app)
        lock_unknown = lock_unknown or settings.solusvm.sync_lock_unknown
        if retry_failed:
            click.echo(f"re-queued {UnitOfWork(factory).run(outbox.retry_failed)} failed change(s)")
        if not no_apply:
            report = outbox.apply_pending(factory, solus)
            click.echo(f"outbox: {report.applied} applied, {report.pending} pending, {report.failed} failed")
        pending, failed = _show_changes(factory)
        try:
            # The fixes are queued and, after commit, applied by the unit of work.
            result = UnitOfWork.for_settings(factory, settings).run(
                lambda session: sync.reconcile(session, solus, fix=fix, lock_unknown=lock_unknown))
        except SolusVMError as exc:
            raise click.ClickException(f"SolusVM: {exc}") from None
        for w in result.warnings:
            click.echo(f"WARNING: {w}", err=True)
        click.echo(f"SolusVM users seen: {result.users_seen}")
        for line in result.unknown:
            click.echo(f"  unknown: {line}")
        for f in result.findings:
            click.echo(f"  {f}")
        for e in result.errors:
            click.echo(f"  ERROR: {e}", err=True)
        if not result.findings and not result.errors:
            click.echo("consistent")
        if failed or pending or result.errors or (result.unfixed and fix):
            raise SystemExit(EXIT_PROBLEMS)

    def _status_command(name: str, status: str, help_text: str) -> None:
        @users_group.command(name, help=help_text)
        @click.argument("client_id", type=click.IntRange(min=1))
        @click.option("--reason", default="", help="Shown to the client and in the audit log.")
        def cmd(client_id: int, reason: str) -> None:
            app = make_app()
            factory, solus = _services(app)

            def work(session: Session) -> str:
                client = provisioning.set_status(session, client_id, status, actor="cli", reason=reason)
                return provisioning.desired_status(client, session)

            try:
                want = UnitOfWork(factory).run(work)  # applied just below, reporting the outcome
            except BridgeError as exc:
                raise click.ClickException(exc.message) from None
            report = outbox.apply_pending(factory, solus, client_id=client_id)
            click.echo(f"client {client_id}: SolusVM status should be {want}")
            pending, failed = _show_changes(factory, client_id)
            if pending or failed:
                click.echo(f"{pending} change(s) pending, {failed} failed: {'; '.join(report.errors)}")
                raise SystemExit(EXIT_PROBLEMS)
            click.echo("applied")

    _status_command("lock", "locked", "Lock the client's SolusVM user (no new servers; login still works).")
    _status_command("unlock", "active", "Release an admin lock (waives today's overdue stage).")
    _status_command("suspend", "suspended", "Suspend the client's SolusVM user (servers suspended, no login).")
    _status_command("unsuspend", "active", "Release an admin suspension.")

    @users_group.command("enroll")
    @click.argument("client_id", type=click.IntRange(min=1))
    def enroll_cmd(client_id: int) -> None:
        """Enrol a client: create (or link by e-mail) its SolusVM user."""
        app = make_app()
        factory, solus = _services(app)
        try:
            # Applied just below, reporting the outcome.
            UnitOfWork(factory).run(lambda session: provisioning.enroll_client(session, client_id, actor="cli"))
        except BridgeError as exc:
            raise click.ClickException(exc.message) from None
        report = outbox.apply_for_client(factory, solus, client_id)
        if report.pending or report.failed:
            _show_changes(factory, client_id)
            raise SystemExit(EXIT_PROBLEMS)
        click.echo("enrolled")

    @users_group.command("delete")
    @click.argument("client_id", type=click.IntRange(min=1))
    @click.option("--delete-servers", is_flag=True, help="Delete the user's servers first.")
    def delete_cmd(client_id: int, delete_servers: bool) -> None:
        """Delete a client and its SolusVM user (refused while the user owns servers)."""
        app = make_app()
        factory, _solus = _services(app)
        try:
            # The unit of work lets the deletion check the user's servers and applies it after commit.
            UnitOfWork.for_settings(factory, settings_of(app)).run(
                lambda session: clients.delete(session, clients.get(session, client_id),
                                               delete_servers=delete_servers, actor="cli"))
        except BridgeError as exc:
            raise click.ClickException(exc.message) from None
        pending, failed = _show_changes(factory)
        click.echo(f"client {client_id} deleted" + (f"; {pending + failed} SolusVM change(s) still queued"
                                                    if pending or failed else ""))
