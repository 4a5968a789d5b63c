"""User support on the custom path grows with the clinic (issue 13, 'hosting and support with size').

The guide's worked maintenance example ($11,250-$15,000 a year on a $75,000 build) is taken as the upkeep
of a clinic with the staff of one at hosting.full_size_physicians, a share of it (support.share_of_maintenance,
our assumption) their user support; each staff user beyond them adds a staff user's part of it
(costs.support_base), in the run costs, the cash flow, the risk analysis and every format.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from generator.model import Hosting, Records, Team
from generator.money import dollars
from generator.plan import costs, risk, sensitivity
from generator.plan.pricing import plan_scenario
from generator.ratecard import default_card
from generator.render import budget_json
from generator.render import document as render
from tests.builders import plan, scenario
from tests.conftest import settings

CARD = default_card()
FULL = round(CARD.value("hosting.full_size_physicians"))
PER = round(CARD.value("clinic.staff_users_per_physician"))
SHARE = CARD.value("support.share_of_maintenance")


EXAMPLE = CARD.value("maintenance.example.build")
LOW, POINT, HIGH = costs.maintenance_shares(CARD)


def test_the_rule_is_zero_up_to_full_size_and_in_proportion_to_the_staff_beyond() -> None:
    reference = FULL * PER
    assert costs.reference_staff(CARD) == reference == 40
    assert costs.support_base(CARD, 1) == costs.support_base(CARD, reference) == 0.0
    assert costs.support_base(CARD, 2 * reference) == pytest.approx(EXAMPLE * SHARE)
    assert costs.support_base(CARD, 5 * reference) == pytest.approx(4 * EXAMPLE * SHARE)
    shares = np.array([LOW, HIGH])  # float and NumPy alike
    assert costs.user_support(CARD, EXAMPLE * SHARE, shares).tolist() == pytest.approx(
        [11_250 * SHARE, 15_000 * SHARE])  # the guide's $11,250-$15,000, its user-support part
    assert costs.user_support(CARD, 0.0, POINT) == 0.0
    per_user = costs.user_support(CARD, EXAMPLE * SHARE, POINT) / reference
    assert 90 < per_user < 125  # about $108 a staff user a year beyond the reference staff


def test_a_clinic_twice_full_size_pays_more_support_than_one_at_full_size_in_proportion() -> None:
    """The whole user support (the part inside the guide's maintenance plus the part beyond it) is in
    proportion to the staff users: at twice the full size's staff it is twice, at three times three times."""
    at_full = plan_scenario(scenario(physicians=FULL, staff_users=FULL * PER))
    twice = plan_scenario(scenario(physicians=FULL, staff_users=2 * FULL * PER))
    thrice = plan_scenario(scenario(physicians=FULL, staff_users=3 * FULL * PER))
    inside = costs.user_support(CARD, EXAMPLE * SHARE, POINT)  # what the guide's maintenance covers at full size
    assert (at_full.run.support, at_full.run.support_expected, at_full.run.staff_beyond) == ((0, 0), 0, 0)
    assert twice.run.support_expected == dollars(2 * inside - inside) > 0
    assert thrice.run.support_expected == dollars(3 * inside - inside)
    assert twice.run.support == (dollars(EXAMPLE * SHARE * LOW), dollars(EXAMPLE * SHARE * HIGH))
    assert (twice.run.staff_beyond, thrice.run.staff_beyond) == (FULL * PER, 2 * FULL * PER)
    m, s, h, u = (twice.run.maintenance_expected, twice.run.support_expected, twice.run.hosting_expected,
                  twice.run.training_updates_expected)
    assert twice.run.annual.expected == m + s + h + u
    # physicians alone: a clinic twice full size at the rate card's staff per physician, whatever its build
    big = plan_scenario(scenario(physicians=2 * FULL))
    us = plan_scenario(scenario(physicians=2 * FULL, team=Team.US))
    assert big.staff_users == 2 * FULL * PER and us.build.expected > 2 * big.build.expected
    assert big.run.support_expected == us.run.support_expected == dollars(inside)


def test_a_clinic_at_or_under_full_size_changes_nothing() -> None:
    small = plan_scenario(scenario(physicians=FULL))
    none = plan_scenario(scenario(physicians=FULL, overrides={"support.share_of_maintenance": 0.0}))
    assert small.run.support_expected == 0 and small.ownership == none.ownership and small.run == none.run


def test_the_support_is_in_the_cash_flow_and_the_cost_of_ownership() -> None:
    """Each year from phase 1's go-live, the support adds its yearly figure with the underestimation
    allowance, escalating like the other running costs."""
    big = plan_scenario(scenario(physicians=3 * FULL))
    none = plan_scenario(scenario(physicians=3 * FULL, overrides={"support.share_of_maintenance": 0.0}))
    assert none.run.support_expected == 0 < big.run.support_expected
    allowance, growth = costs.allowance_points(CARD)[1], 1 + costs.escalation(CARD)[1]
    for year in (1, 2, 3, 4):
        exact = costs.user_support(CARD, big.run.support_base, POINT) * allowance * growth ** year
        assert abs(big.ownership.custom_yearly[year] - none.ownership.custom_yearly[year] - exact) <= 4
    assert big.ownership.custom_cumulative[-1] > none.ownership.custom_cumulative[-1]
    labels = [name for phase in big.ownership.budget_phases for name, _ in phase.items]
    assert "Maintenance, user support, hosting, training updates, allowance and third-party fees" in labels


def test_the_risk_analysis_draws_the_support_with_the_maintenance_share() -> None:
    sp = plan_scenario(scenario(physicians=3 * FULL))
    model = sensitivity.cost_model(sp)
    assert model.support == sp.run.support_base == pytest.approx(2 * EXAMPLE * SHARE)
    none = sensitivity.cost_model(plan_scenario(scenario(physicians=3 * FULL,
                                                         overrides={"support.share_of_maintenance": 0.0})))
    with_support, without = risk.simulate(model, 2_000, 7), risk.simulate(none, 2_000, 7)
    extra = with_support.fixed[:, 1] - without.fixed[:, 1]  # year 2: the support, not scaled by the team rate
    drawn = costs.user_support(CARD, model.support, with_support.draws.maintenance)
    growth = 1 + with_support.draws.escalation
    assert extra == pytest.approx(drawn * with_support.draws.running * growth)
    assert extra.min() < extra.max()  # drawn with the maintenance share, not a fixed figure
    # the point of the simulation's cost model is the plan's own cash flow
    point = model.custom_yearly(model.mode[None, :], np.array([model.maintenance[1]]), np.array([model.hosting[1]]),
                                np.array([model.escalation[1]]))[0]
    assert np.abs(point - np.array(sp.ownership.custom_yearly)).max() <= 12


def test_every_format_shows_the_support_of_a_large_clinic_and_none_of_a_small_one() -> None:
    big = plan(scenario(physicians=3 * FULL, records=Records.LEGACY, hosting=Hosting.ONPREM), source="big.xlsx")
    run = big.base.run
    s = settings()
    report, client = render.render_markdown(big, s), render.render_markdown(big, s, edition="client")
    row = (f"| User support beyond a {FULL}-physician clinic's staff ({2 * FULL * PER} more staff users) | "
           f"${run.support[0]:,} | ${run.support_expected:,} | ${run.support[1]:,} |")
    assert row in report and row in client
    assert "**User support** (our assumption)." in report
    assert f"{3 * FULL * PER} staff users, 3.0 times as many" in report
    assert f"${run.support_expected:,} a year for the {2 * FULL * PER} more this clinic has (our assumption)" in client
    assert "User-support part of the maintenance" in client  # the client appendix lists the figure it used
    annual = json.loads(budget_json.render(big, s))["scenarios"][0]["annual"]
    assert annual["support"] == {"low": run.support[0], "high": run.support[1], "expected": run.support_expected,
                                 "staff_users_beyond": 2 * FULL * PER}
    small = plan(scenario(physicians=FULL), source="small.xlsx")
    assert "User support" not in render.render_markdown(small, s, edition="client")
    assert "User support" not in render.render_markdown(small, s).split("## Assumptions")[0]
    assert json.loads(budget_json.render(small, s))["scenarios"][0]["annual"]["support"]["expected"] == 0



def test_the_word_document_shows_the_support_of_a_large_clinic() -> None:
    import io

    from generator.render import docx as docx_writer

    if not docx_writer.available():
        pytest.skip("the docx extra (python-docx, CairoSVG)")
    from docx import Document

    big = plan(scenario(physicians=3 * FULL), source="big.xlsx")
    doc = Document(io.BytesIO(docx_writer.render(big, settings())))
    cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
    label = f"User support beyond a {FULL}-physician clinic's staff ({2 * FULL * PER} more staff users)"
    assert label in cells and f"${big.base.run.support_expected:,}" in cells
