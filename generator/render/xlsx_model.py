"""budget.xlsx as a working model, beyond the calculation sheets (xlsx.py): the report's decision
rule recalculated from the inputs, and where each chart goes: under its tables, starting a printed
page so that it is never split."""

from __future__ import annotations

from typing import Any

from generator.model import CLOSE, CUSTOM, SHELF, ScenarioPlan
from generator.render.xlsx_sheet import Book, Sheet


def below(book: Book, sheet: str, row: int, chart: Any) -> None:
    """`chart` at column A of `row` on `sheet`, a page break before it (the sheet's only one).
    The sheet repeats no header row on its printed pages: it would print across the top of the
    chart's page. Its tables are short (one page for most clinics) and the frozen panes keep the
    header in view on screen."""
    ws = book.wb.get_worksheet_by_name(sheet)
    assert ws is not None
    ws.set_h_pagebreaks([row])
    ws.repeat_row_range = ""
    sh = book.sheets[sheet]  # as wide as the page at the scale the columns print at: never what sets it
    chart.set_size({"width": max(sh.page_pixels(), sh.pixels()) - 10, "height": chart.height})
    ws.insert_chart(row, 0, chart, {"x_offset": 4, "y_offset": 4})


def decision_block(sh: Sheet, sp: ScenarioPlan, row: int) -> None:
    """The recommendation by the report's rule (plan/decision.py) in formulas: custom when custom is
    the cheaper path in at least `decision.confidence` of the outcomes and pays back within
    `payback.years`; off-the-shelf when the product is the cheaper path in at least that share;
    otherwise too close to call. The probability and the payback year come from the risk
    analysis's simulated outcomes (a value: the Monte Carlo is no spreadsheet formula), or from the
    point estimates when it did not run; the thresholds are the Inputs sheet's."""
    r, own = sh.book.ref, sp.ownership
    rec = own.recommendation
    product = own.product(rec.product or own.cheapest_product)
    probability, payback = rec.probability_custom_cheaper, rec.payback_year
    if probability is None:  # the point estimates, one outcome: custom is the cheaper path or it is not
        probability = 0.0 if rec.path == SHELF else 1.0
    source = "the risk analysis's outcomes" if rec.probability_custom_cheaper is not None else "the point estimates"
    sh.head(row, ("Recommendation (the report's rule, recalculated)", "Value", "Basis"))
    sh.text(row + 1, 0, "Off-the-shelf product compared")
    sh.text(row + 1, 1, product.product)
    prod = sh.addr(row + 1, 1)
    sh.text(row + 2, 0, "Probability custom is the cheaper path")
    p = sh.num(row + 2, 1, float(probability or 0.0), "input_pct")
    sh.text(row + 2, 2, f"from {source} (a value)", "note")
    sh.text(row + 3, 0, "Payback year (median outcome)")
    if payback is None:
        sh.text(row + 3, 1, "none", "input")
        year = sh.addr(row + 3, 1)
    else:
        year = sh.num(row + 3, 1, payback, "input")
    sh.text(row + 3, 2, f"from {source} (a value)", "note")
    sure, limit = r["decision.confidence"], r["payback.years"]
    sh.text(row + 4, 0, "Recommended path", "bold")
    path = (f'IF(AND({p}>={sure},ISNUMBER({year}),{year}<={limit}),"{CUSTOM}",'
            f'IF(1-{p}>={sure},"{SHELF}","{CLOSE}"))')
    sh.calc(row + 4, 1, path, rec.path, "bold", name="path")
    sh.text(row + 4, 2, "custom: cheaper in at least the Inputs' share and paid back in time; off-the-shelf: "
                        "the product cheaper in that share; otherwise too close to call", "note")
    custom = "Build a custom EHR: it is the cheaper path and pays back within the guide's three to four years"
    headline = (f'IF({r["path"]}="{CUSTOM}","{custom}",IF({r["path"]}="{SHELF}",'
                f'"Subscribe to "&{prod}&": off-the-shelf is the cheaper path",'
                f'"Too close to call on cost between a custom build and "&{prod}&": let workflow fit decide"))')
    sh.text(row + 5, 0, "Recommendation", "bold")
    sh.calc(row + 5, 1, headline, rec.headline, "text", name="headline")
