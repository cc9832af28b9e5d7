"""The pricing catalogue: currencies, token prices, client groups, tax rules, tax settings.

``load_toml``/``load_catalogue`` upsert by natural key (currency code, group name, tax rule
level+country+state), so loading the same file twice changes nothing.

Caching for GetTokenPricing: ``snapshot(session, version)`` returns an immutable in-process
copy of the whole catalogue, keyed by engine. Every catalogue change must call
``bump_version(session)`` in the same transaction; the pricing query reads the version in
the same single SELECT as the client row, so a change made by any worker or machine is seen
by every other worker on its very next request (no TTL, no staleness).
"""

from __future__ import annotations

import threading
import tomllib
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bridge.billing import SEPARATORS, AppliedTax, RuleInfo, applicable_rates
from bridge.errors import ValidationFailed
from bridge.models import ClientGroup, Currency, Setting, TaxRule, TokenPrice
from bridge.services import audit
from bridge.settings import truthy

DEFAULT_CATALOGUE = Path(__file__).resolve().parent.parent / "default_catalogue.toml"
VERSION_KEY = "CatalogueVersion"
TAX_SETTINGS = ("TaxEnabled", "TaxType", "TaxL2Compound")


# --- settings --------------------------------------------------------------------------


def get_setting(session: Session, key: str, default: str = "") -> str:
    """One setting's value, or ``default``."""
    row = session.get(Setting, key)
    return row.value if row is not None else default


def set_setting(session: Session, key: str, value: str, *, actor: str, bump: bool = True) -> None:
    """Upsert a setting (audited). Tax settings bump the catalogue version (unless ``bump=False``
    because the caller bumps once at the end)."""
    row = session.get(Setting, key)
    old = row.value if row else None
    if row is None:
        session.add(Setting(key=key, value=value))
    else:
        row.value = value
    if old != value:
        audit.record(session, actor, "setting.update", "setting", key, {"old": old, "new": value})
        if key in TAX_SETTINGS and bump:
            bump_version(session)


def bump_version(session: Session) -> None:
    """Mark the catalogue changed; call in the same transaction as any catalogue change."""
    row = session.get(Setting, VERSION_KEY)
    if row is None:
        session.add(Setting(key=VERSION_KEY, value="1"))
    else:
        row.value = str(int(row.value or "0") + 1)
    session.flush()


def _is_catalogue_object(obj: object) -> bool:
    if isinstance(obj, Currency | TokenPrice | ClientGroup | TaxRule):
        return True
    return isinstance(obj, Setting) and obj.key in TAX_SETTINGS


def auto_bump(session: Session, _flush_context: object, _instances: object) -> None:
    """``before_flush`` listener: any ORM change to the catalogue bumps the version in the same flush.

    Installed on every session factory by ``bridge.services.unit_of_work.make_session_factory``, so code that edits
    currencies, prices, groups, tax rules or tax settings through the ORM cannot forget to
    invalidate the GetTokenPricing cache. (Bulk ``UPDATE`` statements bypass it: call
    ``bump_version`` after those.)
    """
    changed = any(_is_catalogue_object(o) for o in (*session.new, *session.deleted))
    if not changed:
        changed = any(_is_catalogue_object(o) and session.is_modified(o) for o in session.dirty)
    if not changed:
        return
    pending = [o for o in session.new if isinstance(o, Setting) and o.key == VERSION_KEY]
    if pending:
        return  # a version row is being inserted in this very flush
    with session.no_autoflush:
        row = session.get(Setting, VERSION_KEY)
        if row is None:
            session.add(Setting(key=VERSION_KEY, value="1"))
        else:
            row.value = str(int(row.value or "0") + 1)


# --- loading ---------------------------------------------------------------------------


# What a catalogue file may contain. Anything else is refused by name: a misspelt table
# (``[[currency]]``) or key would otherwise be ignored and the prices silently wrong.
KEYS: dict[str, frozenset[str]] = {
    "settings": frozenset(TAX_SETTINGS),
    "currencies": frozenset({"code", "prefix", "suffix", "format", "rate", "decimals", "default", "token_price",
                             "payment_instructions"}),
    "groups": frozenset({"name", "discount_percent", "colour", "susp_term_exempt", "separate_invoices"}),
    "tax_rules": frozenset({"level", "name", "country", "state", "rate"}),
}
# Decimal places the columns keep (bridge.models): a finer value would be rounded by one
# database and not another (SQLite keeps what it is given), so it is refused instead.
PLACES = {"token_price": 10, "rate": 5, "discount_percent": 2, "tax rate": 3}
# Money columns keep 2 decimals, so a currency can have 0, 1 or 2 (KWD, BHD, OMR, TND and
# other 3-decimal currencies cannot be billed exactly and are refused).
MAX_CURRENCY_DECIMALS = 2
PAYMENT_INSTRUCTIONS_KEY = "PaymentInstructions."


def _check_keys(doc: Mapping[str, Any]) -> None:
    """Refuse unknown tables and keys, naming them."""
    if not isinstance(doc, Mapping):
        raise ValidationFailed("catalogue: not a TOML table")
    for table, value in doc.items():
        allowed = KEYS.get(table)
        if allowed is None:
            hint = " (did you mean [[currencies]]?)" if table.startswith("currenc") else ""
            raise ValidationFailed(f"catalogue: unknown table [{table}]{hint}; the tables are "
                                   f"{', '.join(KEYS)}")
        rows = [value] if table == "settings" else value
        if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
            form = f"[{table}]" if table == "settings" else f"[[{table}]]"
            raise ValidationFailed(f"catalogue: {table} must be written as {form}")
        for row in rows:
            for key in row:
                if key not in allowed:
                    raise ValidationFailed(f"catalogue: unknown key {key!r} in [{table}]; allowed: "
                                           f"{', '.join(sorted(allowed))}")


def _dec(value: Any, what: str, places: int | None = None) -> Decimal:
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationFailed(f"catalogue: {what} is not a number: {value!r}") from None
    if not result.is_finite() or result < 0:
        raise ValidationFailed(f"catalogue: {what} must be a non-negative number")
    if places is not None and -result.normalize().as_tuple().exponent > places:  # type: ignore[operator]
        raise ValidationFailed(f"catalogue: {what} {value} has more than {places} decimal places, "
                               f"which the bridge stores; round it yourself")
    return result


def load_toml(session: Session, path: str | Path, *, actor: str = "cli") -> dict[str, int]:
    """Load a TOML catalogue file (see bridge/default_catalogue.toml for the format)."""
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ValidationFailed(f"catalogue {path}: {exc}") from None
    return load_catalogue(session, doc, actor=actor)


def load_catalogue(session: Session, doc: Mapping[str, Any], *, actor: str = "cli") -> dict[str, int]:
    """Upsert currencies, token prices, groups, tax rules and tax settings from a mapping."""
    _check_keys(doc)
    counts = {"currencies": 0, "groups": 0, "tax_rules": 0}
    for item in doc.get("currencies", []):
        code = str(item.get("code", "")).upper()
        if len(code) != 3 or not code.isalpha():
            raise ValidationFailed(f"catalogue: currency code must be 3 letters, got {code!r}")
        fmt = int(item.get("format", 1))
        if fmt not in SEPARATORS:
            raise ValidationFailed(f"catalogue: currency {code} format must be 1-4")
        decimals = int(item.get("decimals", 0 if fmt == 4 else 2))
        if not 0 <= decimals <= MAX_CURRENCY_DECIMALS:
            raise ValidationFailed(f"catalogue: currency {code} decimals must be 0-{MAX_CURRENCY_DECIMALS} "
                                   "(amounts are stored with 2 decimals)")
        cur = session.scalar(select(Currency).where(Currency.code == code))
        if cur is None:
            cur = Currency(code=code)
            session.add(cur)
        cur.prefix = str(item.get("prefix", ""))
        cur.suffix = str(item.get("suffix", ""))
        cur.format = fmt
        cur.rate = _dec(item.get("rate", "1"), f"{code} rate", PLACES["rate"])
        cur.decimals = decimals
        if item.get("default"):
            for other in session.scalars(select(Currency).where(Currency.is_default.is_(True))):
                other.is_default = False
            cur.is_default = True
        session.flush()
        if "token_price" in item:
            price = _dec(item["token_price"], f"{code} token_price", PLACES["token_price"])
            if price == 0:
                # A zero price would make every server free; refuse rather than guess.
                raise ValidationFailed(f"catalogue: {code} token_price must be greater than zero")
            tp = session.scalar(select(TokenPrice).where(TokenPrice.currency_id == cur.id))
            if tp is None:
                session.add(TokenPrice(currency_id=cur.id, price_per_token=price))
            else:
                tp.price_per_token = price
        if "payment_instructions" in item:
            set_setting(session, PAYMENT_INSTRUCTIONS_KEY + code, str(item["payment_instructions"]).strip(),
                        actor=actor)
        counts["currencies"] += 1
    if not has_currency(session):
        raise ValidationFailed("catalogue: no currency: add at least one [[currencies]] table with a code "
                               "and a token_price")
    if session.scalar(select(Currency).where(Currency.is_default.is_(True))) is None:
        first = session.scalar(select(Currency).order_by(Currency.id))
        if first is not None:
            first.is_default = True
    for item in doc.get("groups", []):
        name = str(item.get("name", "")).strip()
        if not name:
            raise ValidationFailed("catalogue: group name is required")
        pct = _dec(item.get("discount_percent", "0"), f"group {name} discount_percent", PLACES["discount_percent"])
        if pct > 100:
            raise ValidationFailed(f"catalogue: group {name} discount_percent must be 0-100")
        grp = session.scalar(select(ClientGroup).where(ClientGroup.name == name))
        if grp is None:
            grp = ClientGroup(name=name)
            session.add(grp)
        grp.discount_percent = pct
        grp.colour = str(item.get("colour", ""))
        grp.susp_term_exempt = bool(item.get("susp_term_exempt", False))
        grp.separate_invoices = bool(item.get("separate_invoices", False))
        counts["groups"] += 1
    for item in doc.get("tax_rules", []):
        level = int(item.get("level", 1))
        if level not in (1, 2):
            raise ValidationFailed("catalogue: tax rule level must be 1 or 2")
        country = str(item.get("country", "")).upper()
        state = str(item.get("state", ""))
        rule = session.scalar(select(TaxRule).where(TaxRule.level == level, TaxRule.country == country,
                                                    TaxRule.state == state))
        if rule is None:
            rule = TaxRule(level=level, country=country, state=state)
            session.add(rule)
        rule.name = str(item.get("name", "Tax"))
        rule.rate = _dec(item.get("rate", "0"), f"tax rule {rule.name!r} rate", PLACES["tax rate"])
        counts["tax_rules"] += 1
    settings = doc.get("settings", {})
    for key in TAX_SETTINGS:
        if key in settings:
            value = settings[key]
            if key == "TaxType":
                if value not in ("Exclusive", "Inclusive"):
                    raise ValidationFailed("catalogue: TaxType must be Exclusive or Inclusive")
                text = value
            else:
                text = "on" if truthy(value) else ""
            set_setting(session, key, text, actor=actor, bump=False)
    audit.record(session, actor, "catalogue.load", "catalogue", "", counts)
    bump_version(session)
    return counts


def payment_instructions(session: Session, code: str) -> str:
    """How to pay an invoice in ``code`` (the catalogue's ``payment_instructions``), or ''."""
    return get_setting(session, PAYMENT_INSTRUCTIONS_KEY + code.upper())


def has_currency(session: Session) -> bool:
    """True when at least one currency exists (init-db loads the default catalogue otherwise)."""
    return session.scalar(select(Currency.id).limit(1)) is not None


# --- the in-process snapshot ------------------------------------------------------------


@dataclass(frozen=True)
class CurrencyInfo:
    id: int
    code: str
    prefix: str
    suffix: str
    format: int
    decimals: int
    token_price: Decimal | None


@dataclass(frozen=True)
class GroupInfo:
    id: int
    name: str
    discount_percent: Decimal


@dataclass(frozen=True)
class Snapshot:
    """Everything GetTokenPricing needs besides the client row."""

    version: str | None
    currencies: dict[int, CurrencyInfo]
    groups: dict[int, GroupInfo]
    rules: tuple[RuleInfo, ...]
    tax_enabled: bool
    inclusive: bool
    compound: bool
    _match_cache: dict[tuple[str, str, bool], AppliedTax] = field(default_factory=dict, compare=False)
    memo: dict[Any, Any] = field(default_factory=dict, compare=False)  # pricing results, see services.pricing

    def applicable_tax(self, country: str, state: str, *, exempt: bool) -> AppliedTax:
        """``billing.applicable_rates`` for a place under this catalogue, cached per place."""
        key = (country.upper(), state.strip().lower(), bool(exempt))
        hit = self._match_cache.get(key)
        if hit is not None:
            return hit
        result = applicable_rates(self.rules, country=country, state=state, tax_enabled=self.tax_enabled,
                                  exempt=exempt, compound=self.compound, inclusive=self.inclusive)
        if len(self._match_cache) < 10_000:  # bounded: places are few in practice
            self._match_cache[key] = result
        return result


def build_snapshot(session: Session) -> Snapshot:
    """Read the whole catalogue (a handful of small queries).

    The version is read first: if a change commits while the rest is read, the snapshot is
    labelled with the older version and the next request rebuilds it (never the reverse,
    which would keep stale content under the new label).
    """
    version = session.scalar(select(Setting.value).where(Setting.key == VERSION_KEY))
    prices = {tp.currency_id: tp.price_per_token for tp in session.scalars(select(TokenPrice))}
    currencies = {
        c.id: CurrencyInfo(c.id, c.code, c.prefix, c.suffix, c.format, c.decimals, prices.get(c.id))
        for c in session.scalars(select(Currency))
    }
    groups = {g.id: GroupInfo(g.id, g.name, g.discount_percent) for g in session.scalars(select(ClientGroup))}
    rules = tuple(RuleInfo(r.id, r.level, r.name, r.country, r.state, r.rate)
                  for r in session.scalars(select(TaxRule).order_by(TaxRule.id)))
    settings = {s.key: s.value for s in session.scalars(select(Setting).where(Setting.key.in_(TAX_SETTINGS)))}
    return Snapshot(
        version=version,
        currencies=currencies,
        groups=groups,
        rules=rules,
        tax_enabled=truthy(settings.get("TaxEnabled")),
        inclusive=settings.get("TaxType", "Exclusive") == "Inclusive",
        compound=truthy(settings.get("TaxL2Compound")),
    )


_snapshots: weakref.WeakKeyDictionary[Engine, Snapshot] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def snapshot(session: Session, version: str | None) -> Snapshot:
    """The cached snapshot for this session's engine, rebuilt when ``version`` differs."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine  # a Connection knows its Engine
    snap = _snapshots.get(engine)
    if snap is not None and snap.version == version:
        return snap
    snap = build_snapshot(session)
    with _lock:
        _snapshots[engine] = snap
    return snap


def cached_snapshot(engine: Engine, version: str | None) -> Snapshot:
    """Like ``snapshot`` but from an engine: opens a session only when the cache is stale."""
    snap = _snapshots.get(engine)
    if snap is not None and snap.version == version:
        return snap

    with Session(engine) as session:
        return snapshot(session, version)


def clear_cache() -> None:
    """Forget every cached snapshot (tests)."""
    with _lock:
        _snapshots.clear()
