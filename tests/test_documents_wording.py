"""The documents' wording: the figures a new reader asked about, each explained from the plan."""

from __future__ import annotations

import re

from generator.model import Plan
from generator.render import document as render
from generator.settings import Branding
from tests.builders import analysed, family, family_clinic, ortho, plan
from tests.conftest import CASES, settings
from tests.test_documents import documents, html_text


def ortho_with_risk() -> tuple[str, Plan]:
    plan = CASES["ortho-risk"]()
    md, _ = documents(plan)
    return md, plan


def section(md: str, heading: str) -> str:
    start = md.index(heading)
    end = md.find("\n## ", start + 1)
    return md[start:end if end > 0 else len(md)]


def test_uncertainty_reconciles_the_aace_band_with_the_p80() -> None:
    md, plan = ortho_with_risk()
    sp = plan.scenarios[0]  # type: ignore[attr-defined]
    r = sp.risk
    text = section(md, "## Uncertainty")
    assert (f"The build's low and high figures (${sp.build.low:,} and ${sp.build.high:,}) put every component "
            "at its extreme at once, which the simulation shows is unlikely: four in five simulated outcomes "
            f"fall between ${r.p10:,} (P10) and ${r.p90:,} (P90).") in text
    assert f"the AACE band (−{-r.accuracy_low:.0%} to +{r.accuracy_high:.0%}) is the wider planning envelope" in text
    assert f"Budget the P80 figure, ${r.recommended_budget:,}, for the scope as defined" in text
    assert "until vendor quotes narrow it" in text
    summary = section(md, "## Executive summary")
    assert "which the simulation shows is unlikely" in summary and "AACE band" in summary


def test_run_costs_show_every_expected_figure() -> None:
    plan = CASES["family"]()
    md, _ = documents(plan)
    run = plan.scenarios[0].run
    table = section(md, "## Run costs")
    assert re.search(rf"\| Maintenance \(15%–20% of the build\) \| \${run.maintenance[0]:,} \| "
                     rf"\${run.maintenance_expected:,} \| \${run.maintenance[1]:,} \|", table)
    assert (f"| Training updates | ${run.training_updates[0]:,} | ${run.training_updates_expected:,} | "
            f"${run.training_updates[1]:,} |") in table
    assert "| |" not in table.replace("| | |", "")  # no blank Expected cell


def test_first_two_years_of_operation_is_explained() -> None:
    md, _ = documents(CASES["family"]())
    phases = section(md, "## Phased build plan")
    assert re.search(r"\*First two years of operation\* is the run costs \(maintenance, hosting, training "
                     r"updates, the underestimation allowance and third-party fees\) of the eight quarters after "
                     r"phase 1 goes live, Y1 Q4 to Y3 Q3 in the quarterly cash flow below, with phase 2's go-live "
                     r"when it falls in them\. \*Launch\* carries phase 1's go-live\.", phases)


def test_tornado_separates_build_swing_from_cost_of_ownership_swing() -> None:
    md, plan = ortho_with_risk()
    items = plan.scenarios[0].risk.sensitivity  # type: ignore[attr-defined]
    build_only = [s for s in items if s.swing]
    tco_only = [s for s in items if not s.swing]
    assert build_only and tco_only  # maintenance and the servers move only the cost of ownership
    text = section(md, "## Uncertainty")
    first, second = text.split("**What moves only the cost of ownership**")
    assert "| Build swing | 5-year cost swing |" in first
    for s in build_only:
        assert f"| ${s.swing:,} | ${s.tco_swing:,} |" in first
    for s in tco_only:
        assert s.name not in first  # a $0 build swing is not listed under the build cost
        assert f"| ${s.tco_low:,} | ${s.tco_high:,} | ${s.tco_swing:,} |" in second


def test_a_lone_ampersand_stays_readable() -> None:
    clinic = family_clinic("A & B Clinic", prepared_for="Dr. Lee &amp; partners")
    md, html = documents(plan(family(clinic=clinic)))
    assert "# A & B Clinic: custom EHR budget" in md and "&amp; B Clinic" not in md
    assert "A &amp; B Clinic" in html and "A & B Clinic" in html_text(html)
    assert "Dr. Lee &amp;amp; partners" in md  # text that looks like an entity stays literal
    assert "Dr. Lee &amp;amp; partners" in html and "Dr. Lee &amp; partners" in html_text(html)
    assert render.md_escape("&#123; &#x1F; &copy; &1a; & &x") == r"&amp;\#123; &amp;\#x1F; &amp;copy; &amp;1a; & &x"


def byline(plan: object, firm: str = "") -> str:
    md = render.render_markdown(plan, settings(branding=Branding(firm)))  # type: ignore[arg-type]
    return md.split("\n")[2].split(" Figures in US dollars")[0]


def test_byline_reads_as_sentences() -> None:
    def plan_for(**kw: object) -> object:
        return plan(family(clinic=family_clinic(**kw)))

    both = plan_for(prepared_for="Dr. Anita Shah, managing physician", prepared_by="Northbridge Health IT Consulting")
    assert byline(both) == ("Prepared for Dr. Anita Shah, managing physician. "
                            "Prepared by Northbridge Health IT Consulting, March 2, 2026.")
    assert byline(plan_for(prepared_for=None, prepared_by=None)) == (
        "Prepared for Ridgeview Family Medicine, March 2, 2026.")
    assert byline(plan_for(prepared_for="Dr. Ana Ruiz, M.D.", prepared_by="Jo Park")) == (
        "Prepared for Dr. Ana Ruiz, M.D. Prepared by Jo Park, March 2, 2026.")


def test_firm_appears_in_the_markdown_byline() -> None:
    nobody = plan(family(clinic=family_clinic(prepared_by=None)))
    assert byline(nobody, "Acme Advisors") == "Prepared for Dr. Ana Ruiz. Prepared by Acme Advisors, March 2, 2026."
    person = plan(family(clinic=family_clinic(prepared_by="Jo Park")))
    assert byline(person, "Acme Advisors") == (
        "Prepared for Dr. Ana Ruiz. Prepared by Jo Park (Acme Advisors), March 2, 2026.")
    firm = plan(family(clinic=family_clinic(prepared_by="Acme Advisors LLC")))
    assert byline(firm, "Acme Advisors") == "Prepared for Dr. Ana Ruiz. Prepared by Acme Advisors LLC, March 2, 2026."


def test_ranges_from_the_templates_use_an_en_dash() -> None:
    """Ranges the templates print use an en dash; sentences written by other stages (the risk
    stage's accuracy sentence, the guide's contradictions, the warnings) are quoted as given."""
    plan = analysed(ortho(), family("Family"), source="summit.xlsx")
    md, _ = documents(plan)
    quoted = [sp.risk.accuracy_text for sp in plan.scenarios] + list(plan.contradictions)
    quoted += [w.message for sp in plan.scenarios for w in sp.warnings]
    for text in quoted:
        md = md.replace(str(render.md_escape(text)), "")
    hyphenated = re.findall(r"[\d%][-‐‑][$\d]", md)
    assert hyphenated == [], hyphenated



def test_s_curve_has_cost_ticks_on_its_x_axis() -> None:
    from generator.render import charts

    plan = analysed(ortho(), source="summit.xlsx")
    r = plan.scenarios[0].risk
    svg = charts.chart("scurve", plan.scenarios[0], "#1f5f8b")
    ticks = [int(k) * 1000 for k in re.findall(r'text-anchor="middle"[^>]*>(\d+)k</text>', svg)]
    assert len(ticks) >= 3 and ticks == sorted(ticks)
    assert ticks[0] <= r.p10 and ticks[-1] >= r.p90
    assert "Build cost, US$ thousands" in svg


def test_without_fees_or_support_the_underestimation_and_going_live_stay_two_paragraphs() -> None:
    """The underestimation paragraph ran into "Going live" (one newline) when neither third-party
    fees nor user support came between them."""
    from tests.builders import modules, scenario

    p = plan(scenario(mods=modules(off=["Clinical documentation", "FHIR R4 API"])))
    assert not p.base.run.fees and not p.base.run.support_expected
    md = render.render_markdown(p, settings())
    assert "not the project budget.\n\n**Going live.**" in md
    with_fees = render.render_markdown(CASES["family"](), settings())  # it ran into the fees' paragraph too
    assert "not the project budget.\n\n**Third-party fees**" in with_fees
