"""The demo starts with an issued invoice to look at, and prints new mail's links decoded."""

from __future__ import annotations

import contextlib
import io
import re
import time

import pypdf
import requests

from bridge.demo import CLIENT_PASSWORD, Demo


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def test_demo_has_an_invoice_from_the_start_and_prints_links_decoded() -> None:
    printed = io.StringIO()
    with Demo() as demo:
        info = demo.info
        assert "demo@example.com" in info["invoices"]
        invoice_url = info["invoice_url"]
        assert f"  Invoice:         {invoice_url}  " in demo.banner()
        web = requests.Session()
        page = web.get(info["login_url"], timeout=10).text
        web.post(info["login_url"], data={"csrf_token": csrf(page), "email": info["client_email"],
                                          "password": CLIENT_PASSWORD}, timeout=10)
        html = web.get(invoice_url, timeout=10).text
        assert "Unpaid" in html and "City Tax 6%" in html and "State Tax 2%" in html
        assert "db-1" in html and 'id="how-to-pay"' in html and "Bank transfer" in html
        pdf = web.get(invoice_url + ".pdf", timeout=30)
        assert pdf.headers["Content-Type"] == "application/pdf"
        text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
        assert "db-1" in text and "City Tax 6%" in text
        # A sign-up: its confirmation link is printed on the console, decoded (the .eml is quoted-printable).
        other = requests.Session()
        form = other.get(info["signup_url"], timeout=10).text
        with contextlib.redirect_stdout(printed):
            other.post(info["signup_url"], data={
                "csrf_token": csrf(form), "firstname": "Zed", "lastname": "Quoted",
                "email": "a-rather-long-address-so-the-mail-wraps@example.com",
                "password": "a long enough password 1"}, timeout=10)
            for _ in range(50):  # sent by a background sender
                if "/signup/verify/" in printed.getvalue():
                    break
                time.sleep(0.1)
        link = re.search(r"^  (http://\S+/signup/verify/\S+)$", printed.getvalue(), re.M)
        assert link, printed.getvalue()
        assert "=3D" not in link.group(1)
        # The link opens a page that asks for the sign-up's password (docs/web.md, security model).
        page = other.get(link.group(1), timeout=10, allow_redirects=False)
        assert page.status_code == 200 and 'name="password"' in page.text
        resp = other.post(link.group(1), data={"csrf_token": csrf(page.text), "password": "a long enough password 1"},
                          timeout=10, allow_redirects=False)
        assert resp.status_code in (302, 303) and resp.headers["Location"].endswith("/signup/terms")
