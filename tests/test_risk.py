"""The risk analysis: determinism, bounded percentiles, the tornado, switching values, NPV and
the estimate class. Scenarios are built directly, without a workbook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.model import (
    KNOWN_MODULES,
    Category,
    Complexity,
    Hosting,
    Intake,
    Level,
    Scenario,
    ScenarioPlan,
    Subscription,
    Team,
)
from generator.plan import ownership, risk, sensitivity
from generator.plan import pricing as planner
from generator.ratecard import OURS, RateCard, default_card
from tests.builders import feature, integration, modules, scenario
from tests.conftest import examples

ROOT = Path(__file__).resolve().parents[1]


def make(*, card: RateCard | None = None, include: frozenset[str] = frozenset(),
         exclude: frozenset[str] = frozenset(), complexity: Complexity | None = None,
         integrations: tuple[Category, ...] = (), specialty: tuple[tuple[str, int, int], ...] = (),
         overrides: dict[str, float] | None = None, **clinic: object) -> Scenario:
    """builders.scenario, with integrations given by category and features as (name, low, high)."""
    mods = modules(include, exclude, complexity=complexity, specialty=[feature(*f) for f in specialty])
    return scenario(card=card, overrides=overrides, mods=mods, integrations=map(integration, integrations),
                    **clinic)


def analysed(scenario: Scenario) -> ScenarioPlan:
    plan = planner.plan_intake(Intake("test.xlsx", "test", (scenario,)))
    return risk.apply(plan).base


def result(scenario: Scenario) -> risk.RiskResult:
    sp = analysed(scenario)
    assert sp.risk is not None
    return sp.risk


TYPICAL = make(integrations=(Category.LAB, Category.BILLING))


@pytest.fixture(scope="module")
def typical() -> ScenarioPlan:
    return analysed(TYPICAL)


# ------------------------------------------------------------------ determinism and seed


def test_same_input_gives_identical_result() -> None:
    assert result(TYPICAL) == result(make(integrations=(Category.LAB, Category.BILLING)))


def test_the_seed_comes_from_the_names_so_changed_figures_meet_the_same_draws() -> None:
    """Common random numbers: a changed price or cost is priced on the same draws, so the answer
    moves only with the change (the monotonicity properties in test_decision rely on it)."""
    same = {risk.seed_for(TYPICAL), risk.seed_for(make(integrations=(Category.LAB,), physicians=4)),
            risk.seed_for(make(overrides={"maintenance.low_pct": 0.16}))}
    assert len(same) == 1
    assert risk.seed_for(make(name="Another clinic")) not in same


@pytest.mark.slow
def test_seed_does_not_depend_on_the_process_hash_salt() -> None:
    code = ("from tests.test_risk import TYPICAL; from generator.plan.risk import seed_for; "
            "print(seed_for(TYPICAL))")
    seeds = {subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONHASHSEED": salt}).stdout.strip() for salt in ("1", "2")}
    assert seeds == {str(risk.seed_for(TYPICAL))}


def test_seed_is_safe_for_json_readers() -> None:
    assert 0 <= risk.seed_for(TYPICAL) < 2**53


# ------------------------------------------------------------------ percentiles


def test_percentiles_are_ordered_and_inside_the_build_range(typical: ScenarioPlan) -> None:
    r = typical.risk
    assert r is not None
    assert r.p10 <= r.p50 <= r.p80 <= r.p90
    assert r.tco_p10 <= r.tco_p50 <= r.tco_p80 <= r.tco_p90
    assert r.draws == 10000
    low = typical.scenario.card.value("risk.rate_factor.low") * (1 - 0.20)  # rate and hours at their lowest
    assert typical.build.low * low <= r.p10


def test_contingency_is_the_p80_budget_minus_the_point_estimate(typical: ScenarioPlan) -> None:
    r = typical.risk
    assert r is not None
    assert r.point == typical.build.expected
    assert r.recommended_budget == max(r.p80, r.point)
    assert r.contingency == r.recommended_budget - r.point >= 0
    assert f"${r.p80:,}" in r.summary_text


def test_s_curve_runs_from_0_to_100_percent_and_never_falls(typical: ScenarioPlan) -> None:
    r = typical.risk
    assert r is not None
    probs = [p for p, _ in r.s_curve]
    costs = [c for _, c in r.s_curve]
    assert len(r.s_curve) == 21 and probs[0] == 0.0 and probs[-1] == 1.0
    assert costs == sorted(costs)
    assert dict(r.s_curve)[0.8] == r.p80


def test_fewer_draws_through_the_card() -> None:
    r = result(make(overrides={"risk.draws": 500}))
    assert r.draws == 500 and r.p10 <= r.p90


def test_a_zero_width_range_gives_its_value() -> None:
    fixed = {"risk.rate_factor.low": 1.0, "risk.rate_factor.high": 1.0, "risk.aace.class5.under_pct.low": 0.0,
             "risk.aace.class5.over_pct.high": 0.0}  # the team's rate and the hours held at their point
    r = result(make(include=frozenset(), exclude=frozenset(m.name for m in KNOWN_MODULES),
                    specialty=(("Wound photos", 9000, 9000),), overrides=fixed))
    assert (r.p10, r.p50, r.p80, r.p90) == (9000, 9000, 9000, 9000)


# ------------------------------------------------------------------ break-even


def test_break_even_probability_is_a_probability_per_product(typical: ScenarioPlan) -> None:
    r = typical.risk
    assert r is not None
    assert [p for p, _ in r.break_even_probability] == [p.product for p in typical.ownership.off_the_shelf]
    assert all(0.0 <= v <= 1.0 for _, v in r.break_even_probability)


def test_a_large_clinic_almost_surely_breaks_even() -> None:
    r = result(make(physicians=40))
    assert min(v for _, v in r.break_even_probability) > 0.9


# ------------------------------------------------------------------ the cost model agrees with the planner


@pytest.mark.parametrize("hosting", [Hosting.CLOUD, Hosting.ONPREM])
@pytest.mark.parametrize("years", [1, 3, 5])
def test_cost_model_at_its_point_reproduces_the_planners_cash_flow(hosting: Hosting, years: int) -> None:
    scenario = make(exclude=frozenset({"Staff training"}), integrations=(Category.LAB,), hosting=hosting,
                    horizon_years=years)
    sp = planner.plan_scenario(scenario)
    model = sensitivity.cost_model(sp)
    one = np.ones(1)
    custom = model.custom_cumulative(model.mode[None, :], one * model.maintenance[1], one * model.hosting[1])
    assert np.allclose(custom[0], sp.ownership.custom_cumulative, atol=4 * years)
    shelf = model.products_cumulative(one * model.extras[1], one * model.escalation[1])
    for i, p in enumerate(sp.ownership.off_the_shelf):
        assert np.allclose(shelf[0, i], p.cumulative, atol=years)


# ------------------------------------------------------------------ tornado


def test_sensitivity_is_ranked_and_uses_sourced_ranges_only() -> None:
    sp = analysed(make(integrations=(Category.LAB, Category.OTHER), specialty=(("Wound photos", 4000, 9000),)))
    r = sp.risk
    assert r is not None
    swings = [(i.swing, i.tco_swing) for i in r.sensitivity]
    assert swings == sorted(swings, reverse=True)
    ours = default_card().entry("complexity.low.position").source
    assert all(i.source != ours for i in r.sensitivity)
    names = {i.name for i in r.sensitivity}
    assert "Wound photos" in names  # a workbook-given range
    assert {"Annual maintenance (share of the build)", "Cloud hosting (per month)"} <= names
    item = next(i for i in r.sensitivity if i.name == "Lab system")
    assert (item.low, item.high, item.swing) == (sp.build.expected - 8500, sp.build.expected + 8500, 17000)
    assert item.tco_low < sp.ownership.custom_cumulative[-1] < item.tco_high


def test_an_input_whose_range_is_ours_stays_out_of_the_tornado() -> None:
    card = default_card()
    entry = card.entry("integration.lab_imaging.low")
    entries = dict(card.entries)
    entries[entry.key] = replace(entry, source_key=OURS, source="ours")
    r = result(make(card=replace(card, entries=entries), integrations=(Category.LAB,)))
    assert "Lab system" not in {i.name for i in r.sensitivity}


def test_the_offshore_rate_moves_across_the_guides_saving_band(typical: ScenarioPlan) -> None:
    r = typical.risk
    assert r is not None
    item = next(i for i in r.sensitivity if i.unit == "$ per hour")
    assert (item.input_low, item.input_high) == pytest.approx((175 * 0.40, 175 * 0.50))
    assert item.low < typical.build.expected < item.high


# ------------------------------------------------------------------ switching values


def _outcomes(scenario: Scenario) -> sensitivity.Outcomes:
    sp = planner.plan_scenario(scenario)
    model, sim, _, _ = risk._simulation(sp)
    return sensitivity.Outcomes(sp, model, sim)


@pytest.mark.parametrize("level", list(Level))
def test_subscription_switching_value_flips_the_outcome(level: Level) -> None:
    scenario = make(workflow_specificity=level, physicians=6)
    sp = analysed(scenario)
    assert sp.risk is not None
    switch = next(s for s in sp.risk.switching if s.name == "Subscription price")
    assert switch.basis in ("recommendation", "break-even") and isinstance(switch.value, int)
    index = 0 if switch.basis == "recommendation" else 1
    at = _outcomes(scenario)
    assert at.at_price(switch.value - 1)[index] != at.at_price(switch.value)[index]
    assert f"${switch.value:,}" in switch.text


def test_the_price_switch_agrees_with_a_full_reanalysis_away_from_the_threshold() -> None:
    """The switching value's evaluation holds the draws; so does a re-analysis at another price
    (the seed comes from the names): both give the same answer a few dollars either side."""
    scenario = make(physicians=6)
    r = result(scenario)
    switch = next(s for s in r.switching if s.name == "Subscription price")
    assert switch.basis == "recommendation" and isinstance(switch.value, int)
    at = _outcomes(scenario)
    cheapest = planner.plan_scenario(scenario).ownership.cheapest_product
    for price in (switch.value - 5, switch.value + 5):
        again = risk.analyse(planner.plan_scenario(sensitivity.with_price(scenario, cheapest, price)))
        assert again.recommendation.path == at.at_price(price)[0]


def test_hourly_rate_switching_value_flips_the_outcome() -> None:
    scenario = make(physicians=8)
    r = result(scenario)
    switch = next(s for s in r.switching if s.name == "Hourly rate")
    assert isinstance(switch.value, int)
    index = 0 if switch.basis == "recommendation" else 1
    at = _outcomes(scenario)
    assert at.at_rate(switch.value - 1)[index] != at.at_rate(switch.value)[index]


def test_no_flip_is_said_in_words() -> None:
    scenario = make(overrides={"risk.switch.price.low": 0, "risk.switch.price.high": 1})
    r = result(scenario)
    switch = next(s for s in r.switching if s.name == "Subscription price")
    assert switch.value is None and switch.basis == "none"
    assert switch.text.startswith("No subscription price between $0 and $1")


def test_workflow_specificity_switching_value_matches_a_reanalysis_at_each_level() -> None:
    scenario = make(physicians=8)
    r = result(scenario)
    switch = next(s for s in r.switching if s.name == "Workflow specificity")
    paths = {lv: risk.analyse(planner.plan_scenario(replace(scenario, clinic=replace(
        scenario.clinic, workflow_specificity=lv)))).recommendation.path for lv in Level}
    if len(set(paths.values())) == 1:
        assert switch.value is None and "holds at every workflow specificity" in switch.text
    else:
        flip = next(lv for prev, lv in zip(Level, list(Level)[1:], strict=False) if paths[lv] != paths[prev])
        assert switch.value == flip.value


# ------------------------------------------------------------------ NPV


def test_npv_is_below_nominal_at_a_positive_rate(typical: ScenarioPlan) -> None:
    r = typical.risk
    assert r is not None
    assert r.discount_rate == default_card().value("discount.rate") > 0
    assert r.npv_custom < r.nominal_custom == typical.ownership.custom_cumulative[-1]
    for (name, value), (_, nominal) in zip(r.npv_off_the_shelf, r.nominal_off_the_shelf, strict=True):
        assert value < nominal == typical.ownership.product(name).cumulative[-1]


def test_npv_equals_nominal_at_rate_zero() -> None:
    r = result(make(overrides={"discount.rate": 0.0}))
    assert r.discount_rate == 0.0
    assert r.npv_custom == r.nominal_custom
    assert r.npv_off_the_shelf == r.nominal_off_the_shelf


def test_npv_discounts_each_year_at_its_end() -> None:
    assert risk.npv([110, 121], 0.10) == 200


# ------------------------------------------------------------------ estimate class


def test_an_intake_estimate_is_class_5() -> None:
    r = result(make())
    assert (r.estimate_class, r.accuracy_low, r.accuracy_high) == (5, -0.5, 1.0)
    assert (r.accuracy_low_narrow, r.accuracy_high_narrow) == (-0.2, 0.3)
    assert "AACE class 5" in r.accuracy_text and "18R-97" in r.accuracy_text
    assert r.accuracy_range == (round(r.point * 0.5), r.point * 2)


@pytest.mark.parametrize("given", [{"development_hours": 900.0}, {"hourly_rate": 55.0}])
def test_development_hours_or_a_quoted_rate_make_class_4(given: dict[str, float]) -> None:
    r = result(make(**given))
    assert (r.estimate_class, r.accuracy_low, r.accuracy_high) == (4, -0.3, 0.5)


def test_the_accuracy_band_is_sourced_in_the_rate_card() -> None:
    card = default_card()
    for cls in (4, 5):
        for side in ("under_pct", "over_pct"):
            for end in ("low", "high"):
                entry = card.entry(f"risk.aace.class{cls}.{side}.{end}")
                assert entry.source == "AACE International Recommended Practice 18R-97"


# ------------------------------------------------------------------ budget.json


def test_to_dict_gives_the_output_spec_keys(typical: ScenarioPlan) -> None:
    r = typical.risk
    assert r is not None
    data = json.loads(json.dumps(r.to_dict()))
    assert set(data) == {"risk", "sensitivity"}
    out = data["risk"]
    assert all(isinstance(out[k], int) for k in ("p10", "p50", "p80", "p90", "contingency", "seed"))
    assert out["p10"] <= out["p50"] <= out["p80"] <= out["p90"]
    assert set(out["break_even_probability"]) == {p.product for p in typical.ownership.off_the_shelf}
    assert out["estimate_class"] == 5 and out["draws"] == 10000
    swings = [s["swing"] for s in data["sensitivity"]]
    assert swings == sorted(swings, reverse=True)
    assert {"name", "swing", "low", "high", "input_low", "input_high", "source"} <= set(data["sensitivity"][0])


# ------------------------------------------------------------------ properties

MODULE_NAMES = [m.name for m in KNOWN_MODULES]


@st.composite
def small_scenarios(draw: st.DrawFn) -> Scenario:
    return make(
        include=frozenset(draw(st.sets(st.sampled_from(MODULE_NAMES)))),
        exclude=frozenset(draw(st.sets(st.sampled_from(MODULE_NAMES)))),
        complexity=draw(st.sampled_from([None, *Complexity])),
        integrations=tuple(draw(st.lists(st.sampled_from(list(Category)), max_size=3))),
        specialty=tuple(draw(st.lists(st.tuples(st.just("Feature"), st.integers(0, 5000),
                                                st.integers(0, 20000)).map(lambda t: (t[0], t[1], t[1] + t[2])),
                                      max_size=2))),
        physicians=draw(st.integers(1, 20)),
        team=draw(st.sampled_from(list(Team))),
        hosting=draw(st.sampled_from(list(Hosting))),
        workflow_specificity=draw(st.sampled_from(list(Level))),
        horizon_years=draw(st.integers(1, 7)),
        overrides={"risk.draws": 2000},
    )


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_scenarios())
def test_percentiles_are_ordered_and_bounded_for_any_scenario(scenario: Scenario) -> None:
    sp = analysed(scenario)
    r = sp.risk
    assert r is not None
    assert r.p10 <= r.p50 <= r.p80 <= r.p90
    assert r.tco_p10 <= r.tco_p50 <= r.tco_p80 <= r.tco_p90
    assert r.contingency == r.recommended_budget - r.point >= 0
    assert all(0.0 <= v <= 1.0 for _, v in r.break_even_probability)
    assert [i.swing for i in r.sensitivity] == sorted((i.swing for i in r.sensitivity), reverse=True)
    assert r.npv_custom <= r.nominal_custom


def test_products_cover_the_workbooks_subscriptions() -> None:
    scenario = make()
    names = [s.product for s in ownership.products(scenario)]
    assert [p for p, _ in result(scenario).break_even_probability] == names


def test_cost_model_keeps_a_workbooks_own_subscription_terms() -> None:
    scenario = replace(make(), subscriptions=(Subscription("Athena", 300.0, 2000.0, 0.04),
                                              Subscription("Kareo", 200.0)))
    sp = planner.plan_scenario(scenario)
    model = sensitivity.cost_model(sp)
    assert (model.products[0].extras, model.products[0].increase) == (2000.0, 0.04)
    assert (model.products[1].extras, model.products[1].increase) == (None, None)
    one = np.ones(1)
    shelf = model.products_cumulative(one * model.extras[1], one * model.escalation[1])
    for i, p in enumerate(sp.ownership.off_the_shelf):
        assert np.allclose(shelf[0, i], p.cumulative, atol=sp.ownership.years)


def test_correlated_component_draws_widen_the_band_but_keep_the_bounds() -> None:
    """Independent draws understate the spread; the rate card's risk.correlation widens it."""
    from generator.plan.risk import seed_for, simulate
    from generator.plan.sensitivity import cost_model

    plan = planner.plan_scenario(make(physicians=5))
    model = cost_model(plan)
    spreads = []
    for rho in (0.0, 0.25, 0.5):
        sim = simulate(model, 5_000, seed_for(plan.scenario), rho)
        p10, p90 = np.percentile(sim.build, [10, 90])
        assert plan.build.low * 0.9 * 0.8 <= sim.build.min()  # the team rate and hours at their lowest
        spreads.append(p90 - p10)
    assert spreads[0] < spreads[1] < spreads[2]


# ------------------------------------------------------------------ the workbook's simulation work


def test_a_workbook_within_the_work_bound_is_simulated_on_every_draw_asked() -> None:
    from tests import builders

    plan = builders.plan(scenario(overrides={"risk.draws": 2000}), scenario("B", overrides={"risk.draws": 3000}))
    assert risk.draw_counts(plan) == (2000, 3000)
    done = risk.apply(plan)
    assert [sp.risk.draws for sp in done.scenarios if sp.risk] == [2000, 3000]
    assert not [w for sp in done.scenarios for w in sp.warnings if w.code == "DRAWS_REDUCED"]


def test_past_the_work_bound_every_scenario_gets_the_same_share_of_its_draws_and_a_warning(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 17 item 1: the largest workbook within the limits would take the risk analysis alone
    past the whole job's time bound; past risk.WORK the draws shrink, said in each scenario."""
    from tests import builders

    plan = builders.plan(scenario(overrides={"risk.draws": 4000}), scenario("B", overrides={"risk.draws": 3000}))
    inputs = [risk.inputs(sp) for sp in plan.scenarios]
    assert inputs[0] == len(plan.base.components) + len(plan.base.ownership.off_the_shelf) + risk.OTHER_INPUTS
    monkeypatch.setattr(risk, "WORK", (4000 * inputs[0] + 3000 * inputs[1]) // 2)  # half the work asked
    assert risk.draw_counts(plan) == (2000, 1500)  # whole hundreds of the same share
    monkeypatch.setattr(risk, "WORK", 1)
    assert risk.draw_counts(plan) == (risk.MIN_DRAWS, risk.MIN_DRAWS)  # never below the lower limit
    done = risk.apply(plan)
    assert [sp.risk.draws for sp in done.scenarios if sp.risk] == [1000, 1000]
    warning = [w for w in done.base.warnings if w.code == "DRAWS_REDUCED"]
    assert warning[0].message == (
        f"The risk analysis simulated 1,000 outcomes for this scenario instead of the 4,000 asked (risk.draws): "
        f"the workbook's 2 scenarios price {sum(inputs):,} uncertain components, products and other inputs in "
        f"all, and simulating each on every draw asked would not finish within the time one workbook may take. "
        f"The percentiles are a little less precise; fewer scenarios, or fewer rows, give the full count.")
    assert warning[0].title == "Fewer simulated outcomes"
    assert "1,000 simulated outcomes" in done.base.ownership.recommendation.reasons[1]
    assert len(risk.build_draws(done.base)) == 1000  # the quotes are placed among the same draws


def test_a_scenario_with_no_component_gets_its_analysis() -> None:
    """Hypothesis found it on main (test_percentiles_are_ordered_and_bounded_for_any_scenario): the
    tornado's one-pass rewrite indexed column 0 of an empty array when no component is chosen."""
    from tests.builders import analysed, scenario

    sp = analysed(scenario(mods=(), horizon_years=1)).scenarios[0]
    assert sp.risk is not None
