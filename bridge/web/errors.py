"""The web part's exception tree. ``bridge.web.register_error_pages`` maps it to HTML pages."""

from __future__ import annotations


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
