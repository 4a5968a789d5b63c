"""The client edition (budget.html and budget.pdf): the scenarios side by side, the base scenario in
full, the others in a short appendix, a table of contents, and the assumptions this budget used
in words; budget.md keeps every scenario in full."""

from __future__ import annotations

import re

import pytest

from generator.errors import RateCardError
from generator.model import Hosting, Team
from generator.ratecard import default_card, parse_card
from generator.render import document as render
from generator.render.assumptions import GUIDE, OURS, WORKBOOK, assumption_groups
from tests.builders import analysed, family, family_clinic, scenario
from tests.conftest import CASES, settings
from tests.test_documents import html_text


def client(plan) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    s = settings()
    return render.render_markdown(plan, s, "client"), render.client_html(plan, s)


def test_scenarios_side_by_side_then_the_base_in_full_then_the_others_briefly() -> None:
    plan = analysed(family(), family("US team", family_clinic(team=Team.US)))
    md, html = client(plan)
    text = html_text(html)
    table = md.split("## Scenarios side by side")[1].split("\n\n")[1]
    rows = {line.split("|")[1].strip(): line for line in table.splitlines()}
    for row in ("**What to budget**", "**Our advice**", "Custom build budget (P80)", "Build, expected",
                "Capital in year one (phase 1)",
                "Build in year two (phase 2)", "Running cost per year, expected", "5-year cost, custom",
                "5-year cost, cheapest product", "Probability custom is cheaper"):
        assert row in rows, row
        assert rows[row].count("|") == 4, row  # one column per scenario
    assert list(rows)[2:4] == ["**What to budget**", "**Our advice**"]  # the answers first (after head, rule)
    us = plan.scenarios[1]
    assert us.ownership.recommendation.headline in rows["**Our advice**"]
    for s, cell in zip(plan.scenarios, rows["**What to budget**"].split("|")[2:4], strict=True):
        said = md.split("**What to budget:**")[1].split("\n")[0] if s is plan.base else None
        if s.ownership.recommendation.path == "custom":
            assert cell.strip() == f"**${s.risk.recommended_budget:,}** for the build"
        else:
            product = s.ownership.product(s.ownership.cheapest_product)
            assert cell.strip() == f"**${product.yearly[0]:,}** in year one ({product.product})"
        if said is not None:  # the base scenario's executive summary names the same figure
            assert cell.strip().split("**")[1] in said
    assert text.count("Executive summary") == 2  # the contents and the base scenario's section
    assert "Scenario: US team" not in md
    appendix = md.split("## Other scenarios")[1].split("## Assumptions")[0]
    assert "### US team" in appendix and f"${us.components[0].cost.expected:,}" in appendix
    assert md.index("## Scenarios side by side") < md.index("## Executive summary") < md.index("## Other scenarios")
    report = render.render_markdown(plan, settings())
    assert "## Scenario: US team" in report and "### Component breakdown" in report  # the report keeps it all


def test_one_scenario_has_no_comparison_and_no_appendix() -> None:
    md, _ = client(CASES["family"]())
    assert "Scenarios side by side" not in md and "Other scenarios" not in md


def test_a_table_of_contents_links_every_section_and_prints_page_numbers_with_weasyprint() -> None:
    _, html = client(CASES["ortho-risk"]())
    toc = html.split('<div class="toc">')[1].split("</div>")[0]
    links = re.findall(r'href="#([^"]+)"', toc)
    assert links[:3] == ["executive-summary", "phased-build-plan", "component-breakdown"]
    for anchor in links:
        assert f'id="{anchor}"' in html
    assert "target-counter(attr(href url), page)" in html


def test_assumptions_appendix_shows_the_figures_used_in_words_before_keys() -> None:
    plan = CASES["family"]()  # cloud, an offshore team, a lab and a billing interface, no certified components
    md, _ = client(plan)
    appendix = md.split("## Assumptions and sources")[1].split("**Where the guide")[0]
    assert r"- Offshore team hourly rate — **$40/h** <span class=\"key\">(rate.offshore)</span>".replace("\\", "") \
        in appendix.replace("\\_", "_")
    assert "Patient records module — **$8,000–$15,000**" in appendix
    assert "(module.patient\\_records.low, .high)" in appendix  # a low/high pair is one line
    for absent in ("ai\\_documentation", "hosting.onprem", "certified.savings", "example.orthopedic",
                   "intake.plausible", "integration.other", "risk.draws"):
        assert absent not in appendix, absent
    titles = [g.title for g in assumption_groups(plan)]
    assert titles == sorted(titles, key=[GUIDE, OURS, WORKBOOK].index)
    assert f"**{OURS}**" in appendix and "**From the guide: 2026 small-clinic EHR cost guide, component cost table**" \
        in appendix
    assert "(this workbook overrides none)" in appendix


def test_what_the_budget_did_not_use_is_left_out_and_an_override_is_its_own_group() -> None:
    plan = analysed(scenario(hosting=Hosting.ONPREM, certified_components=True, overrides={"rate.offshore": 35}))
    keys = {row.keys.split(";")[0].split(",")[0]: group for group in assumption_groups(plan) for row in group.rows}
    assert "hosting.onprem.upfront.low" in keys and "hosting.cloud.monthly.low" not in keys
    assert "certified.savings.low" in keys and "risk.draws" in keys and "risk.aace.class5.under_pct.low" in keys
    assert "risk.aace.class3.under_pct.low" not in keys
    assert "hosting.cloud_share" in keys  # the on-premise warning quotes it
    assert "scope.max_physicians" not in keys  # no beyond-scope warning
    assert "fees.certified.low" in keys and "fees.e_prescribing.low" not in keys and "legacy.monthly" not in keys
    override = keys["rate.offshore"]
    assert override.title == WORKBOOK
    assert override.rows[0].words == "Offshore team hourly rate" and override.rows[0].value == "$35/h"
    assert override.rows[0].keys == "rate.offshore; workbook override (test)"


def test_every_figure_a_budget_can_use_has_words() -> None:
    from generator.render.assumptions import Facts, unused

    everything = Facts(frozenset(e.key.split(".")[1] for e in default_card() if e.key.startswith("module.")),
                       frozenset({"integration.lab_imaging", "integration.billing", "integration.e_prescribing",
                                  "integration.other"}), frozenset(Hosting), True,
                       frozenset({"low", "medium", "high"}), True, frozenset({3, 4, 5}), True, True,
                       frozenset({"low", "typical", "high"}), frozenset({"ON_PREMISE", "BEYOND_SCOPE"}),
                       fees=frozenset(e.key.split(".")[1] for e in default_card() if e.key.startswith("fees.")),
                       legacy=True)
    assert [e.key for e in default_card() if not unused(e.key, everything) and not e.label] == []


@pytest.mark.parametrize(("labels", "message"), [
    ('"rate.usa" = "US rate"', "ratecard.toml: [labels] names 'rate.usa', which is neither an entry nor a low/high "
                               "pair; did you mean 'rate.us'?"),
    ('"rate.us" = ""', "ratecard.toml: [labels] 'rate.us' must be words in quotes"),
    ('"rate.us" = 4', "ratecard.toml: [labels] 'rate.us' must be words in quotes"),
])
def test_a_label_for_no_figure_is_refused(labels: str, message: str) -> None:
    text = ('[sources]\na = "A"\n[limits.units]\n"usd/hour" = { min = 1, max = 1000 }\n[entries]\n'
            '"rate.us" = { value = 175, unit = "usd/hour", source = "a" }\n[labels]\n' + labels + "\n")
    with pytest.raises(RateCardError) as err:
        parse_card(text)
    assert str(err.value) == message


def test_a_pair_shares_its_label() -> None:
    card = default_card()
    assert card.entry("module.patient_records.high").label == "Patient records module"
    assert card.entry("offshelf.increase_pct").label != card.entry("offshelf.increase_pct.low").label


def test_the_scenario_warnings_are_their_own_paragraph_after_the_compliance_list() -> None:
    plan = CASES["ortho-risk"]()
    assert plan.base.warnings
    md, html = client(plan)
    assert "\n\nWarnings for this scenario:\n\n" in md
    assert "<p>Warnings for this scenario:</p>" in html


def test_an_override_every_scenario_shares_is_one_line_and_one_of_some_names_them() -> None:
    shared = {"offshelf.increase_pct": 0.06}
    plan = analysed(scenario(overrides=shared), scenario("Dear", overrides={**shared, "rate.offshore": 55}))
    (group,) = [g for g in assumption_groups(plan) if g.title == WORKBOOK]
    assert [(r.words, r.value) for r in group.rows] == [
        ("Yearly price increase, subscriptions and running costs", "6%"), ("Offshore team hourly rate (Dear)", "$55/h")]


def test_a_section_override_changes_both_editions_and_a_client_override_extends_one_block(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "sections").mkdir()
    (tmp_path / "sections" / "questions.md.j2").write_text("## Our own questions\n\nFor {{ edition }}.\n")
    (tmp_path / "client.md.j2").write_text(
        '{% extends "default:client.md.j2" %}{% block summary %}A note for the client.\n\n{{ super() }}{% endblock %}')
    s = settings(templates=tmp_path)
    plan = CASES["family"]()
    report, html = render.render_markdown(plan, s), render.client_html(plan, s)
    assert "For report." in report and "For client." in html_text(html)
    assert "A note for the client." in html_text(html) and "A note for the client." not in report
