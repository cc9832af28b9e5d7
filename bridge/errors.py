"""The bridge's exception tree.

Services raise these; the WHMCS API and the pricing endpoint map them, in one place each
(``bridge.api.whmcs.envelope`` and ``bridge.api.pricing``), to ``{"result": "error",
"message": ...}``. The message is the WHMCS text the client sees, so keep it exact.
"""

from __future__ import annotations


class BridgeError(Exception):
    """Base: a failure the caller should see as a WHMCS error message."""

    http_status = 200  # WHMCS answers business errors with HTTP 200 and result=error

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationFailed(BridgeError):
    """Bad or missing input."""


class NotFound(BridgeError):
    """The addressed record does not exist."""


class Conflict(BridgeError):
    """The change conflicts with existing data (duplicate e-mail, invoice for the period, ...)."""


class DuplicateInvoice(Conflict):
    """An invoice for this client and period already exists."""

    def __init__(self, client_id: int, period: str) -> None:
        super().__init__(f"An invoice for client {client_id} and period {period} already exists")
        self.client_id = client_id
        self.period = period


class AuthFailed(BridgeError):
    """Bad credentials or forbidden caller (HTTP 403)."""

    http_status = 403


class CommandNotFound(BridgeError):
    def __init__(self) -> None:
        super().__init__("Command Not Found")


class PricingUnavailable(BridgeError):
    """The client exists but no price can be given (e.g. no token price for its currency)."""

    http_status = 500


class Busy(BridgeError):
    """The database stayed locked by other writers (SQLite) after retries: try again (HTTP 503)."""

    http_status = 503

    def __init__(self) -> None:
        super().__init__("The billing database is busy, please try again")


# --- failures of the account flows (sign-up, log-in, reset), shown as pages by bridge.web


class WebError(Exception):
    """A failure shown to the visitor as a page with ``title`` and ``message``."""

    status = 400
    title = "Something went wrong"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class WeakPassword(WebError):
    title = "Choose a stronger password"


class LinkInvalid(WebError):
    title = "This link is not valid"


class LinkExpired(WebError):
    title = "This link has expired"


class LinkUsed(WebError):
    title = "This link was already used"


class WrongPassword(WebError):
    title = "The password does not match"


class WrongCode(WebError):
    title = "The code does not match"


class TermsNotAccepted(WebError):
    title = "Please accept the terms"


class NotAllowed(WebError):
    status = 403
    title = "Not allowed"
