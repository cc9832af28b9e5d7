"""``solus-bridge demo``: the mock SolusVM and the bridge together on loopback, seeded.

``Demo(...).start()`` builds everything in a fresh data folder (a temporary one unless
``data_dir`` is given): a SQLite database migrated to head, the demo catalogue
(``catalogue.toml``: seed 001's USD/EUR token prices, GBP, a 5 % reseller group, compound
City 6 % + State 2 % taxes for US clients), an admin, a WHMCS API credential and a few
clients; then the mock, seeded with seed 001's plan table and one SolusVM user per client
(``billing_user_id`` = client id) owning servers of different ages, and with
``settings.billing_integration`` pointing at the bridge's GetTokenPricing URL and token.
Both servers are in-thread granian workers (``mock_solusvm.server.ThreadedServer``) in
this one process: the demo needs no fork, knows its ports as soon as the sockets are bound
(port 0 works), and stops cleanly on Ctrl-C. Production serving is ``solus-bridge serve``
(granian worker processes). ``stop()`` shuts both down and removes the data folder unless ``keep``.
"""

from __future__ import annotations

import dataclasses
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bridge import db
from bridge.app import create_app
from bridge.flask_glue import replace_settings, settings_of
from bridge.models import Client, ClientGroup, Currency, Invoice
from bridge.services import accounts, catalogue, clients, credentials, invoicing
from bridge.services.mailer import Mailer
from bridge.services.solusvm_client import connect
from mock_solusvm.server import MockServer, ThreadedServer

DEMO_CATALOGUE = Path(__file__).resolve().parent / "catalogue.toml"
PRICING_PATH = "/modules/addons/solusio/api/"
GIB = 1024**3

# Seed 001, step 2: the plan table (tokens per hour, tokens per month as the cap).
PLANS: list[dict[str, Any]] = [
    {"id": 1, "name": "1 Core, 1 GB RAM", "tokens_per_hour": 7, "tokens_per_month": 5000,
     "params": {"vcpu": 1, "ram": 1 * GIB, "disk": 20}},
    {"id": 2, "name": "1 Core, 2 GB RAM", "tokens_per_hour": 14, "tokens_per_month": 10000,
     "params": {"vcpu": 1, "ram": 2 * GIB, "disk": 30}},
    {"id": 3, "name": "2 Cores, 2 GB RAM", "tokens_per_hour": 21, "tokens_per_month": 15000,
     "params": {"vcpu": 2, "ram": 2 * GIB, "disk": 40}},
    {"id": 4, "name": "2 Cores, 4 GB RAM", "tokens_per_hour": 28, "tokens_per_month": 20000,
     "params": {"vcpu": 2, "ram": 4 * GIB, "disk": 60}},
]
for _plan in PLANS:
    _plan.update(ip_tokens_per_hour=1, ip_tokens_per_month=500, backup_price=0)


@dataclass(frozen=True)
class DemoServer:
    """A server created ``age_hours`` ago; ``lived_hours`` set means it was deleted after that long."""

    name: str
    plan_id: int
    age_hours: float
    lived_hours: float | None = None
    additional_ips: int = 0


@dataclass(frozen=True)
class DemoPerson:
    firstname: str
    lastname: str
    email: str
    currency: str
    country: str
    state: str = ""
    group: str = ""
    servers: tuple[DemoServer, ...] = ()


PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson("Dana", "Demo", "demo@example.com", "USD", "US", "CA", servers=(
        DemoServer("web-1", 1, age_hours=3 * 24),
        DemoServer("db-1", 4, age_hours=45 * 24, additional_ips=1),   # crosses a month: capped last month
        DemoServer("try-it", 2, age_hours=6, lived_hours=5 / 60),     # five minutes cost one hour
    )),
    DemoPerson("Rory", "Reseller", "reseller@example.com", "USD", "US", "NY", group="Resellers", servers=(
        DemoServer("shop-1", 3, age_hours=10 * 24),
        DemoServer("shop-2", 3, age_hours=2),
    )),
    DemoPerson("Erika", "Euro", "euro@example.com", "EUR", "DE", servers=(
        DemoServer("berlin-1", 2, age_hours=20 * 24),
    )),
    DemoPerson("Gwen", "Pound", "pound@example.com", "GBP", "GB"),
)

CLIENT_PASSWORD = "tokens-by-the-hour-1"
ADMIN_NAME, ADMIN_PASSWORD = "admin", "operator-console-1"


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def mock_seed(clients: list[tuple[int, DemoPerson]], *, pricing_url: str, pricing_token: str,
              now: datetime) -> dict[str, Any]:
    """The mock's seed: plan table, one user per client (billing_user_id = client id), their servers."""
    users, servers = [], []
    server_id = 0
    for client_id, person in clients:
        users.append({"id": client_id, "email": person.email, "status": "active", "billing_user_id": client_id,
                      "roles": [2], "limit_group_id": 1, "password": CLIENT_PASSWORD})
        for srv in person.servers:
            server_id += 1
            created = now - timedelta(hours=srv.age_hours)
            deleted = created + timedelta(hours=srv.lived_hours) if srv.lived_hours is not None else None
            servers.append({"id": server_id, "name": srv.name, "user_id": client_id, "plan_id": srv.plan_id,
                            "location_id": 1, "created_at": _iso(created),
                            "deleted_at": _iso(deleted) if deleted else None,
                            "additional_ip_count": srv.additional_ips})
    return {
        "settings": {"billing_integration": {"type": "custom",
                                             "drivers": {"custom": {"url": pricing_url, "token": pricing_token}}},
                     "features": {"allow_registration": False}},
        "limit_groups": [{"id": 1, "name": "Default", "vms": {"limit": 5, "is_enabled": True},
                          "running_vms": {"limit": 3, "is_enabled": True},
                          "additional_ips": {"limit": 2, "is_enabled": True}}],
        "plans": PLANS,
        "users": users,
        "servers": servers,
    }


@dataclass
class Demo:
    """The running demo; ``start()``, then ``stop()`` (also a context manager)."""

    host: str = "127.0.0.1"
    port: int = 0
    mock_port: int = 0
    data_dir: str | None = None
    keep: bool = False
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._own_dir = False
        self._mock: Any = None
        self._server: Any = None  # mock_solusvm.server.ThreadedServer once bound
        self._app: Any = None

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> Demo:
        """Build, seed and serve; on failure everything started so far is stopped again."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        if self.data_dir is None:
            self.data_dir = tempfile.mkdtemp(prefix="solus-bridge-demo-")
            self._own_dir = True
        data = Path(self.data_dir)
        data.mkdir(parents=True, exist_ok=True)
        pricing_token = secrets.token_urlsafe(18)
        mock_token = "demo-" + secrets.token_urlsafe(18)

        try:
            self._mock = MockServer(port=self.mock_port, host=self.host, api_tokens=[mock_token]).start()
        except OSError:
            raise OSError(f"the mock port {self.mock_port} on {self.host} is in use") from None
        mock_url = self._mock.url
        app = self._app = self._build_app(data, mock_url, mock_token, pricing_token)
        # Bind first: with port 0 the URL is known only now, and SolusVM must be told it.
        try:
            self._server = ThreadedServer(app, self.host, self.port)
        except OSError:
            raise OSError(f"the bridge port {self.port} on {self.host} is in use") from None
        bridge_url = f"http://{self.host}:{self._server.port}"
        replace_settings(app, {"SYSTEM_URL": bridge_url})
        clients, api_cred = self._populate(app)
        self._mock.control("default").seed(mock_seed(
            clients, pricing_url=bridge_url + PRICING_PATH, pricing_token=pricing_token,
            now=datetime.now(UTC)))
        invoices = self._issue_last_month(app)
        self._server.start()
        demo_client_id = clients[0][0]
        self.info = {
            "bridge_url": bridge_url,
            "signup_url": bridge_url + "/signup",
            "login_url": bridge_url + "/login",
            "clientarea_url": bridge_url + "/clientarea",
            "admin_url": bridge_url + "/admin",
            "api_url": bridge_url + "/includes/api.php",
            "pricing_url": bridge_url + PRICING_PATH,
            "metrics_url": bridge_url + "/metrics",
            "health_url": bridge_url + "/healthz",
            "mock_url": mock_url,
            "mock_api_url": mock_url + "/api/v1",
            "mock_api_token": mock_token,
            "pricing_token": pricing_token,
            "client_email": PEOPLE[0].email,
            "client_password": CLIENT_PASSWORD,
            "client_id": demo_client_id,
            "admin_name": ADMIN_NAME,
            "admin_password": ADMIN_PASSWORD,
            "api_identifier": api_cred[0],
            "api_secret": api_cred[1],
            "outbox_dir": str(data / "outbox"),
            "data_dir": str(data),
            "clients": {person.email: cid for cid, person in clients},
            "invoices": invoices,
            "invoice_url": (f"{bridge_url}/clientarea/invoices/{invoices[PEOPLE[0].email]}"
                            if PEOPLE[0].email in invoices else ""),
        }

    def _build_app(self, data: Path, mock_url: str, mock_token: str, pricing_token: str) -> Any:
        return create_app({
            "DATABASE_URL": f"sqlite:///{data / 'bridge.sqlite3'}",
            "SECRET_KEY": secrets.token_hex(32),
            "PRICING_TOKEN": pricing_token,
            "SOLUSVM_URL": mock_url,
            "SOLUSVM_API_TOKEN": mock_token,
            "SYSTEM_URL": "http://127.0.0.1",  # replaced once the port is bound
            "MAIL_SERVER": "",  # mail goes to the outbox folder
            "MAIL_OUTBOX_DIR": str(data / "outbox"),
            "MAIL_PRINT_LINKS": True,  # offline demo: the verification link is shown on the console
            "INSTANCE_PATH": str(data),
            "CATALOGUE_FILE": str(DEMO_CATALOGUE),
            "SESSION_COOKIE_SECURE": False,
            "LOG_FORMAT": "text",  # a person reads this console; production logs are JSON
        })

    def _populate(self, app: Any) -> tuple[list[tuple[int, DemoPerson]], tuple[str, str]]:
        """Migrate, load the catalogue, create the admin, an API credential and the clients."""

        db.upgrade(app.extensions["bridge_db"]["engine"])
        factory = app.extensions["bridge_db"]["session_factory"]
        now = datetime.now(UTC)
        made: list[tuple[int, DemoPerson]] = []
        with factory() as session, session.begin():
            catalogue.load_toml(session, DEMO_CATALOGUE, actor="demo")
            accounts.create_admin(session, ADMIN_NAME, ADMIN_PASSWORD)
            cred = credentials.create(session, "demo", actor="demo")
            for person in PEOPLE:
                cur = session.scalar(select(Currency.id).where(Currency.code == person.currency))
                grp = session.scalar(select(ClientGroup.id).where(ClientGroup.name == person.group)) \
                    if person.group else None
                client = clients.create(session, {
                    "firstname": person.firstname, "lastname": person.lastname, "email": person.email,
                    "address1": "1 Demo Street", "city": "Demo City", "state": person.state,
                    "postcode": "12345", "country": person.country, "currency": cur, "groupid": grp,
                    "password2": CLIENT_PASSWORD, "email_verified": True,
                }, actor="demo")
                # Already linked: the mock is seeded with this client's SolusVM user (same id).
                client.solusvm_user_id = client.id
                client.enrolled_at = now
                client.terms_accepted_at = now
                client.postpay_terms_accepted_at = now
                made.append((client.id, person))
        return made, (cred.identifier, cred.secret)

    def _issue_last_month(self, app: Any) -> dict[str, int]:
        """Invoice last month's usage (the older servers have some), so there is an invoice to
        look at from the start; the mails land in the outbox. Returns e-mail -> invoice id."""

        today = datetime.now(UTC).date()
        year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
        factory = app.extensions["bridge_db"]["session_factory"]
        settings = settings_of(app)
        mailer = Mailer(dataclasses.replace(settings.mail, print_links=False))
        invoicing.generate_period(factory, connect(settings.solusvm, settings.outbox), year, month,
                                  settings=settings, mailer=mailer)
        with factory() as session:
            rows = session.execute(select(Client.email, Invoice.id).join(Invoice, Invoice.client_id == Client.id)
                                   .where(Invoice.period == f"{year:04d}-{month:02d}"))
            return {email: invoice_id for email, invoice_id in rows}

    def stop(self) -> None:
        """Stop both servers, close the database and remove the data folder (unless ``keep``)."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        if self._app is not None:
            self._app.extensions["bridge_db"]["engine"].dispose()
            self._app = None
        if self._own_dir and not self.keep and self.data_dir and Path(self.data_dir).exists():
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> Demo:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- output ------------------------------------------------------------------------

    def banner(self) -> str:
        """What the CLI prints: URLs and logins (one ``label: value`` per line, easy to parse)."""
        i = self.info
        return "\n".join([
            "SolusVM 2 billing bridge demo (loopback only; nothing here is for production)",
            "",
            f"  Bridge:          {i['bridge_url']}/",
            f"  Sign up:         {i['signup_url']}",
            f"  Client area:     {i['login_url']}  login {i['client_email']} / {i['client_password']}",
            *([f"  Invoice:         {i['invoice_url']}  (last month's usage, issued at start; PDF: add .pdf)"]
              if i.get("invoice_url") else []),
            f"  Admin:           {i['admin_url']}  login {i['admin_name']} / {i['admin_password']}",
            f"  WHMCS API:       {i['api_url']}  identifier {i['api_identifier']} secret {i['api_secret']}",
            f"  GetTokenPricing: {i['pricing_url']}  token {i['pricing_token']}",
            f"  Metrics:         {i['metrics_url']}",
            f"  Health:          {i['health_url']}",
            f"  Mock SolusVM:    {i['mock_url']}/  API {i['mock_api_url']}  token {i['mock_api_token']}",
            f"  Mail outbox:     {i['outbox_dir']}  (links in new mail are also printed here, decoded)",
            f"  Data:            {i['data_dir']}" + ("" if self.keep or not self._own_dir else "  (removed on exit)"),
            "",
            "Try: curl -s -X POST -d 'action=GetTokenPricing' -d 'token=" + i["pricing_token"] + "' -d 'userid="
            + str(i["client_id"]) + "' " + i["pricing_url"],
            "Press Ctrl-C to stop.",
        ])
