"""The client edition's assumptions appendix: the rate-card figures this budget used, in words,
grouped by where they come from (the guide's sources, our assumptions, the workbook's overrides).

budget.md and `clinic-budget assumptions` list every key of the card; the client documents list
the figures that went into this workbook's arithmetic. A figure counts as used unless the rule in
`unused` says the budget cannot have reached it: a module or integration the scenarios do not
have, the hosting they do not use, certified components they do not take, user support beyond the
guide's clinic size when no scenario's staff outgrow it, the risk analysis or
the quotes when it did not run, and the guide's figures that only check the guide against itself
(its worked examples, market shares, the intake's plausibility bounds), and the bounds of the
switching-value search.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from generator.model import INTEGRATION_KEYS, Hosting, Plan
from generator.ratecard import Entry, RateCard, is_low_end, partner

if TYPE_CHECKING:
    from collections.abc import Iterable

# Figures the guide gives that check its own arithmetic (guide_checks.py) or an intake's
# plausibility (warnings), never a cost in a budget.
CHECK_ONLY = ("example.", "maintenance.example.", "maintenance.table.", "geography.reduction.", "hosting.trade_years",
              "intake.", "tier.guide_low", "tier.advanced_min")
# Figures that reach a budget only through one of its warnings.
IN_WARNING = {"hosting.cloud_share": "ON_PREMISE", "scope.max_physicians": "BEYOND_SCOPE"}
GUIDE = "From the guide"
OURS = "Our assumptions (the guide gives no figure)"
WORKBOOK = "From the workbook (overrides)"


@dataclass(frozen=True)
class Row:
    """One figure (or a low/high pair) of the appendix."""

    words: str
    value: str
    keys: str


@dataclass(frozen=True)
class Group:
    title: str  # GUIDE, OURS or WORKBOOK
    source: str  # the cited source within the group ("" for ours)
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Facts:
    """What in the plan decides whether a figure was reachable."""

    modules: frozenset[str]
    integrations: frozenset[str]
    hosting: frozenset[Hosting]
    certified: bool
    specificity: frozenset[str]
    risk: bool
    aace: frozenset[int]
    quotes: bool
    card_products: bool
    complexity: frozenset[str] = frozenset({"typical"})
    warnings: frozenset[str] = frozenset()
    fees: frozenset[str] = frozenset()  # the third-party fees the scenarios pay
    legacy: bool = False  # an old EHR runs until go-live
    support: bool = False  # a scenario's staff outgrow what the guide's maintenance covers (user support)

    @classmethod
    def of(cls, plan: Plan) -> Facts:
        sps = plan.scenarios
        clinics = [sp.scenario.clinic for sp in sps]
        classes = {sp.risk.estimate_class for sp in sps if sp.risk is not None}
        if plan.quotes is not None:
            classes |= {r.estimate_class for r in plan.quotes.results}
        return cls(
            modules=frozenset(li.category for sp in sps for li in sp.components if li.kind != "integration"),
            integrations=frozenset(INTEGRATION_KEYS[i.category] for sp in sps for i in sp.scenario.integrations),
            hosting=frozenset(c.hosting for c in clinics),
            certified=any(c.certified_components for c in clinics),
            specificity=frozenset(c.workflow_specificity.value.lower() for c in clinics),
            risk=any(sp.risk is not None for sp in sps),
            aace=frozenset(classes),
            quotes=plan.quotes is not None,
            card_products=any(not sp.scenario.subscriptions for sp in sps),
            complexity=frozenset({"typical"} | {m.complexity.value.lower() for sp in sps for m in sp.scenario.modules
                                                if m.include and m.complexity is not None}
                                 | {i.complexity.value.lower() for sp in sps for i in sp.scenario.integrations}),
            warnings=frozenset(w.code for sp in sps for w in sp.warnings),
            fees=frozenset(f.key for sp in sps for f in sp.run.fees),
            legacy=any(sp.run.legacy for sp in sps),
            support=any(sp.run.support_expected for sp in sps),
        )


def unused(key: str, facts: Facts) -> bool:
    """Whether this budget cannot have used the figure `key`."""
    head, _, rest = key.partition(".")
    second = rest.partition(".")[0]
    if key == "maintenance.example.build" and facts.support:
        return False  # the base of the user support beyond the guide's clinic size (costs.support_base)
    if key.startswith(CHECK_ONLY):
        return True
    if key in IN_WARNING:
        return IN_WARNING[key] not in facts.warnings
    if head == "module":
        return second not in facts.modules
    if head == "integration":
        return f"{head}.{second}" not in facts.integrations
    if head == "certified":
        return not facts.certified
    if head == "fees":
        return second not in facts.fees
    if head == "support":
        return not facts.support
    if head == "legacy" or key == "offshelf.golive_quarters":
        return not facts.legacy
    if key.startswith("hosting.cloud."):
        return Hosting.CLOUD not in facts.hosting
    if key.startswith("hosting.onprem."):
        return Hosting.ONPREM not in facts.hosting
    if key.startswith("offshelf.surcharge."):
        return key.rpartition(".")[2] not in facts.specificity
    if head == "offshelf" and key.endswith(".monthly"):
        return not facts.card_products
    if key.startswith("risk.aace.class"):
        return not facts.risk or int(key.split(".")[2].removeprefix("class")) not in facts.aace
    if head == "complexity":
        return second not in facts.complexity
    if key.startswith("risk.switch."):
        return True  # where the switching-value search looks, not a figure of the budget
    if head == "risk":
        return not facts.risk
    if head in ("quote", "hours"):
        return not facts.quotes
    return False


def _pairs(entries: Iterable[Entry], card: RateCard) -> list[tuple[Entry, Entry | None]]:
    """Entries in order, a low end with its high end when both are in `entries` alike."""
    entries = list(entries)
    keys = {e.key for e in entries}
    out: list[tuple[Entry, Entry | None]] = []
    for e in entries:
        other = partner(e.key)
        if other is None or other not in keys:
            out.append((e, None))
        elif is_low_end(e.key):
            out.append((e, card.entry(other)))
    return out


def _row(low: Entry, high: Entry | None, cited: bool = False) -> Row:
    source = f"; {low.cited}" if cited else ""
    if high is None:
        return Row(low.words, low.formatted(), low.key + source)
    return Row(low.words, span(low.formatted(), high.formatted()),
               f"{low.key}, .{high.key.rpartition('.')[2]}{source}")


def _fees_together(rows: tuple[Row, ...]) -> tuple[Row, ...]:
    """The third-party fees (fees.*) as one row where the first of them stands: each kind in words
    with its range, those per provider a year together, one key pattern."""
    fees = [r for r in rows if r.keys.startswith("fees.")]
    if len(fees) < 2:
        return rows
    unit = " per provider per year"
    each = [f"{r.words[0].lower() + r.words[1:] if not r.words[:3].isupper() else r.words} "
            f"{r.value.removesuffix(unit)}" for r in fees if r.value.endswith(unit)]
    other = [f"{r.words.lower()} {r.value}" for r in fees if not r.value.endswith(unit)]
    value = "; ".join(([f"{', '.join(each)} a provider a year"] if each else []) + other)
    merged = Row("Third-party fees", value, "fees.*")
    at = rows.index(fees[0])
    rest = [r for r in rows if r not in fees]
    return (*rest[:at], merged, *rest[at:])


GOING_LIVE = ("golive.dip.low", "legacy.monthly", "offshelf.golive_quarters")


def _going_live_together(rows: tuple[Row, ...]) -> tuple[Row, ...]:
    """The go-live dip, the old EHR's cost and the time to go live on a product, folded into the
    third-party fees' row (what a clinic pays beyond the build, each in words with its figure)."""
    parts = [r for r in rows if r.keys.startswith(GOING_LIVE)]
    fees = next((r for r in rows if r.keys == "fees.*"), None)
    if not parts or fees is None:
        return rows
    value = "; ".join([fees.value] + [f"{r.words[0].lower() + r.words[1:]} {r.value}" for r in parts])
    merged = Row("Beyond the build", value, "fees.*, golive.*, legacy.*")
    return tuple(merged if r is fees else r for r in rows if r not in parts)


def span(low: str, high: str) -> str:
    """`$300–$900 per provider per year`: a range whose ends share their unit names it once."""
    common = len(low)
    while common and not high.endswith(low[len(low) - common:]):
        common -= 1
    unit = low[len(low) - common:] if common else ""
    unit = unit.lstrip("0123456789,.")
    if not unit or unit == low or unit[0].isalnum() and unit[0] != " ":
        return f"{low}–{high}"
    return f"{low[:-len(unit)]}–{high}"


def assumption_groups(plan: Plan) -> tuple[Group, ...]:
    """The base card's figures this budget used, grouped: the guide's sources (in the card's
    order), our assumptions, then the workbook's overrides (an override of some scenarios only
    names them)."""
    card = plan.base.scenario.card
    facts = Facts.of(plan)
    used = [e for e in card if not e.is_override and not unused(e.key, facts)]
    groups: list[Group] = []
    for source in dict.fromkeys(e.source for e in used if not e.is_assumption):
        cited = [e for e in used if e.source == source and not e.is_assumption]
        groups.append(Group(GUIDE, source, tuple(_row(lo, hi) for lo, hi in _pairs(cited, card))))
    ours = [e for e in used if e.is_assumption]
    if ours:
        rows = _fees_together(tuple(_row(lo, hi) for lo, hi in _pairs(ours, card)))
        groups.append(Group(OURS, "", _going_live_together(rows)))
    # one row per override, whichever scenarios share it (the Assumptions sheet applies to all)
    overrides: dict[Row, list[str]] = {}
    for sp in plan.scenarios:
        own = sp.scenario.card
        for lo, hi in _pairs([own.entry(k) for k in own.overridden], own):
            overrides.setdefault(_row(lo, hi, cited=True), []).append(sp.name)
    if overrides:
        every = len(plan.scenarios)
        groups.append(Group(WORKBOOK, "", tuple(
            row if len(names) == every else Row(f"{row.words} ({', '.join(names)})", row.value, row.keys)
            for row, names in overrides.items())))
    return tuple(groups)


