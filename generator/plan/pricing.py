"""The planner: a validated Scenario in, a ScenarioPlan out.

Components at their rate-card ranges, priced for the scenario's team; labour; tier; run
costs. The cost of ownership over the horizon lives in ownership.py, the guide's warnings and
contradictions in guide_checks.py.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from generator import __version__
from generator.model import (
    FEE_NAMES,
    FEE_STARTS,
    INTEGRATION_KEYS,
    SCOPE_FEATURES,
    TRAINING,
    FeeCost,
    GuidePrice,
    Intake,
    Integration,
    Labor,
    LineItem,
    ModuleChoice,
    Plan,
    Range,
    RunCosts,
    Scenario,
    ScenarioPlan,
    Team,
    TeamOption,
)
from generator.money import apportion, ceil_dollars, dollars, floor_dollars
from generator.plan import costs
from generator.ratecard import RateCard, default_card


@dataclass(frozen=True)
class _Draft:
    """A line priced for the default (offshore) team, before scaling to the scenario's team."""

    name: str
    kind: str
    phase: int
    guide: GuidePrice
    source: str
    note: str
    category: str


# ------------------------------------------------------------------ team and labour

effective_rate = costs.effective_rate
guide_effective_rate = costs.guide_effective_rate


def staff_users(scenario: Scenario) -> int:
    clinic = scenario.clinic
    return costs.staff_users(scenario.card, clinic.physicians, clinic.staff_users)


# ------------------------------------------------------------------ components


def module_range(scenario: Scenario, row: ModuleChoice) -> tuple[float, float, bool]:
    """(low, high, from the workbook) of a module row. A known module's figure that merely repeats
    the shipped rate card (as `clinic-budget new` pre-fills them) counts as not given, so that an
    Assumptions-sheet override of that key still applies."""
    if row.known is None:  # a specialty feature: its own range from the Modules sheet
        return float(row.low or 0), float(row.high or 0), True
    key, shipped = f"module.{row.known.key}", default_card()

    def given(value: int | None, end: str) -> float | None:
        return None if value is None or value == shipped.value(f"{key}.{end}") else float(value)

    low, high = given(row.low, "low"), given(row.high, "high")
    return (scenario.card.value(f"{key}.low") if low is None else low,
            scenario.card.value(f"{key}.high") if high is None else high,
            low is not None or high is not None)


def _module_draft(scenario: Scenario, row: ModuleChoice) -> _Draft:
    card = scenario.card
    range_low, range_high, quoted = module_range(scenario, row)
    if row.known is None:
        source, note, category = "workbook (specialty feature)", row.notes, "specialty"
    else:
        entry = card.entry(f"module.{row.known.key}.low")
        source = "workbook" if quoted else entry.cited
        note, category = row.notes or entry.note, row.known.key
    training = row.known is not None and row.known.key == TRAINING
    scaled = training and not quoted
    scale = costs.training_scale(card, staff_users(scenario)) if scaled else 1.0
    low, high = range_low * scale, range_high * scale
    pos = None if training and row.complexity is None else costs.position(card, row.complexity)
    if pos is None:
        per_user = card.value("training.per_user") * staff_users(scenario)
        expected = min(max(per_user, low), high)
    else:
        expected = costs.in_range(low, high, pos)
    share = 1.0
    if row.known is not None and row.known.standard and scenario.clinic.certified_components:
        share = card.value("certified.residual_pct")
        low, expected, high = low * share, expected * share, high * share
        note = f"pre-built certified component ({share:.0%} of a custom build's cost). {note}".strip()
        source = f"{source}, at the certified-component share (our assumption)"
    kind = "specialty" if row.known is None else "module"
    guide = GuidePrice(range_low, range_high, pos, share, scaled, low, expected, high)
    return _Draft(row.name, kind, row.phase, guide, source, note, category)


def _integration_draft(card: RateCard, item: Integration) -> _Draft:
    key = INTEGRATION_KEYS[item.category]
    low, high = card.value(f"{key}.low"), card.value(f"{key}.high")
    pos = costs.position(card, item.complexity)
    guide = GuidePrice(low, high, pos, 1.0, False, low, costs.in_range(low, high, pos), high)
    entry = card.entry(f"{key}.low")
    note = ", ".join(x for x in (item.vendor, entry.note) if x)
    return _Draft(item.system, "integration", item.phase, guide, entry.cited, note, item.category.value)


def drafts(scenario: Scenario) -> list[_Draft]:
    """Every included module, specialty feature and integration, at default-team prices."""
    out = [_module_draft(scenario, m) for m in scenario.modules if m.include]
    out += [_integration_draft(scenario.card, i) for i in scenario.integrations]
    return out


def certified_saving(scenario: Scenario) -> int:
    """What certified components take off the standard modules (never more than they cost)."""
    if not scenario.clinic.certified_components:
        return 0
    share = scenario.card.value("certified.residual_pct")
    full = 0.0
    for row in scenario.modules:
        if row.include and row.known is not None and row.known.standard:
            low, high, _ = module_range(scenario, row)
            full += costs.in_range(low, high, costs.position(scenario.card, row.complexity))
    return dollars(full * (1 - share))


# ------------------------------------------------------------------ labour


def _labor(scenario: Scenario, default_cost: float) -> Labor:
    """Labour for the build. Hours are derived from the modules unless the workbook gives them."""
    clinic, card = scenario.clinic, scenario.card
    rate, overhead, effective = effective_rate(card, clinic.team, clinic.hourly_rate)
    team = clinic.team.value if clinic.hourly_rate is None else f"{clinic.team.value} (workbook rate)"
    if clinic.development_hours is not None:
        hours = round(clinic.development_hours)
        raw = dollars(hours * rate)
        extra = dollars(raw * overhead)
        return Labor(team, hours, rate, raw, overhead, extra, raw + extra, "workbook", guide_effective_rate())
    cost = dollars(default_cost * effective / guide_effective_rate())
    raw = dollars(cost / (1 + overhead))
    hours = round(raw / rate) if rate else 0
    return Labor(team, hours, rate, raw, overhead, cost - raw, cost, "derived from the modules", guide_effective_rate())


def price_lines(scenario: Scenario) -> tuple[tuple[LineItem, ...], Labor]:
    """Scale the default-team drafts to the scenario's labour cost, in whole dollars, so that
    the lines' expected figures add up exactly to the labour cost."""
    items = drafts(scenario)
    default_cost = sum(d.guide.expected for d in items)
    labor = _labor(scenario, default_cost)
    if not items:
        return (), labor
    scale = labor.cost / default_cost if default_cost else 1.0
    expected = apportion(labor.cost, [d.guide.expected for d in items])
    lines = tuple(
        LineItem(d.name, d.kind, d.phase,
                 Range(min(floor_dollars(d.guide.low * scale), e), e, max(ceil_dollars(d.guide.high * scale), e)),
                 d.source, d.note, d.category, d.guide)
        for d, e in zip(items, expected, strict=True)
    )
    return lines, labor


def team_options(scenario: Scenario, build: Range) -> tuple[TeamOption, ...]:
    """The same scope priced with each team at its rate-card rate, for the geography table."""
    card = scenario.card
    base = effective_rate(card, scenario.clinic.team, scenario.clinic.hourly_rate)[2]
    options = []
    for team in Team:
        rate, overhead, effective = effective_rate(card, team)
        f = effective / base if base else 1.0
        options.append(TeamOption(team.value, rate, overhead, effective,
                                  Range(dollars(build.low * f), dollars(build.expected * f),
                                        dollars(build.high * f))))
    return tuple(options)


def scope_systems(scenario: Scenario) -> int:
    """Connected systems and specialty features beyond the core: what the guide's tiers turn on."""
    features = sum(1 for m in scenario.modules
                   if m.include and (m.known is None or m.known.key in SCOPE_FEATURES))
    return len(scenario.integrations) + features


def tier(scenario: Scenario) -> str:
    return costs.tier(scenario.card, scope_systems(scenario))


def phase_totals(lines: tuple[LineItem, ...]) -> tuple[tuple[int, Range], ...]:
    phases = sorted({line.phase for line in lines} | {1})
    return tuple((p, Range.total([line.cost for line in lines if line.phase == p])) for p in phases)


# ------------------------------------------------------------------ run costs


def size_position(scenario: Scenario) -> float:
    """Where a clinic of this size sits in the guide's hosting ranges (0: one physician)."""
    return costs.size_position(scenario.card, scenario.clinic.physicians)


def hosting_costs(scenario: Scenario) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """((annual low, expected, high), (up-front low, expected, high)) for the scenario's hosting,
    in whole dollars as the report shows them (on-premise upkeep on the servers as shown)."""
    card, hosting = scenario.card, scenario.clinic.hosting
    points = [dollars(v) for v in costs.hosting_points(card, hosting, scenario.clinic.physicians)]
    pairs = [costs.yearly_hosting(card, hosting, float(v)) for v in points]
    up = (dollars(pairs[0][0]), dollars(pairs[1][0]), dollars(pairs[2][0]))
    return (dollars(pairs[0][1]), dollars(pairs[1][1]), dollars(pairs[2][1])), up


def fee_costs(scenario: Scenario) -> tuple[FeeCost, ...]:
    """The scope's recurring third-party fees (ownership.scenario_fees) as the report shows them."""
    from generator.plan import ownership

    card, out = scenario.card, []
    for fee in ownership.scenario_fees(scenario):
        lo, mid, hi = (dollars(v) for v in costs.fee_points(card, fee))
        entry = card.entry(f"fees.{fee.key}.low")
        basis = "per connected system" if fee.key == "interface" else "per provider"
        out.append(FeeCost(fee.key, FEE_NAMES[fee.key], fee.number, basis, Range(lo, mid, hi), FEE_STARTS[fee.start],
                           fee.both_paths, entry.cited))
    return tuple(out)


def run_costs(scenario: Scenario, build: Range, lines: tuple[LineItem, ...]) -> RunCosts:
    from generator.plan import ownership

    card = scenario.card
    share_low, share, share_high = costs.maintenance_shares(card)
    m_low, m_high = (dollars(costs.maintenance(card, float(build.expected), s)) for s in (share_low, share_high))
    m_expected = dollars((m_low + m_high) / 2)  # the table's expected column: between the figures it shows
    hosting, upfront = hosting_costs(scenario)
    training = Range.total([li.cost for li in lines if li.category == TRAINING])
    updates = [dollars(costs.training_updates(card, float(t)))
               for t in (training.low, training.expected, training.high)]
    base = costs.support_base(card, staff_users(scenario))
    support = [dollars(costs.user_support(card, base, s)) for s in (share_low, share, share_high)]
    annual = Range(*(dollars(m + s + costs.custom_fixed(float(h), float(u)))
                     for m, s, h, u in zip((m_low, m_expected, m_high), support, hosting, updates, strict=True)))
    u_lo, u_hi = card.value("underestimate.low_pct"), card.value("underestimate.high_pct")
    allow = (u_lo, (u_lo + u_hi) / 2, u_hi)  # costs.allowance_points, less the 1
    allowance = Range(*(dollars(v * a) for v, a in zip((annual.low, annual.expected, annual.high), allow, strict=True)))
    fees = fee_costs(scenario)
    fees_total = Range.total([f.cost for f in fees])
    years, refresh = scenario.clinic.horizon_years, ownership.refresh_years(scenario)
    n1 = costs.phase1_quarters(card)
    legacy = dollars(ownership.legacy_yearly(scenario))
    return RunCosts(
        maintenance=(m_low, m_high),
        maintenance_share=share,
        maintenance_expected=m_expected,
        support=(support[0], support[2]),
        support_expected=support[1],
        support_base=base,
        staff_beyond=max(0, math.ceil(staff_users(scenario) - costs.reference_staff(card))),
        hosting=(hosting[0], hosting[2]),
        hosting_expected=hosting[1],
        size_scale=costs.size_scale(card, scenario.clinic.physicians),
        training_updates=(updates[0], updates[2]),
        training_updates_expected=updates[1],
        onprem_upfront=upfront,
        size_position=size_position(scenario),
        annual=annual,
        underestimate=(dollars(annual.expected * u_lo), dollars(annual.expected * u_hi)),
        allowance=allowance,
        fees=fees,
        fees_total=fees_total,
        total=annual + allowance + fees_total,
        golive=Range(*(dollars(v) for v in costs.golive_points(card, scenario.clinic.physicians))),
        golive_count=1 + (sum(li.cost.expected for li in lines if li.phase != 1) > 0),
        legacy=legacy,
        legacy_quarters=n1 if legacy else 0,
        refresh_years=refresh,
        refreshes=int(costs.schedule(n1, years, refresh).build[3].sum()),
    )


# ------------------------------------------------------------------ the whole plan


def plan_scenario(scenario: Scenario) -> ScenarioPlan:
    from generator.plan import guide_checks, ownership

    lines, labor = price_lines(scenario)
    build = Range.total([li.cost for li in lines])
    run = run_costs(scenario, build, lines)
    own = ownership.ownership(scenario, lines, build, run)
    return ScenarioPlan(
        name=scenario.name,
        scenario=scenario,
        tier=tier(scenario),
        build=build,
        components=lines,
        phases=phase_totals(lines),
        labor=labor,
        teams=team_options(scenario, build),
        run=run,
        ownership=own,
        certified_saving=certified_saving(scenario),
        warnings=guide_checks.warnings(scenario, lines, build, own),
        staff_users=staff_users(scenario),
        training_scale=costs.training_scale(scenario.card, staff_users(scenario)),
    )


def plan_intake(intake: Intake, today: dt.date | None = None) -> Plan:
    """Plan every scenario of a validated workbook."""
    from generator.plan import guide_checks

    base = intake.base.clinic
    generated = base.report_date or today or dt.date.today()
    return Plan(
        intake=intake,
        scenarios=tuple(plan_scenario(s) for s in intake.scenarios),
        generated=generated,
        version=__version__,
        contradictions=guide_checks.contradictions(intake.base.card),
    )
