"""``solus-bridge invoices show ID [--pdf FILE]``: an invoice as the client sees it, in the terminal.

Registered on the ``invoices`` group of bridge/cli/invoices.py; printed from the same
invoice document (bridge.services.invoice_document) and money format as the invoice page.
"""

from __future__ import annotations

import click

from bridge.billing import format_money
from bridge.cli import database_ready, make_app
from bridge.errors import BridgeError
from bridge.services import invoices as invoice_service
from bridge.services.invoice_document import document


def register(group: click.Group) -> None:
    invoices_group = group.commands["invoices"]
    assert isinstance(invoices_group, click.Group)

    @invoices_group.command("show")
    @click.argument("invoice_id", type=click.IntRange(min=1))
    @click.option("--pdf", "pdf_file", type=click.Path(dir_okay=False, writable=True),
                  help="Also write the invoice's PDF (the one the client area offers) to this file.")
    def show_cmd(invoice_id: int, pdf_file: str | None) -> None:
        """Print an invoice: lines, subtotal, named taxes, total, balance and how to pay."""
        app = make_app()
        database_ready(app)
        factory = app.extensions["bridge_db"]["session_factory"]
        with factory() as session:
            try:
                doc = document(session, invoice_service.get(session, invoice_id))
            except BridgeError as exc:
                raise click.ClickException(exc.message) from None
            inv, cur = doc.invoice, doc.currency

            def money(value: object) -> str:
                return format_money(value, cur)  # type: ignore[arg-type]

            rows: list[tuple[str, str]] = [(item.description, money(item.amount)) for item in inv.items]
            rows.append((f"Subtotal{' (tax included)' if doc.inclusive else ' before tax'}", money(doc.subtotal)))
            rows += [(tax.label, money(tax.amount)) for tax in doc.taxes]
            if doc.credit:
                rows.append(("Credit applied", "-" + money(doc.credit)))
            rows.append((f"Total{' after tax' if doc.taxes else ''}", money(doc.total)))
            if doc.paid:
                rows.append(("Paid", "-" + money(doc.paid)))
            rows.append(("Balance due", money(doc.balance)))
            width = max(len(amount) for _label, amount in rows)
            click.echo(f"Invoice #{doc.number}  {inv.status}  issued {inv.date}, due {inv.duedate}"
                       + (f"  (usage for {inv.period})" if inv.period else ""))
            click.echo(f"Bill to: {doc.client.firstname} {doc.client.lastname} <{doc.client.email}>")
            click.echo("")
            for i, (label, amount) in enumerate(rows):
                if i == len(inv.items):
                    click.echo("")
                click.echo(f"  {amount:>{width}}  {label}")
            if doc.is_open and doc.balance > 0 and doc.payment_instructions:
                click.echo(f"\nHow to pay: {doc.payment_instructions}")
            if pdf_file:
                # Imported here: the PDF renderer loads WeasyPrint (Pango), slow and needed only for --pdf.
                from bridge.web.pdf import invoice_pdf

                with app.test_request_context():
                    data = invoice_pdf(doc).get_data()
                with open(pdf_file, "wb") as fh:
                    fh.write(data)
                click.echo(f"\nPDF written to {pdf_file}")
