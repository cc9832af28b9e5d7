"""Invoice PDFs: the invoice page's own template and money formatting, printed by WeasyPrint.

WeasyPrint (HTML + CSS to PDF) rather than reportlab: the PDF is made from the very
template the invoice page uses (``clientarea/_invoice_body.html``), so the two cannot
disagree on a line, a total or a money format. It needs Pango from the system
(``libpango-1.0-0``, ``libpangoft2-1.0-0`` on Debian; scripts/bootstrap.sh installs them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Response, render_template

STYLESHEET = Path(__file__).resolve().parent / "static" / "invoice-pdf.css"


def invoice_pdf(doc: Any) -> Response:
    """The PDF of an invoice document (bridge.services.invoice_document), as a download."""
    from weasyprint import CSS, HTML

    html = render_template("clientarea/invoice_pdf.html", doc=doc)
    pdf = HTML(string=html).write_pdf(stylesheets=[CSS(filename=str(STYLESHEET))])
    resp = Response(pdf, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = f'attachment; filename="invoice-{doc.number}.pdf"'
    resp.headers["Cache-Control"] = "private, no-store"
    return resp
