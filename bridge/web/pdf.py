"""Invoice PDFs: the invoice page's own template and money formatting, printed by WeasyPrint.

WeasyPrint (HTML + CSS to PDF) rather than reportlab: the PDF is made from the very
template the invoice page uses (``clientarea/_invoice_body.html``), so the two cannot
disagree on a line, a total or a money format. It needs Pango from the system
(``libpango-1.0-0``, ``libpangoft2-1.0-0`` on Debian; scripts/bootstrap.sh installs them).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Response, render_template

from bridge.web.common import error_page

STYLESHEET = Path(__file__).resolve().parent / "static" / "invoice-pdf.css"


log = logging.getLogger(__name__)


def invoice_pdf(doc: Any) -> Any:
    """The PDF of an invoice document (bridge.services.invoice_document), as a download.

    Without Pango on the machine WeasyPrint cannot load: the page says so (503) instead of a 500.
    """
    try:
        # Deferred: weasyprint takes ~0.5 s to import and needs Pango; only PDFs pay for it.
        from weasyprint import CSS, HTML
    except (ImportError, OSError) as exc:
        log.error("invoice PDFs unavailable: WeasyPrint cannot load (%s); install Pango "
                  "(Debian: libpango-1.0-0 libpangoft2-1.0-0)", exc)

        return error_page("PDF not available", "The PDF cannot be made on this server right now; the invoice "
                          "page shows the same figures.", 503)
    html = render_template("clientarea/invoice_pdf.html", doc=doc)
    pdf = HTML(string=html).write_pdf(stylesheets=[CSS(filename=str(STYLESHEET))])
    resp = Response(pdf, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = f'attachment; filename="invoice-{doc.number}.pdf"'
    resp.headers["Cache-Control"] = "private, no-store"
    return resp
