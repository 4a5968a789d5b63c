"""budget.xlsx charts: the build by component, spend per quarter and cumulative cost, drawn from
the calculation sheets' live cells (split from xlsx.py)."""

from __future__ import annotations

from xlsxwriter.utility import quote_sheetname

from generator.model import ScenarioPlan
from generator.render.xlsx_model import below
from generator.render.xlsx_sheet import MONEY, Book, col_name


def add_charts(book: Book, sp: ScenarioPlan, names: dict[str, str]) -> None:
    wb, n, own = book.wb, len(sp.components), sp.ownership
    comp, cash, ownn = (quote_sheetname(names[k]) for k in ("Components", "Cash flow", "Ownership"))
    bar = wb.add_chart({"type": "bar"})
    bar.add_series({"name": "Expected", "categories": f"={comp}!$A$15:$A${14 + n}",
                    "values": f"={comp}!$L$15:$L${14 + n}", "fill": {"color": book.accent},
                    "data_labels": {"value": True, "num_format": MONEY}})
    bar.set_title({"name": "Build cost by component"})
    bar.set_legend({"none": True})
    bar.set_y_axis({"reverse": True})
    bar.set_x_axis({"num_format": MONEY})
    bar.set_size({"width": 900, "height": max(300, 80 + 34 * n)})  # room for every label, none skipped
    below(book, names["Components"], 14 + n + 4 + len(sp.phases) + 4 + len(sp.teams) + 2, bar)
    col = wb.add_chart({"type": "column", "subtype": "stacked"})
    q = len(own.cash_flow)
    for c, label, fill in (("C", "Build", {"color": book.accent}), ("D", "Run", {"pattern": {
            "pattern": "wide_upward_diagonal", "fg_color": "#555555", "bg_color": "#ffffff"}})):
        col.add_series({"name": label, "categories": f"={cash}!$A$8:$A${7 + q}",
                        "values": f"={cash}!${c}$8:${c}${7 + q}", **({"fill": fill} if "color" in fill else fill)})
    col.set_title({"name": "Spend per quarter"})
    col.set_y_axis({"num_format": MONEY})
    col.set_size({"width": 900, "height": 340})
    below(book, names["Cash flow"], 8 + q + own.years + 2, col)
    line = wb.add_chart({"type": "line"})
    top = 4 + len(own.off_the_shelf)
    dashes = ("solid", "dash", "round_dot", "long_dash_dot", "square_dot")
    marks = ("circle", "square", "triangle", "diamond", "x")
    for i in range(len(own.off_the_shelf) + 1):
        row = top + 2 + i
        last = col_name(7 + own.years)
        line.add_series({"name": f"={ownn}!$A${row}", "categories": f"={ownn}!$I${top + 1}:${last}${top + 1}",
                         "values": f"={ownn}!$I${row}:${last}${row}",
                         "line": {"color": book.accent if i == 0 else "#444444", "width": 2.5 if i == 0 else 1.5,
                                  "dash_type": dashes[i % len(dashes)]},
                         "marker": {"type": marks[i % len(marks)]}})
    line.set_title({"name": "Cumulative cost: custom against off-the-shelf"})
    line.set_y_axis({"num_format": MONEY})
    line.set_size({"width": 900, "height": 360})
    below(book, names["Ownership"], 18 + 2 * len(own.off_the_shelf), line)
