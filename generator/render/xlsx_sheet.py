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
PORTRAIT_WIDTH = 100  # characters of the default font across portrait Letter between 0.5 in margins
LINE_POINTS = 15  # the height of a line of the default font (Calibri 11) in a row
WRAPPING = {"note": "note_wrap"}  # a text format and its variant for a column whose text wraps
WRAPPED = ("wrap", "head_fit", "note_wrap")  # the formats that wrap text in the cell


@dataclass
class Book:
    """The workbook, its formats, and the absolute address of every named figure."""

    wb: Workbook
    accent: str
    firm: str
    fmt: dict[str, Any] = field(default_factory=dict)
    ref: dict[str, str] = field(default_factory=dict)
    sheets: dict[str, Sheet] = field(default_factory=dict)

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
            # wrapped text sits on the row's last line like its neighbours (spreadsheets' default)
            "wrap": add({"text_wrap": True}),
            "note_wrap": add({"italic": True, "font_color": "#5a5a5a", "text_wrap": True}),
            "head_fit": add({"bold": True, "font_color": "#ffffff", "bg_color": self.accent, "border": 1,
                             "text_wrap": True}),
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

    def __init__(self, book: Book, name: str, widths: tuple[int, ...], wrap: tuple[int, ...] = ()) -> None:
        """`widths`: every column the sheet uses, in characters; `wrap`: the columns whose text
        (labels, sources, notes) wraps within the width instead of running across the page."""
        self.book, self.name, self.widths, self.wrap = book, name, widths, wrap
        self.quoted = quote_sheetname(name)  # once: quoting runs regular expressions (3 s a large workbook)
        self.lines: dict[int, int] = {}  # rows grown for wrapped text: their number of lines
        self.folded: set[int] = set()  # columns hidden in an outline group (not printed)
        self.ws: Worksheet = book.wb.add_worksheet(name, worksheet_class=ClassicFormulaWorksheet)
        for col, width in enumerate(widths):
            self.ws.set_column(col, col, width, book.fmt["wrap"] if col in wrap else None)
        if book.firm:
            self.ws.set_header("&L" + book.firm.replace("&", "&&") + "&R" + name.replace("&", "&&"))
        self.ws.set_footer("&RPage &P of &N")
        # Printed as a consultant hands it over: Letter, portrait when the columns fit across it at
        # full size, landscape otherwise; every column on the page's width (as many pages down as
        # the rows need); the first table's header on every page.
        self.portrait = sum(widths) <= PORTRAIT_WIDTH
        if self.portrait:
            self.ws.set_portrait()
        else:
            self.ws.set_landscape()
        book.sheets[name] = self
        self.ws.set_paper(1)
        self.ws.fit_to_pages(1, 0)
        self.ws.set_margins(left=0.5, right=0.5, top=0.75, bottom=0.75)
        self.headed = False
        self.breaks: list[int] = []

    def page_pixels(self) -> int:
        """How wide the page prints at full size, between the margins, in pixels (96 a inch)."""
        return 720 if self.portrait else 960

    def pixels(self) -> int:
        """How wide the sheet's columns are, in pixels of the default font (7 a character and 5
        of padding, as Excel converts), the folded ones left out."""
        return sum(int(w * 7 + 5) for c, w in enumerate(self.widths) if c not in self.folded)

    def addr(self, row: int, col: int) -> str:
        return f"{self.quoted}!{xl_rowcol_to_cell(row, col, True, True)}"

    def fold(self, first: int, last: int) -> None:
        """Hide columns `first` to `last` in an outline group: kept in the model, a click shows
        them, but not printed."""
        for col in range(first, last + 1):
            self.ws.set_column(col, col, self.widths[col], None, {"level": 1, "hidden": True})
            self.folded.add(col)

    def text(self, row: int, col: int, value: object, fmt: str | None = None) -> None:
        value = str(value)
        if col in self.wrap and fmt in WRAPPING:
            fmt = WRAPPING[fmt]
        self.ws.write_string(row, col, value, self.book.fmt[fmt] if fmt else None)
        if fmt in WRAPPED or (fmt is None and col in self.wrap):
            self.fit_row(row, col, value, bold=fmt == "head_fit")

    def fit_row(self, row: int, col: int, value: str, bold: bool = False) -> None:
        """Make `row` tall enough for `value` wrapped in column `col`: spreadsheets grow a row for
        wrapped text only when they lay it out themselves (LibreOffice does not on opening)."""
        width = self.widths[col] if col < len(self.widths) else 8.43
        lines = wrapped_lines(value, width * (0.9 if bold else 1.0))
        if lines > self.lines.get(row, 1):
            self.lines[row] = lines
            self.ws.set_row(row, LINE_POINTS * lines)

    def num(self, row: int, col: int, value: float, fmt: str = "money", name: str | None = None) -> str:
        self.ws.write_number(row, col, value, self.book.fmt[fmt])
        return self._named(row, col, name)

    def calc(self, row: int, col: int, formula: str, value: float | str, fmt: str = "money",
             name: str | None = None) -> str:
        self.ws.write_formula(row, col, "=" + formula, self.book.fmt[fmt] if fmt else None, value)
        return self._named(row, col, name)

    def head(self, row: int, labels: tuple[str, ...]) -> None:
        for col, label in enumerate(labels):  # a label wider than its column wraps, never cut off
            fit = col < len(self.widths) and len(label) > self.widths[col]
            self.text(row, col, label, "head_fit" if fit else "head")
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


def wrapped_lines(text: str, width: float) -> int:
    """The lines `text` takes wrapped at word boundaries in `width` characters (a word longer than
    the width broken where it reaches the edge, as spreadsheets do)."""
    width = max(width, 1.0)
    lines, used = 1, 0.0
    for word in text.split():
        n = float(len(word))
        if used and used + 1 + n > width:
            lines, used = lines + 1, 0.0
        elif used:
            used += 1
        while used + n > width:
            lines, n, used = lines + 1, n - (width - used), 0.0
        used += n
    return lines


def col_name(c: int) -> str:
    return xl_col_to_name(c)
