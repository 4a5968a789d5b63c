"""What moves the numbers: the plan's costs as a function of their uncertain inputs, the tornado
over the sourced ranges, and the switching values at which the recommendation flips.

`CostModel` holds a planned scenario's uncertain inputs and prices arrays of them with the same
cost rules (costs.py) that produce the point estimate, so the Monte Carlo in risk.py can price
thousands of draws at once and the tornado here can move one input at a time. Switching values
re-plan the scenario itself (planner.plan_scenario), so they agree with the report by construction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from generator.model import INTEGRATION_KEYS, Category, Hosting, Level, LineItem, Scenario, ScenarioPlan, Team
from generator.money import dollars, usd
from generator.plan import costs, decision, ownership
from generator.plan import pricing as planner
from generator.ratecard import Entry, RateCard, default_card

if TYPE_CHECKING:
    from generator.plan.risk import Simulation

Array = npt.NDArray[np.float64]
Point = tuple[float, float, float]  # (low, point, high)


# ------------------------------------------------------------------ the cost model


@dataclass(frozen=True)
class Product:
    """An off-the-shelf product's terms; None: drawn from the rate card's range."""

    name: str
    subscription: float  # per year
    surcharge: float  # customization surcharge, per year
    extras: float | None  # per year
    increase: float | None  # yearly escalation


@dataclass(frozen=True, eq=False)
class CostModel:
    """A planned scenario's uncertain inputs, and its costs (costs.py) for arrays of draws of them."""

    card: RateCard
    components: tuple[LineItem, ...]
    low: Array  # (K,) component ranges, priced for the scenario's team
    mode: Array
    high: Array
    phase1: npt.NDArray[np.bool_]  # (K,) built in phase 1
    training: npt.NDArray[np.bool_]  # (K,) the staff-training line (training updates)
    maintenance: Point  # share of the build per year
    hosting: Point  # costs.hosting_points: cloud, per year; on-premise, the servers up front
    hosting_kind: Hosting
    extras: Point  # share of each product's subscription per year
    escalation: Point
    switching: Point  # costs.switching_points: moving to a product, once
    rate: Point  # the team's effective hourly cost, as a multiple of its point
    effort: Point  # the hours, as a multiple of the estimate (the estimate class's accuracy band)
    running: Point  # the running costs with the guide's underestimation (costs.allowance_points)
    fees: Point  # the third-party fees, as a multiple of their point (costs.fee_factors)
    golive: Point  # one go-live's productivity dip (costs.golive_points)
    physicians: int
    level: Level
    products: tuple[Product, ...]
    cheapest: int  # the index in `products` of the plan's cheapest product, which the decision compares against
    years: int
    fee_starts: tuple[float, float, float] = (0.0, 0.0, 0.0)  # custom fees per year by start (costs.fee_starts)
    shelf_fees: float = 0.0  # fees a product's path pays too, per year
    legacy: float = 0.0  # the old system per year, until the new one is live (costs.legacy_yearly)
    shelf_legacy: float = 0.0  # the old system until a product is live, once (costs.switch_legacy)
    refresh: int = 0  # on-premise servers replaced after this many years (costs.refresh_years)
    phased: bool = False  # a phase 2 goes live (a second go-live)
    support: float = 0.0  # user support beyond the guide's clinic size, as a build's maintenance (costs.support_base)

    def custom_yearly(self, comp: Array | None, maintenance: Array, hosting: Array, escalation: Array,
                      running: Array | float | None = None, fees: Array | float = 1.0,
                      golive: Array | float | None = None, grown: Array | None = None) -> Array:
        """(N, Y) yearly cost of the custom build: comp (N, K), the other inputs (N,); comp None:
        nothing delivered (the running costs that do not scale with the build). The running
        multiple and the go-live dip at their point unless given, `fees` a multiple of their point;
        `grown` costs.growth(escalation), when the caller has it."""
        card = self.card
        servers, annual = costs.yearly_hosting(card, self.hosting_kind, hosting)
        if comp is None:  # nothing delivered: the same in every draw (broadcast)
            phase1 = phase2 = training = np.zeros(1)
        else:
            phase1, phase2 = comp[:, self.phase1].sum(axis=1), comp[:, ~self.phase1].sum(axis=1)
            training = comp[:, self.training].sum(axis=1)
        fixed = costs.custom_fixed(annual, costs.training_updates(card, training))
        factor = np.asarray(fees)
        quarters = costs.custom_quarters(
            card, phase1, phase2, servers, fixed, maintenance, escalation, self.years,
            self.running[1] if running is None else running,
            (self.fee_starts[0] * factor, self.fee_starts[1] * factor, self.fee_starts[2] * factor),
            self.golive[1] if golive is None else golive, self.legacy, self.refresh, self.phased, self.support,
            grown)
        return costs.yearly(quarters.total).T  # (Y, N) -> (N, Y)

    def custom_cumulative(self, comp: Array, maintenance: Array, hosting: Array,
                          escalation: Array | None = None) -> Array:
        """(N, Y) cumulative cost of the custom build (escalation at its point unless given)."""
        esc = np.full(comp.shape[0], self.escalation[1]) if escalation is None else escalation
        return np.cumsum(self.custom_yearly(comp, maintenance, hosting, esc), axis=-1)

    def products_yearly(self, extras: Array, escalation: Array, switching: Array, fees: Array | float = 1.0,
                        golive: Array | float | None = None, products: tuple[Product, ...] | None = None,
                        grown: Array | None = None) -> Array:
        """(N, P, Y) yearly cost of each product: extras (a share of its subscription), escalation,
        switching (N,), the fees both paths pay (a multiple of their point) and the go-live dip
        (`grown` costs.growth(escalation), when the caller has it)."""
        products = self.products if products is None else products
        out = np.empty((self.years, len(products), extras.shape[0])).T  # each year's draws contiguous
        drawn = costs.growth(escalation, self.years) if grown is None else grown  # (N, Y), shared by the
        # products without their own
        each = np.ones_like(extras)
        shared = each * self.shelf_fees * np.asarray(fees)
        once = switching + (self.golive[1] if golive is None else golive) + self.shelf_legacy
        for i, p in enumerate(products):
            extra = costs.default_extras(extras, p.subscription) if p.extras is None else each * p.extras
            base = costs.product_base(p.subscription, extra, p.surcharge, shared)  # (N,), as extra and shared
            yearly = costs.escalated(base, drawn if p.increase is None else costs.growth(p.increase, self.years))
            yearly[:, 0] += once
            out[:, i, :] = yearly
        return out

    def products_cumulative(self, extras: Array, escalation: Array, switching: Array | None = None) -> Array:
        """(N, P, Y) cumulative cost of each product (switching at its point unless given)."""
        moving = np.full(extras.shape[0], self.switching[1]) if switching is None else switching
        return np.cumsum(self.products_yearly(extras, escalation, moving), axis=-1)

    def priced(self, product: str, monthly: float | None = None, level: Level | None = None) -> Product:
        """A product's terms at another price per provider per month, or another workflow
        specificity (the surcharge), priced with the same rules as the plan."""
        p = next(x for x in self.products if x.name == product)
        card = self.card
        subscription = p.subscription if monthly is None else costs.annual_subscription(monthly, self.physicians)
        surcharge = costs.surcharge(card, subscription, level or self.level)
        return replace(p, subscription=subscription, surcharge=surcharge)

    def point_tco(self, comp: Array, maintenance: float | Array | None = None,
                  hosting: float | Array | None = None) -> Array:
        """(N,) horizon cost of the custom build for rows of components, the rest at their point
        (the maintenance share and the hosting figure: one for every row, or one per row)."""
        n = comp.shape[0]
        m = np.broadcast_to(self.maintenance[1] if maintenance is None else maintenance, (n,)).astype(np.float64)
        h = np.broadcast_to(self.hosting[1] if hosting is None else hosting, (n,)).astype(np.float64)
        return self.custom_cumulative(comp, m, h)[:, -1]


def _products(sp: ScenarioPlan) -> tuple[Product, ...]:
    scenario = sp.scenario
    subs = {s.product: s for s in ownership.products(scenario)}
    out = []
    for p in sp.ownership.off_the_shelf:
        sub = subs.get(p.product)
        extras = None if sub is None or sub.annual_extras is None else float(p.annual_extras)
        increase = None if sub is None or sub.annual_increase is None else p.annual_increase
        out.append(Product(p.product, float(p.annual_subscription), float(p.customization_surcharge),
                           extras, increase))
    return tuple(out)


def effort_points(card: RateCard, cls: int) -> Point:
    """The hours as a multiple of the estimate: from the narrowest low end of the estimate class's
    accuracy band to its widest high end (AACE 18R-97), most likely as estimated. The guide's own
    overruns (25% or more) sit inside it."""
    under_low = card.value(f"risk.aace.class{cls}.under_pct.low")
    over_high = card.value(f"risk.aace.class{cls}.over_pct.high")
    return 1 - under_low, 1.0, 1 + over_high


def estimate_class(scenario: Scenario) -> int:
    """AACE 18R-97 class: 5 from the intake alone, 4 with development hours or a quoted rate (a
    rate other than the rate card's for the team: typing the default is not a quote)."""
    clinic = scenario.clinic
    quoted = clinic.hourly_rate is not None and clinic.hourly_rate != costs.effective_rate(
        default_card(), clinic.team)[0]
    return 4 if clinic.development_hours is not None or quoted else 5


def cost_model(sp: ScenarioPlan) -> CostModel:
    """The scenario's uncertain inputs, each at (low, the plan's point, high)."""
    card, lines, clinic = sp.scenario.card, sp.components, sp.scenario.clinic
    low, _, high = costs.hosting_points(card, clinic.hosting, clinic.physicians)
    point = sp.run.onprem_upfront[1] if clinic.hosting is Hosting.ONPREM else sp.run.hosting_expected
    switching = ownership.switching_points(sp.scenario)
    fees = ownership.scenario_fees(sp.scenario)
    golive = costs.golive_points(card, clinic.physicians)
    products = _products(sp)
    return CostModel(
        card=card,
        components=lines,
        low=np.array([li.cost.low for li in lines], dtype=np.float64),
        mode=np.array([li.cost.expected for li in lines], dtype=np.float64),
        high=np.array([li.cost.high for li in lines], dtype=np.float64),
        phase1=np.array([li.phase == 1 for li in lines], dtype=np.bool_),
        training=np.array([li.category == planner.TRAINING for li in lines], dtype=np.bool_),
        maintenance=costs.maintenance_shares(card),
        hosting=(low, float(point), high),
        hosting_kind=clinic.hosting,
        extras=costs.extras_shares(card),
        escalation=costs.escalation(card),
        switching=(switching[0], float(sp.ownership.off_the_shelf[0].switching_cost), switching[2]),
        rate=(card.value("risk.rate_factor.low"), 1.0, card.value("risk.rate_factor.high")),
        effort=effort_points(card, estimate_class(sp.scenario)),
        running=costs.allowance_points(card),
        fees=costs.fee_factors(card, fees),
        golive=(golive[0], float(sp.run.golive.expected), golive[2]),
        physicians=clinic.physicians,
        level=clinic.workflow_specificity,
        products=products,
        cheapest=[p.name for p in products].index(sp.ownership.cheapest_product),
        years=sp.ownership.years,
        fee_starts=costs.fee_starts(card, fees),
        shelf_fees=sum(costs.fee_starts(card, fees, both_only=True)),
        legacy=float(sp.run.legacy),
        shelf_legacy=float(sp.ownership.off_the_shelf[0].legacy),
        refresh=sp.run.refresh_years,
        phased=sp.run.golive_count > 1,
        support=sp.run.support_base,
    )


# ------------------------------------------------------------------ tornado


@dataclass(frozen=True)
class SensitivityItem:
    """One input moved across its own sourced range, the others held at their point."""

    name: str
    low: int  # build cost with the input at input_low
    high: int  # build cost with the input at input_high
    swing: int  # |high - low|, whole dollars
    input_low: float
    input_high: float
    source: str
    unit: str = "$"  # "$", "share" (a fraction), "$ per month", "$ per hour"
    tco_low: int = 0  # horizon cost of ownership of the custom build at input_low
    tco_high: int = 0
    tco_swing: int = 0

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "swing": self.swing, "low": self.low, "high": self.high,
                "input_low": self.input_low, "input_high": self.input_high, "unit": self.unit,
                "source": self.source, "tco_low": self.tco_low, "tco_high": self.tco_high,
                "tco_swing": self.tco_swing}


def sourced(entry: Entry) -> bool:
    """A figure with a source: named in the rate card (not 'ours'), or given by the workbook."""
    return entry.is_override or not entry.is_assumption


def line_entry(card: RateCard, li: LineItem) -> Entry | None:
    """The rate-card entry a line's range comes from; None when the workbook gave the range."""
    if li.kind == "integration":
        return card.entry(f"{INTEGRATION_KEYS[Category(li.category)]}.low")
    if li.kind == "module" and li.source != "workbook":
        return card.entry(f"module.{li.category}.low")
    return None


def _item(name: str, source: str, unit: str, inputs: tuple[float, float], build: tuple[float, float],
          tco: tuple[float, float]) -> SensitivityItem:
    lo, hi = dollars(build[0]), dollars(build[1])
    t_lo, t_hi = dollars(tco[0]), dollars(tco[1])
    return SensitivityItem(name, lo, hi, abs(hi - lo), inputs[0], inputs[1], source, unit,
                           t_lo, t_hi, abs(t_hi - t_lo))


class _Moves:
    """The tornado's moved inputs, priced together: rows of components, each with its own
    maintenance share and hosting figure (the others at their point), one horizon cost per row."""

    def __init__(self, model: CostModel) -> None:
        self.model = model
        self.rows: list[Array] = []
        self.shares: list[float] = []
        self.hosting: list[float] = []
        self.base = self.add(model.mode[None, :])[0]

    def add(self, rows: Array, maintenance: float | None = None, hosting: float | None = None) -> list[int]:
        """Where `rows` (R, K) will be among the priced rows."""
        start = sum(len(r) for r in self.rows)
        self.rows.append(rows)
        self.shares += [self.model.maintenance[1] if maintenance is None else maintenance] * len(rows)
        self.hosting += [self.model.hosting[1] if hosting is None else hosting] * len(rows)
        return list(range(start, start + len(rows)))

    def priced(self, tco: float) -> Callable[[int], float]:
        """Each row's horizon cost, moved from the plan's by the difference to the base row."""
        costs_at = self.model.point_tco(np.concatenate(self.rows), np.array(self.shares), np.array(self.hosting))
        base = float(costs_at[self.base])
        return lambda i: float(costs_at[i]) - base + tco


# an item once its two rows (input low, input high) are priced, and where those rows are
Pending = tuple[Callable[[tuple[float, float]], SensitivityItem], int, int]


def _component_items(sp: ScenarioPlan, model: CostModel, moves: _Moves) -> list[Pending]:
    card = sp.scenario.card
    chosen = [k for k, li in enumerate(model.components)
              if (entry := line_entry(card, li)) is None or sourced(entry)]
    rows = np.tile(model.mode, (2 * len(chosen), 1))  # each component at its low, then its high
    for j, k in enumerate(chosen):
        rows[2 * j, k], rows[2 * j + 1, k] = model.low[k], model.high[k]
    at = moves.add(rows)
    out: list[Pending] = []
    for j, k in enumerate(chosen):
        li = model.components[k]
        build = (sp.build.expected + li.cost.low - li.cost.expected,
                 sp.build.expected + li.cost.high - li.cost.expected)
        out.append((partial(_item, li.name, li.source, "$", (li.cost.low, li.cost.high), build),
                    at[2 * j], at[2 * j + 1]))
    return out


def _run_items(sp: ScenarioPlan, model: CostModel, moves: _Moves) -> list[Pending]:
    card, out = sp.scenario.card, list[Pending]()
    mode = model.mode[None, :]
    build = (float(sp.build.expected), float(sp.build.expected))
    if sourced(card.entry("maintenance.low_pct")):
        lo, _, hi = model.maintenance
        at = moves.add(mode, maintenance=lo) + moves.add(mode, maintenance=hi)
        out.append((partial(_item, "Annual maintenance (share of the build)", card.entry("maintenance.low_pct").cited,
                            "share", (lo, hi), build), at[0], at[1]))
    onprem = model.hosting_kind is Hosting.ONPREM
    key = "hosting.onprem.upfront.low" if onprem else "hosting.cloud.monthly.low"
    if sourced(card.entry(key)):
        lo, _, hi = model.hosting
        at = moves.add(mode, hosting=lo) + moves.add(mode, hosting=hi)
        name, unit, inputs = (("On-premise servers (up front)", "$", (lo, hi)) if onprem
                              else ("Cloud hosting (per month)", "$ per month", (lo / 12, hi / 12)))
        out.append((partial(_item, name, card.entry(key).cited, unit, inputs, build), at[0], at[1]))
    return out


def _rate_item(sp: ScenarioPlan, model: CostModel, moves: _Moves) -> list[Pending]:
    """The offshore team's effective rate across the guide's 50-60% saving on a US team."""
    clinic, card = sp.scenario.clinic, sp.scenario.card
    entry = card.entry("geography.savings.low")
    if clinic.team is not Team.OFFSHORE or clinic.hourly_rate is not None or not sourced(entry):
        return []
    us = planner.effective_rate(card, Team.US)[2]
    point = planner.effective_rate(card, Team.OFFSHORE)[2]
    rates = (us * (1 - card.value("geography.savings.high")), us * (1 - card.value("geography.savings.low")))
    if point <= 0:
        return []
    factors = np.array([r / point for r in rates])
    at = moves.add(np.outer(factors, model.mode))
    build = (sp.build.expected * factors[0], sp.build.expected * factors[1])
    return [(partial(_item, "Offshore team's effective hourly rate", entry.cited, "$ per hour", rates, build),
             at[0], at[1])]


def tornado(sp: ScenarioPlan, model: CostModel) -> tuple[SensitivityItem, ...]:
    """Each sourced input across its range, ranked by the swing in build cost (then in TCO); every
    moved input priced in one pass (`_Moves`)."""
    moves = _Moves(model)
    pending = _component_items(sp, model, moves) + _run_items(sp, model, moves) + _rate_item(sp, model, moves)
    moved = moves.priced(float(sp.ownership.custom_cumulative[-1]))
    items = [i for i in (make((moved(lo), moved(hi))) for make, lo, hi in pending) if i.swing or i.tco_swing]
    return tuple(sorted(items, key=lambda i: (-i.swing, -i.tco_swing, i.name)))


# ------------------------------------------------------------------ switching values


@dataclass(frozen=True)
class SwitchingValue:
    """Where an input flips the recommendation (or, failing that, the break-even), in words."""

    name: str
    value: float | str | None  # None: no flip within the range searched
    text: str
    basis: str = "none"  # "recommendation" | "break-even" | "none"
    unit: str = ""

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "value": self.value, "unit": self.unit, "basis": self.basis,
                "text": self.text}


Outcome = tuple[str, bool]  # (recommended path, pays back within the horizon)


class Outcomes:
    """The decision rule (decision.py) on a simulation's own draws as one input moves, the other
    draws held: a subscription price, the team's hourly rate, the workflow specificity."""

    def __init__(self, sp: ScenarioPlan, model: CostModel, sim: Simulation) -> None:
        self.sp, self.model, self.sim, self.card = sp, model, sim, sp.scenario.card
        self.product = model.products[model.cheapest].name
        pv = lambda yearly: decision.present_cumulative(self.card, yearly)  # noqa: E731
        self.custom, self.fixed = pv(sim.custom), pv(sim.fixed)
        self.labour = self.custom - self.fixed  # the part that scales with the team's rate
        self.shelf = pv(sim.shelf)
        # the product's cost is linear in its price per provider per month: at $0 and per $1 more
        both = pv(self._products(model.priced(self.product, monthly=0.0), model.priced(self.product, monthly=1.0)))
        self.free, self.per_dollar = both[:, 0], both[:, 1] - both[:, 0]
        clinic = sp.scenario.clinic
        self.point_rate = costs.effective_rate(self.card, clinic.team, clinic.hourly_rate)[2]
        self._levels: dict[Level, Outcome] = {}

    def decide(self, custom: Array | None = None, product: Array | None = None) -> Outcome:
        v = decision.judged(self.card, self.custom if custom is None else custom,
                            self.shelf if product is None else product)
        return v.path, v.payback_year is not None

    def _products(self, *terms: Product) -> Array:
        """(N, P, Y) the draws' yearly costs of the product on other terms, one column per terms."""
        d = self.sim.draws
        return self.model.products_yearly(d.extras, d.escalation, d.switching, d.fees, d.golive, terms)

    def at_price(self, monthly: float) -> Outcome:
        return self.decide(product=self.free + monthly * self.per_dollar)

    def at_level(self, level: Level) -> Outcome:
        if not self._levels:  # every level's costs in one pass
            levels = tuple(Level)
            costs_at = decision.present_cumulative(
                self.card, self._products(*(self.model.priced(self.product, level=lv) for lv in levels)))
            self._levels = {lv: self.decide(product=costs_at[:, i]) for i, lv in enumerate(levels)}
        return self._levels[level]

    def at_rate(self, rate: float) -> Outcome:
        """The custom costs scale with the team's effective rate (costs.py's rules are linear in the
        labour priced; test_decision checks it)."""
        clinic = self.sp.scenario.clinic
        point = self.point_rate
        factor = costs.effective_rate(self.card, clinic.team, rate)[2] / point if point else 1.0
        return self.decide(custom=self.fixed + factor * self.labour)


def with_price(scenario: Scenario, product: str, price: float) -> Scenario:
    """The scenario with one product at `price` per provider per month (for checking a switching
    value by re-planning)."""
    sub = next(s for s in ownership.products(scenario) if s.product == product)
    return replace(scenario, subscriptions=(replace(sub, monthly_per_provider=float(price)),))


def threshold(f: Callable[[int], Outcome], index: int, lo: int, hi: int) -> int | None:
    """The smallest whole x in (lo, hi] whose outcome[index] differs from lo's (bisection;
    None when lo and hi agree)."""
    start = f(lo)[index]
    if f(hi)[index] == start:
        return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if f(mid)[index] == start:
            lo = mid
        else:
            hi = mid
    return hi


def _search(f: Callable[[int], Outcome], lo: int, hi: int) -> tuple[str, int | None, Outcome]:
    """Which outcome flips in [lo, hi] (the recommendation first), where, and lo's outcome."""
    memo: dict[int, Outcome] = {}

    def cached(x: int) -> Outcome:
        if x not in memo:
            memo[x] = f(x)
        return memo[x]

    at_lo = cached(lo)
    for index, basis in ((0, "recommendation"), (1, "break-even")):
        x = threshold(cached, index, lo, hi)
        if x is not None:
            return basis, x, at_lo
    return "none", None, at_lo


def _path(path: str) -> str:
    return {"custom": "the custom build", "off-the-shelf": "off-the-shelf"}.get(path, "too close to call")


def _after(at: Outcomes, f: Callable[[int], Outcome], x: int) -> str:
    return _path(f(x)[0])


def price_switch(sp: ScenarioPlan, at: Outcomes) -> SwitchingValue:
    card, years = sp.scenario.card, sp.ownership.years
    cheapest = at.product
    lo, hi = (round(v) for v in card.pair("risk.switch.price"))
    basis, x, (path, breaks) = _search(lambda p: at.at_price(p), lo, hi)
    unit, name = "$ per provider per month", "Subscription price"
    if basis == "recommendation" and x is not None:
        text = (f"At {cheapest}'s price below {usd(x)} per provider per month the answer is {_path(path)}; at "
                f"{usd(x)} or more it is {_after(at, at.at_price, x)}.")
    elif basis == "break-even" and x is not None:
        text = (f"The recommendation ({_path(path)}) does not turn on the subscription price between "
                f"{usd(lo)} and {usd(hi)} per provider per month. The custom build pays back within {years} "
                f"years in most outcomes only if {cheapest} costs {'less than ' if breaks else ''}{usd(x)} per "
                f"provider per month{'' if breaks else ' or more'}.")
    else:
        text = (f"No subscription price between {usd(lo)} and {usd(hi)} per provider per month changes the "
                f"recommendation ({_path(path)}) or the payback.")
    return SwitchingValue(name, x, text, basis, unit)


def rate_switch(sp: ScenarioPlan, at: Outcomes) -> SwitchingValue:
    scenario, card = sp.scenario, sp.scenario.card
    lo, hi = (round(v) for v in card.pair("risk.switch.rate"))
    basis, x, (path, breaks) = _search(lambda r: at.at_rate(r), lo, hi)
    unit, name = "$ per hour", "Hourly rate"
    team = "US" if scenario.clinic.team is Team.US else "offshore"
    if basis == "recommendation" and x is not None:
        text = (f"While the {team} team's rate is below {usd(x)} per hour the answer is {_path(path)}; at "
                f"{usd(x)} per hour or more it is {_after(at, at.at_rate, x)}.")
    elif basis == "break-even" and x is not None:
        text = (f"The recommendation ({_path(path)}) does not turn on the hourly rate between {usd(lo)} and "
                f"{usd(hi)}. The custom build pays back within {sp.ownership.years} years in most outcomes only "
                f"at a rate {'below' if breaks else 'of at least'} {usd(x)} per hour.")
    else:
        text = (f"No hourly rate between {usd(lo)} and {usd(hi)} changes the recommendation ({_path(path)}) "
                f"or the payback.")
    return SwitchingValue(name, x, text, basis, unit)


def specificity_switch(sp: ScenarioPlan, at: Outcomes) -> SwitchingValue:
    paths = {lv: at.at_level(lv)[0] for lv in Level}
    name = "Workflow specificity"
    if len(set(paths.values())) == 1:
        path = next(iter(paths.values()))
        return SwitchingValue(name, None, f"The recommendation ({_path(path)}) holds at every workflow "
                                          f"specificity (Low, Medium and High).", "none", "level")
    flip = next(lv for prev, lv in zip(Level, list(Level)[1:], strict=False) if paths[lv] != paths[prev])
    groups: dict[str, list[str]] = {}
    for lv, path in paths.items():
        groups.setdefault(path, []).append(lv.value)
    parts = [f"{_path(path)} at {' and '.join(levels)}" for path, levels in groups.items()]
    text = f"The recommendation is {'; '.join(parts)} workflow specificity (it changes at {flip.value})."
    return SwitchingValue(name, flip.value, text, "recommendation", "level")


def switching(sp: ScenarioPlan, model: CostModel, sim: Simulation, at: Outcomes | None = None
              ) -> tuple[SwitchingValue, ...]:
    at = Outcomes(sp, model, sim) if at is None else at
    return price_switch(sp, at), rate_switch(sp, at), specificity_switch(sp, at)
