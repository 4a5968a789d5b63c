"""Vendor quotes against the estimate (issue 15).

Each quote on the Quotes sheet is placed among the base scenario's simulated build costs (the
risk analysis's own draws): its percentile is the share of simulated builds that cost no more,
its position is below, within or above the simulated P10-P90 range, with what to ask the vendor.
Hours and rate, when the quote gives them, are checked against its price and the guide's rates;
the vendor's answers to the guide's five questions are scored against the guide's strong
answers; the cost of ownership is re-costed with the quoted price and maintenance and put to the
recommendation's own rule; and the quote's AACE 18R-97 estimate class gives the band around it.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np

from generator.model import (
    LineItem,
    Plan,
    Quote,
    QuoteAnalysis,
    QuoteAnswer,
    QuoteCheck,
    QuoteOwnership,
    QuoteResult,
    Range,
    ScenarioPlan,
)
from generator.money import dollars, share_text, usd
from generator.plan import costs, ownership, risk
from generator.questions import VendorQuestion, vendor_questions
from generator.ratecard import RateCard, default_card

GUIDE = default_card  # figures the report attributes to the guide: the shipped card, whatever a workbook overrides

BELOW, WITHIN, ABOVE = "below", "within", "above"
INTAKE_CLASS_NAMES = {5: "concept screening", 4: "study or feasibility", 3: "budget authorization"}


# ------------------------------------------------------------------ position among the draws


def possessive(name: str) -> str:
    """`Northwind's`, `Keystone Medical Systems'`."""
    return f"{name}'" if name.endswith(("s", "S")) else f"{name}'s"


def percentile(draws: np.ndarray, price: float) -> float:
    """The share of simulated build costs at or below `price` (0 to 1), to four places."""
    return round(float(np.count_nonzero(draws <= price)) / max(len(draws), 1), 4)


def position(price: float, p10: int, p90: int) -> str:
    if price < p10:
        return BELOW
    if price > p90:
        return ABOVE
    return WITHIN


def advice(quote: Quote, where: str, share: float, sp: ScenarioPlan) -> tuple[str, ...]:
    """What the quote's position means, and what to ask the vendor."""
    r = sp.risk
    assert r is not None
    span = f"{usd(r.p10)} (P10) to {usd(r.p90)} (P90)"
    if where == WITHIN:
        return (f"{usd(quote.price)} is within the simulated range for this scope, {span}: "
                f"{share_text(share)} of simulated builds cost no more.",)
    if where == BELOW:
        low, high = GUIDE().pair("geography.reduction")
        return (
            f"{usd(quote.price)} is below the simulated range for this scope ({span}): {share_text(share)} "
            "of simulated builds cost this little.",
            "Ask what is out of scope: compare the quote line by line with this budget's components "
            "(integrations, data migration, staff training, the HIPAA compliance layer and FHIR R4 API are "
            "the lines most often left out or priced as extras).",
            f"Ask whether the team has documented healthcare software experience: the guide's {low * 100:.0f}-"
            f"{high:.0%} offshore savings hold only for a healthcare-experienced team, and clinics that "
            "under-fund compliance face overruns of "
            f"{GUIDE().value('compliance.overrun_pct'):.0%} or more after launch.",
        )
    us_rate = GUIDE().value("rate.us")
    return (
        f"{usd(quote.price)} is above the simulated range for this scope ({span}): "
        f"{share_text(share)} of simulated builds cost no more.",
        "What might explain it: a US-based team (the guide's rate is "
        f"{usd(us_rate)}/h against {usd(GUIDE().value('rate.offshore'))}/h offshore), scope beyond this "
        "workbook (more integrations, specialty features, AI documentation), first-year maintenance or "
        "hosting folded into the price, or a fixed-price risk premium.",
        "Ask for the price broken down by module, and compare it with this budget's components.",
    )


# ------------------------------------------------------------------ hours and rate


def _rate(x: float) -> str:
    """An hourly rate: `$45/h`, `$72.50/h`."""
    cents = round(x * 100)
    return f"${cents // 100:,}/h" if cents % 100 == 0 else f"${cents / 100:,.2f}/h"


def _rate_check(rate: float, implied: bool) -> QuoteCheck:
    offshore, us = GUIDE().value("rate.offshore"), GUIDE().value("rate.us")
    what = "The price over the quoted hours," if implied else "The quoted rate,"
    shown = f"{what} {_rate(rate)}"
    if rate < offshore:
        return QuoteCheck("rate_below_guide", f"{shown}, is below the guide's {usd(offshore)}/h for an India-based "
                          "healthcare team: ask for the team's healthcare references before relying on it.", True)
    if rate > us:
        return QuoteCheck("rate_above_guide", f"{shown}, is above the guide's {usd(us)}/h for a US team: ask "
                          "what the premium buys.", True)
    return QuoteCheck("rate_between", f"{shown}, is within the guide's rates ({usd(offshore)}/h offshore "
                      f"to {usd(us)}/h US).", False)


def checks(quote: Quote, sp: ScenarioPlan) -> tuple[QuoteCheck, ...]:
    """Hours and rate against the quoted price and the guide's rates; none when neither is given."""
    card = sp.scenario.card
    hours, rate = quote.hours, quote.hourly_rate
    out: list[QuoteCheck] = []
    if hours is not None and rate is not None:
        product = dollars(hours * rate)
        gap = (product - quote.price) / quote.price
        tolerance = card.value("quote.hours_rate_tolerance_pct")
        said = f"{hours:,.0f} hours at {_rate(rate)} is {usd(product)}"
        if abs(gap) <= tolerance:
            out.append(QuoteCheck("hours_rate_match", f"{said}, within {tolerance:.0%} of the price.", False))
        else:
            side = "more" if gap > 0 else "less"
            out.append(QuoteCheck("hours_rate_mismatch", f"{said}, {abs(gap):.0%} {side} than the price: ask "
                                  "what the difference covers (project management, licences, a discount).", True))
    if rate is not None:
        out.append(_rate_check(rate, implied=False))
    elif hours is not None:
        out.append(_rate_check(quote.price / hours, implied=True))
    if hours is not None or rate is not None:
        out.append(_hours_check(quote, sp))
    return tuple(out)


def _hours_check(quote: Quote, sp: ScenarioPlan) -> QuoteCheck:
    """The quote's hours (or its price over its rate) against the hours this budget derives for
    the same scope (the same for either team: the planner scales cost, not hours, by the rate)."""
    if quote.hours is not None:
        hours, what = quote.hours, "The quote is based on"
    else:
        assert quote.hourly_rate is not None
        hours, what = quote.price / quote.hourly_rate, "The price over the quoted rate buys"
    reference = GUIDE().value("hours.reference")
    return QuoteCheck("hours", f"{what} {hours:,.0f} development hours, against {sp.labor.hours:,} that this "
                      f"budget derives for the scope (the guide: a mid-tier build requires {reference:,.0f}).", False)


# ------------------------------------------------------------------ the five questions


def _answer(quote: Quote, q: VendorQuestion) -> str:
    from generator.intake import schema

    attr = next(f.attr for f in schema.QUOTE_COLUMNS if f.label == q.column)
    value = getattr(quote, attr)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value.value)


def answers(quote: Quote) -> tuple[QuoteAnswer, ...]:
    """Each of the guide's five questions with the vendor's answer; only the guide's strong answer
    counts (a blank, a No, or FHIR built from scratch does not)."""
    out = []
    for q in vendor_questions():
        given = _answer(quote, q)
        out.append(QuoteAnswer(q.column, q.question, given, given == q.strong, q.strong_answer, q.guide_reason))
    return tuple(out)


# ------------------------------------------------------------------ cost of ownership with the quote


def phase_split(sp: ScenarioPlan, price: int) -> tuple[int, int]:
    """(phase 1, later phases) of a quoted price, in this budget's proportions."""
    phase1 = sum(li.cost.expected for li in sp.components if li.phase == 1)
    first = dollars(price * phase1 / sp.build.expected) if sp.build.expected else price
    return first, price - first


def quoted_scenario(sp: ScenarioPlan, quote: Quote) -> tuple[ScenarioPlan, int, str, float]:
    """(the base scenario with the quote in place, yearly maintenance, its source, its share of the
    build): the build is
    the quoted price, split between the phases in this budget's proportions, and the quote's
    maintenance is the maintenance share of the build; without one, the rate card's 15-20% of the
    build stays, as the guide says."""
    card = sp.scenario.card
    first, later = phase_split(sp, quote.price)
    lines = tuple(LineItem(f"{quote.vendor}, phase {phase}", "quote", phase, Range(amount, amount, amount),
                           f"{quote.vendor}'s quote") for phase, amount in ((1, first), (2, later)) if amount)
    if quote.maintenance is None:
        share = costs.maintenance_shares(card)[1]
        maintenance, source = dollars(costs.maintenance(card, float(quote.price), share)), "guide"
    else:
        share = quote.maintenance / quote.price
        maintenance, source = quote.maintenance, "quote"
        card = card.with_overrides({k: (share, f"{quote.vendor}'s quote")
                                    for k in ("maintenance.low_pct", "maintenance.high_pct")})
    scenario = replace(sp.scenario, card=card)
    return replace(sp, scenario=scenario, components=lines), maintenance, source, share


def quote_ownership(sp: ScenarioPlan, quote: Quote) -> QuoteOwnership:
    """The custom path's cost of ownership with the quote's price and maintenance, against the
    same off-the-shelf products, put to the recommendation's own rule (ownership.recommend)."""
    quoted, maintenance, source, share = quoted_scenario(sp, quote)
    own = sp.ownership
    flow = ownership.cash_flow(quoted.scenario, quoted.components, sp.run, own.years)
    yearly = ownership.yearly_totals(flow, own.years)
    cumulative = tuple(itertools.accumulate(yearly))
    product = own.product(own.cheapest_product)
    break_even = ownership.break_even_year(cumulative, product.cumulative)
    decision = ownership.recommend(quoted.scenario, yearly, product)
    whose = f"With {possessive(quote.vendor)} quote"
    totals = f"{usd(cumulative[-1])} against {usd(product.cumulative[-1])} over {own.years} years"
    if break_even is not None:
        sentence = f"{whose}, custom pays back in year {break_even} against {product.product} ({totals})."
    else:
        sentence = f"{whose}, custom does not pay back within {own.years} years against {product.product} ({totals})."
    if quote.price < (sp.risk.p10 if sp.risk is not None else 0):
        sentence += (" The price is below the simulated range for this scope: if scope is missing from it, "
                     "so is cost from these figures.")
    return QuoteOwnership(maintenance, source, share, phase_split(sp, quote.price), flow, yearly, cumulative,
                          product.product, product.cumulative, break_even, decision.path, decision.headline,
                          sentence)


# ------------------------------------------------------------------ estimate class


def quote_class(quote: Quote, intake_class: int, card: RateCard) -> int:
    """AACE 18R-97 class of the build figure once this quote is in hand: 4 (study or feasibility)
    for a vendor's price for the defined scope, 3 (budget authorization, semi-detailed unit costs)
    when the vendor priced it in hours and a rate that agree with the price; never worse than the
    intake's own class."""
    unit_priced = (quote.hours is not None and quote.hourly_rate is not None
                   and abs(quote.hours * quote.hourly_rate - quote.price) / quote.price
                   <= card.value("quote.hours_rate_tolerance_pct"))
    return min(intake_class, 3 if unit_priced else 4)


def band(card: RateCard, cls: int, price: int) -> tuple[tuple[float, float], tuple[int, int]]:
    """The widest AACE band of a class, and the price across it."""
    under = card.value(f"risk.aace.class{cls}.under_pct.high")
    over = card.value(f"risk.aace.class{cls}.over_pct.high")
    return (-under, over), (dollars(price * (1 - under)), dollars(price * (1 + over)))


def _band_text(card: RateCard, cls: int) -> str:
    under = card.pair(f"risk.aace.class{cls}.under_pct")
    over = card.pair(f"risk.aace.class{cls}.over_pct")
    return f"-{under[0]:.0%} to -{under[1]:.0%} and +{over[0]:.0%} to +{over[1]:.0%}"


def note(results: tuple[QuoteResult, ...], intake_class: int, card: RateCard) -> str:
    """How the quotes change the estimate's class and band."""
    best = min(r.estimate_class for r in results)
    intake = (f"From the intake alone this budget is an AACE class {intake_class} estimate "
              f"({INTAKE_CLASS_NAMES.get(intake_class, '')}), whose actual cost typically falls "
              f"{_band_text(card, intake_class)} around it.")
    if best == intake_class:
        return (intake + f" The quotes do not change the class: each is a price for the same scope, read with "
                f"the same band ({_band_text(card, best)}).")
    unit = [r.quote.vendor for r in results if r.estimate_class == 3]
    how = ("A vendor's price for the scope this workbook defines replaces our parametric estimate with a "
           f"priced scope: AACE 18R-97 rates it class 4 (study or feasibility), {_band_text(card, 4)}")
    if unit:
        names = unit[0] if len(unit) == 1 else ", ".join(unit[:-1]) + " and " + unit[-1]
        how += (f"; {names} priced the work in hours and a rate that agree with the price, semi-detailed unit "
                f"costs, which AACE rates class 3 (budget authorization), {_band_text(card, 3)}")
    return f"{intake} {how}. Each quote's band below is its price across its class's widest range."


# ------------------------------------------------------------------ the analysis


def analyse_quote(quote: Quote, sp: ScenarioPlan, draws: np.ndarray, intake_class: int) -> QuoteResult:
    r = sp.risk
    assert r is not None
    card = sp.scenario.card
    share = percentile(draws, quote.price)
    where = position(quote.price, r.p10, r.p90)
    cls = quote_class(quote, intake_class, card)
    accuracy, price_band = band(card, cls, quote.price)
    return QuoteResult(
        quote=quote, percentile=share, position=where, advice=advice(quote, where, share, sp),
        checks=checks(quote, sp), answers=answers(quote), ownership=quote_ownership(sp, quote),
        estimate_class=cls, accuracy=accuracy, band=price_band,
    )


def analyse(plan: Plan) -> QuoteAnalysis | None:
    """Every quote against the base scenario; None without quotes or without a risk analysis."""
    quotes, sp = plan.intake.quotes, plan.base
    if not quotes or sp.risk is None:
        return None
    draws = risk.build_draws(sp)
    intake_class = risk.estimate_class(sp.scenario)
    results = tuple(analyse_quote(q, sp, draws, intake_class) for q in quotes)
    return QuoteAnalysis(
        results=results, p10=sp.risk.p10, p90=sp.risk.p90, point=sp.build.expected, draws=len(draws),
        intake_class=intake_class, estimate_class=min(r.estimate_class for r in results),
        note=note(results, intake_class, sp.scenario.card),
    )


def apply(plan: Plan) -> Plan:
    """The plan with its quotes analysed (after the risk stage)."""
    return replace(plan, quotes=analyse(plan))
