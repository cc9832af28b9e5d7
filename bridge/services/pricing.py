"""GetTokenPricing (seed 001, step 6): what one token costs a given client.

``user_token_unit_cost = base × Π discount multipliers × tax factor`` (design §3, computed
by ``bridge.billing.user_token_unit_cost``), with ``Decimal`` and never rounded.

- base: the token price in the client's currency; a currency without a token price is an
  error (``PricingUnavailable``), never a price of 0.
- discounts: the client group's discount percent as multiplier ``1 - pct/100`` (none when
  the client has no group or the discount is 0).
- taxes: ``bridge.billing.applicable_rates``: the most specific level-1 and level-2 rules
  for the client's country/state; compound per ``TaxL2Compound``; no rates when
  ``TaxEnabled`` is off or the client is tax-exempt.
- Inclusive mode (``TaxType = Inclusive``): token prices already include tax, so the user
  cost is ``base × discounts`` (tax factor 1); ``taxes.rates`` still lists the rates for
  display and ``taxes_inclusive`` is true. Invoicing agrees: ``billing.line_tax`` with
  ``inclusive=True`` treats line amounts as gross and splits the tax out of them.

Hot path: one indexed SELECT (the client row by primary key, with the catalogue version as a
scalar sub-select); the rest comes from the cached catalogue snapshot. ``token_pricing``
runs it in the caller's session (it sees uncommitted changes); the HTTP endpoint uses
``token_pricing_fast(engine, ...)``, which runs the same SQLAlchemy-compiled statement on a
DBAPI connection (about 7 µs instead of ~650 µs through an ORM session). On SQLite each
thread also keeps the answers it gave while ``PRAGMA data_version`` says no other connection
has written to the database since (see ``_HotPath``): a repeated client then costs that one
pragma (about 3 µs) and no row read.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.orm import Session

from bridge.billing import separators, user_token_unit_cost
from bridge.errors import NotFound, PricingUnavailable
from bridge.models import Client, Setting
from bridge.services import catalogue

_VERSION = (
    select(Setting.value).where(Setting.key == catalogue.VERSION_KEY).scalar_subquery().label("catalogue_version")
)
_QUERY = select(
    Client.status, Client.currency_id, Client.group_id, Client.tax_exempt, Client.country, Client.state, _VERSION
)


@dataclass(frozen=True)
class TokenPricing:
    """The GetTokenPricing answer for one client."""

    base_token_unit_cost: Decimal
    user_token_unit_cost: Decimal
    currency: dict[str, Any]
    discounts: list[dict[str, Any]]
    compound: bool
    rates: list[dict[str, Any]]
    taxes_inclusive: bool
    # Serialisers may keep their rendered bytes here: an answer is shared by every client
    # with the same currency, group, exemption and place until the catalogue changes.
    wire_cache: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """The wire shape (``contracts.billing.TokenPricingResponseSchema`` plus ``taxes_inclusive``)."""
        return {
            "base_token_unit_cost": self.base_token_unit_cost,
            "user_token_unit_cost": self.user_token_unit_cost,
            "currency": dict(self.currency),
            "discounts": [dict(d) for d in self.discounts],
            "taxes": {"compound": self.compound, "rates": [dict(r) for r in self.rates]},
            "taxes_inclusive": self.taxes_inclusive,
        }


def plain(value: Decimal) -> Decimal:
    """Drop trailing zeros but keep a plain (non-exponent) form: 6.000 -> 6, 0.0009100 -> 0.00091."""
    norm = value.normalize()
    if norm.as_tuple().exponent > 0:  # type: ignore[operator]
        norm = norm.quantize(Decimal(1))
    return norm


_BY_ID = _QUERY.where(Client.id == bindparam("client_id"))
# (status, currency_id, group_id, tax_exempt, country, state, catalogue_version)
Row = Sequence[Any]


MAX_ID = 2**31 - 1


def token_pricing(session: Session, client_id: int) -> TokenPricing:
    """Price one token for a client; raises NotFound for unknown or closed clients."""
    if not 1 <= client_id <= MAX_ID:  # no such client; a huge id would overflow the driver
        raise NotFound("Client Not Found")
    row = session.execute(_BY_ID, {"client_id": client_id}).one_or_none()
    if row is None:
        raise NotFound("Client Not Found")
    snap = catalogue.snapshot(session, row.catalogue_version)
    return _price(tuple(row), snap)


# Per engine: the SQL text and a function from a client id to the DBAPI parameters, made once
# (SQLAlchemy's per-call ``construct_params`` was a tenth of the endpoint's own time).
_compiled: weakref.WeakKeyDictionary[Engine, tuple[str, Any]] = weakref.WeakKeyDictionary()
_compile_lock = threading.Lock()


def _statement(engine: Engine) -> tuple[str, Any]:
    compiled = _compiled.get(engine)
    if compiled is None:
        with _compile_lock:
            comp = _BY_ID.compile(dialect=engine.dialect)
            params = comp.construct_params({"client_id": 0})
            if engine.dialect.positional:
                names = list(comp.positiontup or ())
                template, at = [params[k] for k in names], names.index("client_id")

                def bind(client_id: int) -> Any:
                    args = template.copy()
                    args[at] = client_id
                    return args
            else:
                def bind(client_id: int) -> Any:
                    return {**params, "client_id": client_id}
            compiled = _compiled[engine] = (str(comp), bind)
    return compiled


_held = threading.local()


def _sqlite_connection(engine: Engine) -> Any:
    """This thread's own SQLite connection for the hot path, kept out of the pool for good.

    The bridge's SQLite connections run in autocommit mode (``bridge.db.make_engine``): a
    SELECT outside BEGIN reads the latest committed data, so a connection kept open sees
    every change at once, and skipping the pool's check-out and reset saves about a fifth
    of the endpoint's own work. PostgreSQL keeps the pool (a SELECT opens a transaction).
    """
    conns = getattr(_held, "conns", None)
    if conns is None:
        conns = _held.conns = weakref.WeakKeyDictionary()
    conn = conns.get(engine)
    if conn is None:
        conn = conns[engine] = engine.raw_connection()
    return conn


class _HotPath:
    """This thread's way to GetTokenPricing answers for one SQLite engine.

    Made once per thread and engine: the statement bound to the held DBAPI connection, the
    last catalogue snapshot, and the answers given since the database last changed.

    ``PRAGMA data_version`` changes whenever any *other* connection (another thread, worker
    or process) has committed anything to the database, and this connection never writes.
    So while it stays the same, nothing a price depends on can have changed, and the answer
    given to a client before is still right: no write path has to remember to bump anything.
    It is read before the client row, so an answer is never older than the version it is
    kept under (a commit in between changes the version the next request reads). Reading it
    costs about 3 µs against 7 µs for the row (it starts a read transaction but reads no
    table); any write at all empties the answers, which then come from the row again.
    """

    __slots__ = ("answers", "data_version", "engine", "read", "seen", "snap")

    def __init__(self, engine: Engine) -> None:
        self.engine: weakref.ref[Engine] = weakref.ref(engine)
        sql, bind = _statement(engine)
        execute = _sqlite_connection(engine).dbapi_connection.execute

        def read(client_id: int) -> Any:
            return execute(sql, bind(client_id)).fetchone()

        def data_version() -> int:
            return int(execute("PRAGMA data_version").fetchone()[0])

        self.read = read
        self.data_version = data_version
        self.seen: int | None = None
        self.answers: dict[int, TokenPricing] = {}
        self.snap: catalogue.Snapshot | None = None


MAX_ANSWERS = 100_000  # per thread; the answers themselves are shared (see ``_price``)


def release_connections() -> None:
    """Give back this thread's held SQLite connections (the next request takes new ones)."""
    _held.hot = None
    for conn in list(getattr(_held, "conns", {}).values()):
        conn.close()
    _held.conns = weakref.WeakKeyDictionary()


def token_pricing_fast(engine: Engine, client_id: int) -> TokenPricing:
    """``token_pricing`` for the hot path: one SELECT, no ORM session; on SQLite on this
    thread's own connection (and no SELECT for a client answered since the database last
    changed), otherwise on a pooled one."""
    if not 1 <= client_id <= MAX_ID:
        raise NotFound("Client Not Found")
    if engine.dialect.name != "sqlite":
        return _pooled(engine, client_id)
    hot = getattr(_held, "hot", None)
    if hot is None or hot.engine() is not engine:
        hot = _held.hot = _HotPath(engine)
    seen = hot.data_version()
    if seen != hot.seen:
        hot.answers = {}
        hot.seen = seen
    else:
        answer = hot.answers.get(client_id)
        if answer is not None:
            return answer
    row = hot.read(client_id)
    if row is None:
        raise NotFound("Client Not Found")
    snap = hot.snap
    if snap is None or snap.version != row[6]:
        snap = hot.snap = catalogue.cached_snapshot(engine, row[6])
    answer = _price(row, snap)  # unknown, closed and unpriceable clients raise: never kept
    if len(hot.answers) < MAX_ANSWERS:
        hot.answers[client_id] = answer
    return answer


def _pooled(engine: Engine, client_id: int) -> TokenPricing:
    sql, bind = _statement(engine)
    conn = engine.raw_connection()
    try:
        cur = conn.cursor()
        cur.execute(sql, bind(client_id))
        row = cur.fetchone()
        cur.close()
    finally:
        conn.close()  # back to the pool, which rolls back (ends PostgreSQL's implicit transaction)
    if row is None:
        raise NotFound("Client Not Found")
    return _price(tuple(row), catalogue.cached_snapshot(engine, row[6]))


def price_key(currency_id: int, group_id: int | None, tax_exempt: Any, country: str | None,
              state: str | None) -> tuple[Any, ...]:
    """Everything a client's price depends on: clients with the same key pay the same price."""
    return (currency_id, group_id, bool(tax_exempt), country or "", state or "")


def _price(row: Row, snap: catalogue.Snapshot) -> TokenPricing:
    if row[0] == "Closed":
        raise NotFound("Client Not Found")
    key = price_key(row[1], row[2], row[3], row[4], row[5])
    hit = snap.memo.get(key)
    if hit is None:
        hit = _compute(key, snap)
        if len(snap.memo) < 50_000:  # bounded; distinct keys are few (currencies × groups × places)
            snap.memo[key] = hit
    return hit


def _compute(key: tuple[Any, ...], snap: catalogue.Snapshot) -> TokenPricing:
    currency_id, group_id, tax_exempt, country, state = key
    cur = snap.currencies.get(currency_id)
    if cur is None or cur.token_price is None or cur.token_price <= 0:
        raise PricingUnavailable(f"No token price is configured for the client's currency "
                                 f"{cur.code if cur else currency_id}")
    discounts: list[dict[str, Any]] = []
    multipliers: list[Decimal] = []
    group = snap.groups.get(group_id) if group_id else None
    if group is not None and group.discount_percent > 0:
        mult = plain(1 - group.discount_percent / 100)
        multipliers.append(mult)
        discounts.append({"name": group.name,
                          "description": f"{plain(group.discount_percent)}% Recurring Discount",
                          "multipler": mult, "multiplier": mult})
    applied = snap.applicable_tax(country or "", state or "", exempt=tax_exempt)
    rates: list[dict[str, Any]] = [{"label": r.name, "rate": plain(r.rate)} for r in applied.rules]
    base = plain(cur.token_price)
    factor_rates = [] if snap.inclusive else [r["rate"] for r in rates]
    cost = user_token_unit_cost(base, multipliers, factor_rates, snap.compound)
    thousands, decimals_sep = separators(cur.format)
    currency = {"code": cur.code, "display_prefix": cur.prefix, "display_suffix": cur.suffix,
                "thousands_separator": thousands, "decimals_separator": decimals_sep, "decimals": cur.decimals}
    return TokenPricing(base, plain(cost), currency, discounts, snap.compound, rates, snap.inclusive)
