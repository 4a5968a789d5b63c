"""What a clinic pays beyond the build and its upkeep (issue 13 items 7 and 8): third-party fees,
the go-live productivity dip, the old system during the build, server replacement and the
guide's 30-40% underestimation of running costs, each where the clinic's scope brings it, on
both paths where a product's path pays it too, in the point estimate and the risk analysis alike."""

from __future__ import annotations

import numpy as np
import pytest

from generator.model import Category, Hosting, Level, Records, ScenarioPlan
from generator.plan import costs, risk
from generator.plan.pricing import plan_scenario
from generator.plan.sensitivity import cost_model
from generator.ratecard import default_card
from tests.builders import analysed, integration, modules, scenario

CARD = default_card()
MID = {k: sum(CARD.pair(f"fees.{k}")) / 2 for k in ("e_prescribing", "drug_database", "code_sets", "clearinghouse",
                                                      "interface", "ai_scribe", "certified")}


def fees_of(sp: ScenarioPlan) -> list[tuple[str, int, str, bool]]:
    return [(f.key, f.cost.expected, f.start, f.both_paths) for f in sp.run.fees]


def test_a_clinic_without_those_functions_pays_no_third_party_fee() -> None:
    assert plan_scenario(scenario()).run.fees == ()


def test_each_fee_comes_with_the_function_that_brings_it_from_its_go_live() -> None:
    links = (integration(Category.EPRESCRIBING, phase=1), integration(Category.BILLING),
             integration(Category.LAB), integration(Category.IMAGING, phase=1), integration(Category.OTHER))
    sp = plan_scenario(scenario(physicians=4, integrations=links, mods=modules(on=("ai_documentation",)),
                                certified_components=True))
    assert fees_of(sp) == [
        ("e_prescribing", 4 * MID["e_prescribing"], "phase 1 go-live", False),
        ("drug_database", 4 * MID["drug_database"], "phase 1 go-live", False),
        ("code_sets", 4 * MID["code_sets"], "phase 2 go-live", False),
        ("clearinghouse", 4 * MID["clearinghouse"], "year one", True),
        ("interface", MID["interface"], "phase 1 go-live", False),  # the imaging system
        ("interface", 2 * MID["interface"], "phase 2 go-live", False),  # the lab and the other system
        ("ai_scribe", 4 * MID["ai_scribe"], "year one", True),
        ("certified", 4 * MID["certified"], "phase 1 go-live", False),
    ]
    assert sp.run.fees_total.expected == sum(f.cost.expected for f in sp.run.fees)
    assert sp.run.total == sp.run.annual + sp.run.allowance + sp.run.fees_total


def test_fees_a_product_pays_too_are_on_both_paths_from_year_one() -> None:
    """Clearinghouse and scribe usage: the same figure on both sides, so they raise both totals."""
    plain = plan_scenario(scenario(physicians=4))
    billed = plan_scenario(scenario(physicians=4, integrations=(integration(Category.BILLING),)))
    product, before = billed.ownership.off_the_shelf[1], plain.ownership.off_the_shelf[1]
    assert product.fees == 4 * MID["clearinghouse"]
    assert product.yearly[0] - before.yearly[0] == product.fees
    first = billed.ownership.cash_flow[0].run - plain.ownership.cash_flow[0].run
    assert first == round(4 * MID["clearinghouse"] / 4)  # a quarter of it in the first quarter, before go-live


def test_the_e_prescribing_network_and_drug_content_start_at_their_go_live() -> None:
    """On a phase-2 e-prescribing integration the fees start in year three (phase 2 in use), and a
    product includes them (ONC-certified e-prescribing): off the custom path only."""
    base = plan_scenario(scenario())
    erx = plan_scenario(scenario(integrations=(integration(Category.EPRESCRIBING),)))
    yearly = 3 * (MID["e_prescribing"] + MID["drug_database"])
    assert erx.ownership.off_the_shelf[0].fees == 0
    diff = [a.run - b.run for a, b in zip(erx.ownership.cash_flow, base.ownership.cash_flow, strict=True)]
    assert diff[:8] == [0] * 8  # nothing before phase 2 is in use
    grown = (1 + costs.escalation(CARD)[1]) ** 2
    maintenance = sum(li.cost.expected for li in erx.components if li.phase != 1) * costs.maintenance_shares(CARD)[1]
    allow = costs.allowance_points(CARD)[1]
    assert diff[8] == pytest.approx((yearly + maintenance * allow) / 4 * grown, abs=2)


def test_the_go_live_dip_is_paid_at_each_go_live() -> None:
    """Twice with a phased build (phase 1's go-live, then phase 2's), once without a phase 2, once on
    a switch to a product."""
    phased = plan_scenario(scenario(integrations=(integration(Category.LAB),)))
    single = plan_scenario(scenario())
    dip = 3 * sum(CARD.pair("golive.dip")) / 2
    assert phased.run.golive.expected == single.run.golive.expected == dip
    n1 = costs.phase1_quarters(CARD)
    assert [q.launch for q in phased.ownership.cash_flow if q.launch] == [dip, dip]
    assert [i for i, q in enumerate(phased.ownership.cash_flow) if q.launch] == [n1, 8]
    assert (phased.run.golive_count, single.run.golive_count) == (2, 1)
    assert [q.launch for q in single.ownership.cash_flow if q.launch] == [dip]
    product = single.ownership.off_the_shelf[0]
    assert product.golive == dip and product.yearly[0] > product.switching_cost + dip


def test_the_old_system_runs_until_the_new_one_is_live() -> None:
    """A legacy EHR's subscription runs through phase 1's build on the custom path, for the quarters
    a product takes to go live on the other; paper records have no old system to pay."""
    sp = plan_scenario(scenario(physicians=4, records=Records.LEGACY))
    yearly = 4 * 12 * CARD.value("legacy.monthly")
    n1 = costs.phase1_quarters(CARD)
    assert sp.run.legacy == yearly and sp.run.legacy_quarters == n1
    assert [q.launch for q in sp.ownership.cash_flow[:n1]] == [yearly / 4] * n1
    assert sp.ownership.off_the_shelf[0].legacy == yearly * CARD.value("offshelf.golive_quarters") / 4
    paper = plan_scenario(scenario(physicians=4))
    assert paper.run.legacy == 0 and paper.ownership.off_the_shelf[0].legacy == 0


@pytest.mark.parametrize("years", [5, 10])
def test_on_premise_servers_are_replaced_on_their_cycle(years: int) -> None:
    sp = plan_scenario(scenario(hosting=Hosting.ONPREM, horizon_years=years))
    servers, n1 = sp.run.onprem_upfront[1], costs.phase1_quarters(CARD)
    cycle = round(CARD.value("hosting.onprem.refresh_years"))
    bought = [i for i, q in enumerate(sp.ownership.cash_flow) if q.build >= servers]
    assert bought == [n1 - 1] + ([n1 - 1 + 4 * cycle] if 4 * cycle + n1 - 1 < 4 * years else [])
    assert sp.run.refreshes == len(bought) - 1 and sp.run.refresh_years == cycle
    assert sp.ownership.cash_flow[bought[-1]].build == servers or len(bought) == 1
    cloud = plan_scenario(scenario(horizon_years=years))
    assert cloud.run.refresh_years == cloud.run.refreshes == 0


def test_the_guides_underestimation_is_costed_at_its_middle() -> None:
    """'...ongoing obligations that most first-time buyers underestimate by 30-40%': the point carries
    an allowance at 35% of maintenance, hosting and training updates, and the simulation draws the
    multiple around it, so that its median is the point's."""
    sp = analysed(scenario()).base
    lo, hi = CARD.value("underestimate.low_pct"), CARD.value("underestimate.high_pct")
    assert sp.run.allowance.expected == round(sp.run.annual.expected * (lo + hi) / 2)
    model = cost_model(sp)
    assert model.running == pytest.approx((1 + lo, 1 + (lo + hi) / 2, 1 + hi))
    d = risk.draw(model, 4000, 7)
    assert float(np.median(d.running)) == pytest.approx(1 + (lo + hi) / 2, abs=0.005)


def test_the_cost_model_at_its_point_is_the_plan() -> None:
    """The Monte Carlo prices the new lines with the same rules: at every input's point it gives the
    plan's yearly figures (within the plan's per-quarter rounding) on both paths."""
    links = (integration(Category.EPRESCRIBING, phase=1), integration(Category.BILLING), integration(Category.LAB))
    sp = plan_scenario(scenario(physicians=4, records=Records.LEGACY, hosting=Hosting.ONPREM, horizon_years=10,
                                integrations=links, mods=modules(on=("ai_documentation",)),
                                certified_components=True))
    m = cost_model(sp)
    one = np.ones(1)
    custom = m.custom_yearly(m.mode[None, :], one * m.maintenance[1], one * m.hosting[1], one * m.escalation[1])
    assert custom[0] == pytest.approx(np.array(sp.ownership.custom_yearly), abs=12)
    shelf = m.products_yearly(one * m.extras[1], one * m.escalation[1], one * m.switching[1])
    for i, p in enumerate(sp.ownership.off_the_shelf):
        assert shelf[0, i] == pytest.approx(np.array(p.yearly), abs=3)


def test_the_contradictions_name_the_underestimation_with_figures() -> None:
    from generator.plan.guide_checks import contradictions

    (text,) = [c for c in contradictions(CARD) if c.startswith("Running costs:")]
    # ($75,000 x 15% + $800 x 12) x 1.30 and ($75,000 x 20% + $2,400 x 12) x 1.40
    assert "30%-40%" in text and "$27,105-$61,320 a year" in text and "$35,000-$50,000" in text


def test_budget_json_carries_the_new_lines_additively() -> None:
    from generator.render.budget_json import budget_dict
    from tests.conftest import CASES

    plan = CASES["ortho-risk"]()
    sp, data = plan.base, budget_dict(plan)["scenarios"][0]
    annual = data["annual"]
    assert annual["total"]["expected"] == sp.run.annual.expected  # unchanged: the guide's three lines
    assert annual["allowance"]["expected"] == sp.run.allowance.expected
    assert annual["all_in"] == {"low": sp.run.total.low, "expected": sp.run.total.expected, "high": sp.run.total.high}
    assert [(f["key"], f["expected"], f["starts"], f["both_paths"]) for f in annual["fees"]] == [
        (f.key, f.cost.expected, f.start, f.both_paths) for f in sp.run.fees]
    assert data["going_live"] == {"dip": {"low": sp.run.golive.low, "expected": sp.run.golive.expected,
                                          "high": sp.run.golive.high}, "go_lives": 2,
                                  "legacy_per_year": sp.run.legacy, "legacy_quarters": sp.run.legacy_quarters}
    assert data["servers_replaced"] == {"every_years": 5, "times": 0}
    assert [q["launch"] for q in data["cash_flow"]] == [q.launch for q in sp.ownership.cash_flow]
    assert all(p["going_live"] == sp.run.golive.expected for p in data["off_the_shelf"])


def test_the_client_appendix_lists_the_costs_beyond_the_build_in_one_row() -> None:
    """The client edition's assumptions appendix keeps to its pages: the fees, the go-live dip and
    the old EHR in one row, each with its range, a range's unit named once."""
    from generator.render.assumptions import assumption_groups, span

    assert span("$300 per provider per year", "$900 per provider per year") == "$300–$900 per provider per year"
    assert span("15%", "20%") == "15–20%" and span("$8,000", "$15,000") == "$8,000–$15,000"
    links = (integration(Category.EPRESCRIBING), integration(Category.BILLING))
    plan = analysed(scenario(physicians=4, records=Records.LEGACY, integrations=links))
    rows = [r for g in assumption_groups(plan) for r in g.rows if r.words == "Beyond the build"]
    assert [r.keys for r in rows] == ["fees.*, golive.*, legacy.*"]
    assert rows[0].value.startswith("e-prescribing network $300–$900, drug database $300–$1,200, ")
    assert "a provider a year" in rows[0].value and "productivity dip at each go-live $2,500–$10,000 per physician" \
        in rows[0].value and "old EHR until go-live $300/month" in rows[0].value


def test_the_client_edition_lists_the_base_scenarios_warnings_once() -> None:
    """Its compliance section names them; the closing Warnings section does not repeat them."""
    from generator.render.document import render_markdown
    from tests.conftest import settings

    plan = analysed(scenario(physicians=3, workflow_specificity=Level.HIGH))
    (warning,) = [w for w in plan.base.warnings if w.code == "NO_BREAK_EVEN"]
    client, report = render_markdown(plan, settings(), "client"), render_markdown(plan, settings())
    assert client.count(warning.message) == 1 and "## Warnings" not in client
    assert report.count(warning.message) == 2  # the report keeps its closing list
