"""The building blocks of budget.xlsx: the workbook with its formats, and a worksheet that
writes user text only as strings and every formula together with its computed value."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xlsxwriter.utility import quote_sheetname, xl_col_to_name, xl_rowcol_to_cell
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

MONEY = '"$"#,##0'
RATE = '"$"#,##0.00'
PCT = "0.0%"


@dataclass
class Book:
    """The workbook, its formats, and the absolute address of every named figure."""

    wb: Workbook
    accent: str
    firm: str
    fmt: dict[str, Any] = field(default_factory=dict)
    ref: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        add = self.wb.add_format
        self.fmt = {
            "money": add({"num_format": MONEY}), "rate": add({"num_format": RATE}), "pct": add({"num_format": PCT}),
            "num": add({"num_format": "#,##0"}), "dec": add({"num_format": "0.00"}), "text": add({"text_wrap": False}),
            "input": add({"bg_color": "#fff7d6", "border": 1, "border_color": "#c8c8c8"}),
            "input_money": add({"num_format": MONEY, "bg_color": "#fff7d6", "border": 1, "border_color": "#c8c8c8"}),
            "input_rate": add({"num_format": RATE, "bg_color": "#fff7d6", "border": 1, "border_color": "#c8c8c8"}),
            "input_pct": add({"num_format": PCT, "bg_color": "#fff7d6", "border": 1, "border_color": "#c8c8c8"}),
            "head": add({"bold": True, "font_color": "#ffffff", "bg_color": self.accent, "border": 1}),
            "head_wrap": add({"bold": True, "font_color": "#ffffff", "bg_color": self.accent, "border": 1,
                              "text_wrap": True, "valign": "top"}),
            "wrap": add({"text_wrap": True, "valign": "top"}),
            "title": add({"bold": True, "font_size": 14, "font_color": self.accent}),
            "bold_money": add({"num_format": MONEY, "bold": True, "top": 1}),
            "bold": add({"bold": True}), "note": add({"italic": True, "font_color": "#5a5a5a"}),
        }


class ClassicFormulaWorksheet(Worksheet):
    """A worksheet for formulas that use only classic Excel functions (ROUND, SUM, IF, ...).

    XlsxWriter runs some thirty regular expressions over every formula to prefix Excel 365's
    dynamic-array functions; our formulas use none, and that scan was half the workbook's time.
    Passed through XlsxWriter's documented `worksheet_class` hook; the LibreOffice recalculation
    test checks that every formula still evaluates.
    """

    def _prepare_formula(self, formula: str, expand_future_functions: bool = False) -> str:
        return formula[1:] if formula.startswith("=") else formula


class Sheet:
    """One worksheet: strings via write_string, numbers, and formulas with their values."""

    def __init__(self, book: Book, name: str, widths: tuple[int, ...]) -> None:
        self.book, self.name = book, name
        self.ws: Worksheet = book.wb.add_worksheet(name, worksheet_class=ClassicFormulaWorksheet)
        for col, width in enumerate(widths):
            self.ws.set_column(col, col, width)
        if book.firm:
            self.ws.set_header("&L" + book.firm.replace("&", "&&") + "&R" + name.replace("&", "&&"))
        self.ws.set_footer("&RPage &P of &N")
        # Printed as a consultant hands it over: landscape Letter, every column on the page's
        # width (as many pages down as the rows need), the first table's header on every page.
        self.ws.set_landscape()
        self.ws.set_paper(1)
        self.ws.fit_to_pages(1, 0)
        self.ws.set_margins(left=0.5, right=0.5, top=0.75, bottom=0.75)
        self.headed = False
        self.breaks: list[int] = []

    def addr(self, row: int, col: int) -> str:
        return f"{quote_sheetname(self.name)}!{xl_rowcol_to_cell(row, col, True, True)}"

    def text(self, row: int, col: int, value: object, fmt: str | None = None) -> None:
        self.ws.write_string(row, col, str(value), self.book.fmt[fmt] if fmt else None)

    def num(self, row: int, col: int, value: float, fmt: str = "money", name: str | None = None) -> str:
        self.ws.write_number(row, col, value, self.book.fmt[fmt])
        return self._named(row, col, name)

    def calc(self, row: int, col: int, formula: str, value: float | str, fmt: str = "money",
             name: str | None = None) -> str:
        self.ws.write_formula(row, col, "=" + formula, self.book.fmt[fmt] if fmt else None, value)
        return self._named(row, col, name)

    def head(self, row: int, labels: tuple[str, ...]) -> None:
        for col, label in enumerate(labels):
            self.text(row, col, label, "head")
        if not self.headed:
            self.ws.repeat_rows(row)
            self.headed = True

    def chart(self, row: int, chart: Any) -> None:
        """A chart under the tables at `row`, starting a printed page so it is never split."""
        self.breaks.append(row)
        self.ws.set_h_pagebreaks(self.breaks)
        self.ws.insert_chart(row, 0, chart, {"x_offset": 4, "y_offset": 4})

    def _named(self, row: int, col: int, name: str | None) -> str:
        a = self.addr(row, col)
        if name:
            self.book.ref[name] = a
        return a


SCENARIO_SHEETS = ("Inputs", "Components", "Run costs", "Cash flow", "Ownership", "Risk")
FORBIDDEN = str.maketrans({c: " " for c in "[]:*?/\\"})


def sheet_names(index: int, multi: bool, scenario: str = "", taken: set[str] | None = None) -> dict[str, str]:
    """The scenario's sheets: "Inputs", "Components"... alone, or with several scenarios each
    named after its scenario ("Cloud, US team Inputs"): the characters Excel refuses in a sheet
    name removed, within Excel's 31 characters, unique (case-insensitively, as Excel compares)
    against `taken`, which is updated."""
    if not multi:
        return {k: k for k in SCENARIO_SHEETS}
    taken = set() if taken is None else taken
    name = " ".join(scenario.translate(FORBIDDEN).split()).strip("'") or f"Scenario {index + 1}"
    longest = max(len(k) for k in SCENARIO_SHEETS)
    for attempt in range(1, 1000):
        tag = "" if attempt == 1 else f" ({attempt})"
        stem = name[:31 - longest - 1 - len(tag)].rstrip().rstrip("'") + tag
        names = {k: f"{stem} {k}" for k in SCENARIO_SHEETS}
        if not {n.lower() for n in names.values()} & taken:
            taken.update(n.lower() for n in names.values())
            return names
    raise ValueError("no unique sheet name")  # unreachable: fewer than 1,000 scenarios


def col_name(c: int) -> str:
    return xl_col_to_name(c)
