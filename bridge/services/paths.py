"""Which redirect targets are local paths of this site (``?next=``, CreateSsoToken's
``sso_redirect_path``). Plain functions without Flask, so the WHMCS API checks with the
same rule as the pages."""

from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit

MAX_LENGTH = 2000


def local_path(target: object) -> str | None:
    """``target`` as a path of this site, or None when it is anything else.

    Browsers drop tabs and newlines from URLs and read a backslash as a slash, so
    ``/<TAB>/evil.example`` or ``/<BACKSLASH>evil.example`` would become ``//evil.example`` (another host):
    any control or whitespace character is refused, backslashes count as slashes, and what
    is left must be a path with no scheme and no host, not starting with ``//``.
    """
    if not isinstance(target, str) or not target or len(target) > MAX_LENGTH:
        return None
    if any(ch.isspace() or unicodedata.category(ch)[0] in "CZ" for ch in target):
        return None
    path = target.replace("\\", "/")
    if not path.startswith("/") or path.startswith("//"):
        return None
    parts = urlsplit(path)
    if parts.scheme or parts.netloc:
        return None
    return path
