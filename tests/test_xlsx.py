"""budget.xlsx: cached values equal budget.json, formulas are live and recalculate to the same
figures in LibreOffice, and user text never becomes a formula."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from generator.model import Category, Hosting, Plan, Records
from generator.render import xlsx
from generator.render.budget_json import budget_dict
from generator.settings import Branding
from tests.builders import family_clinic, integration, plan, scenario
from tests.conftest import CASES, HOSTILE, settings

ERRORS = ("#DIV/0!", "#VALUE!", "#NAME?", "#REF!", "#N/A", "#NUM!", "#NULL!", "Err:")
XCU = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">
<prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


def book(plan: Plan, **kw: Any) -> bytes:
    return xlsx.render(plan, settings(**kw))


def values(data: bytes) -> dict[str, dict[str, Any]]:
    wb = load_workbook(io.BytesIO(data), data_only=True)
    return {ws.title: {c.coordinate: c.value for row in ws.iter_rows() for c in row if c.value not in (None, "")}
            for ws in wb.worksheets}


def summary(data: bytes) -> dict[str, list[Any]]:
    ws = load_workbook(io.BytesIO(data), data_only=True)["Summary"]
    return {str(row[0].value): [c.value for c in row[1:]] for row in ws.iter_rows(min_row=6) if row[0].value}


def test_summary_equals_budget_json(case: tuple[str, Plan]) -> None:
    _, plan = case
    got = summary(book(plan))
    for i, sp in enumerate(budget_dict(plan)["scenarios"]):
        expected = {
            "Build cost, low": sp["build"]["low"], "Build cost, expected": sp["build"]["expected"],
            "Build cost, high": sp["build"]["high"], "Tier": sp["tier"], "Development hours": sp["labor"]["hours"],
            "Build labour cost": sp["labor"]["cost"], "Year-one capital (phased)": sp["capital"]["year_one"],
            "Year-one capital (all at once)": sp["capital"]["all_at_once"],
            "Run costs per year, expected": sp["annual"]["total"]["expected"],
            "Custom build, cost over the horizon": sp["tco"]["custom"][-1],
            "Cheapest off-the-shelf product": sp["tco"]["cheapest_product"],
            "Its cost over the horizon": sp["tco"]["off_the_shelf"][sp["tco"]["cheapest_product"]][-1],
            "Break-even year": sp["tco"]["break_even_year"] if sp["tco"]["break_even_year"] is not None else "none",
            "Recommended path": sp["recommendation"]["path"],
        }
        assert {k: got[k][i] for k in expected} == expected


def test_components_cash_flow_and_ownership_equal_budget_json() -> None:
    plan = CASES["ortho-risk"]()
    wb = load_workbook(io.BytesIO(book(plan)), data_only=True)
    sp = budget_dict(plan)["scenarios"][0]
    comp = wb["Components"]
    rows = [[c.value for c in row] for row in comp.iter_rows(min_row=15, max_row=14 + len(sp["components"]))]
    assert [(r[0], r[10], r[11], r[12]) for r in rows] == [
        (c["name"], c["low"], c["expected"], c["high"]) for c in sp["components"]]
    cash = wb["Cash flow"]
    got = [(r[0].value, r[2].value, r[3].value) for r in cash.iter_rows(min_row=8, max_row=7 + len(sp["cash_flow"]))]
    assert got == [(q["quarter"], q["build"], q["run"]) for q in sp["cash_flow"]]
    own = wb["Ownership"]
    yearly = {r[0].value: [c.value for c in r[8:8 + sp["tco"]["years"]]] for r in own.iter_rows(min_row=4, max_row=6)}
    assert yearly == {p["product"]: p["yearly"] for p in sp["off_the_shelf"]}
    run = wb["Run costs"]
    assert [run["B8"].value, run["C8"].value, run["D8"].value] == list(sp["annual"]["total"].values())
    assert run["A8"].value == "Maintenance, user support, hosting and training updates"


def test_calculation_sheets_are_formulas_referencing_inputs() -> None:
    wb = load_workbook(io.BytesIO(book(CASES["family"]())))
    assert wb.sheetnames[:6] == ["Summary", "Inputs", "Components", "Run costs", "Cash flow", "Ownership"]
    assert "Assumptions" in wb.sheetnames
    formulas = [c.value for ws in wb.worksheets[2:6] for row in ws.iter_rows() for c in row
                if isinstance(c.value, str) and c.value.startswith("=")]
    assert len(formulas) > 150 and sum("Inputs" in f for f in formulas) > 20
    assert any("ROUND(" in f for f in formulas)
    assert wb["Components"].freeze_panes and wb["Inputs"].freeze_panes


def test_user_text_never_becomes_a_formula() -> None:
    wb = load_workbook(io.BytesIO(book(CASES["hostile"]())))
    texts = {c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.data_type == "s"}
    assert "+cmd|' /C calc'!A0" in texts and "-2+3 <img src=x onerror=alert(1)>" in texts
    assert f"{HOSTILE}: custom EHR budget" in texts
    formulas = [c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.data_type == "f"]
    assert not [f for f in formulas if "cmd" in f or "HYPERLINK" in f or "alert" in f]


def test_branding_and_reproducible_bytes(tmp_path: Path) -> None:
    from tests.test_documents import _tiny_png

    logo = tmp_path / "logo.png"
    logo.write_bytes(_tiny_png())
    brand = Branding("Northbridge & Co", logo, "#7a1f3d")
    data = book(CASES["family"](), branding=brand)
    assert data == book(CASES["family"](), branding=brand)
    wb = load_workbook(io.BytesIO(data))
    assert wb["Summary"]["A1"].value == "Northbridge & Co"
    assert "Northbridge && Co" in wb["Components"].oddHeader.left.text
    assert wb.properties.created.date() == CASES["family"]().generated
    with zipfile.ZipFile(io.BytesIO(data)) as zf:  # read as a zip: openpyxl drops images without Pillow
        assert [zf.read(n) for n in zf.namelist() if n.startswith("xl/media/")] == [_tiny_png()]
        assert wb.sheetnames[0] == "Summary"
        assert "drawing1.xml" in zf.read("xl/worksheets/_rels/sheet1.xml.rels").decode()
        assert "../media/image1.png" in zf.read("xl/drawings/_rels/drawing1.xml.rels").decode()


def soffice() -> str:
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs LibreOffice for the recalculation test")
        pytest.skip("LibreOffice not installed")
    return exe


def recalculated(data: bytes, tmp: Path, to: str = "xlsx") -> bytes:
    """The workbook after LibreOffice loaded it, recalculated every formula and saved it (or, with
    `to="pdf"`, printed it)."""
    profile = tmp / "profile"
    (profile / "user").mkdir(parents=True)
    (profile / "user" / "registrymodifications.xcu").write_text(XCU)
    src, out = tmp / "in" / "budget.xlsx", tmp / "out"
    src.parent.mkdir()
    src.write_bytes(data)
    subprocess.run([soffice(), f"-env:UserInstallation={profile.as_uri()}", "--headless", "--convert-to", to,
                    "--outdir", str(out), str(src)], env={**os.environ, "HOME": str(tmp)}, capture_output=True,
                   timeout=180, check=True)
    return (out / f"budget.{to}").read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_libreoffice_recalculates_to_the_same_figures(name: str, tmp_path: Path) -> None:
    data = book(CASES[name]())
    wb = load_workbook(io.BytesIO(data))
    changed = wb["Summary"]  # the test is only meaningful if LibreOffice really recalculates
    assert changed["B6"].value.startswith("=")
    ours, theirs = values(data), values(recalculated(data, tmp_path))
    errors = [(s, a, v) for s, cells in theirs.items() for a, v in cells.items()
              if isinstance(v, str) and v.startswith(ERRORS)]
    assert errors == []
    diffs = [(s, a, v, theirs[s].get(a)) for s, cells in ours.items() for a, v in cells.items()
             if theirs[s].get(a) != v and not (isinstance(v, float) and abs(v - (theirs[s].get(a) or 0)) < 1e-9)]
    assert diffs == []


@pytest.mark.slow
def test_libreoffice_really_recalculates(tmp_path: Path) -> None:
    import xlsxwriter

    out = io.BytesIO()
    wb = xlsxwriter.Workbook(out, {"in_memory": True})
    ws = wb.add_worksheet("S")
    ws.write_number(0, 0, 2)
    ws.write_formula(0, 1, "=A1*21", None, 7)  # a wrong cached value on purpose
    wb.close()
    assert values(recalculated(out.getvalue(), tmp_path))["S"]["B1"] == 42


@pytest.mark.slow
@pytest.mark.parametrize("hosting", list(Hosting))
def test_libreoffice_recalculates_a_clinic_beyond_the_guides_sizes(hosting: Hosting, tmp_path: Path) -> None:
    """Hosting, servers, the staff-training range, the user support and a product's onboarding range scale
    beyond the guide's 10-physician top (issue 13): the live formulas give the planner's figures for a
    30-physician clinic with 300 staff users, over ten years (on premises, the servers replaced once), with an
    old EHR, fees and both go-lives."""
    clinic = family_clinic(physicians=30, staff_users=300, hosting=hosting, horizon_years=10, records=Records.LEGACY)
    links = (integration(Category.BILLING), integration(Category.EPRESCRIBING, phase=1), integration(Category.LAB))
    big = plan(scenario(clinic=clinic, integrations=links), source="big.xlsx")
    assert big.base.run.refreshes == (1 if hosting is Hosting.ONPREM else 0) and big.base.run.golive_count == 2
    assert big.base.run.hosting_expected > 2_400 * 12 or hosting is Hosting.ONPREM
    assert {p.switching_cost for p in big.base.ownership.off_the_shelf} == {10_000 + 150 * 300}  # not the $8,000 top
    run = big.base.run
    assert run.support_base == pytest.approx(75_000 * 0.33 * (300 / 40 - 1)) and run.support_expected > 0
    data = book(big)
    ours, theirs = values(data), values(recalculated(data, tmp_path))
    assert [theirs["Run costs"][f"{c}5"] for c in "BCD"] == [run.support[0], run.support_expected, run.support[1]]
    diffs = [(s, a, v, theirs[s].get(a)) for s, cells in ours.items() for a, v in cells.items()
             if theirs[s].get(a) != v and not (isinstance(v, float) and abs(v - (theirs[s].get(a) or 0)) < 1e-9)]
    assert diffs == []


# ------------------------------------------------------------------ a working model, printed


def test_scenario_sheets_are_named_after_their_scenarios() -> None:
    from generator.render.xlsx_sheet import SCENARIO_SHEETS, sheet_names

    taken = {"summary", "assumptions"}
    a = sheet_names(0, True, "Cloud: [US] team / phase*2?", taken)
    b = sheet_names(1, True, "A very long scenario name that Excel would refuse", taken)
    c = sheet_names(2, True, "A very long scenario name that Excel would refuse, again", taken)
    d = sheet_names(3, True, "'''", taken)
    assert a["Inputs"] == "Cloud US team phase Inputs"  # Excel's forbidden characters out, within 31
    assert b["Components"] == "A very long scenario Components"
    assert c["Components"] == "A very long scen (2) Components"  # the same cut: made unique
    assert d["Risk"] == "Scenario 4 Risk"
    every = [n for names in (a, b, c, d) for n in names.values()]
    assert len({n.lower() for n in every}) == len(every) == 4 * len(SCENARIO_SHEETS)
    assert all(len(n) <= 31 and not set(n) & set("[]:*?/\\") for n in every)
    assert sheet_names(0, False) == {k: k for k in SCENARIO_SHEETS}
    wb = load_workbook(io.BytesIO(book(CASES["scenarios"]())))
    assert {"Baseline Inputs", "US team Components", "Low specificity Ownership"} <= set(wb.sheetnames)


def test_summary_run_costs_and_risk_complete_the_model() -> None:
    plan = CASES["ortho-risk"]()
    data = book(plan)
    sp = budget_dict(plan)["scenarios"][0]
    got = summary(data)
    assert got["Recommended budget (P80)"] == [sp["risk"]["recommended_budget"]]
    assert got["Recommendation"] == [sp["recommendation"]["headline"]]
    assert got["What to budget (as advised)"] == [sp["recommendation"]["budget"]["amount"]]
    wb = load_workbook(io.BytesIO(data))
    for label in ("Recommended path", "Recommendation", "What to budget (as advised)", "Recommended budget (P80)"):
        row = next(r for r in wb["Summary"].iter_rows() if r[0].value == label)
        assert str(row[1].value).startswith("="), label  # recalculates, not fixed text
    run = load_workbook(io.BytesIO(data), data_only=True)["Run costs"]
    assert run["C4"].value == (sp["annual"]["total"]["expected"] - run["C5"].value - run["C6"].value
                               - run["C7"].value)  # maintenance, user support, hosting, training updates
    assert run["C5"].value == sp["annual"]["support"]["expected"] == 0
    assert run["B4"].value < run["C4"].value < run["D4"].value
    risk = load_workbook(io.BytesIO(data), data_only=True)["Risk"]
    inputs = [c.value for row in risk.iter_rows(min_row=15, min_col=5, max_col=6) for c in row if c.value is not None]
    assert inputs and all(isinstance(v, int | float) for v in inputs)  # numbers, not text


def test_every_sheet_prints_fit_to_width_portrait_when_it_fits_with_its_header_and_whole_charts() -> None:
    data = book(CASES["scenarios"]())
    wb = load_workbook(io.BytesIO(data))
    charted = ("Components", "Cash flow", "Ownership")
    for ws in wb.worksheets:
        narrow = ws.title.endswith(("Run costs", "Cash flow"))  # their columns fit across portrait Letter
        assert ws.page_setup.orientation == ("portrait" if narrow else "landscape"), ws.title
        assert ws.page_setup.fitToWidth in (None, 1) and ws.page_setup.fitToHeight == 0, ws.title  # 1: the default
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        if ws.title != "Summary" and not ws.title.endswith(charted):
            assert ws.print_title_rows, ws.title
        if ws.title.endswith(charted):  # tables on one page, then the chart: no header printed over the chart
            assert not ws.print_title_rows, ws.title
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        sheets = {n: zf.read(n).decode() for n in zf.namelist() if n.startswith("xl/worksheets/sheet")}
        drawings = [n for n, xml in sheets.items() if "<drawing " in xml]
    assert drawings and all("<rowBreaks" in sheets[n] for n in drawings)  # each chart starts a printed page
    for name in ("Baseline Components", "Baseline Cash flow", "Baseline Ownership"):
        ws = wb[name]
        chart = ws._charts[0]
        assert [b.id for b in ws.row_breaks.brk] == [chart.anchor._from.row]


def test_long_text_wraps_in_its_column_and_its_row_grows() -> None:
    """A source, note or label longer than its column wraps inside it (it no longer runs across
    the page and sets a tiny print scale), and its row is made tall enough: LibreOffice does not
    grow a row for wrapped text when it opens a workbook."""
    from generator.render.xlsx_sheet import wrapped_lines

    wb = load_workbook(io.BytesIO(book(CASES["ortho-risk"]())))
    ws = wb["Assumptions"]
    width = ws.column_dimensions["E"].width
    notes = [(c.row, str(c.value)) for c in ws["E"][3:] if c.value and len(str(c.value)) > width]
    assert notes
    for row, note in notes:
        assert ws["E"][row - 1].alignment.wrap_text, row
        assert ws.row_dimensions[row].height >= 15 * wrapped_lines(note, width), (row, note)
    components = wb["Components"]
    assert components["N15"].alignment.wrap_text  # the Source column
    for col in "HIJ":  # the apportionment's working (whole dollars, remainder, rank): folded, not printed
        assert components.column_dimensions[col].hidden and components.column_dimensions[col].outline_level == 1
    assert wrapped_lines("2026 small-clinic EHR cost guide, component cost table", 32) == 2
    assert wrapped_lines("a_very_long_key_without_spaces_at_all", 10) == 4


def test_a_chart_is_as_wide_as_its_tables_or_more() -> None:
    """A chart spans at least its sheet's columns: as wide as the page at the scale the tables
    print at (a chart narrower than its tables printed small at one side of its page)."""
    wb = load_workbook(io.BytesIO(book(CASES["ortho-risk"]())))
    for name in ("Components", "Cash flow", "Ownership"):
        ws = wb[name]
        assert ws._charts[0].anchor.to.col >= ws.max_column - 1, name


def text_sizes(page: Any) -> list[float]:
    """The printed size (points) of every piece of text on a PDF page."""
    sizes: list[float] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        if text.strip():
            sizes.append(size * abs(tm[3]) * abs(cm[3]))

    page.extract_text(visitor_text=visit)
    return sizes


CHART_HEADERS = {"Build cost by component": "Guide low", "Spend per quarter": "Index",
                 "Cumulative cost: custom against off-the-shelf": "Per provider"}


@pytest.mark.slow
def test_libreoffice_prints_every_page_readable_and_each_chart_alone(tmp_path: Path) -> None:
    """Issue 14: LibreOffice printed the wide sheets at a third of their size (3 pt text on the
    Assumptions page, 4.5 pt on Components) and the repeated header row over each chart. Now text
    is at least 5.5 pt on every page (about 7 pt in Excel, whose Calibri is narrower than the
    DejaVu Sans LibreOffice falls back to), the narrow sheets print portrait, and a chart's page
    carries the chart alone."""
    from pypdf import PdfReader

    pdf = PdfReader(io.BytesIO(recalculated(book(CASES["ortho-risk"]()), tmp_path, "pdf")))
    seen = set()
    for n, page in enumerate(pdf.pages, start=1):
        text = page.extract_text()
        sizes = text_sizes(page)
        assert sizes and min(sizes) >= 5.5, (n, min(sizes), text[:80])
        upright = page.mediabox.height > page.mediabox.width
        assert upright == any(t in text for t in ("Run costs per year", "Quarterly cash flow", "Spend per quarter")), n
        for title, header in CHART_HEADERS.items():
            if title in text:
                seen.add(title)
                assert header not in text, (n, title)
    assert seen == set(CHART_HEADERS)


@pytest.mark.slow
def test_the_recommendation_follows_an_input_changed_in_libreoffice(tmp_path: Path) -> None:
    from tests.helpers import run_cli

    root = Path(__file__).resolve().parent.parent
    r = run_cli("run", root / "inputs" / "pediatrics-quotes.xlsx", "--formats", "xlsx,json", "--out", tmp_path / "o")
    assert r.returncode == 0, r.stderr
    data = (tmp_path / "o" / "pediatrics-quotes" / "budget.xlsx").read_bytes()
    rec = json.loads((tmp_path / "o" / "pediatrics-quotes" / "budget.json").read_text())["scenarios"][0]
    ours, theirs = values(data), values(recalculated(data, tmp_path / "a"))
    assert theirs["Summary"] == ours["Summary"] and theirs["Ownership"] == ours["Ownership"]
    wb = load_workbook(io.BytesIO(data))
    own = wb["Ownership"]
    cell = next(row[1] for row in own.iter_rows() if row[0].value == "Probability custom is the cheaper path")
    before = summary(data)["Recommended path"]
    assert before == [rec["recommendation"]["path"]]
    cell.value = 0.5  # the consultant's what-if: an even chance that custom is cheaper
    edited = io.BytesIO()
    wb.save(edited)
    after = summary(recalculated(edited.getvalue(), tmp_path / "b"))
    assert after["Recommended path"] == ["too-close"]
    assert after["Recommendation"][0].startswith("Too close to call on cost between a custom build and ")
    assert after["Build cost, expected"] == [rec["build"]["expected"]]
    first_year = rec["tco"]["off_the_shelf"][rec["tco"]["cheapest_product"]][0]
    assert before == ["off-the-shelf"] and summary(data)["What to budget (as advised)"] == [first_year]
    assert after["What to budget (as advised)"] == [first_year]
    # a custom answer (cheaper in 95% of outcomes, paid back in year 3): the build's P80 is what to budget
    year = next(row[1] for row in own.iter_rows() if row[0].value == "Payback year (median outcome)")
    cell.value, year.value = 0.95, 3
    edited = io.BytesIO()
    wb.save(edited)
    custom = summary(recalculated(edited.getvalue(), tmp_path / "c"))
    assert custom["Recommended path"] == ["custom"]
    assert custom["What to budget (as advised)"] == [rec["risk"]["recommended_budget"]]


@pytest.mark.slow
def test_libreoffice_recalculates_a_workbook_that_overrides_the_offshore_rate(tmp_path: Path) -> None:
    """The guide's component prices assume its offshore team at the shipped card's rate: a workbook that
    overrides rate.offshore moves the build, in the planner and in the live formulas alike."""
    dearer = plan(scenario(overrides={"rate.offshore": 50}), source="dearer.xlsx")
    assert dearer.base.labor.cost > plan(scenario()).base.labor.cost
    data = book(dearer)
    ours, theirs = values(data), values(recalculated(data, tmp_path))
    diffs = [(s, a, v, theirs[s].get(a)) for s, cells in ours.items() for a, v in cells.items()
             if theirs[s].get(a) != v and not (isinstance(v, float) and abs(v - (theirs[s].get(a) or 0)) < 1e-9)]
    assert diffs == []


def test_the_costs_beyond_the_build_are_live_lines() -> None:
    """Issue 13 item 8 in the working model: the allowance, each third-party fee, the go-live dip, the
    old system and the products' one-time and yearly shares of them are formulas with the plan's figures."""
    plan = CASES["ortho-risk"]()
    sp = plan.base
    wb = load_workbook(io.BytesIO(book(plan)))
    cached = load_workbook(io.BytesIO(book(plan)), data_only=True)
    run, got = wb["Run costs"], cached["Run costs"]
    labels = {str(r[0].value): r[0].row for r in run.iter_rows() if r[0].value}
    assert [got.cell(labels[f"{f.name} ({f.basis})"], 3).value for f in sp.run.fees] == [
        f.cost.expected for f in sp.run.fees]
    allowance = labels["Allowance: that underestimation, costed (expected at its middle)"]
    assert [got.cell(allowance, c).value for c in (2, 3, 4)] == list(vars(sp.run.allowance).values())
    assert str(run.cell(allowance, 3).value).startswith("=ROUND(")
    assert got.cell(labels["Productivity dip per go-live (whole clinic)"], 3).value == sp.run.golive.expected
    assert got.cell(labels["Old EHR per year, until the new system is live"], 3).value == sp.run.legacy
    cash = cached["Cash flow"]
    assert [r[4].value for r in cash.iter_rows(min_row=8, max_row=7 + len(sp.ownership.cash_flow))] == [
        q.launch for q in sp.ownership.cash_flow]
    assert str(wb["Cash flow"]["E8"].value).startswith("=ROUND(")
    own = cached["Ownership"]
    assert [own.cell(4 + i, 7).value for i in range(3)] == [
        p.switching_cost + p.golive + p.legacy for p in sp.ownership.off_the_shelf]
