"""What the guide warns about, applied to one scenario, and where the guide contradicts
itself, computed from the rate card so that overrides flow through."""

from __future__ import annotations

from generator.model import Hosting, LineItem, Ownership, Range, Records, Scenario, Warning
from generator.money import dollars, usd
from generator.ratecard import RateCard


def _included(scenario: Scenario, key: str) -> bool:
    return any(m.include and m.known is not None and m.known.key == key for m in scenario.modules)


def warnings(scenario: Scenario, lines: tuple[LineItem, ...], build: Range, own: Ownership) -> tuple[Warning, ...]:
    card, clinic = scenario.card, scenario.clinic
    out: list[Warning] = []
    if not _included(scenario, "fhir_r4_api"):
        out.append(Warning("FHIR_OMITTED", "The FHIR R4 API is left out. The guide: skipping FHIR compliance "
                           "disqualifies a system from Medicare and Medicaid program participation."))
    overrun = dollars(build.expected * card.value("compliance.overrun_pct"))
    fine = usd(card.value("compliance.hitech_fine"))
    if not _included(scenario, "hipaa_compliance_layer"):
        out.append(Warning("HIPAA_OMITTED", "The HIPAA compliance layer is left out. Every custom EHR needs "
                           "role-based access, audit logs, encryption and signed BAAs; clinics that "
                           f"under-fund compliance face overruns of {card.value('compliance.overrun_pct'):.0%} "
                           f"or more post-launch (about {usd(overrun)} on this build), and HITECH fines "
                           f"start at {fine} per violation."))
    elif _hipaa_underfunded(scenario):
        out.append(Warning("HIPAA_UNDERFUNDED", "The HIPAA compliance layer is budgeted below the guide's "
                           f"{usd(card.value('module.hipaa_compliance_layer.low'))} floor; under-funded "
                           f"compliance risks overruns of {card.value('compliance.overrun_pct'):.0%} or more "
                           f"(about {usd(overrun)} on this build)."))
    if clinic.records is not Records.NONE and not _included(scenario, "data_migration"):
        out.append(Warning("MIGRATION_OMITTED", f"Current records are {clinic.records.value} but data migration "
                           "is left out: the records still have to move to the new system."))
    if not _included(scenario, "staff_training"):
        out.append(Warning("TRAINING_OMITTED", "Staff training is left out of the build."))
    if clinic.certified_components:
        low, high = card.pair("certified.savings")
        standard = [m for m in scenario.modules if m.include and m.known is not None and m.known.standard]
        full_high = sum(card.value(f"module.{m.known.key}.high") for m in standard if m.known)
        out.append(Warning("CERTIFIED_SAVING_CAPPED", f"The guide's certified-component saving of {usd(low)}-"
                           f"{usd(high)} is more than the standard modules cost at this clinic's scale (at most "
                           f"{usd(full_high)} together); this budget takes off only what those modules cost "
                           "beyond licensing and integrating the certified components."))
    if own.recommendation.workflow_need and own.break_even_year is None:
        out.append(Warning("NO_BREAK_EVEN", f"Workflow specificity is {clinic.workflow_specificity.value}, which "
                           "can favour a custom build, but on this budget's figures the custom build does not "
                           f"become cheaper than {own.cheapest_product} within {own.years} years."))
    scope = beyond_scope(scenario)
    if scope:
        out.append(Warning("BEYOND_SCOPE", scope))
    if clinic.hosting is Hosting.ONPREM:
        out.append(Warning("ON_PREMISE", "On-premise hosting: the guide notes cloud is now the default "
                           f"({card.value('hosting.cloud_share'):.2%} of the EHR market)."))
    return tuple(out)


def beyond_scope(scenario: Scenario) -> str:
    """Why the clinic is well beyond the guide's small-clinic scope, or "" when it is not."""
    from generator.plan.pricing import staff_users

    card, clinic = scenario.card, scenario.clinic
    bound = round(card.value("scope.max_physicians"))
    users_bound = bound * round(card.value("clinic.staff_users_per_physician"))
    users = staff_users(scenario)
    if clinic.physicians <= bound and users <= users_bound:
        return ""
    size = (f"{clinic.physicians} physicians" if clinic.physicians > bound
            else f"{users:,} staff users")
    full = round(card.value("hosting.full_size_physicians"))
    return (f"With {size} this clinic is well beyond the guide's small-clinic scope (its worked examples have "
            f"3 to 5 physicians and its size-dependent figures stop at {full}; this budget draws the line at "
            f"{bound} physicians or {users_bound} staff users). Its figures are extrapolated: hosting and "
            "training are scaled in proportion to the clinic's size and the build is priced as the guide prices "
            "a small clinic's, so check them against vendor quotes.")


def _hipaa_underfunded(scenario: Scenario) -> bool:
    """The workbook priced the HIPAA layer below the guide's floor (by override or on its row)."""
    from generator.ratecard import default_card

    key = "module.hipaa_compliance_layer.low"
    floor = default_card().value(key)
    row = next(m for m in scenario.modules if m.known is not None and m.known.key == "hipaa_compliance_layer")
    given = [v for v in (row.low, row.high) if v is not None]
    return scenario.card.value(key) < floor or any(v < floor for v in given)


ORTHOPEDIC_MODULES = ("patient_records", "appointment_scheduling", "clinical_documentation", "hipaa_compliance_layer",
                      "fhir_r4_api", "data_migration", "staff_training")
ORTHOPEDIC_INTEGRATIONS = ("lab_imaging", "billing", "e_prescribing")


def _scope_range(card: RateCard, modules: tuple[str, ...], integrations: tuple[str, ...]) -> tuple[float, float]:
    """(low, high) of a scope at the component table's figures."""
    keys = [f"module.{k}" for k in modules] + [f"integration.{k}" for k in integrations]
    return sum(card.value(f"{k}.low") for k in keys), sum(card.value(f"{k}.high") for k in keys)


def _tiers(card: RateCard, ortho_lo: float, ortho_hi: float) -> str:
    """Why the tier follows the scope, and how the guide's worked examples compare, with figures."""
    hours = card.value("hours.reference")
    off, us = hours * card.value("rate.offshore"), hours * card.value("rate.us")
    basic_lo, basic_hi = _scope_range(card, ORTHOPEDIC_MODULES, ())
    mid, adv = round(card.value("tier.mid_min_systems")), round(card.value("tier.advanced_min_systems"))
    ex_lo, ex_hi = card.pair("example.orthopedic")
    return (
        "Tiers: the guide sorts builds into three tiers 'based on feature scope and deployment complexity' but "
        "leaves out its tier table, and its dollar figures cannot serve as boundaries: its mid-tier build of "
        f"{hours:,.0f} development hours costs {usd(off)} with an offshore team, below the {usd(ex_lo)}-"
        f"{usd(ex_hi)} of its mid-tier orthopedic example, and {usd(us)} with a US team, above its "
        f"{usd(card.value('tier.advanced_min'))}+ top tier. This budget sets the tier by scope: basic with no "
        f"connected system or specialty feature, mid with {mid} to {adv - 1} (the orthopedic example connects "
        f"three), advanced with {adv} or more (AI documentation counts as a feature); the team's rate moves the "
        f"price, not the tier. Priced at the component table, a basic scope (core modules, HIPAA, FHIR R4, "
        f"migration and training) costs {usd(basic_lo)}-{usd(basic_hi)} where the guide's builds start at "
        f"{usd(card.value('tier.guide_low'))}, and the orthopedic mid-tier scope {usd(ortho_lo)}-{usd(ortho_hi)} "
        f"where the guide gives {usd(ex_lo)}-{usd(ex_hi)}: the table's low ends sit near the guide's worked "
        "figures, its midpoints well above them."
    )


def contradictions(card: RateCard) -> tuple[str, ...]:
    """Where the guide's own figures disagree, with the figures, for the report."""
    out = []
    lo_pct, hi_pct = card.value("maintenance.low_pct"), card.value("maintenance.high_pct")
    t_lo, t_hi = card.pair("maintenance.table")
    if lo_pct > 0:  # a workbook may set either share to 0%: then the table's row implies no build size
        m_lo, m_hi = t_lo / hi_pct, t_hi / lo_pct
        implied = (f" At {lo_pct:.0%}-{hi_pct:.0%} the table's row is the maintenance of a {usd(m_lo)}-{usd(m_hi)} "
                   f"build ({usd(t_lo)} is {hi_pct:.0%} of {usd(m_lo)}, below the guide's "
                   f"{usd(card.value('tier.guide_low'))} low end; {usd(t_hi)} is {lo_pct:.0%} of {usd(m_hi)}), while "
                   f"the text's own {usd(75000)} example carries {usd(75000 * lo_pct)}-{usd(75000 * hi_pct)}.")
    else:
        implied = ""
    out.append(
        f"Annual maintenance: the component table gives {usd(t_lo)}-{usd(t_hi)} a year, the text "
        f"{lo_pct:.0%}-{hi_pct:.0%} of the build.{implied} This budget uses the percentage of its own build."
    )
    ortho_lo, ortho_hi = _scope_range(card, ORTHOPEDIC_MODULES, ORTHOPEDIC_INTEGRATIONS)
    ex_lo, ex_hi = card.pair("example.orthopedic")
    out.append(
        f"The guide's 5-physician orthopedic example (lab, billing and e-prescribing) lands at {usd(ex_lo)}-"
        f"{usd(ex_hi)}, but its own component table for that scope (core modules, HIPAA, FHIR R4, migration, "
        f"training and the three integrations) adds up to {usd(ortho_lo)}-{usd(ortho_hi)} (expected "
        f"{usd((ortho_lo + ortho_hi) / 2)} at the middle of each range). This budget sums the table."
    )
    o_lo, o_hi = card.pair("integration.other")
    out.append(
        f"Integrations: the text prices each connected system at {usd(o_lo)}-{usd(o_hi)}, the table at "
        f"{usd(card.value('integration.e_prescribing.low'))}-{usd(card.value('integration.lab_imaging.high'))} "
        "depending on the kind. This budget uses the table for lab, imaging, billing and e-prescribing, and the "
        "text's figure for any other system."
    )
    us, off = card.value("rate.us"), card.value("rate.offshore")
    r_lo, r_hi = card.pair("geography.reduction")
    s_lo, s_hi = card.pair("geography.savings")
    out.append(
        f"Geography: the guide says an offshore team cuts total cost by {r_lo:.0%}-{r_hi:.0%} in one place and "
        f"{s_lo:.0%}-{s_hi:.0%} in another, while its rates ({usd(off)} against {usd(us)} an hour) differ by "
        f"{1 - off / us:.0%}. This budget adds a visible overhead to the offshore rate so that the net saving "
        f"falls in the {s_lo:.0%}-{s_hi:.0%} band."
    )
    h_lo, h_hi = card.pair("hosting.cloud.monthly")
    p_lo, p_hi = card.pair("hosting.onprem.upfront")
    trade = card.value("hosting.trade_years")
    out.append(
        f"Hosting: cloud at {usd(h_lo)}-{usd(h_hi)} a month is {usd(h_lo * 12 * trade)}-{usd(h_hi * 12 * trade)} "
        f"over {_count(trade)} years, against {usd(p_lo)}-{usd(p_hi)} for on-premise servers, so the guide's claim "
        f"that the trade benefits most small practices on a {_count(trade)}-year horizon holds only at the low end "
        "of its cloud range."
    )
    m_mid = (lo_pct + hi_pct) / 2
    example = card.value("maintenance.example.build")
    out.append(
        f"Payback: the guide says custom pays back within three to four years, but on its own figures a "
        f"{usd(example)} build's maintenance ({usd(example * lo_pct)}-{usd(example * hi_pct)}) plus cloud hosting "
        f"({usd(h_lo * 12)}-{usd(h_hi * 12)}) costs {usd(example * lo_pct + h_lo * 12)}-"
        f"{usd(example * hi_pct + h_hi * 12)} a year, close to the {usd(card.value('example.subscription.total.low'))}-"
        f"{usd(card.value('example.subscription.total.high'))} a 4-physician clinic pays for a subscription with "
        f"extras; this budget computes the break-even from the figures instead of assuming it (maintenance "
        f"midpoint {m_mid:.1%})."
    )
    u_lo, u_hi = card.value("underestimate.low_pct"), card.value("underestimate.high_pct")
    run_lo, run_hi = (example * lo_pct + h_lo * 12) * (1 + u_lo), (example * hi_pct + h_hi * 12) * (1 + u_hi)
    out.append(
        f"Running costs: the guide says most first-time buyers underestimate maintenance, hosting and training "
        f"updates by {u_lo:.0%}-{u_hi:.0%}, yet its payback claim rests on those figures as given. With the "
        f"underestimation costed, the {usd(example)} build's maintenance and cloud hosting come to {usd(run_lo)}-"
        f"{usd(run_hi)} a year, against the {usd(card.value('example.subscription.total.low'))}-"
        f"{usd(card.value('example.subscription.total.high'))} a 4-physician clinic pays for a subscription with "
        f"extras. This budget carries an allowance at the middle of the range in its expected running costs."
    )
    out.append(_tiers(card, ortho_lo, ortho_hi))
    return tuple(out)


def _count(n: float) -> str:
    """`three` (the guide's own words for a small count), `12`."""
    words = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
    return words[round(n)] if n == round(n) and 0 <= n <= 10 else f"{n:g}"

