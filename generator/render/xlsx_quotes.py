"""budget.xlsx: the Quotes and Quote cash flow sheets (issue 15).

Each quote's price and maintenance are inputs; its maintenance, hours x rate, position against the
simulated P10-P90, strong answers, quarterly cash flow, cost over the horizon and break-even year
are formulas on them and on the base scenario's Inputs, Cash flow and Ownership sheets, written
with their computed values (equal to budget.json). The percentiles and the P10/P90 come from the
simulation and are values. Vendor names, answers and notes are user text: strings only.
"""

from __future__ import annotations

from xlsxwriter.utility import xl_rowcol_to_cell

from generator.model import Plan, QuoteResult, ScenarioPlan
from generator.questions import vendor_questions
from generator.render.xlsx_run import build_formula, run_formula
from generator.render.xlsx_sheet import Book, Sheet

QUOTES = "Quotes"
CASH = "Quote cash flow"
TOP = 9  # the Quotes table's header row (0-based); one quote a row below it
# The comparison a consultant reads first, then the quote's details (printed as a second page).
LAYOUT = (("Vendor", 30), ("Build price", 12), ("Percentile (simulated)", 11), ("Position", 9),
          ("Strong answers", 9), ("Cost over the horizon", 12), ("Cheapest product over the horizon", 13),
          ("Break-even year", 9), ("Annual maintenance (quote)", 12), ("Maintenance used", 12),
          ("AACE class", 7), ("Band low", 11), ("Band high", 11),
          ("Hours", 8), ("Hourly rate", 9), ("Hours x rate", 11), ("HIPAA builds in production", 11),
          ("FHIR approach", 19), ("Maintenance SLA", 11), ("Code ownership", 10), ("Migration plan", 10),
          ("Phase 1 share of price", 11), ("Later phases", 11), ("Maintenance share", 11), ("Notes", 45))
COLUMNS = tuple(name for name, _ in LAYOUT)
COL = {name: i for i, name in enumerate(COLUMNS)}


def cell(row: int, col: str, absolute: bool = False) -> str:
    return xl_rowcol_to_cell(row, COL[col], absolute, absolute)


def quotes_sheets(book: Book, plan: Plan, sp: ScenarioPlan) -> None:
    """The two sheets, after the base scenario's own (their figures are in `book.ref`)."""
    analysis = plan.quotes
    if analysis is None:
        return
    sh = Sheet(book, QUOTES, tuple(width for _, width in LAYOUT))
    r = book.ref
    sh.text(0, 0, f"Vendor quotes against the estimate: {sp.name}", "title")
    sh.text(1, 0, "Yellow cells are the quotes: change a price or a maintenance figure and the position, cash "
                  "flow, cost over the horizon and break-even follow. Percentiles and P10/P90 are simulation "
                  "results (values).", "note")
    rows = (("Simulated build cost, P10", analysis.p10, None), ("Simulated build cost, P90", analysis.p90, None))
    for i, (label, value, _) in enumerate(rows):
        sh.text(3 + i, 0, label)
        sh.num(3 + i, 1, value, name=("quotes.p10", "quotes.p90")[i])
    sh.text(5, 0, "Expected build (this budget)")
    sh.calc(5, 1, r["build.exp"], sp.build.expected, name="quotes.build")
    sh.text(6, 0, "Phase 1 of the expected build")
    sh.calc(6, 1, r["p1"], sum(li.cost.expected for li in sp.components if li.phase == 1), name="quotes.p1")
    sh.text(7, 0, "Compared with (the cheapest product)")
    sh.calc(7, 1, r["cheapest"], sp.ownership.cheapest_product, "text")
    _print_setup(sh, TOP)
    for col, label in enumerate(COLUMNS):
        sh.text(TOP, col, label, "head_wrap")
    sh.ws.set_row(TOP, 45)
    for i, result in enumerate(analysis.results):
        _quote_row(sh, sp, TOP + 1 + i, result)
    sh.ws.freeze_panes(TOP + 1, 1)
    _cash_sheet(book, sp, analysis.results)


def _quote_row(sh: Sheet, sp: ScenarioPlan, row: int, result: QuoteResult) -> None:
    q, own, r = result.quote, result.ownership, sh.book.ref
    c = lambda name: cell(row, name)  # noqa: E731
    sh.text(row, COL["Vendor"], q.vendor)
    sh.num(row, COL["Build price"], q.price, "input_money")
    if q.maintenance is not None:
        sh.num(row, COL["Annual maintenance (quote)"], q.maintenance, "input_money")
    sh.calc(row, COL["Maintenance used"], f'IF({c("Annual maintenance (quote)")}="",'
            f'ROUND({c("Build price")}*{r["mpct"]},0),{c("Annual maintenance (quote)")})', own.maintenance)
    for name, value, fmt in (("Hours", q.hours, "input"), ("Hourly rate", q.hourly_rate, "input_rate")):
        if value is not None:
            sh.num(row, COL[name], value, fmt)
    product = round(q.hours * q.hourly_rate) if q.hours is not None and q.hourly_rate is not None else ""
    sh.calc(row, COL["Hours x rate"], f'IF(OR({c("Hours")}="",{c("Hourly rate")}=""),"",'
            f'ROUND({c("Hours")}*{c("Hourly rate")},0))', product)
    sh.num(row, COL["Percentile (simulated)"], result.percentile, "pct")
    sh.calc(row, COL["Position"], f'IF({c("Build price")}<{r["quotes.p10"]},"below",IF({c("Build price")}>'
            f'{r["quotes.p90"]},"above","within"))', result.position, "text")
    strong = []
    for question, answer in zip(vendor_questions(), result.answers, strict=True):
        if answer.answer:
            sh.text(row, COL[question.column], answer.answer)
        strong.append(f'IF({c(question.column)}="{question.strong}",1,0)')
    sh.calc(row, COL["Strong answers"], "+".join(strong), len(result.answers) - len(result.unanswered), "num")
    first, later = own.phases
    sh.calc(row, COL["Phase 1 share of price"], f'ROUND({c("Build price")}*{r["quotes.p1"]}/{r["quotes.build"]},0)',
            first)
    sh.calc(row, COL["Later phases"], f'{c("Build price")}-{c("Phase 1 share of price")}', later)
    sh.calc(row, COL["Maintenance share"], f'IF({c("Annual maintenance (quote)")}="",{r["mpct"]},'
            f'{c("Annual maintenance (quote)")}/{c("Build price")})', own.maintenance_share, "pct")
    sh.num(row, COL["AACE class"], result.estimate_class, "num")
    lo, hi = result.accuracy
    sh.calc(row, COL["Band low"], f'ROUND({c("Build price")}*(1{lo:+g}),0)', result.band[0])
    sh.calc(row, COL["Band high"], f'ROUND({c("Build price")}*(1{hi:+g}),0)', result.band[1])
    if q.notes:
        sh.text(row, COL["Notes"], q.notes, "wrap")
        lines = min(-(-len(q.notes) // 48), 30)  # XlsxWriter cannot autofit: about 48 characters a line
        if lines > 1:
            sh.ws.set_row(row, 15 * lines)


def _cash_sheet(book: Book, sp: ScenarioPlan, results: tuple[QuoteResult, ...]) -> None:
    """Each quote's quarterly cash flow, its yearly totals, cumulative cost and break-even year,
    the base scenario's Cash flow sheet step for step with the quote's build and maintenance."""
    r, own = book.ref, sp.ownership
    years, quarters = own.years, len(own.cash_flow)
    sh = Sheet(book, CASH, (24, 8) + (14,) * (2 * len(results)))
    sh.text(0, 0, f"Quarterly cash flow with each quote: {sp.name}", "title")
    sh.text(1, 0, "Build: the quoted price, phase 1 over the base scenario's phase-1 quarters (servers in its "
                  "last, and again at each replacement), later phases over year two; run: hosting, training updates, "
                  "the allowance and the fees as in the Cash flow sheet, maintenance at the quote's share of what "
                  "is live; each year adds the Cash flow sheet's going-live costs.", "note")
    head = ["Quarter", "Index"]
    for res in results:
        head += [f"{res.quote.vendor}: build", f"{res.quote.vendor}: run"]
    for col, label in enumerate(head):
        sh.text(3, col, label, "head_wrap")
    sh.ws.set_row(3, 45)
    _print_setup(sh, 3)
    for q in range(quarters):
        sh.text(4 + q, 0, own.cash_flow[q].label)
        sh.num(4 + q, 1, q, "num")
    year_row, cum_row, flag_row = 5 + quarters, 6 + quarters + years, 7 + quarters + 2 * years
    sh.text(year_row - 1, 0, "Cost in each year", "bold")
    sh.text(cum_row - 1, 0, "Cumulative cost", "bold")
    sh.text(flag_row - 1, 0, f"Cheaper than {own.cheapest_product} (year)", "bold")
    for y in range(years):
        sh.text(year_row + y, 0, f"Year {y + 1}")
        sh.text(cum_row + y, 0, f"Year {y + 1}")
        sh.text(flag_row + y, 0, f"Year {y + 1}")
    for i, res in enumerate(results):
        row = TOP + 1 + i
        p1 = f"{_quotes_cell(row, 'Phase 1 share of price')}"
        p2 = f"{_quotes_cell(row, 'Later phases')}"
        share = f"{_quotes_cell(row, 'Maintenance share')}"
        cb, cr = 2 + 2 * i, 3 + 2 * i
        flow = [(quarter.build, quarter.run) for quarter in res.ownership.cash_flow]  # going live: the Cash flow's
        for q in range(quarters):
            qc = xl_rowcol_to_cell(4 + q, 1)
            sh.calc(4 + q, cb, build_formula(r, qc, p1, p2, years), flow[q][0])
            sh.calc(4 + q, cr, run_formula(r, qc, p1, p2, share), flow[q][1])
        for y in range(years):
            a, b = xl_rowcol_to_cell(4 + 4 * y, cb), xl_rowcol_to_cell(7 + 4 * y, cr)
            sh.calc(year_row + y, cb, f"SUM({a}:{b})+{r[f'launch{y}']}", res.ownership.custom_yearly[y])
            prev = f"{xl_rowcol_to_cell(cum_row + y - 1, cb)}+" if y else ""
            cum = sh.calc(cum_row + y, cb, f"{prev}{xl_rowcol_to_cell(year_row + y, cb)}",
                          res.ownership.custom_cumulative[y])
            flag = y + 1 if res.ownership.custom_cumulative[y] < res.ownership.product_cumulative[y] else ""
            sh.calc(flag_row + y, cb, f'IF({cum}<{r[f"cheapest_cum{y}"]},{y + 1},"")', flag, "num")
        flags = f"{xl_rowcol_to_cell(flag_row, cb)}:{xl_rowcol_to_cell(flag_row + years - 1, cb)}"
        last = xl_rowcol_to_cell(cum_row + years - 1, cb)
        _back_fill(book, row, last, flags, res)
    sh.ws.freeze_panes(4, 2)


def _print_setup(sh: Sheet, header: int) -> None:
    """Landscape, the header row and the first column on every printed page, so that each page of
    a wide table still names its vendors and columns."""
    sh.ws.set_landscape()
    sh.ws.set_paper(1)  # Letter
    sh.ws.repeat_rows(header)
    sh.ws.repeat_columns(0)
    sh.ws.fit_to_pages(2, 0)  # two pages wide at most, as many down as the rows need


def _quotes_cell(row: int, col: str) -> str:
    return f"'{QUOTES}'!{cell(row, col, True)}"


def _back_fill(book: Book, row: int, last: str, flags: str, res: QuoteResult) -> None:
    """The horizon cost, the product's and the break-even year on the quote's Quotes row."""
    ws = book.wb.get_worksheet_by_name(QUOTES)
    assert ws is not None
    money, num = book.fmt["money"], book.fmt["num"]
    own = res.ownership
    ws.write_formula(row, COL["Cost over the horizon"], f"='{CASH}'!{last}", money, own.custom_cumulative[-1])
    ws.write_formula(row, COL["Cheapest product over the horizon"], f"={book.ref['cheapest_final']}", money,
                     own.product_cumulative[-1])
    be = own.break_even_year if own.break_even_year is not None else "none"
    ws.write_formula(row, COL["Break-even year"], f"=IF(COUNT('{CASH}'!{flags})=0,\"none\",MIN('{CASH}'!{flags}))",
                     num, be)
