"""The build-or-buy decision: one rule, from the figures.

The custom build and each off-the-shelf product are compared on the same basis: yearly costs
escalating at the same rate (costs.custom_quarters, costs.escalated), discounted at the rate
card's `discount.rate`, over the horizon. The risk analysis prices both sides on the same draws,
so the probability that custom is the cheaper path, and the year it pays back, come from the
same simulated outcomes. The rule (thresholds in the rate card):

- custom, when custom is the cheaper path in at least `decision.confidence` of the outcomes and
  its median payback year is within `payback.years` (the guide's three to four years);
- off-the-shelf, when the product is the cheaper path in at least `decision.confidence`;
- otherwise too close to call on cost (`too-close`): workflow fit decides.

Workflow specificity enters the costs once, as the products' customization surcharge; it is no
gate of its own. Raising a product's price or lowering the custom cost can only move the answer
towards custom: every draw compares the two sides with the same random numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from generator.model import CLOSE, CUSTOM, SHELF, Recommendation, Scenario
from generator.money import usd
from generator.plan import costs
from generator.ratecard import RateCard

Array = npt.NDArray[np.float64]
ORDER = {SHELF: 0, CLOSE: 1, CUSTOM: 2}  # towards custom


@dataclass(frozen=True)
class Verdict:
    path: str
    probability: float | None  # that custom is the cheaper path (None: the point estimate alone)
    payback_year: int | None  # the median year custom becomes the cheaper path; None: not within the horizon


def present_cumulative(card: RateCard, yearly_costs: Array) -> Array:
    """(..., Y) cumulative cost in today's dollars at the rate card's discount rate."""
    return cumulative(costs.discounted(yearly_costs, card.value("discount.rate")))


def cumulative(yearly_costs: Array) -> Array:
    """(..., Y) running totals over the years: np.cumsum(axis=-1), the same additions in the same
    order, a pass per year (NumPy's cumsum along a short last axis is about ten times slower)."""
    out = np.array(yearly_costs, dtype=np.float64)
    for y in range(1, out.shape[-1]):
        out[..., y] += out[..., y - 1]
    return out


def compare(custom: Array, product: Array) -> tuple[float, int | None]:
    """(probability custom is cheaper over the horizon, median payback year) from (N, Y)
    cumulative costs in today's dollars of each side on the same draws (`present_cumulative`).
    Custom pays back in the year from which it stays the cheaper path to the horizon."""
    ahead = (custom < product).T  # (Y, N): each year's row is one pass
    years, n = ahead.shape
    stays = ahead[-1].copy()  # ahead in every year from y to the horizon
    trailing = stays.astype(np.intp)  # how many years at the end of the horizon custom is ahead
    for y in range(years - 2, -1, -1):
        stays &= ahead[y]
        trailing += stays
    first = years + 1 - trailing  # the payback year; years + 1: not within the horizon
    median = int(np.searchsorted(np.cumsum(np.bincount(first, minlength=years + 2)), (n - 1) // 2, side="right"))
    return float(ahead[-1].mean()), (median if median <= years else None)


def rule(card: RateCard, probability: float, payback: int | None) -> str:
    sure = card.value("decision.confidence")
    if probability >= sure and payback is not None and payback <= card.value("payback.years"):
        return CUSTOM
    if 1 - probability >= sure:  # the product is the cheaper path with high probability
        return SHELF
    return CLOSE


def verdict(card: RateCard, custom_yearly: Array, product_yearly: Array, point_only: bool = False) -> Verdict:
    """The rule on (N, Y) yearly costs of each side."""
    return judged(card, present_cumulative(card, custom_yearly), present_cumulative(card, product_yearly),
                  point_only)


def judged(card: RateCard, custom: Array, product: Array, point_only: bool = False) -> Verdict:
    """The rule on (N, Y) cumulative costs in today's dollars (`present_cumulative`)."""
    probability, payback = compare(custom, product)
    return Verdict(rule(card, probability, payback), None if point_only else probability, payback)


def recommendation(scenario: Scenario, v: Verdict, product: str, custom_pv: int, product_pv: int,
                   custom_total: int, product_total: int, draws: int) -> Recommendation:
    """The answer in words a practice owner can follow, with the figures that decide it."""
    card, years = scenario.card, scenario.clinic.horizon_years
    sure, limit = card.value("decision.confidence"), round(card.value("payback.years"))
    esc, rate = costs.escalation(card)[1], card.value("discount.rate")
    level = scenario.clinic.workflow_specificity
    reasons = [
        f"Over {years} years the custom system costs {usd(custom_total)} and {product}, the cheapest "
        f"off-the-shelf product, {usd(product_total)}; in today's dollars (both sides' running costs "
        f"rising {esc:.0%} a year, discounted at {rate:.0%}) that is {usd(custom_pv)} against {usd(product_pv)}.",
    ]
    if v.probability is None:
        reasons.append("Before the risk analysis, this compares the point estimates only.")
    else:
        share = round(v.probability * 100)
        reasons.append(f"The custom build is the cheaper path in {share}% of {draws:,} simulated outcomes "
                       f"(team rate, hours, running costs, third-party fees, the go-live dip and subscription "
                       f"increases all drawn).")
    if v.payback_year is not None:
        reasons.append(f"It pays back in year {v.payback_year} (the median outcome); the guide expects three to "
                       f"four years where custom development is the right call.")
    else:
        reasons.append(f"It does not pay back within {years} years in most outcomes.")
    surcharge = card.value(f"offshelf.surcharge.{level.name.lower()}")
    reasons.append(f"Workflow specificity is {level.value}: the products carry a customization surcharge of "
                   f"{surcharge:.0%} of their subscription for it.")
    reasons.append(f"The rule: custom when it is the cheaper path in at least {sure:.0%} of outcomes and pays "
                   f"back within {limit} years (the guide: three to four years); off-the-shelf when the product "
                   f"is the cheaper path in at least {sure:.0%}; otherwise the costs are too close to call.")
    if v.path == CUSTOM:
        headline = "Build a custom EHR: it is the cheaper path and pays back within the guide's three to four years"
    elif v.path == SHELF:
        headline = f"Subscribe to {product}: off-the-shelf is the cheaper path"
    else:
        headline = (f"Too close to call on cost between a custom build and {product}: let workflow fit decide")
        reasons.append("The guide: if the clinic's workflows match what a major EHR vendor offers out of the box, "
                       "off-the-shelf is the cost-effective choice; if specialty workflows need significant "
                       "modification or standard platforms handle the integrations poorly, custom development "
                       "pays back within three to four years.")
    return Recommendation(v.path, headline, tuple(reasons), workflow_need(scenario), product,
                          v.probability, v.payback_year)


def workflow_need(scenario: Scenario) -> bool:
    """The guide's description of where custom pays (High workflow specificity, or Medium with at
    least `decision.need_integrations` connected systems). Shown for information, not a gate."""
    from generator.model import Level

    level = scenario.clinic.workflow_specificity
    many = scenario.card.value("decision.need_integrations")
    return level is Level.HIGH or (level is Level.MEDIUM and len(scenario.integrations) >= many)
