"""WHMCS single sign-on: ``GET /oauth/singlesignon.php?access_token=<token>``.

The WHMCS API's CreateSsoToken answers ``redirect_url`` = this page with a signed 60-second
single-use token (``bridge.services.sso_tokens``). Following it spends the token, logs the
client in exactly like the log-in form (``common.log_in_client``: same session, same password
tag) and sends the browser (303) to the token's destination. Any bad, expired or used token
gets one and the same page, so the answer never says which.

The token is a credential and sits in the query string: the access log records the route
rule only (``bridge.observability``), and ``install_log_filters`` puts the bridge's
``logs.RedactFilter`` on the loggers of werkzeug's development server and gunicorn's
access log (when someone turns it on), so their request lines show ``access_token=[redacted]``.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, current_app, redirect, request, url_for

from bridge import logs
from bridge.errors import AuthFailed
from bridge.models import Client
from bridge.services import sso_tokens
from bridge.services.paths import local_path
from bridge.settings import Settings
from bridge.web.common import dbs, error_page, log_in_client, web_blueprint

bp = web_blueprint("web_sso", __name__)

#: CreateSsoToken destinations and the page each opens. The bridge has no profile or services
#: page: the dashboard greets the client by name and holds their SolusVM service panel.
PAGES = {
    "clientarea:home": "web_clientarea.dashboard",
    "clientarea:invoices": "web_clientarea.invoices",
    "clientarea:profile": "web_clientarea.dashboard",
    "clientarea:services": "web_clientarea.dashboard",
}
CUSTOM = "sso:custom_redirect"
MAX_TOKEN_LENGTH = 2000

BAD_LINK_TITLE = "This sign-in link cannot be used"
BAD_LINK = ("It is not valid, has expired or was already used. Go back to the site you came from and "
            "sign in from there again, or log in with your e-mail and password.")


def destination_url(grant: sso_tokens.SsoGrant) -> str:
    """Where the grant sends the client: a page of the client area, or its local redirect path."""
    if grant.destination == CUSTOM:
        path = local_path(grant.redirect_path)  # checked at issue time; checked again here
        if path is not None:
            return request.script_root + path  # relative to the bridge's root, like WHMCS paths
    return url_for(PAGES.get(grant.destination, "web_clientarea.dashboard"))


@bp.after_request
def _private(response: Response) -> Response:
    # Neither the token URL nor its answer belongs in a cache or in a Referer header.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/oauth/singlesignon.php")
def single_sign_on() -> Any:
    if request.method == "HEAD":
        return "", 200  # a link checker's HEAD must not spend the token
    token = request.args.get("access_token", "")
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return error_page(BAD_LINK_TITLE, BAD_LINK, 400)
    session = dbs()
    try:
        grant = sso_tokens.consume(session, str(current_app.config["SECRET_KEY"]), token)
    except AuthFailed:
        session.rollback()
        return error_page(BAD_LINK_TITLE, BAD_LINK, 400)
    client = session.get(Client, grant.client_id)
    if client is None:
        session.rollback()
        return error_page(BAD_LINK_TITLE, BAD_LINK, 400)
    if client.status == "Closed":
        session.rollback()
        return error_page("Not allowed", "This account is closed and cannot be signed in. "
                          "Please contact support.", 403)
    session.commit()  # the token is spent (used_tokens) and the log-in audited
    log_in_client(client)
    return redirect(destination_url(grant), code=303)


#: Loggers that write whole request lines, query string included.
REQUEST_LINE_LOGGERS = ("werkzeug", "gunicorn.access")


def install_log_filters(settings: Settings) -> None:
    """Put the bridge's redaction (``logs.RedactFilter`` with the app's secrets; it masks
    every ``*token=`` parameter, ``access_token=`` included) on each request-line logger,
    replacing the one an earlier app installed."""
    redact = logs.RedactFilter(settings.logging.secrets)
    for name in REQUEST_LINE_LOGGERS:
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, logs.RedactFilter)]:
            logger.removeFilter(old)
        logger.addFilter(redact)
