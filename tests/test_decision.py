"""The build-or-buy decision (plan/decision.py): one rule, from the figures, monotone in them."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.model import Category, Hosting, Level, Records, Scenario, Subscription, Team
from generator.plan import decision, ownership, risk, sensitivity
from generator.plan import pricing as planner
from generator.ratecard import default_card
from tests import sweep
from tests.builders import analysed, clinic_rows, integration, scenario, write_workbook
from tests.conftest import examples
from tests.helpers import run_cli

ORDER = decision.ORDER  # off-the-shelf 0, too-close 1, custom 2: towards custom
FEW = {"risk.draws": 2000}


def answer(s: Scenario) -> str:
    return analysed(s).base.ownership.recommendation.path


# ------------------------------------------------------------------ the rule and budget.json


@pytest.mark.slow
def test_budget_json_carries_the_recommendation(tmp_path: Path) -> None:
    book = write_workbook(tmp_path / "ridgeview.xlsx", {"Clinic": clinic_rows(physicians=12)})
    result = run_cli("run", book, "--out", tmp_path / "out", "--formats", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "out" / "ridgeview" / "budget.json").read_text())
    rec = data["scenarios"][0]["recommendation"]
    assert rec["path"] in ("custom", "off-the-shelf", "too-close")
    assert rec["product"] == data["scenarios"][0]["tco"]["cheapest_product"]
    assert 0.0 <= rec["probability_custom_cheaper"] <= 1.0
    assert rec["payback_year"] is None or 1 <= rec["payback_year"] <= data["scenarios"][0]["tco"]["years"]
    assert rec["path"] == decision.rule(default_card(), rec["probability_custom_cheaper"], rec["payback_year"])


@pytest.mark.parametrize(("probability", "payback", "path"), [
    (0.95, 3, "custom"), (0.80, 4, "custom"), (0.95, 5, "too-close"), (0.95, None, "too-close"),
    (0.79, 2, "too-close"), (0.5, 3, "too-close"), (0.21, None, "too-close"), (0.20, None, "off-the-shelf"),
    (0.0, None, "off-the-shelf"),
])
def test_the_rule_and_its_thresholds_from_the_rate_card(probability: float, payback: int | None, path: str) -> None:
    assert decision.rule(default_card(), probability, payback) == path


def test_payback_is_the_year_custom_stays_cheaper_to_the_horizon() -> None:
    custom = np.array([[100.0, 200.0, 50.0, 50.0, 50.0]])  # cheaper in year 1, not in 2 and 3, then from 4 on
    product = np.array([[150.0, 80.0, 120.0, 120.0, 120.0]])
    probability, payback = decision.compare(np.cumsum(custom, axis=1), np.cumsum(product, axis=1))
    assert (probability, payback) == (1.0, 4)


def test_the_guides_four_physician_clinic_at_599_answers_from_its_own_figures() -> None:
    """The guide's 4-physician clinic on a $599 combined subscription: the answer follows the rule on
    its own probability and payback, and the custom build is compared with that product."""
    sp = analysed(scenario(physicians=4, workflow_specificity=Level.HIGH,
                           subscriptions=(Subscription("Combined EHR + practice management", 599.0),))).base
    rec = sp.ownership.recommendation
    assert rec.product == "Combined EHR + practice management"
    assert rec.probability_custom_cheaper is not None
    assert rec.path == decision.rule(sp.scenario.card, rec.probability_custom_cheaper, rec.payback_year)
    assert sweep.contradictions(sp) == []


def test_a_1500_quote_makes_custom_the_answer_for_the_guides_clinic() -> None:
    """Issue 13: at a $1,500 quote custom is cheaper from year one, and the advice must say so."""
    sp = analysed(scenario(physicians=4, workflow_specificity=Level.LOW,
                           subscriptions=(Subscription("Premium", 1500.0),))).base
    rec = sp.ownership.recommendation
    assert (rec.path, rec.probability_custom_cheaper) == ("custom", pytest.approx(1.0, abs=0.01))
    assert rec.payback_year is not None and rec.payback_year <= 4


def test_low_specificity_is_no_gate() -> None:
    """A large clinic at Low workflow specificity whose figures favour custom is told so: 60 physicians on the
    guide's $599 combined subscription. (Against the rate card's $249 product the same clinic is too close to
    call once its user support beyond the guide's sizes is costed.)"""
    sp = analysed(scenario(physicians=60, workflow_specificity=Level.LOW, subscriptions=(
        Subscription("Combined EHR + practice management", 599.0),))).base
    rec = sp.ownership.recommendation
    assert rec.path == "custom" and "Subscribe" not in rec.headline
    assert sweep.contradictions(sp) == []


# ------------------------------------------------------------------ honest risk


def test_a_class_5_estimate_has_a_p90_build_at_least_125_percent_of_the_point() -> None:
    sp = analysed(scenario(physicians=5, integrations=[integration(Category.LAB)])).base
    assert sp.risk is not None and sp.risk.estimate_class == 5
    assert sp.risk.p90 >= 1.25 * sp.build.expected


def test_the_contingency_is_never_negative_with_every_component_at_high() -> None:
    from generator.model import Complexity
    from tests.builders import modules

    sp = analysed(scenario(mods=modules(complexity=Complexity.HIGH))).base
    assert sp.risk is not None
    assert sp.risk.contingency >= 0 and sp.risk.recommended_budget >= sp.build.expected


def test_typing_the_default_rate_keeps_the_class() -> None:
    assert sensitivity.estimate_class(scenario(hourly_rate=40.0)) == 5
    assert sensitivity.estimate_class(scenario(hourly_rate=40.0, team=Team.US)) == 4  # not the US rate
    assert sensitivity.estimate_class(scenario(hourly_rate=45.0)) == 4


def test_switching_to_a_product_does_not_depend_on_the_custom_teams_rate() -> None:
    """Issue 13: a US team raised DrChrono's switching cost from $15,000 to $34,539; a rate of 1e12 made it
    $375,000,000,036,607. The vendor's migration and onboarding are priced on their own."""
    costs_at = {ownership.off_the_shelf(s, planner.price_lines(s)[0], 5)[0].switching_cost
                for s in (scenario(), scenario(team=Team.US), scenario(hourly_rate=1e6))}
    assert costs_at == {10_000 + 2_000}  # migration midpoint + onboarding floor ($150 x 12 users < $2,000)


def test_onboarding_onto_a_product_scales_with_the_staff_like_the_custom_training() -> None:
    """The same staff cost the same to train on either path: beyond the staff of a clinic at the top of the
    guide's sizes (10 physicians x 4 users), the onboarding range of a move to a product grows with the staff
    users as the custom build's staff-training range does. It used to stop at the guide's $8,000 for 2,000
    users while custom training came to $300,000. One rule (costs.switching_points) and its XLSX formula:
    the plan, the Monte Carlo's switching draws and the decision take it from there."""
    small, big = (planner.plan_scenario(scenario(staff_users=users)) for users in (40, 2_000))
    assert {p.switching_cost for p in small.ownership.off_the_shelf} == {10_000 + 6_000}  # $150 x 40 users
    assert {p.switching_cost for p in big.ownership.off_the_shelf} == {10_000 + 300_000}  # $150 x 2,000 users
    factor = 2_000 / 40
    assert big.training_scale == factor  # what the custom staff-training range is scaled by, as the onboarding
    assert sensitivity.cost_model(big).switching == (5_000 + 2_000 * factor, 310_000, 15_000 + 8_000 * factor)
    assert sensitivity.cost_model(small).switching == (5_000 + 2_000, 16_000, 15_000 + 8_000)


def test_the_custom_costs_are_linear_in_the_labour_priced() -> None:
    """The rate switching value scales the labour-priced part of the simulated custom costs; that is
    exact only while every cost rule is linear in the build, which this checks."""
    sp = planner.plan_scenario(scenario(physicians=6, integrations=[integration(Category.BILLING)]))
    model = sensitivity.cost_model(sp)
    d = risk.draw(model, 500, 7, 0.25)
    at = [model.custom_yearly(d.labour * f, d.maintenance, d.hosting, d.escalation, d.running) for f in (0, 1, 2.5)]
    assert np.allclose(at[2], at[0] + 2.5 * (at[1] - at[0]))


# ------------------------------------------------------------------ monotone by construction


@st.composite
def clinics(draw: st.DrawFn) -> Scenario:
    kinds = draw(st.lists(st.sampled_from(list(Category)), max_size=6))
    return scenario(
        name=draw(st.sampled_from(["A", "B", "C"])),
        physicians=draw(st.integers(1, 50)),
        hosting=draw(st.sampled_from(list(Hosting))),
        team=draw(st.sampled_from(list(Team))),
        workflow_specificity=draw(st.sampled_from(list(Level))),
        records=draw(st.sampled_from(list(Records))),
        integrations=[integration(k) for k in kinds],
        subscriptions=(Subscription("Product", float(draw(st.integers(100, 1500)))),),
        overrides=FEW,
    )


@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clinics(), st.floats(1.05, 3.0))
def test_raising_a_subscription_price_never_moves_the_answer_towards_off_the_shelf(s: Scenario, f: float) -> None:
    dearer = replace(s, subscriptions=(replace(s.subscriptions[0],
                                               monthly_per_provider=s.subscriptions[0].monthly_per_provider * f),))
    assert ORDER[answer(dearer)] >= ORDER[answer(s)]


@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clinics(), st.sampled_from(list(Category)))
def test_adding_an_integration_never_moves_the_answer_towards_custom(s: Scenario, kind: Category) -> None:
    more = replace(s, integrations=(*s.integrations, integration(kind, system="One more system")))
    assert ORDER[answer(more)] <= ORDER[answer(s)]


@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clinics(), st.floats(1.05, 3.0))
def test_a_dearer_team_never_moves_the_answer_towards_custom(s: Scenario, f: float) -> None:
    rate = 175.0 if s.clinic.team is Team.US else 40.0
    base = replace(s, clinic=replace(s.clinic, hourly_rate=rate * 1.01))  # a quote: class 4 on both sides
    dearer = replace(s, clinic=replace(s.clinic, hourly_rate=rate * 1.01 * f))
    assert ORDER[answer(dearer)] <= ORDER[answer(base)]


# ------------------------------------------------------------------ the sweep


def test_sweep_no_advice_contradicts_its_own_figures() -> None:
    """36 clinics (1-50 physicians, 0-6 integrations, both hostings and teams, every specificity):
    each answer follows the rule on its own probability and payback, against the cheapest product,
    and agrees in direction with the point figures (docs/decision.md shows the table). The inner
    loop checks 12 of them: every size, the three specificities in turn."""
    every = sweep.clinics()
    checked = every if examples(36) == 36 else [c for k, c in enumerate(every) if k % 3 == k // 3 % 3]
    found = {c.label: sweep.contradictions(sweep.plan_of(c)) for c in checked}
    assert {label: wrong for label, wrong in found.items() if wrong} == {}
    assert len(found) >= (30 if checked is every else 12)
    paths = {sweep.plan_of(c).ownership.recommendation.path for c in checked}
    # not one answer for all: since the user support beyond the guide's sizes is costed, the sweep's one
    # custom answer (50 physicians, High, p 89%) is too close (p 77%); custom answers are checked against
    # their figures in test_low_specificity_is_no_gate and the guide's clinics above
    assert "off-the-shelf" in paths and len(paths) >= 2
