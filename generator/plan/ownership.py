"""Cost of ownership: the phased cash flow of the custom build, each off-the-shelf product
year by year, the break-even year, the guide's three budget phases and the recommendation."""

from __future__ import annotations

import numpy as np

from generator.model import (
    FEE_STARTS,
    LAUNCH_ITEMS,
    SCOPE_FEATURES,
    BudgetPhase,
    Category,
    LineItem,
    OffShelf,
    Ownership,
    Quarter,
    Range,
    Recommendation,
    Records,
    RunCosts,
    Scenario,
    Subscription,
)
from generator.money import apportion, dollars
from generator.plan import costs, decision
from generator.ratecard import RateCard

# rate-card product key -> name shown in reports
CARD_PRODUCTS = (
    ("eclinicalworks", "eClinicalWorks"),
    ("drchrono", "DrChrono"),
    ("combined", "Combined EHR + practice management"),
)


def products(scenario: Scenario) -> tuple[Subscription, ...]:
    """The workbook's Subscriptions rows, or the rate card's products."""
    if scenario.subscriptions:
        return scenario.subscriptions
    card = scenario.card
    return tuple(Subscription(name, card.value(f"offshelf.{key}.monthly")) for key, name in CARD_PRODUCTS)


def switching_points(scenario: Scenario) -> tuple[float, float, float]:
    """(low, point, high) of moving to a product: the vendor's migration and onboarding."""
    clinic = scenario.clinic
    return costs.switching_points(scenario.card, clinic.records is not Records.NONE,
                                  costs.staff_users(scenario.card, clinic.physicians, clinic.staff_users))


def scenario_fees(scenario: Scenario) -> tuple[costs.Fee, ...]:
    """The third-party fees the scenario's scope brings (costs.fees), each from the phase of the
    integration or module that brings it (the earliest, when several do)."""
    links, mods = scenario.integrations, scenario.modules

    def phase(category: Category) -> int | None:
        return min((i.phase for i in links if i.category is category), default=None)

    ai = min((m.phase for m in mods if m.include and m.known is not None and m.known.key in SCOPE_FEATURES),
             default=None)
    interfaces = tuple(i.phase for i in links if i.category in (Category.LAB, Category.IMAGING, Category.OTHER))
    clinic = scenario.clinic
    return costs.fees(clinic.physicians, phase(Category.EPRESCRIBING), phase(Category.BILLING), interfaces, ai,
                      clinic.certified_components)


def legacy_yearly(scenario: Scenario) -> float:
    """The old system's yearly cost while it still runs (0 without a legacy EHR)."""
    clinic = scenario.clinic
    return costs.legacy_yearly(scenario.card, clinic.physicians, clinic.records is Records.LEGACY)


def refresh_years(scenario: Scenario) -> int:
    return costs.refresh_years(scenario.card, scenario.clinic.hosting)


def off_the_shelf(scenario: Scenario, lines: tuple[LineItem, ...], years: int) -> tuple[OffShelf, ...]:
    """Each product year by year: subscription, extras at a share of it, surcharge and the fees a
    product's path pays too, escalating; in year one the switch, its go-live dip and the old system
    until it is live."""
    card, physicians = scenario.card, scenario.clinic.physicians
    switching = dollars(switching_points(scenario)[1])
    # in whole dollars as the run costs show them (the XLSX formulas sum those)
    fees = sum(dollars(costs.fee_points(card, f)[1]) for f in scenario_fees(scenario) if f.both_paths)
    golive = dollars(costs.golive_points(card, physicians)[1])
    legacy = dollars(costs.switch_legacy(card, float(dollars(legacy_yearly(scenario)))))
    out = []
    for sub in products(scenario):
        subscription = dollars(costs.annual_subscription(sub.monthly_per_provider, physicians))
        extras = dollars(sub.annual_extras if sub.annual_extras is not None
                         else costs.default_extras(costs.extras_shares(card)[1], float(subscription)))
        increase = sub.annual_increase if sub.annual_increase is not None else costs.escalation(card)[1]
        surcharge = dollars(costs.surcharge(card, float(subscription), scenario.clinic.workflow_specificity))
        base = costs.product_base(subscription, extras, surcharge, fees)
        grown = costs.escalated(float(base), costs.growth(increase, years)).tolist()
        once = switching + golive + legacy
        yearly = tuple(dollars(v) + (once if y == 0 else 0) for y, v in enumerate(grown))
        out.append(OffShelf(sub.product, sub.monthly_per_provider, subscription, extras, increase,
                            surcharge, switching, yearly, _cumulative(yearly), sub.annual_extras, fees, golive,
                            legacy))
    return tuple(out)


def _cumulative(values: tuple[int, ...] | list[int]) -> tuple[int, ...]:
    total, out = 0, []
    for v in values:
        total += v
        out.append(total)
    return tuple(out)


# ------------------------------------------------------------------ cash flow


def cash_flow(scenario: Scenario, lines: tuple[LineItem, ...], run: RunCosts, years: int) -> tuple[Quarter, ...]:
    """The custom build quarter by quarter (costs.custom_quarters) in whole dollars: each build
    part split on its schedule so that it adds up exactly (servers paid whole, and again at each
    replacement), the running and go-live costs rounded per quarter, from the run costs as the
    report shows them (the underestimation allowance at its middle)."""
    card = scenario.card
    phase1 = sum(li.cost.expected for li in lines if li.phase == 1)
    phase2 = sum(li.cost.expected for li in lines if li.phase != 1)
    fixed = costs.custom_fixed(float(run.hosting_expected), float(run.training_updates_expected))
    n1, refresh = costs.phase1_quarters(card), refresh_years(scenario)
    fees = [0.0, 0.0, 0.0]
    for fee in run.fees:
        fees[FEE_STARTS.index(fee.start)] += fee.cost.expected
    q = costs.custom_quarters(card, float(phase1), float(phase2), float(run.onprem_upfront[1]), fixed,
                              costs.maintenance_shares(card)[1], costs.escalation(card)[1], years,
                              costs.allowance_points(card)[1], (fees[0], fees[1], fees[2]),
                              float(run.golive.expected), float(run.legacy), refresh, run.golive_count > 1,
                              run.support_base)
    run_q, launch_q = q.run.tolist(), q.launch.tolist()
    when = costs.schedule(n1, years, refresh).build
    build = [0] * (4 * years)
    for amount, share in zip((phase1, phase2), when[:2], strict=True):
        paid = np.flatnonzero(share).tolist()
        if amount and paid:
            for i, part in zip(paid, apportion(amount, share[paid].tolist()), strict=True):
                build[i] += part
    for i in np.flatnonzero(when[2] + when[3]).tolist():
        build[i] += run.onprem_upfront[1]
    return tuple(Quarter(f"Y{i // 4 + 1} Q{i % 4 + 1}", build[i], dollars(run_q[i]), dollars(launch_q[i]))
                 for i in range(4 * years))


def yearly_totals(flow: tuple[Quarter, ...], years: int) -> tuple[int, ...]:
    return tuple(sum(q.total for q in flow[4 * y: 4 * y + 4]) for y in range(years))


# ------------------------------------------------------------------ budget phases


def budget_phases(lines: tuple[LineItem, ...], run: RunCosts, flow: tuple[Quarter, ...],
                  n1: int) -> tuple[BudgetPhase, ...]:
    """The guide's three budget phases: build, launch (with phase 1's go-live dip and the old system
    until then), and the first two years of operation (from phase 1's go-live)."""
    build_items = tuple((li.name, li.cost.expected) for li in lines if li.category not in LAUNCH_ITEMS)
    launch_items = [(li.name, li.cost.expected) for li in lines if li.category in LAUNCH_ITEMS]
    if run.onprem_upfront[1]:
        launch_items.append(("On-premise servers", run.onprem_upfront[1]))
    before = sum(q.launch for q in flow[:n1 + 1])
    if before:
        launch_items.append(("Going live: productivity dip" + (" and the old system until then" if run.legacy
                                                                 else ""), before))
    window = flow[n1 + 1: n1 + 9]
    two_years = sum(q.run for q in flow[n1: n1 + 8])
    upkeep = "Maintenance, user support, hosting" if run.support_expected else "Maintenance, hosting"
    operation = [(f"{upkeep}, training updates, allowance and third-party fees", two_years)]
    later = sum(q.launch for q in window)
    if later:
        operation.append(("Phase 2 go-live: productivity dip", later))
    return (
        BudgetPhase("build", "Build", build_items, sum(v for _, v in build_items)),
        BudgetPhase("launch", "Launch", tuple(launch_items), sum(v for _, v in launch_items)),
        BudgetPhase("operation", "First two years of operation", tuple(operation), sum(v for _, v in operation)),
    )


# ------------------------------------------------------------------ recommendation


def npv(card: RateCard, yearly: tuple[int, ...]) -> int:
    """Yearly costs in today's dollars at the rate card's discount rate."""
    return dollars(float(costs.discounted(np.array(yearly, dtype=np.float64), card.value("discount.rate")).sum()))


def recommend(scenario: Scenario, custom: tuple[int, ...], cheapest: OffShelf) -> Recommendation:
    """The decision rule (decision.py) on the point estimates alone; the risk analysis replaces it
    with the same rule on its simulated outcomes."""
    card = scenario.card
    v = decision.verdict(card, np.array([custom], dtype=np.float64), np.array([cheapest.yearly], dtype=np.float64),
                         point_only=True)
    return decision.recommendation(scenario, v, cheapest.product, npv(card, custom), npv(card, cheapest.yearly),
                                   sum(custom), cheapest.cumulative[-1], 0)


def break_even_year(custom: tuple[int, ...], product: tuple[int, ...]) -> int | None:
    """The first year (1-based) whose cumulative custom cost is below the product's, or None."""
    return next((y + 1 for y, (c, p) in enumerate(zip(custom, product, strict=True)) if c < p), None)


def ownership(scenario: Scenario, lines: tuple[LineItem, ...], build: Range, run: RunCosts) -> Ownership:
    years = scenario.clinic.horizon_years
    flow = cash_flow(scenario, lines, run, years)
    custom = yearly_totals(flow, years)
    custom_cum = _cumulative(custom)
    shelf = off_the_shelf(scenario, lines, years)
    cheapest = min(shelf, key=lambda p: (npv(scenario.card, p.yearly), p.cumulative[-1]))
    by_product = tuple((p.product, break_even_year(custom_cum, p.cumulative)) for p in shelf)
    break_even = dict(by_product)[cheapest.product]
    phase1 = sum(li.cost.expected for li in lines if li.phase == 1)
    return Ownership(
        years=years,
        off_the_shelf=shelf,
        custom_yearly=custom,
        custom_cumulative=custom_cum,
        cheapest_product=cheapest.product,
        break_even_year=break_even,
        break_even_by_product=by_product,
        cash_flow=flow,
        phase1_quarters=costs.phase1_quarters(scenario.card),
        year_one_capital=phase1 + run.onprem_upfront[1],
        all_at_once_capital=build.expected + run.onprem_upfront[1],
        budget_phases=budget_phases(lines, run, flow, costs.phase1_quarters(scenario.card)),
        recommendation=recommend(scenario, custom, cheapest),
    )
