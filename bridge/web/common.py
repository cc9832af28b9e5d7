"""Helpers shared by the web blueprints: sessions, the current client/admin, rate limits, mail."""

from __future__ import annotations

import atexit
import contextvars
import functools
import hashlib
import hmac
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    after_this_request,
    current_app,
    has_request_context,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFProtect
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from bridge import db, flask_glue
from bridge.flask_glue import current_settings
from bridge.models import Admin, Client
from bridge.services import ratelimit, web_sessions
from bridge.services.accounts import Mail
from bridge.services.mailer import Mailer, MailError
from bridge.services.paths import local_path
from bridge.services.solusvm_client import SolusVMClient, connect
from bridge.settings import check_system_url

log = logging.getLogger(__name__)
csrf = CSRFProtect()


def error_page(title: str, message: str, status: int, **extra: Any) -> tuple[str, int]:
    """An HTML page explaining what went wrong."""
    return render_template("message.html", title=title, message=message, **extra), status


def _protect() -> None:
    # CSRF for our HTML forms only: the WHMCS API and GetTokenPricing are token-authenticated.
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()


def _not_found(_exc: Exception) -> Any:
    return error_page("Not found", "There is nothing here, or it is not yours to see.", 404)


# The largest row id a URL may name: ids are 32-bit INTEGER columns on PostgreSQL, and SQLite
# raises OverflowError beyond 2**63 - 1; a larger number can only be "not found".
MAX_ID = 2**31 - 1


def _bounded_ids(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    """404 for an ``<int:...>`` URL value no row can have (instead of a database error)."""
    for value in (values or {}).values():
        if isinstance(value, int) and not isinstance(value, bool) and value > MAX_ID:
            abort(404)


def _database_busy(exc: OperationalError) -> Any:
    """SQLite's write lock lost to another writer: a 503 page to retry, not a 500 (nothing was saved)."""
    flask_glue.get_session().rollback()
    if not db.is_lock_conflict(exc):
        raise exc
    body, status = error_page("Busy for a moment", "Many changes are being saved right now and yours was not. "
                              "Please send the form again in a few seconds.", 503)
    return body, status, {"Retry-After": "2"}


def web_blueprint(name: str, import_name: str, **kwargs: Any) -> Blueprint:
    """A blueprint with CSRF protection on every form, bounded ids in URLs, HTML 404 pages and
    a retry page when SQLite's write lock is busy."""
    bp = Blueprint(name, import_name, **kwargs)
    bp.url_value_preprocessor(_bounded_ids)
    bp.before_request(_protect)
    bp.register_error_handler(404, _not_found)
    bp.register_error_handler(OperationalError, _database_busy)
    return bp


def dbs() -> Session:
    """The request's database session."""
    return flask_glue.get_session()


def solus() -> SolusVMClient:
    """A SolusVM client for this request: ``WEB_SOLUSVM_RETRIES`` retries and, in total, no
    more than ``SOLUSVM_REQUEST_BUDGET`` seconds (a visitor waits and holds a worker)."""
    settings = current_settings()
    return connect(settings.solusvm, settings.outbox, retries=settings.solusvm.web_retries, request_budget=True)


def mailer() -> Mailer:
    return Mailer(current_settings().mail)


def public_url(endpoint: str, **values: Any) -> str:
    """The absolute URL of a route for an e-mail: ``SYSTEM_URL`` joined with the route's path.

    Never built from the request (``url_for(_external=True)`` trusts the Host header, so a
    forged ``Host: evil.example`` would mail a reset link to evil.example with the token).
    ``SYSTEM_URL`` is the bridge's public base URL, including any path it is mounted under;
    ``create_app`` checks it at start-up, and it is checked again here (the config may change).
    """
    system_url = current_settings().system_url
    check_system_url(system_url)
    base = str(system_url).rstrip("/")
    path = url_for(endpoint, **values)
    root = request.script_root if has_request_context() else ""
    if root and path.startswith(root + "/"):
        path = path[len(root):]  # SYSTEM_URL already names the mount point
    return base + path


# A message that fails is tried again once after this pause (the visitor already has the page).
MAIL_ATTEMPTS = 2
MAIL_RETRY_SECONDS = 2.0
# SMTP sends run on at most this many background threads per process (each worker process).
MAIL_SENDER_THREADS = 2
# At a normal exit the process waits this long for queued mail before giving it up (logged).
MAIL_EXIT_WAIT_SECONDS = 10.0


class MailSender:
    """A few daemon threads of this process that run queued mail jobs, so that no request
    worker waits for an SMTP server (a dead one costs ``MAIL_ATTEMPTS`` timeouts).

    Threads start on the first jobs, up to ``threads``; ``wait`` returns once nothing is
    queued or running. Daemon threads never keep a stopping process alive.
    """

    def __init__(self, threads: int = MAIL_SENDER_THREADS) -> None:
        self.pid = os.getpid()
        self._max_threads = threads
        self._threads: list[threading.Thread] = []
        self._jobs: queue.SimpleQueue[Callable[[], object]] = queue.SimpleQueue()
        self._state = threading.Condition()
        self.pending = 0  # queued or running jobs

    def submit(self, job: Callable[[], object]) -> None:
        with self._state:
            self.pending += 1
            if len(self._threads) < min(self.pending, self._max_threads):
                thread = threading.Thread(target=self._run, name=f"bridge-mail-{len(self._threads) + 1}",
                                          daemon=True)
                self._threads.append(thread)
                thread.start()
        self._jobs.put(job)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job()
            except Exception:  # deliver() logs its own failures; this is a safety net for the thread
                log.exception("background mail job failed")
            finally:
                with self._state:
                    self.pending -= 1
                    self._state.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until no job is queued or running; False when ``timeout`` seconds passed first."""
        with self._state:
            return self._state.wait_for(lambda: self.pending == 0, timeout)


_sender: MailSender | None = None
_sender_lock = threading.Lock()


def mail_sender() -> MailSender:
    """This process's sender, created on first use (again in a forked child: threads do not fork)."""
    global _sender
    with _sender_lock:
        if _sender is None or _sender.pid != os.getpid():
            _sender = MailSender()
        return _sender


def flush_mail(timeout: float | None = None) -> bool:
    """Wait until every mail queued by this process was sent or given up (tests, shutdown)."""
    sender = _sender
    if sender is None or sender.pid != os.getpid():
        return True
    return sender.wait(timeout)


@atexit.register
def _drain_at_exit() -> None:
    if not flush_mail(MAIL_EXIT_WAIT_SECONDS):
        log.error("%d mail(s) to clients not sent: the process exited first",
                  _sender.pending if _sender is not None else 0)


def send_after_response(mail: Mail) -> None:
    """Send a prepared message after the response, off the request worker, retrying once on failure.

    Pages that must not tell whether an address has an account (sign-up, resend, forgotten
    password) send mail for some addresses only: sent inside the request, the SMTP round trip
    (or a dead server's timeout) and a failure page would tell them apart. Instead, once the
    WSGI server closes the response (granian, werkzeug and gunicorn all do), the message is queued for
    this process's background sender (``mail_sender``); the worker is free at once, every
    visitor gets the same page in the same time, and a failure is logged for the operator.
    Without ``MAIL_SERVER`` (development, the demo) the ``.eml`` file is written at once: a local
    file write tells nothing, and the file is there when the page arrives.
    """
    sender = mailer()
    if not sender.settings.server:
        deliver(sender, mail)
        return
    # The request's context (its request id, for the log lines) goes with the job.
    job = functools.partial(contextvars.copy_context().run, deliver, sender, mail)

    @after_this_request
    def _later(response: Response) -> Response:
        response.call_on_close(lambda: mail_sender().submit(job))
        return response


def deliver(sender: Mailer, mail: Mail) -> bool:
    """Send with retries; log (without the text: links carry tokens) and return False on failure."""
    error: Exception | None = None
    for attempt in range(1, MAIL_ATTEMPTS + 1):
        try:
            sender.send(mail.to, mail.subject, mail.text)
            return True
        except MailError as exc:
            error = exc
        except Exception as exc:  # an unexpected bug: logged, and not retried
            log.exception("mail %r to a client failed unexpectedly", mail.subject)
            error = exc
            break
        if attempt < MAIL_ATTEMPTS:
            time.sleep(MAIL_RETRY_SECONDS)
    log.error("mail %r to a client could not be sent (%d attempt(s)): %s", mail.subject, attempt, error)
    return False


def rate_limit(name: str, *keys: str) -> None:
    """Count a hit for each key of limit ``name`` (config ``RATE_LIMIT_<NAME>``); raises RateLimited."""
    limit = ratelimit.parse_limit(current_settings().web.rate_limit(name))
    for key in (f"ip:{request.remote_addr or '-'}", *keys):
        ratelimit.hit(flask_glue.get_engine(), f"{name}:{key}", limit)


KNOWN_DEVICE_SALT = "bridge.web.known-device"
KNOWN_DEVICE_DAYS = 90
KNOWN_DEVICE_MAX = 5  # accounts remembered per browser


def _known_cookie(kind: str) -> str:
    return f"bridge_known_{kind}"


def _identity_digest(identity: str) -> str:
    return hashlib.sha256(identity.encode()).hexdigest()[:20]


def _known_identities(kind: str) -> list[str]:
    raw = request.cookies.get(_known_cookie(kind))
    if not raw:
        return []
    try:
        data = URLSafeTimedSerializer(str(current_app.config["SECRET_KEY"]), salt=KNOWN_DEVICE_SALT).loads(
            raw, max_age=KNOWN_DEVICE_DAYS * 86400)
    except BadSignature:
        return []
    return [d for d in data if isinstance(d, str)] if isinstance(data, list) else []


def _remember_device(kind: str, identity: str) -> None:
    """After a successful log-in: this browser has shown it knows the account's password."""
    digest = _identity_digest(identity)
    known = [digest] + [d for d in _known_identities(kind) if d != digest]
    value = URLSafeTimedSerializer(str(current_app.config["SECRET_KEY"]), salt=KNOWN_DEVICE_SALT).dumps(
        known[:KNOWN_DEVICE_MAX])
    secure = current_settings().web.session_cookie_secure

    @after_this_request
    def _set(response: Response) -> Response:
        response.set_cookie(_known_cookie(kind), value, max_age=KNOWN_DEVICE_DAYS * 86400, httponly=True,
                            secure=secure, samesite="Lax",
                            path=current_app.session_interface.get_cookie_path(current_app))
        return response


class LoginAttempt:
    """The log-in limits of one attempt (client or admin), keyed on the normalised identity.

    - per source address (all accounts): ``RATE_LIMIT_LOGIN_ADDRESS``, against spraying;
    - per (address, account), every attempt: ``RATE_LIMIT_LOGIN``, the tight one;
    - per account, failures only, from anywhere: ``RATE_LIMIT_LOGIN_ACCOUNT``, looser tiers with
      growing waits (e.g. 15 minutes, then an hour, then a day), against guessing from many
      addresses. A browser that logged in to this account before (a signed "known device"
      cookie) is exempt from this one, so a stranger's failures never keep the owner out.
    """

    def __init__(self, kind: str, name: str) -> None:
        self.kind = kind
        self.identity = ratelimit.identity_key(name)
        self.address = request.remote_addr or "-"

    def check(self) -> None:
        """Count the attempt; raise RateLimited when any limit is used up."""
        engine, web = flask_glue.get_engine(), current_settings().web
        ratelimit.hit(engine, f"login:ip:{self.address}", ratelimit.parse_limit(web.rate_limit("login_address")))
        ratelimit.hit(engine, f"login:pair:{self.kind}:{self.address}:{self.identity}",
                      ratelimit.parse_limit(web.rate_limit("login")))
        if _identity_digest(self.identity) in _known_identities(self.kind):
            return
        for i, limit in enumerate(ratelimit.parse_limits(web.rate_limit("login_account"))):
            ratelimit.peek(engine, self._account_key(i), limit)

    def failed(self) -> None:
        """Count a wrong password against the account (call with no read transaction open)."""
        engine = flask_glue.get_engine()
        for i, limit in enumerate(ratelimit.parse_limits(current_settings().web.rate_limit("login_account"))):
            try:
                ratelimit.hit(engine, self._account_key(i), limit)
            except ratelimit.RateLimited:
                pass  # this answer is already a refusal; the next attempt meets the limit in check()

    def succeeded(self) -> None:
        _remember_device(self.kind, self.identity)

    def _account_key(self, tier: int) -> str:
        return f"login:account{tier}:{self.kind}:{self.identity}"


def password_tag(kind: str, account_id: int, password_hash: str | None) -> str:
    """A keyed digest of the account's current password hash, kept in its session.

    A session is valid only while the tag matches, so a password change or reset (here, through
    the WHMCS API or ``admin create``) logs out every other session of that account. An HMAC with
    ``SECRET_KEY``: the cookie is signed but readable, so it never carries the hash itself.
    """
    key = str(current_app.config["SECRET_KEY"]).encode()
    message = f"bridge.web.session|{kind}|{account_id}|{password_hash or ''}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def _tag_matches(name: str, kind: str, account_id: int, password_hash: str | None) -> bool:
    tag = session.get(name)
    return isinstance(tag, str) and hmac.compare_digest(tag, password_tag(kind, account_id, password_hash))


def session_max_age() -> int:
    lifetime = current_app.permanent_session_lifetime
    return int(lifetime.total_seconds())


def _start_session(kind: str, account_id: int) -> None:
    """Replace the cookie's contents with a new server-side session of this account (committed)."""
    s = dbs()
    clear_session(s)  # a fresh session on every log-in: no fixation
    web_sessions.purge_account(s, kind, account_id, session_max_age())  # this account's expired rows
    token = web_sessions.start(s, kind, account_id, ip=request.remote_addr or "",
                               user_agent=request.headers.get("User-Agent", ""))
    s.commit()
    session.permanent = True  # expires after PERMANENT_SESSION_LIFETIME (cookie and row alike)
    session[f"{kind}_id"] = account_id
    session[f"{kind}_sid"] = token


def clear_session(s: Session) -> None:
    """Empty the cookie, ending on the server every session it held (client and admin), so no
    copy of the old cookie stays logged in. The caller commits."""
    for kind in web_sessions.KINDS:
        web_sessions.end(s, session.get(f"{kind}_sid"))
    session.clear()


def _forget(kind: str) -> None:
    for suffix in ("id", "tag", "sid"):
        session.pop(f"{kind}_{suffix}", None)


def log_out(kind: str) -> None:
    """End this browser's ``kind`` session on the server and in the cookie."""
    token = session.get(f"{kind}_sid")
    if token:
        web_sessions.end(dbs(), token)
        dbs().commit()
    _forget(kind)


def log_in_client(client: Client) -> None:
    _start_session("client", client.id)
    session["client_tag"] = password_tag("client", client.id, client.password_hash)


def current_client() -> Client | None:
    cid = session.get("client_id")
    if not isinstance(cid, int):
        return None
    client = dbs().get(Client, cid)
    if (client is None or client.status == "Closed"
            or not _tag_matches("client_tag", "client", client.id, client.password_hash)
            or not web_sessions.is_valid(dbs(), "client", cid, session.get("client_sid"), session_max_age())):
        _forget("client")
        return None
    return client


def log_in_admin(admin: Admin) -> None:
    _start_session("admin", admin.id)
    session["admin_tag"] = password_tag("admin", admin.id, admin.password_hash)


def current_admin() -> Admin | None:
    aid = session.get("admin_id")
    if not isinstance(aid, int):
        return None
    admin = dbs().get(Admin, aid)
    if (admin is None or not _tag_matches("admin_tag", "admin", admin.id, admin.password_hash)
            or not web_sessions.is_valid(dbs(), "admin", aid, session.get("admin_sid"), session_max_age())):
        _forget("admin")
        return None
    return admin


def client_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Redirect to /login unless a client is logged in; passes ``client`` to the view."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        client = current_client()
        if client is None:
            return redirect(url_for("web_auth.login", next=request.path))
        return view(client, *args, **kwargs)

    return wrapped


TWO_FACTOR_ENDPOINTS = frozenset({"web_admin.two_factor", "web_admin.logout"})


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Redirect to /admin/login unless an admin is logged in."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        admin = current_admin()
        if admin is None:
            return redirect(url_for("web_admin.login"))
        if (current_settings().web.admin_require_2fa and not admin.totp_enabled
                and request.endpoint not in TWO_FACTOR_ENDPOINTS):
            return redirect(url_for("web_admin.two_factor"))  # enrol first: nothing else until then
        return view(admin, *args, **kwargs)

    return wrapped


def safe_next(target: str | None, default: str) -> str:
    """Only local paths, so ?next= cannot send a visitor to another site (``paths.local_path``)."""
    return local_path(target) or default
