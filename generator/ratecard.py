"""The rate card: every figure the product uses, each with its source.

Loaded once from `ratecard.toml` into a frozen `RateCard`. Per-workbook overrides (the
Assumptions sheet, Scenarios columns) make a new card; the shipped one never changes.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from types import MappingProxyType

from generator.errors import RateCardError

OURS = "ours"
UNITS = ("usd", "usd/hour", "usd/month", "usd/year", "usd/provider/year", "usd/physician", "usd/user", "usd/violation",
         "share", "hours", "years", "quarters", "users/physician", "physicians", "draws", "systems", "times")


@dataclass(frozen=True)
class Entry:
    key: str
    value: float
    source_key: str
    source: str
    note: str = ""
    unit: str = "usd"  # usd, usd/hour, usd/month, usd/year, share, years, hours, ...
    override_source: str | None = None  # set when a workbook replaced the shipped value
    minimum: float = 0.0  # the range a workbook's value may take ([limits] in ratecard.toml)
    maximum: float = 0.0
    limit_note: str = ""
    label: str = ""  # the figure in words ([labels] in ratecard.toml, by key or by its pair's stem)

    @property
    def words(self) -> str:
        """What the figure is, in words: its label, else its note, else its key."""
        return self.label or self.note or self.key

    def within(self, value: float) -> bool:
        return self.minimum <= value <= self.maximum

    @property
    def range_text(self) -> str:
        """The allowed range as `clinic-budget assumptions` prints it: `0%-100%`, `$1/h-$1,000/h`."""
        return f"{format_value(self.minimum, self.unit)} to {format_value(self.maximum, self.unit)}"

    @property
    def is_assumption(self) -> bool:
        return self.source_key == OURS

    @property
    def is_share(self) -> bool:
        """A fraction (0.15 = 15%): read from a workbook as a percentage."""
        return self.unit == "share"

    @property
    def is_override(self) -> bool:
        return self.override_source is not None

    def formatted(self, value: float | None = None) -> str:
        """The value (or another in this entry's unit) as a report shows it: $8,000, $40/h, 15%."""
        return format_value(self.value if value is None else value, self.unit)

    @property
    def cited(self) -> str:
        """The source as a report shows it."""
        if self.override_source is not None:
            return f"workbook override ({self.override_source})"
        return self.source


@dataclass(frozen=True)
class RateCard:
    entries: Mapping[str, Entry]
    overridden: tuple[str, ...] = field(default=())

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries.values())

    def __reduce__(self) -> tuple[object, ...]:
        """Pickle as a plain dict (a MappingProxyType cannot be pickled), so a card can come back
        from the process that read the workbook (`sandbox.py`)."""
        return _unpickle_card, (dict(self.entries), self.overridden)

    def __contains__(self, key: object) -> bool:
        return key in self.entries

    def entry(self, key: str) -> Entry:
        try:
            return self.entries[key]
        except KeyError:
            raise RateCardError(f"rate card has no key {key!r}{suggest(key, self.entries)}") from None

    def value(self, key: str) -> float:
        return self.entry(key).value

    def money(self, key: str) -> int:
        return round(self.entry(key).value)

    def pair(self, prefix: str) -> tuple[float, float]:
        """`prefix.low` and `prefix.high` as a (low, high) pair."""
        return self.value(f"{prefix}.low"), self.value(f"{prefix}.high")

    def with_overrides(self, overrides: Mapping[str, tuple[float, str]]) -> RateCard:
        """A new card with `{key: (value, source)}` applied. Keys must exist (checked by intake)."""
        if not overrides:
            return self
        entries = dict(self.entries)
        for key, (value, source) in overrides.items():
            entries[key] = replace(self.entry(key), value=value, override_source=source or "no source given")
        names = tuple(dict.fromkeys((*self.overridden, *overrides)))
        return RateCard(MappingProxyType(entries), names)


def partner(key: str) -> str | None:
    """The other end of a key's low/high pair (`x.low` <-> `x.high`, `x.low_pct` <-> `x.high_pct`),
    or None for a key that is not one end of a pair."""
    prefix, _, end = key.rpartition(".")
    ends = {"low": "high", "high": "low", "low_pct": "high_pct", "high_pct": "low_pct"}
    return f"{prefix}.{ends[end]}" if prefix and end in ends else None


def is_low_end(key: str) -> bool:
    return key.rpartition(".")[2] in ("low", "low_pct")


def _unpickle_card(entries: dict[str, Entry], overridden: tuple[str, ...]) -> RateCard:
    return RateCard(MappingProxyType(entries), overridden)


def format_value(value: float, unit: str) -> str:
    if unit == "share":
        digits = 0 if abs(value * 100 - round(value * 100)) < 1e-9 else 2
        return f"{value:.{digits}%}"
    if unit.startswith("usd"):
        money = f"${value:,.2f}" if value != round(value) else f"${round(value):,}"
        suffix = {"usd": "", "usd/hour": "/h", "usd/month": "/month", "usd/year": "/year",
                  "usd/provider/year": " per provider per year", "usd/physician": " per physician",
                  "usd/user": " per user", "usd/violation": " per violation"}[unit]
        return money + suffix
    if unit in ("systems", "quarters", "years") and value == 1:
        return f"1 {unit[:-1]}"
    return f"{value:,g}" if unit in ("draws", "hours") else f"{value:g} {unit}"


def closest(word: str, choices: Mapping[str, object] | list[str] | tuple[str, ...]) -> str | None:
    """The choice closest to `word` (case-insensitive), if any is close enough. A word far longer
    than any name is close to none (and comparing it would cost time quadratic in its length)."""
    if len(word) > 100:
        return None
    close = difflib.get_close_matches(word.lower(), [str(c).lower() for c in choices], n=1, cutoff=0.6)
    return next(str(c) for c in choices if str(c).lower() == close[0]) if close else None


def suggest(word: str, choices: Mapping[str, object] | list[str] | tuple[str, ...]) -> str:
    """`; did you mean 'x'?` for the closest choice, or nothing."""
    original = closest(word, choices)
    return f"; did you mean '{original}'?" if original else ""


def parse_card(text: str, origin: str = "ratecard.toml") -> RateCard:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RateCardError(f"{origin}: not valid TOML: {exc}") from None
    sources = data.get("sources", {})
    limits = data.get("limits", {})
    unit_limits, key_limits = limits.get("units", {}), limits.get("keys", {})
    entries: dict[str, Entry] = {}
    for key, raw in data.get("entries", {}).items():
        if not isinstance(raw, dict) or "value" not in raw or "source" not in raw:
            raise RateCardError(f"{origin}: entry {key!r} needs a value and a source")
        src = raw["source"]
        if src not in sources:
            raise RateCardError(f"{origin}: entry {key!r} names unknown source {src!r}")
        value = raw["value"]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RateCardError(f"{origin}: entry {key!r} must have a number as its value")
        unit = raw.get("unit")
        if unit not in UNITS:
            raise RateCardError(f"{origin}: entry {key!r} needs a unit, one of {', '.join(UNITS)}")
        limit = key_limits.get(key) or unit_limits.get(unit)
        if not isinstance(limit, dict) or not all(isinstance(limit.get(k), int | float) for k in ("min", "max")):
            raise RateCardError(f"{origin}: entry {key!r} has no range: add its unit {unit!r} to [limits.units] "
                                "or the key to [limits.keys], with a min and a max")
        low, high = float(limit["min"]), float(limit["max"])
        if not low <= float(value) <= high:
            raise RateCardError(f"{origin}: entry {key!r} has the value {value:g}, outside its range "
                                f"{low:g} to {high:g}")
        entries[key] = Entry(key, float(value), src, sources[src], raw.get("note", ""), unit,
                             minimum=low, maximum=high, limit_note=str(limit.get("note", "")))
    for key in key_limits:
        if key not in entries:
            raise RateCardError(f"{origin}: [limits.keys] names {key!r}, which is not an entry")
    return RateCard(MappingProxyType(_labelled(entries, data.get("labels", {}), origin)))


def stem(key: str) -> str:
    """The pair a low or high end belongs to (`module.x` for `module.x.low`), else the key."""
    return key.rpartition(".")[0] if partner(key) else key


def _labelled(entries: dict[str, Entry], labels: object, origin: str) -> dict[str, Entry]:
    """`entries` with their [labels]: a label names an entry, or the stem of a low/high pair."""
    if not isinstance(labels, dict):
        raise RateCardError(f"{origin}: [labels] must be a table of key = \"words\"")
    stems = {stem(key) for key in entries}
    for name, text in labels.items():
        if name not in entries and name not in stems:
            raise RateCardError(f"{origin}: [labels] names {name!r}, which is neither an entry nor a low/high pair"
                                f"{suggest(name, sorted(stems | set(entries)))}")
        if not isinstance(text, str) or not text.strip():
            raise RateCardError(f"{origin}: [labels] {name!r} must be words in quotes")
    return {key: replace(e, label=labels.get(key) or labels.get(stem(key)) or "") for key, e in entries.items()}


@cache
def default_card() -> RateCard:
    """The shipped rate card (read once per process)."""
    text = resources.files("generator").joinpath("data", "ratecard.toml").read_text(encoding="utf-8")
    return parse_card(text)


def card_digest() -> str:
    """A content hash of the shipped rate card, for the batch manifest."""
    import hashlib

    data = resources.files("generator").joinpath("data", "ratecard.toml").read_bytes()
    return hashlib.sha256(data).hexdigest()
