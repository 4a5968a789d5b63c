"""The risk analysis: honest uncertainty around the planner's point estimates.

- Monte Carlo over the three-point ranges (each component's low / point / high, maintenance,
  hosting, subscription extras and escalation) with Beta-PERT draws, vectorised with NumPy and
  seeded from the scenario's inputs, so the same workbook always gives the same figures.
- Build-cost and cost-of-ownership percentiles, the P80 budget and the contingency it implies,
  an S-curve, and the probability of breaking even against each off-the-shelf product.
- The tornado and the switching values (sensitivity.py), net present value at the rate card's
  discount rate, and the estimate's AACE class with its accuracy band.

The component draws stay inside each component's range, so every percentile of the build lies
inside the plan's build range; risk beyond the ranges is what the AACE accuracy band states.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from generator.model import Plan, Recommendation, Scenario, ScenarioPlan, Warning
from generator.money import dollars, usd
from generator.plan import costs, decision, ownership, sensitivity
from generator.plan.sensitivity import (
    CostModel,
    Outcomes,
    SensitivityItem,
    SwitchingValue,
    cost_model,
    switching,
    tornado,
)
from generator.ratecard import RateCard

__all__ = ["RiskResult", "SensitivityItem", "SwitchingValue", "analyse", "apply", "seed_for"]

Array = npt.NDArray[np.float64]
PERCENTILES = (10, 50, 80, 90)
S_CURVE_POINTS = 21  # 0%, 5%, ... 100%
METHOD = ("Monte Carlo, Beta-PERT draws over each three-point range (Wilson-Hilferty gamma ratios, one random "
          "stream per input, so that changed inputs meet the same random numbers); component draws rank-correlated "
          "at the rate card's risk.correlation (a comonotonic/independent mixture copula), the other inputs "
          "independent; the team's rate, the hours (the estimate class's accuracy band), running costs (the guide's "
          "underestimation), subscription escalation, third-party fees and the go-live dip drawn too, the last two "
          "alike on both paths")


@dataclass(frozen=True)
class RiskResult:
    """The risk analysis of one scenario. Money in whole dollars, probabilities 0..1."""

    p10: int  # build cost percentiles
    p50: int
    p80: int
    p90: int
    tco_p10: int  # horizon cost of ownership of the custom build, percentiles
    tco_p50: int
    tco_p80: int
    tco_p90: int
    point: int  # the plan's expected build cost
    tco_point: int  # the plan's horizon cost of ownership
    budget_confidence: float  # 0.80: the recommended budget is this percentile
    recommended_budget: int
    contingency: int  # recommended_budget - point
    s_curve: tuple[tuple[float, int], ...]  # (probability the build costs no more, cost)
    break_even_probability: tuple[tuple[str, float], ...]  # (product, probability within the horizon)
    sensitivity: tuple[SensitivityItem, ...]  # largest swing first
    switching: tuple[SwitchingValue, ...]
    recommendation: Recommendation  # the decision rule on the simulated outcomes
    discount_rate: float
    npv_custom: int
    npv_off_the_shelf: tuple[tuple[str, int], ...]
    nominal_custom: int
    nominal_off_the_shelf: tuple[tuple[str, int], ...]
    estimate_class: int  # AACE 18R-97: 5 (intake only) or 4 (development hours or a quoted rate)
    accuracy_low: float  # widest low end, e.g. -0.50
    accuracy_high: float  # widest high end, e.g. 1.00
    accuracy_low_narrow: float  # e.g. -0.20
    accuracy_high_narrow: float  # e.g. 0.30
    accuracy_text: str  # a sentence for the executive summary
    summary_text: str  # the P80 budget and its contingency, in words
    draws: int
    seed: int
    years: int

    @property
    def accuracy_range(self) -> tuple[int, int]:
        """The point estimate across the widest accuracy band, whole dollars."""
        return dollars(self.point * (1 + self.accuracy_low)), dollars(self.point * (1 + self.accuracy_high))

    def to_dict(self) -> dict[str, Any]:
        """budget.json's `risk` and `sensitivity` keys (output-spec.md)."""
        low, high = self.accuracy_range
        risk = {
            "p10": self.p10, "p50": self.p50, "p80": self.p80, "p90": self.p90, "point": self.point,
            "recommended_budget": self.recommended_budget, "budget_confidence": self.budget_confidence,
            "contingency": self.contingency,
            "tco": {"years": self.years, "p10": self.tco_p10, "p50": self.tco_p50, "p80": self.tco_p80,
                    "p90": self.tco_p90, "point": self.tco_point},
            "s_curve": [{"probability": p, "cost": c} for p, c in self.s_curve],
            "break_even_probability": dict(self.break_even_probability),
            "npv": {"discount_rate": self.discount_rate, "custom": self.npv_custom,
                    "custom_nominal": self.nominal_custom,
                    "off_the_shelf": {p: {"npv": v, "nominal": n} for (p, v), (_, n)
                                      in zip(self.npv_off_the_shelf, self.nominal_off_the_shelf, strict=True)}},
            "switching": [s.to_dict() for s in self.switching],
            "estimate_class": self.estimate_class,
            "accuracy": {"low": self.accuracy_low, "high": self.accuracy_high,
                         "low_narrow": self.accuracy_low_narrow, "high_narrow": self.accuracy_high_narrow,
                         "range": {"low": low, "high": high}, "text": self.accuracy_text},
            "summary": self.summary_text,
            "method": METHOD, "draws": self.draws, "seed": self.seed,
        }
        return {"risk": risk, "sensitivity": [s.to_dict() for s in self.sensitivity]}


# ------------------------------------------------------------------ seed and draws


def seed_for(scenario: Scenario) -> int:
    """A seed from the clinic's and the scenario's names (SHA-256; Python's hash() is salted), 53
    bits so that budget.json readers in any language keep it exact. Not from the figures: a
    changed price or cost is then priced on the same draws, so the answer moves only with it."""
    text = repr((scenario.clinic.name, scenario.name))
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") >> 11


def pert(rng: np.random.Generator, low: Array, mode: Array, high: Array, n: int) -> Array:
    """(n, K) Beta-PERT draws, bounded by [low, high] (a zero-width range gives its value).

    Each Beta variate is the ratio of two gamma variates, each made from one standard normal
    draw by the Wilson-Hilferty transform. Unlike a rejection sampler, this moves every draw
    smoothly with the range, so a changed input is priced on the same random numbers (common
    random numbers: the decision's monotonicity rests on it)."""
    width = high - low
    safe = np.where(width > 0, width, 1.0)
    alpha = np.where(width > 0, 1 + 4 * (mode - low) / safe, 1.0)
    beta = np.where(width > 0, 1 + 4 * (high - mode) / safe, 1.0)
    z = rng.standard_normal(size=(2, n, low.shape[0]))
    g1, g2 = _gamma(alpha, z[0]), _gamma(beta, z[1])
    total = g1 + g2
    positive = total > 0
    if positive.all():  # as good as always: then the share is g1 / total everywhere
        share = np.divide(g1, total, out=total)
    else:
        share = np.where(positive, g1 / np.where(positive, total, 1.0), alpha / (alpha + beta))
    share *= width
    share += low
    return share


def _gamma(shape: Array, z: Array) -> Array:
    """Gamma(shape) variates from standard normal draws (Wilson-Hilferty), never negative:
    shape * max(1 - 1 / (9 shape) + z / (3 sqrt(shape)), 0) ** 3, computed in `z`'s place."""
    z /= 3 * np.sqrt(shape)
    z += 1 - 1 / (9 * shape)
    np.maximum(z, 0.0, out=z)
    np.power(z, 3, out=z)
    z *= shape
    return z


# Each uncertain input draws from its own stream (a slot), so adding a component or changing one
# input leaves every other input's draws as they were.
SLOTS = ("correlation", "maintenance", "hosting", "extras", "escalation", "switching", "rate", "effort",
         "running", "fees", "golive")
COMPONENT_SLOT = 100
ELEMENTS = 1 << 15  # array elements priced at once (see `simulate`)


def _one(seed: int, slot: int, point: tuple[float, float, float], n: int) -> Array:
    lo, hi = min(point), max(point)
    mode = min(max(point[1], lo), hi)
    rng = np.random.default_rng([seed, slot])
    return pert(rng, np.array([lo]), np.array([mode]), np.array([hi]), n)[:, 0]


@dataclass(frozen=True, eq=False)
class Draws:
    """The simulated inputs, (N,) each, components (N, K) already correlated."""

    comp: Array
    maintenance: Array
    hosting: Array
    extras: Array
    escalation: Array
    switching: Array
    rate: Array
    effort: Array
    running: Array
    fees: Array  # the third-party fees, as a multiple of their point (both paths alike)
    golive: Array  # one go-live's productivity dip (both paths alike)

    @property
    def labour(self) -> Array:
        """(N, K) the components at the drawn team rate and hours."""
        return self.labour_of(slice(None))

    def labour_of(self, rows: slice) -> Array:
        """`labour` for some rows of draws."""
        return self.comp[rows] * (self.rate[rows] * self.effort[rows])[:, None]


def draw(model: CostModel, n: int, seed: int, rho: float = 0.0) -> Draws:
    k = model.low.shape[0]
    shared = together(np.random.default_rng([seed, SLOTS.index("correlation")]), n, min(max(rho, 0.0), 1.0), k)
    comp = np.empty((n, k))
    for i in range(k):  # one component at a time: memory of one column beside the result
        rng = np.random.default_rng([seed, COMPONENT_SLOT + i])
        comp[:, i] = comove(pert(rng, model.low[i:i + 1], model.mode[i:i + 1], model.high[i:i + 1], n)[:, 0],
                            shared)
    singles = {name: _one(seed, SLOTS.index(name), getattr(model, name), n) for name in SLOTS[1:]}
    return Draws(comp, **singles)


@dataclass(frozen=True, eq=False)
class Simulation:
    build: Array  # (N,)
    tco: Array  # (N,) custom cost of ownership at the horizon
    break_even: Array  # (P,) probability of breaking even within the horizon, per product
    custom: Array  # (N, Y) custom yearly costs
    fixed: Array  # (N, Y) the part of them that does not scale with the team's rate
    shelf: Array  # (N, Y) the yearly costs of the product the decision compares against (the cheapest)
    draws: Draws


Shared = tuple[npt.NDArray[np.bool_], npt.NDArray[np.intp]] | None


def together(rng: np.random.Generator, n: int, rho: float, k: int) -> Shared:
    """Which of n rows move together at rank correlation `rho` and the shared quantile (an index
    into a sorted column) each of them takes; None when nothing is correlated (see `correlate`)."""
    if rho <= 0 or k < 2:
        return None
    rows = rng.random(size=n) < rho
    return rows, rng.integers(0, n, size=int(np.count_nonzero(rows)))


def comove(column: Array, shared: Shared) -> Array:
    """One column (N,) of component draws with the rows that move together at their shared
    quantiles of its own draws (in place)."""
    if shared is not None:
        rows, at = shared
        column[rows] = np.sort(column)[at]
    return column


def correlate(rng: np.random.Generator, draws: Array, rho: float) -> Array:
    """Give the columns of `draws` (N, K) a rank correlation of `rho`, keeping each column's
    distribution and bounds: a share `rho` of the rows moves together (each such row takes one
    shared quantile of every column's own draws), the rest stay independent. This mixture of
    the comonotonic and independent copulas has Spearman's rank correlation exactly `rho`, and
    costs one sort per column where Iman-Conover needs a sort and an argsort. (`draw` does the
    same column by column as it draws them.)"""
    n, k = draws.shape
    shared = together(rng, n, rho, k)
    out = draws.copy()
    for i in range(k):
        out[:, i] = comove(draws[:, i].copy(), shared)
    return out


def simulate(model: CostModel, draws: int, seed: int, rho: float = 0.0) -> Simulation:
    d = draw(model, draws, seed, rho)
    years, products = model.years, model.products
    build, tco = np.empty(draws), np.empty(draws)
    custom, fixed, shelf = (np.empty((years, draws)).T for _ in range(3))  # (N, Y), each year's draws contiguous
    breaks = np.zeros(len(products), dtype=np.int64)  # draws in which custom breaks even, per product
    rows = max(1, ELEMENTS // (4 * years))  # draws priced at once: arrays of quarters that stay in cache
    per = max(1, ELEMENTS // (rows * years))  # products priced at once
    for start in range(0, draws, rows):
        at = slice(start, start + rows)
        labour = d.labour_of(at)
        build[at] = labour.sum(axis=1)
        grown = np.asfortranarray(costs.growth(d.escalation[at], years))  # each side's escalation alike
        inputs = d.maintenance[at], d.hosting[at], d.escalation[at], d.running[at], d.fees[at], d.golive[at]
        custom[at] = model.custom_yearly(labour, *inputs, grown=grown)
        fixed[at] = model.custom_yearly(None, *inputs, grown=grown)
        cum = decision.cumulative(custom[at])
        tco[at] = cum[:, -1]
        shelf_inputs = d.extras[at], d.escalation[at], d.switching[at], d.fees[at], d.golive[at]
        for first in range(0, len(products), per):
            block = model.products_yearly(*shelf_inputs, products[first:first + per], grown=grown)
            breaks[first:first + per] += (cum[:, None, :] < decision.cumulative(block)).any(axis=2).sum(axis=0)
            if first <= model.cheapest < first + per:
                shelf[at] = block[:, model.cheapest - first]
    return Simulation(build, tco, breaks / draws, custom, fixed, shelf, d)


def quantiles(values: Array, probabilities: Array) -> list[int]:
    return [dollars(float(v)) for v in np.quantile(values, probabilities)]


# ------------------------------------------------------------------ NPV and estimate class


def npv(yearly: tuple[int, ...] | list[int], rate: float) -> int:
    """Net present value of yearly costs, each at the end of its year (Excel's NPV convention)."""
    return dollars(sum(v / (1 + rate) ** (y + 1) for y, v in enumerate(yearly)))


estimate_class = sensitivity.estimate_class


def accuracy(card: RateCard, cls: int, point: int) -> tuple[float, float, float, float, str]:
    """(widest low, widest high, narrowest low, narrowest high, a sentence) for the class."""
    key = f"risk.aace.class{cls}"
    under_lo, under_hi = card.pair(f"{key}.under_pct")
    over_lo, over_hi = card.pair(f"{key}.over_pct")
    basis = ("the intake workbook alone" if cls == 5
             else "the intake workbook with the development hours or a quoted rate")
    text = (f"This is an AACE class {cls} estimate, prepared from {basis}: by AACE International "
            f"Recommended Practice 18R-97 the actual cost of such an estimate typically falls between "
            f"{under_lo:.0%}-{under_hi:.0%} below and {over_lo:.0%}-{over_hi:.0%} above it "
            f"({usd(point * (1 - under_hi))} to {usd(point * (1 + over_hi))} on the {usd(point)} "
            f"point estimate).")
    return -under_hi, over_hi, -under_lo, over_lo, text


# ------------------------------------------------------------------ the analysis


def _summary(point: int, budget: int, confidence: float) -> str:
    contingency = budget - point
    if contingency > 0:
        extra = f"a contingency of {usd(contingency)} over the {usd(point)} point estimate"
    else:
        extra = f"no contingency over the {usd(point)} point estimate, which already sits high in its ranges"
    share = f"{confidence:.0%}"
    article = "an" if share.startswith("8") or share in ("11%", "18%") else "a"
    return (f"There is {article} {share} chance that the build costs no more than {usd(budget)}: budget "
            f"{usd(budget)}, {extra}.")


def decide(sp: ScenarioPlan, model: CostModel, sim: Simulation, at: Outcomes | None = None) -> Recommendation:
    """The decision rule (decision.py) on the simulated outcomes, against the cheapest product
    (`at`: the same simulation's outcomes, whose present values it reuses)."""
    own, card = sp.ownership, sp.scenario.card
    v = (decision.verdict(card, sim.custom, sim.shelf) if at is None
         else decision.judged(card, at.custom, at.shelf))
    product = own.product(own.cheapest_product)
    return decision.recommendation(sp.scenario, v, product.product, ownership.npv(card, own.custom_yearly),
                                   ownership.npv(card, product.yearly), own.custom_cumulative[-1],
                                   product.cumulative[-1], sim.custom.shape[0])


def asked_draws(sp: ScenarioPlan) -> int:
    """The draws the rate card (or the workbook's risk.draws) asks for."""
    return max(1, round(sp.scenario.card.value("risk.draws")))


# The whole job for one workbook has a time bound (run/job.py). The simulation's work grows with
# the draws times the uncertain inputs each draw prices (a draw of every component, and each
# product priced and compared); at the limits of the intake contract (50 scenarios beside the
# base, 200 modules, 200 integrations, 200 products, 20,000 draws) that is about 640 million,
# some 55 s of CPU for the risk analysis alone. Past WORK a workbook's scenarios are simulated
# on fewer draws, the same share of each scenario's, never below MIN_DRAWS, and each scenario so
# treated says so in a warning. WORK is about 13 s of CPU on the 2-core machine
# (bench/bench_limits.py); no workbook of fewer than 15 scenarios of 30 components and 10 products
# reaches it at 20,000 draws.
WORK = 150_000_000  # draws times inputs per workbook
MIN_DRAWS = 1_000  # the lower limit of risk.draws
OTHER_INPUTS = 20  # the inputs every draw prices besides the components and products (risk.SLOTS and the decision)


def inputs(sp: ScenarioPlan) -> int:
    """The uncertain inputs a draw of the scenario prices."""
    return len(sp.components) + len(sp.ownership.off_the_shelf) + OTHER_INPUTS


def draw_counts(plan: Plan) -> tuple[int, ...]:
    """The draws each scenario is simulated on: as asked, unless the workbook's simulation would
    pass WORK; then the same share of each one's (whole hundreds), at least MIN_DRAWS."""
    asked = [asked_draws(sp) for sp in plan.scenarios]
    work = sum(n * inputs(sp) for n, sp in zip(asked, plan.scenarios, strict=True))
    if work <= WORK:
        return tuple(asked)
    return tuple(min(n, max(MIN_DRAWS, int(n * WORK / work) // 100 * 100)) for n in asked)


def _simulation(sp: ScenarioPlan, draws: int | None = None) -> tuple[CostModel, Simulation, int, int]:
    """(cost model, simulation, draws, seed) of a scenario: the same draws every time (`draws`:
    fewer than asked, see `draw_counts`)."""
    card = sp.scenario.card
    draws = asked_draws(sp) if draws is None else draws
    seed = seed_for(sp.scenario)
    model = cost_model(sp)
    return model, simulate(model, draws, seed, card.value("risk.correlation")), draws, seed


def build_draws(sp: ScenarioPlan) -> Array:
    """The simulated build costs of the scenario's risk analysis (the draws `analyse` summarises),
    for placing a vendor's quote among them."""
    return _simulation(sp, None if sp.risk is None else sp.risk.draws)[1].build


def analyse(sp: ScenarioPlan, draws: int | None = None) -> RiskResult:
    """The risk analysis of one planned scenario (on `draws` draws instead of risk.draws, when given)."""
    card, own = sp.scenario.card, sp.ownership
    model, sim, draws, seed = _simulation(sp, draws)
    at = Outcomes(sp, model, sim)  # the decision's present values, shared by the switching values
    confidence = min(max(card.value("risk.budget_confidence_pct"), 0.0), 1.0)
    grid = np.linspace(0.0, 1.0, S_CURVE_POINTS)
    build_q = quantiles(sim.build, np.concatenate([[p / 100 for p in PERCENTILES] + [confidence], grid]))  # one pass
    tco_q = quantiles(sim.tco, np.array([p / 100 for p in PERCENTILES]))
    curve = tuple((round(float(p), 2), c) for p, c in zip(grid, build_q[len(PERCENTILES) + 1:], strict=True))
    rate = card.value("discount.rate")
    cls = estimate_class(sp.scenario)
    acc_lo, acc_hi, acc_lo_n, acc_hi_n, acc_text = accuracy(card, cls, sp.build.expected)
    point = sp.build.expected
    budget = max(build_q[4], point)  # never below the point estimate: the contingency is never negative
    return RiskResult(
        p10=build_q[0], p50=build_q[1], p80=build_q[2], p90=build_q[3],
        tco_p10=tco_q[0], tco_p50=tco_q[1], tco_p80=tco_q[2], tco_p90=tco_q[3],
        point=point, tco_point=own.custom_cumulative[-1], budget_confidence=confidence,
        recommended_budget=budget, contingency=budget - point, s_curve=curve,
        break_even_probability=tuple((p.name, round(float(v), 4))
                                     for p, v in zip(model.products, sim.break_even, strict=True)),
        sensitivity=tornado(sp, model), switching=switching(sp, model, sim, at), discount_rate=rate,
        recommendation=decide(sp, model, sim, at),
        npv_custom=npv(own.custom_yearly, rate),
        npv_off_the_shelf=tuple((p.product, npv(p.yearly, rate)) for p in own.off_the_shelf),
        nominal_custom=own.custom_cumulative[-1],
        nominal_off_the_shelf=tuple((p.product, p.cumulative[-1]) for p in own.off_the_shelf),
        estimate_class=cls, accuracy_low=acc_lo, accuracy_high=acc_hi, accuracy_low_narrow=acc_lo_n,
        accuracy_high_narrow=acc_hi_n, accuracy_text=acc_text,
        summary_text=_summary(point, budget, confidence), draws=draws, seed=seed, years=own.years,
    )


def apply(plan: Plan) -> Plan:
    """The plan with each scenario's risk analysis attached."""
    counts = draw_counts(plan)
    return replace(plan, scenarios=tuple(with_risk(sp, analyse(sp, n), _fewer(plan, sp, n))
                                         for sp, n in zip(plan.scenarios, counts, strict=True)))


def _fewer(plan: Plan, sp: ScenarioPlan, draws: int) -> Warning | None:
    asked = asked_draws(sp)
    if draws >= asked:
        return None
    total = sum(inputs(s) for s in plan.scenarios)
    return Warning("DRAWS_REDUCED", f"The risk analysis simulated {draws:,} outcomes for this scenario instead of "
                                    f"the {asked:,} asked (risk.draws): the workbook's {len(plan.scenarios)} "
                                    f"scenarios price {total:,} uncertain components, products and other inputs "
                                    f"in all, and simulating each on every draw asked would not finish within the "
                                    f"time one workbook may take. The percentiles are a little less precise; "
                                    f"fewer scenarios, or fewer rows, give the full count.")


def with_risk(sp: ScenarioPlan, result: RiskResult, warning: Warning | None = None) -> ScenarioPlan:
    """The scenario with its risk analysis, and the recommendation decided on its outcomes."""
    own = replace(sp.ownership, recommendation=result.recommendation)
    warnings = sp.warnings if warning is None else (*sp.warnings, warning)
    return replace(sp, risk=result, ownership=own, warnings=warnings)
