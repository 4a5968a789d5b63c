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
            self.ws.set_header("&L" + book.firm.replace("&", "&&") + "&R" + name)
        self.ws.set_footer("&RPage &P of &N")

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

    def _named(self, row: int, col: int, name: str | None) -> str:
        a = self.addr(row, col)
        if name:
            self.book.ref[name] = a
        return a


def sheet_names(index: int, multi: bool) -> dict[str, str]:
    prefix = f"S{index + 1} " if multi else ""
    return {k: prefix + k for k in ("Inputs", "Components", "Run costs", "Cash flow", "Ownership", "Risk")}


def col_name(c: int) -> str:
    return xl_col_to_name(c)
