"""Cost of ownership: the phased cash flow of the custom build, each off-the-shelf product
year by year, the break-even year, the guide's three budget phases and the recommendation."""

from __future__ import annotations

import numpy as np

from generator.model import (
    LAUNCH_ITEMS,
    BudgetPhase,
    Level,
    LineItem,
    OffShelf,
    Ownership,
    Quarter,
    Range,
    Recommendation,
    RunCosts,
    Scenario,
    Subscription,
)
from generator.money import apportion, dollars, usd
from generator.plan import costs

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


def switching_cost(scenario: Scenario, lines: tuple[LineItem, ...]) -> int:
    """Migration and training are paid whichever way the clinic goes."""
    launch = sum(li.cost.expected for li in lines if li.category in LAUNCH_ITEMS)
    return dollars(costs.switching_cost(scenario.card, float(launch)))


def off_the_shelf(scenario: Scenario, lines: tuple[LineItem, ...], years: int) -> tuple[OffShelf, ...]:
    card, physicians = scenario.card, scenario.clinic.physicians
    extras_default = costs.default_extras(costs.extras_per_provider(card)[1], physicians)
    switching = switching_cost(scenario, lines)
    out = []
    for sub in products(scenario):
        subscription = dollars(costs.annual_subscription(sub.monthly_per_provider, physicians))
        extras = dollars(sub.annual_extras if sub.annual_extras is not None else extras_default)
        increase = sub.annual_increase if sub.annual_increase is not None else costs.escalation(card)[1]
        surcharge = dollars(costs.surcharge(card, float(subscription), scenario.clinic.workflow_specificity))
        base = costs.product_base(subscription, extras, surcharge)
        grown = costs.escalated(float(base), costs.growth(increase, years)).tolist()
        yearly = tuple(dollars(v) + (switching if y == 0 else 0) for y, v in enumerate(grown))
        out.append(OffShelf(sub.product, sub.monthly_per_provider, subscription, extras, increase,
                            surcharge, switching, yearly, _cumulative(yearly), sub.annual_extras))
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
    part split on its schedule so that it adds up exactly, the running cost rounded per quarter,
    from the run costs as the report shows them."""
    card = scenario.card
    phase1 = sum(li.cost.expected for li in lines if li.phase == 1)
    phase2 = sum(li.cost.expected for li in lines if li.phase != 1)
    fixed = costs.custom_fixed(float(run.hosting_expected), float(run.training_updates_expected))
    n1 = costs.phase1_quarters(card)
    run_q = costs.custom_quarters(card, float(phase1), float(phase2), float(run.onprem_upfront[1]), fixed,
                                  costs.maintenance_shares(card)[1], years).run.tolist()
    build = [0] * (4 * years)
    for amount, when in zip((phase1, phase2, run.onprem_upfront[1]), costs.schedule(n1, years).build, strict=True):
        paid = np.flatnonzero(when).tolist()
        if amount and paid:
            for q, part in zip(paid, apportion(amount, when[paid].tolist()), strict=True):
                build[q] += part
    return tuple(Quarter(f"Y{q // 4 + 1} Q{q % 4 + 1}", build[q], dollars(run_q[q])) for q in range(4 * years))


def yearly_totals(flow: tuple[Quarter, ...], years: int) -> tuple[int, ...]:
    return tuple(sum(q.total for q in flow[4 * y: 4 * y + 4]) for y in range(years))


# ------------------------------------------------------------------ budget phases


def budget_phases(lines: tuple[LineItem, ...], run: RunCosts, flow: tuple[Quarter, ...]) -> tuple[BudgetPhase, ...]:
    """The guide's three budget phases: build, launch, and the first two years of operation."""
    build_items = tuple((li.name, li.cost.expected) for li in lines if li.category not in LAUNCH_ITEMS)
    launch_items = [(li.name, li.cost.expected) for li in lines if li.category in LAUNCH_ITEMS]
    if run.onprem_upfront[1]:
        launch_items.append(("On-premise servers", run.onprem_upfront[1]))
    n1 = next((i for i, q in enumerate(flow) if q.run), len(flow))
    two_years = sum(q.run for q in flow[n1: n1 + 8])
    operation = (("Maintenance, hosting and training updates", two_years),)
    return (
        BudgetPhase("build", "Build", build_items, sum(v for _, v in build_items)),
        BudgetPhase("launch", "Launch", tuple(launch_items), sum(v for _, v in launch_items)),
        BudgetPhase("operation", "First two years of operation", operation, two_years),
    )


# ------------------------------------------------------------------ recommendation


def workflow_need(scenario: Scenario) -> bool:
    """The guide's case for custom: workflows that need significant modification (High
    specificity), or integration needs standard platforms handle poorly (Medium with at least
    `decision.need_integrations` connected systems)."""
    level = scenario.clinic.workflow_specificity
    many = scenario.card.value("decision.need_integrations")
    return level is Level.HIGH or (level is Level.MEDIUM and len(scenario.integrations) >= many)


def _facts(scenario: Scenario, custom: tuple[int, ...], cheapest: OffShelf, break_even: int | None) -> list[str]:
    integrations = len(scenario.integrations)
    specialty = [m.name for m in scenario.modules if m.include and m.is_specialty]
    facts = [f"Workflow specificity is {scenario.clinic.workflow_specificity.value}."]
    if integrations or specialty:
        facts.append(f"The build connects {integrations} external system{'s' if integrations != 1 else ''}"
                     + (f" and adds {len(specialty)} specialty feature{'s' if len(specialty) != 1 else ''}"
                        if specialty else "") + ".")
    facts.append(f"Over {len(custom)} years the custom system costs {usd(custom[-1])}; the cheapest "
                 f"off-the-shelf product ({cheapest.product}) costs {usd(cheapest.cumulative[-1])}.")
    if break_even is not None:
        facts.append(f"The custom build becomes cheaper than {cheapest.product} in year {break_even}.")
    else:
        facts.append(f"The custom build does not become cheaper than {cheapest.product} within {len(custom)} years.")
    return facts


def recommend(scenario: Scenario, custom: tuple[int, ...], shelf: tuple[OffShelf, ...],
              break_even: int | None) -> Recommendation:
    """The guide's decision rule, checked against this budget's own figures: workflow specificity
    decides which way to look, and custom is recommended only where it pays back — within the
    horizon where the workflows need it, within `payback.years` where they do not."""
    payback = round(scenario.card.value("payback.years"))
    cheapest = min(shelf, key=lambda p: p.cumulative[-1])
    reasons = _facts(scenario, custom, cheapest, break_even)
    need = workflow_need(scenario)
    if scenario.clinic.workflow_specificity is Level.LOW:
        path = "off-the-shelf"
        reasons.append("The guide: where workflows match what a major EHR vendor offers out of the box, "
                       "off-the-shelf platforms are the cost-effective choice for the first three years.")
    elif need:
        path = "custom" if break_even is not None else "off-the-shelf"
        reasons.append("The guide: where specialty workflows need significant modification or integrations "
                       "are handled poorly by standard platforms, custom development pays back within three "
                       "to four years for most small clinics.")
        if break_even is None:
            reasons.append(f"On this budget's figures it does not pay back within {len(custom)} years, so "
                           "off-the-shelf (with its customization surcharge) is the cheaper path; choose custom "
                           "only if the workflow need is decisive, and first reduce the scope, phase more into "
                           "year two or revisit the team.")
    else:
        path = "custom" if break_even is not None and break_even <= payback else "off-the-shelf"
        reasons.append(f"With no strong workflow or integration need, cost decides: custom is chosen only if "
                       f"it pays back within {payback} years.")
    headline = (f"Build a custom EHR ({usd(custom[0])} in year one)" if path == "custom"
                else f"Subscribe to an off-the-shelf EHR ({cheapest.product}, {usd(cheapest.yearly[0])} in year one)")
    return Recommendation(path, headline, tuple(reasons), need)


def break_even_year(custom: tuple[int, ...], product: tuple[int, ...]) -> int | None:
    """The first year (1-based) whose cumulative custom cost is below the product's, or None."""
    return next((y + 1 for y, (c, p) in enumerate(zip(custom, product, strict=True)) if c < p), None)


def ownership(scenario: Scenario, lines: tuple[LineItem, ...], build: Range, run: RunCosts) -> Ownership:
    years = scenario.clinic.horizon_years
    flow = cash_flow(scenario, lines, run, years)
    custom = yearly_totals(flow, years)
    custom_cum = _cumulative(custom)
    shelf = off_the_shelf(scenario, lines, years)
    cheapest = min(shelf, key=lambda p: p.cumulative[-1])
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
        year_one_capital=phase1 + run.onprem_upfront[1],
        all_at_once_capital=build.expected + run.onprem_upfront[1],
        budget_phases=budget_phases(lines, run, flow),
        recommendation=recommend(scenario, custom_cum, shelf, break_even),
    )
