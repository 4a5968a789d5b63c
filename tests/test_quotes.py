"""Vendor quotes against the estimate (issue 15): each rule with its exact words, on budget.json
and budget.md made by the installed command from a workbook built here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.builders import clinic_rows, clinic_workbook
from tests.helpers import run_cli

pytestmark = pytest.mark.slow  # every test here reads what the installed command wrote

HEADER = ["Vendor", "Build price", "Annual maintenance", "Hours", "Hourly rate", "Notes",
          "HIPAA builds in production", "FHIR approach", "Maintenance SLA", "Code ownership", "Migration plan"]
QUOTES = [
    HEADER,
    ["Low & Co", 40000, None, None, None, None, "No", "Built from scratch", None, "No", None],
    ["Mid <b>Health</b>", 70000, 12000, 1500, 45, "*Fixed* | price", "Yes", "Certified components", "Yes", "Yes",
     "Yes"],
    ["High Systems", 150000, None, 1000, None, None, "Y", "Certified components", "Yes", "Yes", "Yes"],
]
# The base clinic (tests.builders.BASE_CLINIC): the simulated build of its scope.
P10, P90 = "$62,205", "$104,966"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("quotes")
    path = clinic_workbook(folder / "ridgeview.xlsx", Quotes=QUOTES)
    result = run_cli("run", path, "--out", folder / "out", "--formats", "md,html,json")
    assert result.returncode == 0, result.stderr
    return folder / "out" / "ridgeview"


@pytest.fixture(scope="module")
def quotes(made: Path) -> list[dict[str, Any]]:
    return json.loads((made / "budget.json").read_text(encoding="utf-8"))["quotes"]


def test_each_quote_has_the_spec_keys(quotes: list[dict[str, Any]]) -> None:
    assert [(q["vendor"], q["price"], q["percentile"], q["position"]) for q in quotes] == [
        ("Low & Co", 40000, 0.0001, "below"),
        ("Mid <b>Health</b>", 70000, 0.2667, "within"),
        ("High Systems", 150000, 0.9993, "above"),
    ]


def test_a_quote_below_the_range_asks_about_scope_and_healthcare_experience(quotes: list[dict[str, Any]]) -> None:
    assert quotes[0]["advice"] == [
        f"$40,000 is below the simulated range for this scope ({P10} (P10) to {P90} (P90)): under 1% of "
        "simulated builds cost this little.",
        "Ask what is out of scope: compare the quote line by line with this budget's components (integrations, "
        "data migration, staff training, the HIPAA compliance layer and FHIR R4 API are the lines most often left "
        "out or priced as extras).",
        "Ask whether the team has documented healthcare software experience: the guide's 40-60% offshore savings "
        "hold only for a healthcare-experienced team, and clinics that under-fund compliance face overruns of 25% "
        "or more after launch.",
    ]
    assert quotes[0]["checks"] == []  # neither hours nor rate given


def test_a_quote_within_the_range(quotes: list[dict[str, Any]]) -> None:
    assert quotes[1]["advice"] == [
        f"$70,000 is within the simulated range for this scope, {P10} (P10) to {P90} (P90): 27% of simulated "
        "builds cost no more.",
    ]


def test_a_quote_above_the_range_says_what_might_explain_it(quotes: list[dict[str, Any]]) -> None:
    assert quotes[2]["advice"] == [
        f"$150,000 is above the simulated range for this scope ({P10} (P10) to {P90} (P90)): over 99% of "
        "simulated builds cost no more.",
        "What might explain it: a US-based team (the guide's rate is $175/h against $40/h offshore), scope beyond "
        "this workbook (more integrations, specialty features, AI documentation), first-year maintenance or "
        "hosting folded into the price, or a fixed-price risk premium.",
        "Ask for the price broken down by module, and compare it with this budget's components.",
    ]


def test_hours_and_rate_are_checked_against_the_price_and_the_guides_rates(quotes: list[dict[str, Any]]) -> None:
    assert [(c["code"], c["message"], c["flag"]) for c in quotes[1]["checks"]] == [
        ("hours_rate_match", "1,500 hours at $45/h is $67,500, within 10% of the price.", False),
        ("rate_between", "The quoted rate, $45/h, is within the guide's rates ($40/h offshore to $175/h US).",
         False),
        ("hours", "The quote is based on 1,500 development hours, against 928 that this budget derives for the "
         "scope (the guide: a mid-tier build requires 1,200).", False),
    ]
    assert [(c["code"], c["message"]) for c in quotes[2]["checks"]] == [
        ("rate_between", "The price over the quoted hours, $150/h, is within the guide's rates ($40/h "
         "offshore to $175/h US)."),
        ("hours", "The quote is based on 1,000 development hours, against 928 that this budget derives for the "
         "scope (the guide: a mid-tier build requires 1,200)."),
    ]


def test_unanswered_questions_are_named_by_column_with_the_guides_reason(quotes: list[dict[str, Any]]) -> None:
    low = quotes[0]["unanswered"]
    assert [(u["column"], u["answer"]) for u in low] == [
        ("HIPAA builds in production", "No"), ("FHIR approach", "Built from scratch"), ("Maintenance SLA", None),
        ("Code ownership", "No"), ("Migration plan", None),
    ]
    assert low[3]["reason"] == (
        "The guide's strong answer is full code ownership transferred to the clinic at final payment; without it "
        "the clinic cannot take maintenance, 15-20% of the build a year, to another vendor.")
    assert low[1]["strong_answer"] == "Pre-built certified components, not built from scratch each time"


def test_strong_answers_leave_nothing_unanswered(quotes: list[dict[str, Any]]) -> None:
    assert quotes[1]["unanswered"] == [] and quotes[2]["unanswered"] == []  # "Y" is Yes
    assert [a["strong"] for a in quotes[1]["answers"]] == [True] * 5


def test_cost_of_ownership_with_each_quote_by_the_recommendations_rule(quotes: list[dict[str, Any]]) -> None:
    low, mid, high = (q["tco"] for q in quotes)
    assert quotes[0]["maintenance"] == {"annual": 7000, "source": "guide"}  # 17.5% of $40,000
    assert quotes[1]["maintenance"] == {"annual": 12000, "source": "quote"}
    assert (low["custom"][-1], low["product"], low["product_cumulative"][-1], low["break_even_year"],
            low["path"]) == (196505, "DrChrono", 108916, None, "off-the-shelf")
    assert mid["sentence"] == ("With Mid <b>Health</b>'s quote, custom does not pay back within 5 years against "
                               "DrChrono ($258,745 against $108,916 over 5 years).")
    assert high["sentence"].startswith("With High Systems' quote, custom does not pay back")


def test_a_quote_narrows_the_estimate_class(made: Path, quotes: list[dict[str, Any]]) -> None:
    assert [(q["estimate_class"], q["accuracy"]) for q in quotes] == [
        (4, {"low": -0.3, "high": 0.5, "range": {"low": 28000, "high": 60000}}),
        (3, {"low": -0.2, "high": 0.3, "range": {"low": 56000, "high": 91000}}),
        (4, {"low": -0.3, "high": 0.5, "range": {"low": 105000, "high": 225000}}),
    ]
    summary = json.loads((made / "budget.json").read_text(encoding="utf-8"))["quote_analysis"]
    assert (summary["intake_class"], summary["estimate_class"]) == (5, 3)
    assert summary["note"].startswith(
        "From the intake alone this budget is an AACE class 5 estimate (concept screening), whose actual cost "
        "typically falls -20% to -50% and +30% to +100% around it. A vendor's price for the scope this workbook "
        "defines replaces our parametric estimate with a priced scope: AACE 18R-97 rates it class 4")


def test_the_markdown_section_escapes_vendor_text(made: Path) -> None:
    md = (made / "budget.md").read_text(encoding="utf-8")
    section = md[md.index("## Vendor quotes"):md.index("## Five questions")]
    assert "| Mid &lt;b&gt;Health&lt;/b&gt; | $70,000 | 27% | within | $12,000 | 5 of 5 strong |" in section
    assert "| Low & Co | $40,000 | under 1% | below | $7,000 (guide) | 0 of 5 strong |" in section
    assert r"The quote's notes: \*Fixed\* \| price" in section
    html = (made / "budget.html").read_text(encoding="utf-8")
    assert "<b>Health" not in html and "Mid &lt;b&gt;Health&lt;/b&gt;" in html
    assert html.count('aria-label="Vendor quotes on the S-curve of the simulated build cost"') == 1


def test_no_quotes_no_section(tmp_path: Path) -> None:
    path = clinic_workbook(tmp_path / "plain.xlsx")
    assert run_cli("run", path, "--out", tmp_path / "out", "--formats", "md,json").returncode == 0
    assert "Vendor quotes" not in (tmp_path / "out" / "plain" / "budget.md").read_text(encoding="utf-8")
    budget = json.loads((tmp_path / "out" / "plain" / "budget.json").read_text(encoding="utf-8"))
    assert (budget["quotes"], budget["quote_analysis"]) == ([], None)


# ------------------------------------------------------------------ budget.xlsx


def _xlsx_json(folder: Path) -> tuple[bytes, dict[str, Any]]:
    path = clinic_workbook(folder / "ridgeview.xlsx", Quotes=QUOTES + [
        ["=cmd|' /C calc'!A0", 61000, None, None, None, "=HYPERLINK(\"http://evil\")", None, None, None, None, None],
    ])
    from openpyxl import load_workbook

    wb = load_workbook(path)  # openpyxl wrote the '=' strings as formulas: make them the text a user typed
    for ref in ("A5", "F5"):
        wb["Quotes"][ref].data_type = "s"
    wb.save(path)
    result = run_cli("run", path, "--out", folder / "out", "--formats", "xlsx,json")
    assert result.returncode == 0, result.stderr
    out = folder / "out" / "ridgeview"
    return (out / "budget.xlsx").read_bytes(), json.loads((out / "budget.json").read_text(encoding="utf-8"))


def _quote_rows(data: bytes) -> list[dict[str, Any]]:
    import io

    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(data), data_only=True)["Quotes"]
    header = [c.value for c in ws[10]]
    return [dict(zip(header, [c.value for c in row], strict=True)) for row in ws.iter_rows(min_row=11)
            if row[0].value]


def _expected(budget: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"Vendor": q["vendor"], "Build price": q["price"], "Maintenance used": q["maintenance"]["annual"],
             "Position": q["position"], "Strong answers": len(q["answers"]) - len(q["unanswered"]),
             "Cost over the horizon": q["tco"]["custom"][-1],
             "Cheapest product over the horizon": q["tco"]["product_cumulative"][-1],
             "Break-even year": q["tco"]["break_even_year"] or "none", "AACE class": q["estimate_class"],
             "Band low": q["accuracy"]["range"]["low"], "Band high": q["accuracy"]["range"]["high"]}
            for q in budget["quotes"]]


def _pick(rows: list[dict[str, Any]], keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: row[k] for k in want} for row, want in zip(rows, keys, strict=True)]


def test_xlsx_quotes_sheet_equals_budget_json_and_keeps_user_text_as_text(tmp_path: Path) -> None:
    import io

    from openpyxl import load_workbook

    data, budget = _xlsx_json(tmp_path)
    rows = _quote_rows(data)
    assert _pick(rows, _expected(budget)) == _expected(budget)
    wb = load_workbook(io.BytesIO(data))
    assert wb["Quotes"]["A14"].data_type == "s" and wb["Quotes"]["A14"].value == "=cmd|' /C calc'!A0"
    assert wb["Quotes"]["Y14"].value == '=HYPERLINK("http://evil")' and wb["Quotes"]["Y14"].data_type == "s"
    formulas = [c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.data_type == "f"]
    assert not [f for f in formulas if "cmd" in f or "HYPERLINK" in f]
    assert wb["Quotes"]["J11"].value == '=IF(I11="",ROUND(B11*\'Cash flow\'!$C$4,0),I11)'
    assert wb["Quotes"]["F11"].value == "='Quote cash flow'!C36"
    assert wb["Quotes"]["D11"].value == '=IF(B11<Quotes!$B$4,"below",IF(B11>Quotes!$B$5,"above","within"))'


def test_xlsx_quotes_recalculated_in_libreoffice_match_budget_json(tmp_path: Path) -> None:
    from tests.test_xlsx import ERRORS, recalculated, values

    data, budget = _xlsx_json(tmp_path)
    again = recalculated(data, tmp_path / "lo")
    assert _pick(_quote_rows(again), _expected(budget)) == _expected(budget)
    ours, theirs = values(data), values(again)
    for sheet in ("Quotes", "Quote cash flow"):
        assert [(a, v) for a, v in theirs[sheet].items() if isinstance(v, str) and v.startswith(ERRORS)] == []
        diffs = [(a, v, theirs[sheet].get(a)) for a, v in ours[sheet].items() if theirs[sheet].get(a) != v
                 and not (isinstance(v, float) and abs(v - (theirs[sheet].get(a) or 0)) < 1e-9)]
        assert diffs == [], sheet


@pytest.mark.slow
def test_xlsx_quotes_of_a_clinic_beyond_the_guides_sizes_recalculate_with_the_user_support(tmp_path: Path) -> None:
    """Each quote's cash flow carries the user support beyond the guide's clinic size on the quote's own
    maintenance, in the planner and in the live formulas alike (LibreOffice recalculates them)."""
    import io

    from openpyxl import load_workbook

    from generator.intake.reader import read_intake
    from generator.plan import quotes, risk
    from generator.plan.pricing import plan_intake
    from generator.render import xlsx
    from tests.conftest import settings
    from tests.test_xlsx import ERRORS, recalculated, values

    path = clinic_workbook(tmp_path / "big.xlsx", clinic_rows(physicians=25), Quotes=QUOTES)
    plan = quotes.apply(risk.apply(plan_intake(read_intake(path))))
    assert plan.quotes is not None and plan.base.run.support_expected > 0
    data = xlsx.render(plan, settings())
    ours, theirs = values(data), values(recalculated(data, tmp_path / "lo"))
    for sheet in ("Run costs", "Cash flow", "Quotes", "Quote cash flow"):
        assert [(a, v) for a, v in theirs[sheet].items() if isinstance(v, str) and v.startswith(ERRORS)] == []
        diffs = [(a, v, theirs[sheet].get(a)) for a, v in ours[sheet].items() if theirs[sheet].get(a) != v
                 and not (isinstance(v, float) and abs(v - (theirs[sheet].get(a) or 0)) < 1e-9)]
        assert diffs == [], sheet
    formulas = load_workbook(io.BytesIO(data))["Quote cash flow"]
    assert any("'Run costs'!$B$13" in str(c.value) for row in formulas.iter_rows() for c in row)  # support_k


# ------------------------------------------------------------------ the portfolio page


@pytest.mark.slow
def test_portfolio_shows_the_number_of_quotes_and_the_lowest_quotes_position(tmp_path: Path) -> None:
    import csv

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    clinic_workbook(inputs / "ridgeview.xlsx", Quotes=QUOTES)
    clinic_workbook(inputs / "plain.xlsx")
    result = run_cli("batch", inputs, "--out", tmp_path / "out", "--formats", "json")
    assert result.returncode == 0, result.stderr
    rows = {r["workbook"]: r for r in csv.DictReader((tmp_path / "out" / "index.csv").read_text().splitlines())}
    assert [(rows[w]["quotes"], rows[w]["lowest_quote"], rows[w]["lowest_quote_position"])
            for w in ("ridgeview.xlsx", "plain.xlsx")] == [("3", "40000", "below"), ("0", "", "")]
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert '<span class="quotes">3 vendor quotes; lowest $40,000, below P10–P90</span></td>' in page


# ------------------------------------------------------------------ the checks, on a planned scenario


def test_flagged_hours_and_rates() -> None:
    from generator.model import Quote
    from generator.plan.pricing import plan_scenario
    from generator.plan.quotes import checks
    from tests.builders import scenario

    sp = plan_scenario(scenario())
    cheap = checks(Quote("Cheap", 50000, hours=2000, hourly_rate=18), sp)
    assert [(c.code, c.message, c.flag) for c in cheap[:2]] == [
        ("hours_rate_mismatch", "2,000 hours at $18/h is $36,000, 28% less than the price: ask what the difference "
         "covers (project management, licences, a discount).", True),
        ("rate_below_guide", "The quoted rate, $18/h, is below the guide's $40/h for an India-based healthcare "
         "team: ask for the team's healthcare references before relying on it.", True),
    ]
    dear = checks(Quote("Dear", 90000, hourly_rate=250), sp)
    assert [(c.code, c.message, c.flag) for c in dear] == [
        ("rate_above_guide", "The quoted rate, $250/h, is above the guide's $175/h for a US team: ask what the "
         "premium buys.", True),
        ("hours", "The price over the quoted rate buys 360 development hours, against 928 that this budget derives "
         "for the scope (the guide: a mid-tier build requires 1,200).", False),
    ]


def test_the_chart_names_a_few_quotes_and_numbers_many(tmp_path: Path) -> None:
    from generator.intake.reader import read_intake
    from generator.plan import quotes, risk
    from generator.plan.pricing import plan_intake
    from generator.render.charts import quotes_chart

    def chart(rows: list[list[object]]) -> str:
        plan = quotes.apply(risk.apply(plan_intake(read_intake(clinic_workbook(tmp_path / "q.xlsx", Quotes=rows)))))
        assert plan.quotes is not None
        return quotes_chart(plan.quotes, plan.base, "#1f5f8b", "q")

    few = chart(QUOTES)
    assert ">Mid &lt;b&gt;Health&lt;/b&gt; $70,000 (27%)</text>" in few and "rows in the table" not in few
    many = chart([HEADER] + [[f"Vendor {n}", 50000 + 10000 * n] for n in range(1, 7)])
    assert ">6. Vendor 6 $110,000 (9" in many and "rows in the table above" in many


def test_docx_has_the_section_with_its_chart(tmp_path: Path) -> None:
    from generator.render import docx as docx_writer

    if not docx_writer.available():
        pytest.skip("python-docx and CairoSVG are not installed (the docx extra)")
    import docx

    path = clinic_workbook(tmp_path / "ridgeview.xlsx", Quotes=QUOTES)
    result = run_cli("run", path, "--out", tmp_path / "out", "--formats", "docx")
    assert result.returncode == 0, result.stderr
    doc = docx.Document(str(tmp_path / "out" / "ridgeview" / "budget.docx"))
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    at = headings.index("Vendor quotes")
    # the client edition: one table for the quotes, no heading per quote (budget.md has those)
    assert headings[at + 1: at + 5] == ["What each quote says", "The guide's five questions, answered",
                                        "Cost of ownership with each quote", "How the quotes narrow the estimate"]
    table = next(t for t in doc.tables if t.cell(0, 0).text == "Vendor" and t.cell(0, 1).text == "Build price")
    assert [c.text for c in table.rows[2].cells][:6] == ["Mid <b>Health</b>", "$70,000", "27%", "within", "$12,000",
                                                        "5 of 5 strong"]
    captions = [p.text for p in doc.paragraphs if p.text.startswith("Each quote marked on the S-curve")]
    assert len(captions) == 1


def test_quote_labels_never_cross_the_s_curve(tmp_path: Path) -> None:
    """Seen on the pediatrics-quotes PDF: the label of the quote above the range (at 94%) was drawn
    at 25%, far left of its mark and across the curve; the one below the range ran across the
    rising curve. Each label's extent at its baseline now lies wholly on one side of the curve."""
    import re

    from generator.intake.blank import write_example
    from generator.intake.reader import read_intake
    from generator.plan import quotes, risk
    from generator.plan.pricing import plan_intake
    from generator.render.charts import quotes_chart

    path = tmp_path / "quotes.xlsx"
    write_example(path, "pediatrics-quotes")
    plan = quotes.apply(risk.apply(plan_intake(read_intake(path))))
    assert plan.quotes is not None
    svg = quotes_chart(plan.quotes, plan.base, "#1f5f8b", "q")
    line = re.search(r'<polyline points="([^"]+)"', svg)
    assert line is not None
    points = [tuple(map(float, p.split(","))) for p in line.group(1).split()]

    def curve_x(y: float) -> float:  # the curve rises to the right: y falls as x grows
        for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
            if y1 <= y <= y0 and y0 != y1:
                return x0 + (x1 - x0) * (y0 - y) / (y0 - y1)
        return points[0][0] if y >= points[0][1] else points[-1][0]

    labels = re.findall(r'<text x="([\d.]+)" y="([\d.]+)" font-size="10" text-anchor="(start|end)" '
                        r'font-weight="bold"[^>]*>([^<]*\([^)]*\))</text>', svg)
    assert len(labels) == 3
    for x, y, anchor, text in labels:
        width = 6.5 * len(text.replace("&#x27;", "'").replace("&amp;", "&"))
        lo, hi = (float(x), float(x) + width) if anchor == "start" else (float(x) - width, float(x))
        for level in (float(y), float(y) - 8):
            assert not lo < curve_x(level) < hi, text
