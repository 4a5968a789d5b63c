"""The guide's own worked figures, each as a named test quoting the sentence it checks.

Figures come from the rate card (never typed here) unless the guide's sentence states the
result itself, in which case the test pins the guide's number.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from generator.model import Category, Complexity, Hosting, Level, Range, Scenario, Subscription, Team
from generator.plan.guide_checks import contradictions
from generator.plan.ownership import off_the_shelf
from generator.plan.pricing import plan_scenario, run_costs
from generator.ratecard import default_card
from tests.builders import feature, integration, modules, scenario

CARD = default_card()


def test_75000_build_carries_11250_to_15000_maintenance() -> None:
    """'A $75,000 custom build carries an ongoing maintenance obligation of $11,250–$15,000 per year.'"""
    run = run_costs(scenario(), Range(75_000, 75_000, 75_000), ())
    assert run.maintenance == (11_250, 15_000)


def test_1200_hours_us_team_is_210000() -> None:
    """'...1,200 development hours, ... a US team at $175/hour ($210,000)...'"""
    plan = plan_scenario(scenario(team=Team.US, development_hours=1200))
    assert (plan.labor.hours, plan.labor.rate, plan.labor.raw_cost) == (1200, 175, 210_000)
    assert plan.labor.cost == plan.build.expected == 210_000


def test_1200_hours_offshore_team_is_48000_before_overhead() -> None:
    """'...an India-based healthcare team at $40/hour ($48,000) is $162,000' cheaper; the overhead is its own line."""
    us = plan_scenario(scenario(team=Team.US, development_hours=1200))
    off = plan_scenario(scenario(team=Team.OFFSHORE, development_hours=1200))
    assert off.labor.raw_cost == 48_000
    assert us.labor.raw_cost - off.labor.raw_cost == 162_000
    assert off.labor.overhead == round(48_000 * CARD.value("overhead.offshore"))
    assert off.labor.cost == off.labor.raw_cost + off.labor.overhead == off.build.expected


def test_offshore_nets_50_to_60_percent_after_overhead() -> None:
    """'...healthcare-experienced offshore teams consistently deliver 50–60% savings for small clinic projects.'"""
    us = plan_scenario(scenario(team=Team.US))
    off = plan_scenario(scenario(team=Team.OFFSHORE))
    saving = 1 - off.build.expected / us.build.expected
    low, high = CARD.pair("geography.savings")
    assert low <= saving <= high


def test_default_team_prices_every_component_at_its_table_figure() -> None:
    """The component table: 'Patient records module $8,000–$15,000' ... (the default team's prices)."""
    for complexity, end in ((Complexity.LOW, "low"), (Complexity.HIGH, "high")):
        plan = plan_scenario(scenario(mods=modules(complexity=complexity)))
        for line in plan.components:
            key = f"module.{line.category}.{end}"
            assert line.cost.expected == CARD.money(key), line.name
            assert line.cost.low == CARD.money(f"module.{line.category}.low")
            assert line.cost.high == CARD.money(f"module.{line.category}.high")


def test_us_team_scales_the_build_by_the_ratio_of_effective_rates() -> None:
    """A US team (or any other rate) scales the build by the ratio of effective hourly costs."""
    off = plan_scenario(scenario())
    us = plan_scenario(scenario(team=Team.US))
    ratio = CARD.value("rate.us") * (1 + CARD.value("overhead.us")) / (
        CARD.value("rate.offshore") * (1 + CARD.value("overhead.offshore")))
    assert us.build.expected == pytest.approx(off.build.expected * ratio, abs=1)


def test_599_per_provider_for_4_physicians_is_28752_a_year() -> None:
    """'A 4-physician clinic paying $599/month per provider ... spends $28,752 per year before any customization.'"""
    s = scenario(physicians=4, subscriptions=(Subscription("Combined", 599),))
    (product,) = off_the_shelf(s, (), 5)
    assert product.annual_subscription == 28_752


def test_extras_take_a_4_physician_clinic_to_35000_to_50000() -> None:
    """'...the annual cost reaches $35,000 to $50,000 per year at scale.'"""
    low, high = CARD.pair("offshelf.extras_pct")
    assert 28_752 * (1 + low) == pytest.approx(35_000, abs=4)
    assert 28_752 * (1 + high) == pytest.approx(50_000, abs=4)
    s = scenario(physicians=4, subscriptions=(Subscription("Combined", 599),), workflow_specificity=Level.LOW)
    (product,) = off_the_shelf(s, (), 5)
    assert 35_000 <= product.annual_subscription + product.annual_extras <= 50_000


def test_extras_scale_with_each_products_own_price() -> None:
    """Issue 13 item 7: the extras derived from the $599 product are a share of each product's
    subscription, not the $599 product's dollars on a $249 one."""
    s = scenario(physicians=4, subscriptions=(Subscription("Combined", 599), Subscription("DrChrono", 249)))
    combined, drchrono = off_the_shelf(s, (), 5)
    assert combined.annual_extras / combined.annual_subscription == pytest.approx(
        drchrono.annual_extras / drchrono.annual_subscription, abs=1e-3)
    assert drchrono.annual_extras == round(249 * 12 * 4 * sum(CARD.pair("offshelf.extras_pct")) / 2)


def test_four_integrations_add_40000_to_120000() -> None:
    """'At $10,000 to $30,000 per integration (Arkenea, 2026), a clinic connecting four external systems
    adds $40,000 to $120,000 to its base build cost alone.'"""
    base = plan_scenario(scenario())
    four = plan_scenario(scenario(integrations=tuple(integration(Category.OTHER) for _ in range(4))))
    assert four.build.low - base.build.low == 40_000
    assert four.build.high - base.build.high == 120_000


def test_fhir_adds_8000_to_15000() -> None:
    """'...building FHIR-compliant APIs into a custom EHR from scratch adds $8,000–$15,000 to development cost.'"""
    with_fhir = plan_scenario(scenario())
    without = plan_scenario(scenario(mods=modules(off=("FHIR R4 API",))))
    assert (with_fhir.build.low - without.build.low, with_fhir.build.high - without.build.high) == (8_000, 15_000)


def test_ai_documentation_adds_12000_to_25000() -> None:
    """'Adding an AI documentation module to a custom EHR build adds $12,000–$25,000...'"""
    base = plan_scenario(scenario())
    ai = plan_scenario(scenario(mods=modules(on=("AI documentation",))))
    assert (ai.build.low - base.build.low, ai.build.high - base.build.high) == (12_000, 25_000)
    assert [li.phase for li in ai.components if li.category == "ai_documentation"] == [2]


def test_skipping_fhir_warns_about_medicare_and_medicaid() -> None:
    """'Skipping FHIR compliance disqualifies a system from Medicare and Medicaid program participation.'"""
    plan = plan_scenario(scenario(mods=modules(off=("FHIR R4 API",))))
    (warning,) = [w for w in plan.warnings if w.code == "FHIR_OMITTED"]
    assert "Medicare and Medicaid program participation" in warning.message


def test_leaving_out_hipaa_warns_of_25_percent_overruns() -> None:
    """'Clinics that underestimate compliance infrastructure consistently face cost overruns of 25% or more.'"""
    plan = plan_scenario(scenario(mods=modules(off=("HIPAA compliance layer",))))
    (warning,) = [w for w in plan.warnings if w.code == "HIPAA_OMITTED"]
    assert "overruns of 25% or more" in warning.message
    assert "$100 per violation" in warning.message


def test_certified_components_never_subtract_more_than_the_modules_cost() -> None:
    """'...saves $50,000–$150,000 compared to building from scratch' — more than these modules cost here."""
    plain = plan_scenario(scenario())
    certified = plan_scenario(scenario(certified_components=True))
    standard = sum(li.cost.expected for li in plain.components
                   if li.category in ("patient_records", "appointment_scheduling", "clinical_documentation"))
    assert 0 < certified.certified_saving < standard < CARD.value("certified.savings.low")
    assert plain.build.expected - certified.build.expected == certified.certified_saving
    assert any(w.code == "CERTIFIED_SAVING_CAPPED" for w in certified.warnings)


ORTHOPEDIC_LINKS = (Category.LAB, Category.BILLING, Category.EPRESCRIBING)


def orthopedic(**clinic: object) -> Scenario:
    """The guide's 5-physician orthopedic practice connecting a lab, billing and e-prescribing."""
    complexity = clinic.pop("complexity", None)
    return scenario(physicians=5, integrations=tuple(integration(c) for c in ORTHOPEDIC_LINKS),
                    mods=modules(complexity=complexity), **clinic)  # type: ignore[arg-type]


@pytest.mark.parametrize("complexity", [Complexity.LOW, Complexity.TYPICAL, Complexity.HIGH, None])
@pytest.mark.parametrize("team", list(Team))
def test_orthopedic_practice_with_lab_billing_and_e_prescribing_is_mid_tier(complexity: Complexity | None,
                                                                             team: Team) -> None:
    """'The mid-tier range covers most independent specialty clinics in 2026. A 5-physician orthopedic practice
    connecting to a lab system, a billing platform, and an e-prescribing tool will typically land between $65,000
    and $85,000' — mid-tier whatever the complexity or the team's rate (the tier follows the scope)."""
    assert plan_scenario(orthopedic(complexity=complexity, team=team)).tier == "mid"


@pytest.mark.parametrize("team, raw", [(Team.OFFSHORE, 48_000), (Team.US, 210_000)])
def test_1200_hour_mid_tier_build_is_mid_tier_with_either_team(team: Team, raw: int) -> None:
    """'For a mid-tier EHR build requiring 1,200 development hours, the cost difference between a US team at
    $175/hour ($210,000) and an India-based healthcare team at $40/hour ($48,000) is $162,000.'"""
    plan = plan_scenario(orthopedic(team=team, development_hours=1200))
    assert (plan.labor.raw_cost, plan.tier) == (raw, "mid")


def test_four_external_systems_make_an_advanced_build_and_none_a_basic_one() -> None:
    """'...a clinic connecting four external systems adds $40,000 to $120,000 to its base build cost alone':
    one more system than the mid-tier orthopedic example; the core alone is basic."""
    four = scenario(integrations=tuple(integration(Category.OTHER) for _ in range(4)))
    assert plan_scenario(four).tier == "advanced"
    assert plan_scenario(scenario()).tier == "basic"
    ai = scenario(integrations=tuple(integration(c) for c in ORTHOPEDIC_LINKS),
                  mods=modules({"AI documentation": True}))
    assert plan_scenario(ai).tier == "advanced"


def test_tier_contradiction_states_the_guides_figures() -> None:
    """'...between a $40,000 build and a $90,000+ build' against the 1,200-hour mid-tier build at $48,000 and
    $210,000, and the orthopedic example's $65,000-$85,000 against the table's sum for its scope."""
    (text,) = [c for c in contradictions(CARD) if c.startswith("Tiers:")]
    for figure in ("$48,000", "$210,000", "$90,000+", "$65,000-$85,000", "$68,000-$158,000", "$40,000",
                   "$46,000-$101,000"):
        assert figure in text, figure


def test_maintenance_contradiction_is_arithmetic() -> None:
    """'Annual maintenance | $7,500–$18,000/yr | 15–20% of build cost': the table's row is 15-20% of a
    $37,500-$120,000 build (the old note put a $50,000 build 'above the $60,000 basic tier')."""
    (text,) = [c for c in contradictions(CARD) if c.startswith("Annual maintenance")]
    assert "$37,500-$120,000 build" in text
    assert "20% of $37,500" in text and "15% of $120,000" in text
    assert "above the" not in text


def test_cloud_hosting_is_800_to_2400_a_month_and_servers_30000_to_60000() -> None:
    """'...previously spent $30,000–$60,000 on on-premise server infrastructure now pays $800–$2,400 per month...'"""
    cloud = plan_scenario(scenario())
    assert cloud.run.hosting == (800 * 12, 2_400 * 12)
    onprem = plan_scenario(scenario(hosting=Hosting.ONPREM))
    assert (onprem.run.onprem_upfront[0], onprem.run.onprem_upfront[2]) == (30_000, 60_000)


def test_first_time_buyers_underestimate_ongoing_costs_by_30_to_40_percent() -> None:
    """'Maintenance, cloud hosting, and training updates are ongoing obligations that most first-time buyers
    underestimate by 30–40%.'"""
    plan = plan_scenario(scenario())
    annual = plan.run.annual.expected
    assert plan.run.underestimate == (round(annual * 0.30), round(annual * 0.40))


def test_phased_build_starts_with_core_and_adds_integrations_in_year_two() -> None:
    """'...start with core patient records, scheduling, and documentation modules, then add integrations and
    specialty features in year two. This approach reduces upfront capital requirement...'"""
    plan = plan_scenario(scenario(integrations=(integration(Category.LAB), integration(Category.BILLING))))
    phase = {li.name: li.phase for li in plan.components}
    assert phase["Patient records"] == phase["Appointment scheduling"] == phase["Clinical documentation"] == 1
    assert phase["Lab system"] == phase["Billing system"] == 2
    own = plan.ownership
    assert own.year_one_capital < own.all_at_once_capital == plan.build.expected
    assert sum(q.build for q in own.cash_flow[:4]) == own.year_one_capital
    assert sum(q.build for q in own.cash_flow[4:8]) == dict(plan.phases)[2].expected


def test_three_budget_phases_build_launch_and_two_years_of_operation() -> None:
    """'A small clinic ... should budget for three phases: build, launch, and the first two years of operation.'"""
    plan = plan_scenario(scenario(integrations=(integration(Category.LAB),)))
    build, launch, operation = plan.ownership.budget_phases
    assert (build.name, launch.name, operation.name) == ("build", "launch", "operation")
    dip = dict(launch.items)["Going live: productivity dip"]
    assert build.total + launch.total - dip == plan.build.expected
    assert dip == plan.run.golive.expected and dict(operation.items)["Phase 2 go-live: productivity dip"] == dip
    assert all(b.total == sum(v for _, v in b.items) for b in plan.ownership.budget_phases)


def test_high_specificity_that_never_pays_back_is_not_custom() -> None:
    """The rule is checked against the budget's own figures: where custom does not pay back within
    the horizon, the answer is not 'Build' (a 3-physician clinic at High specificity)."""
    plan = plan_scenario(scenario(workflow_specificity=Level.HIGH))
    rec = plan.ownership.recommendation
    assert plan.ownership.break_even_year is None
    assert rec.path != "custom" and rec.workflow_need


def test_medium_specificity_with_a_specialty_feature_lets_cost_decide() -> None:
    """A specialty feature alone is no case for custom: at Medium specificity cost decides."""

    extra = (feature("Photo documentation", 4_000, 9_000),)
    plan = plan_scenario(scenario(physicians=2, mods=modules(specialty=extra)))
    assert plan.ownership.break_even_year is None
    assert plan.ownership.recommendation.path == "off-the-shelf"
    assert not plan.ownership.recommendation.workflow_need


def test_medium_specificity_with_three_integrations_is_a_workflow_need() -> None:
    """'...or the practice has integration requirements that standard platforms handle poorly'."""
    links = (integration(Category.LAB), integration(Category.BILLING), integration(Category.EPRESCRIBING))
    plan = plan_scenario(scenario(physicians=12, integrations=links))
    rec = plan.ownership.recommendation
    assert rec.workflow_need  # information, not a gate: the costs decide the path


def test_low_workflow_specificity_recommends_off_the_shelf() -> None:
    """'If a practice's clinical workflows match what a major EHR vendor offers out of the box, off-the-shelf
    platforms are the cost-effective choice for the first three years.'"""
    plan = plan_scenario(scenario(workflow_specificity=Level.LOW))
    assert plan.ownership.recommendation.path == "off-the-shelf"


def test_high_workflow_specificity_costs_the_products_more_not_a_gate() -> None:
    """Workflow specificity enters the costs once, as the products' customization surcharge: the
    answer at High is never further from custom than at Low, all else equal."""
    order = {"off-the-shelf": 0, "too-close": 1, "custom": 2}
    low = plan_scenario(scenario(workflow_specificity=Level.LOW, physicians=5)).ownership
    high = plan_scenario(scenario(workflow_specificity=Level.HIGH, physicians=5)).ownership
    assert high.product(high.cheapest_product).cumulative[-1] > low.product(low.cheapest_product).cumulative[-1]
    assert order[high.recommendation.path] >= order[low.recommendation.path]
    assert any("three to four years" in r for r in high.recommendation.reasons)


def test_break_even_year_is_the_first_year_custom_is_cheaper() -> None:
    """Output contract: 'first year the custom build is cheaper than the cheapest product, or null'."""
    s = scenario(physicians=20, workflow_specificity=Level.HIGH, mods=modules(complexity=Complexity.LOW))
    own = plan_scenario(s).ownership
    cheapest = own.product(own.cheapest_product)
    assert own.break_even_year is not None
    y = own.break_even_year
    assert own.custom_cumulative[y - 1] < cheapest.cumulative[y - 1]
    assert all(own.custom_cumulative[i] >= cheapest.cumulative[i] for i in range(y - 1))


def test_assumption_overrides_flow_into_the_plan() -> None:
    """Assumptions-sheet overrides apply, and are listed with their sources."""
    card = CARD.with_overrides({"rate.offshore": (50.0, "Vendor quote 2026-02")})
    plan = plan_scenario(scenario(card=card))
    assert plan.labor.rate == 50
    assert card.entry("rate.offshore").cited == "workbook override (Vendor quote 2026-02)"
    assert plan.build.expected > plan_scenario(scenario()).build.expected


def test_horizon_sets_the_number_of_years() -> None:
    plan = plan_scenario(scenario(horizon_years=7))
    assert len(plan.ownership.custom_cumulative) == 7
    assert all(len(p.cumulative) == 7 for p in plan.ownership.off_the_shelf)
    assert len(plan.ownership.cash_flow) == 28


def test_specialty_feature_is_priced_from_its_row_in_phase_two() -> None:

    extra = (feature("Surgical scheduling", 6_000, 14_000),)
    plan = plan_scenario(scenario(mods=modules(specialty=extra)))
    (line,) = [li for li in plan.components if li.kind == "specialty"]
    assert (line.cost.low, line.cost.expected, line.cost.high, line.phase) == (6_000, 10_000, 14_000, 2)


def test_more_physicians_raise_the_hosting_estimate_and_scale_it_beyond_the_guides_range() -> None:
    """'...now pays $800–$2,400 per month for equivalent cloud hosting': the bottom at one physician, the top at
    hosting.full_size_physicians, and in proportion to the physicians beyond it (our assumption)."""
    full = round(CARD.value("hosting.full_size_physicians"))
    small = plan_scenario(scenario(physicians=1))
    top = plan_scenario(scenario(physicians=full))
    large = plan_scenario(scenario(physicians=5 * full))
    assert small.run.hosting_expected == 800 * 12
    assert top.run.hosting_expected == 2_400 * 12
    assert large.run.hosting_expected == 5 * 2_400 * 12
    assert large.run.hosting == (5 * 800 * 12, 5 * 2_400 * 12)
    mid = plan_scenario(replace(scenario(), clinic=replace(scenario().clinic, physicians=5)))
    assert small.run.hosting_expected < mid.run.hosting_expected < top.run.hosting_expected
    servers = plan_scenario(scenario(physicians=2 * full, hosting=Hosting.ONPREM))
    assert servers.run.onprem_upfront == (2 * 30_000, 2 * 60_000, 2 * 60_000)


def training(plan: object) -> Range:
    (line,) = [li for li in plan.components if li.category == "staff_training"]  # type: ignore[attr-defined]
    return line.cost


@pytest.mark.parametrize("complexity", [None, Complexity.TYPICAL])
def test_staff_training_scales_with_the_staff_users(complexity: Complexity | None) -> None:
    """'Staff training | $2,000–$8,000 | Per-user cost scales with clinic size': the table's range up to the staff
    of a clinic at the top of the guide's size ranges, in proportion to the staff users beyond it, whether or not
    the workbook picks a Complexity (`clinic-budget new` leaves it blank)."""
    reference = CARD.value("hosting.full_size_physicians") * CARD.value("clinic.staff_users_per_physician")
    mods = modules(complexity=complexity)
    small = training(plan_scenario(scenario(staff_users=12, mods=mods)))
    assert (small.low, small.high) == (2_000, 8_000)
    big = training(plan_scenario(scenario(staff_users=2_000, mods=mods)))
    factor = 2_000 / reference
    assert (big.low, big.high) == (round(2_000 * factor), round(8_000 * factor))
    assert big.expected == (300_000 if complexity is None else round(5_000 * factor))
    assert round(CARD.value("training.per_user")) * 2_000 == 300_000


def test_a_clinic_well_beyond_the_small_clinic_scope_is_warned_and_extrapolated() -> None:
    """The guide is for 'a 3-physician family practice or a single-specialty urgent care center', its worked
    examples have 3 to 5 physicians: beyond scope.max_physicians the figures are extrapolated."""
    bound = round(CARD.value("scope.max_physicians"))
    inside = plan_scenario(scenario(physicians=bound))
    assert not [w for w in inside.warnings if w.code == "BEYOND_SCOPE"]
    (warning,) = [w for w in plan_scenario(scenario(physicians=bound + 1)).warnings if w.code == "BEYOND_SCOPE"]
    assert "scope" in warning.message and "extrapolated" in warning.message
    assert f"{bound} physicians" in warning.message
    crowded = plan_scenario(scenario(physicians=5, staff_users=2_000))
    assert any(w.code == "BEYOND_SCOPE" and "2,000 staff users" in w.message for w in crowded.warnings)
