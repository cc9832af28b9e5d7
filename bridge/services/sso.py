""""Log in to SolusVM": a one-time SolusVM token turned into a login link.

``login_url`` asks SolusVM for a one-time access token acting as the client's user
(``POST users/{id}/tokens {"is_one_time": true}``) and fills the configured template
(``SOLUSVM_LOGIN_URL_TEMPLATE``, default ``{solusvm_url}/auth/by_token?token={token}``).
The token is a credential: it is never logged, audited or put in an exception text.
A locked user may still log in (locked only blocks new servers); a suspended one is told why.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from sqlalchemy.orm import Session

from bridge.errors import BridgeError
from bridge.models import Client
from bridge.services import audit, provisioning
from bridge.services.ports import SolusVM
from bridge.services.solusvm_client import SolusVMError, SolusVMNotFound
from bridge.settings import SolusVMSettings

log = logging.getLogger(__name__)



class SSOError(BridgeError):
    """The client cannot be logged in to SolusVM; ``message`` is meant for the client."""


def login_url(session: Session, client_id: int, solus: SolusVM, template: str | None = None, *,
              actor: str | None = None) -> str:
    """A one-time login link for the client's SolusVM user, or ``SSOError`` saying why not."""
    client = session.get(Client, client_id)
    if client is None:
        raise SSOError("Client Not Found")
    if client.enrolled_at is None:
        raise SSOError("Your account is not enrolled for SolusVM yet")
    if client.solusvm_user_id is None:
        raise SSOError("Your SolusVM account is being set up; please try again in a few minutes")
    status, reason = provisioning.status_and_reason(session, client)
    if status == "suspended":
        raise SSOError(f"Your SolusVM account is suspended: {reason}" if reason
                       else "Your SolusVM account is suspended")
    try:
        user = solus.get_user(client.solusvm_user_id)
        if user.get("status") == "suspended":
            raise SSOError("Your SolusVM account is suspended; please contact support")
        token = solus.create_token(client.solusvm_user_id, one_time=True)
    except SolusVMNotFound:
        raise SSOError("Your SolusVM account could not be found; please contact support") from None
    except SolusVMError:
        raise SSOError("SolusVM cannot be reached right now; please try again later") from None
    audit.record(session, actor or f"client:{client.id}", "solusvm.sso", "client", client.id,
                 {"solusvm_user_id": client.solusvm_user_id})
    log.info("issued a SolusVM login link for client %s", client.id)  # never the link: it holds the token
    try:
        return (template or SolusVMSettings.login_url_template).format(solusvm_url=solus.base_url, token=quote(token, safe=""),
                                                     user_id=client.solusvm_user_id, client_id=client.id)
    except (KeyError, IndexError, ValueError):
        # A bad SOLUSVM_LOGIN_URL_TEMPLATE: say so without echoing anything that holds the token.
        raise SSOError("The SolusVM login link is misconfigured; please contact support") from None
