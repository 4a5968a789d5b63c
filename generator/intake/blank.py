"""Blank and example intake workbooks (`clinic-budget new`).

The workbooks are built from the intake contract in `schema.py`, so every label, header and
dropdown is exactly what the reader accepts. The shipped examples in `inputs/` are this
module's output; regenerate them all with `python -m tests.update_inputs [FOLDER]`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from generator.errors import OutputError, UsageError
from generator.intake import schema
from generator.model import KNOWN_MODULES, MODULES_BY_NAME, Records
from generator.questions import vendor_questions
from generator.ratecard import default_card, suggest
from generator.zipfiles import workbook_bytes

Cell = str | int | float | dt.date | None
Row = tuple[Cell, ...]

CURRENCY = '"$"#,##0'
PERCENT = "0.0%"
DATE = "yyyy-mm-dd"
EMPTY_ROWS = 6  # spare rows, with dropdowns, below the filled part of each table
DROPDOWN_ROWS = 200  # how far down each table column's validation reaches
AUTHOR = "clinic-budget"

BOLD = Font(bold=True)
TITLE = Font(bold=True, size=14)
HEADER_FILL = PatternFill("solid", fgColor="DCE6F1")
WRAP = Alignment(wrap_text=True, vertical="top")

COLUMN_WIDTHS = {
    schema.MODULES_SHEET: (30, 10, 8, 13, 13, 13, 50),
    schema.INTEGRATIONS_SHEET: (34, 16, 24, 8, 13),
    schema.SUBSCRIPTIONS_SHEET: (30, 22, 16, 17),
    schema.QUOTES_SHEET: (30, 14, 14, 10, 12, 40, 16, 22, 16, 16, 16),
    schema.ASSUMPTIONS_SHEET: (34, 12, 60),
}


@dataclass(frozen=True)
class Example:
    """A filled intake workbook, as data.

    `clinic` pairs Clinic labels with values (labels left out stay blank). `modules` rows are in
    MODULE_COLUMNS order: a row naming a known module changes that module's default row (its
    empty cells keep the defaults); any other row is a specialty feature, added at the end.
    `scenarios` is the Scenarios table with its header first; empty means no such rows.
    """

    description: str
    clinic: tuple[tuple[str, Cell], ...] = ()
    modules: tuple[Row, ...] = ()
    integrations: tuple[Row, ...] = ()
    subscriptions: tuple[Row, ...] = ()
    quotes: tuple[Row, ...] = ()  # in QUOTE_COLUMNS order
    scenarios: tuple[Row, ...] = ()
    assumptions: tuple[Row, ...] = ()

    def clinic_value(self, label: str) -> Cell:
        return dict(self.clinic).get(label)


BLANK = Example("a blank intake workbook")

EXAMPLES: dict[str, Example] = {
    "family-practice": Example(
        "3-physician family practice moving off paper charts; cloud, offshore team, one lab",
        clinic=(
            ("Clinic name", "Maple Grove Family Medicine"),
            ("Clinic type", "Family practice"),
            ("Physicians", 3),
            ("Staff users", 10),
            ("Current records", "Paper"),
            ("Hosting", "Cloud"),
            ("Development team", "Offshore"),
            ("Workflow specificity", "Low"),
            ("Certified components", "Yes"),
            ("Horizon years", 5),
            ("Prepared for", "Dr. Anita Shah, managing physician"),
            ("Prepared by", "Northbridge Health IT Consulting"),
            ("Report date", dt.date(2026, 3, 2)),
        ),
        modules=(
            ("Data migration", None, None, None, None, None,
             "About 4,800 paper charts to scan and abstract"),
        ),
        integrations=(
            ("Quest Diagnostics lab interface", "Lab", "Quest Diagnostics", 2, "Typical"),
        ),
    ),
    "orthopedic": Example(
        "the guide's 5-physician orthopedic practice: legacy EHR, lab, billing and "
        "e-prescribing; US-team and AI-scribe scenarios",
        clinic=(
            ("Clinic name", "Summit Orthopedics & Sports Medicine"),
            ("Clinic type", "Specialty clinic"),
            ("Specialty", "Orthopedics"),
            ("Physicians", 5),
            ("Staff users", 24),
            ("Current records", "Legacy EHR"),
            ("Hosting", "Cloud"),
            ("Development team", "Offshore"),
            ("Workflow specificity", "High"),
            ("Certified components", "No"),
            ("Horizon years", 5),
            ("Prepared for", "Karen Liu, practice administrator"),
            ("Prepared by", "Northbridge Health IT Consulting"),
            ("Report date", dt.date(2026, 4, 15)),
        ),
        modules=(
            ("Clinical documentation", None, None, "High", None, None,
             "Orthopedic exam templates, operative notes, range-of-motion charts"),
            ("Data migration", None, None, None, None, None,
             "Ten years of charts from the legacy EHR"),
            ("Orthopedic imaging viewer", "Yes", 2, "Typical", 10000, 22000,
             "DICOM viewer for X-ray and MRI inside the chart"),
        ),
        integrations=(
            ("LabCorp lab interface", "Lab", "LabCorp", 2, "Typical"),
            ("Billing platform and clearinghouse", "Billing", "Waystar", 1, "Typical"),
            ("E-prescribing (EPCS)", "E-prescribing", "DoseSpot", 2, "Typical"),
        ),
        scenarios=(
            ("Scenario", "Development team", "AI documentation"),
            ("US team", "US", None),
            ("With AI scribe", None, "Yes"),
        ),
        assumptions=(
            ("offshelf.increase_pct", 0.06, "Vendor renewal quote, January 2026: 6% a year"),
        ),
    ),
    "urgent-care": Example(
        "4-physician urgent care center on a legacy EHR; on-premise servers, lab and imaging, "
        "two subscription quotes",
        clinic=(
            ("Clinic name", "Lakeside Urgent Care"),
            ("Clinic type", "Urgent care"),
            ("Physicians", 4),
            ("Staff users", 18),
            ("Current records", "Legacy EHR"),
            ("Hosting", "On-premise"),
            ("Development team", "Offshore"),
            ("Workflow specificity", "Medium"),
            ("Certified components", "No"),
            ("Horizon years", 5),
            ("Prepared for", "Marcus Reed, operations director"),
            ("Prepared by", "Northbridge Health IT Consulting"),
            ("Report date", dt.date(2026, 5, 11)),
        ),
        modules=(
            ("Appointment scheduling", None, None, "Low", None, None,
             "Walk-in queue and online check-in rather than booked appointments"),
        ),
        integrations=(
            ("Quest Diagnostics lab interface", "Lab", "Quest Diagnostics", 2, "Typical"),
            ("Radiology PACS (X-ray)", "Imaging", "Fujifilm Synapse", 2, "High"),
        ),
        subscriptions=(
            ("eClinicalWorks", 449, None, 0.05),
            ("Combined EHR + PM", 599, None, 0.05),
        ),
    ),
    "pediatrics-quotes": Example(
        "6-physician pediatric practice on a legacy EHR comparing three development vendors' quotes "
        "(one below, one within, one above the simulated range) against two subscriptions",
        clinic=(
            ("Clinic name", "Harbor Pediatrics"),
            ("Clinic type", "Specialty clinic"),
            ("Specialty", "Pediatrics"),
            ("Physicians", 6),
            ("Staff users", 24),
            ("Current records", "Legacy EHR"),
            ("Hosting", "Cloud"),
            ("Development team", "Offshore"),
            ("Workflow specificity", "High"),
            ("Certified components", "No"),
            ("Horizon years", 5),
            ("Prepared for", "Dr. Elena Marsh, medical director"),
            ("Prepared by", "Northbridge Health IT Consulting"),
            ("Report date", dt.date(2026, 6, 8)),
        ),
        modules=(
            ("Growth charts and immunization schedules", "Yes", 2, "Typical", 6000, 14000,
             "CDC/WHO growth percentiles, VFC immunization tracking, school and camp forms"),
        ),
        integrations=(
            ("Quest Diagnostics lab interface", "Lab", "Quest Diagnostics", 2, "Typical"),
            ("Billing platform and clearinghouse", "Billing", "Availity", 1, "Typical"),
            ("E-prescribing (EPCS)", "E-prescribing", "DoseSpot", 2, "Typical"),
        ),
        subscriptions=(
            ("eClinicalWorks", 449, None, None),
            ("Combined EHR + PM", 599, None, None),
        ),
        quotes=(
            ("Bayside Digital Health", 58000, None, None, None,
             "Fixed price. Integrations quoted separately 'if needed'; migration 'by the clinic's IT'.",
             "No", "Built from scratch", "Yes", "No", None),
            ("Northwind Health Software", 118000, 20000, 1650, 72,
             "Offshore healthcare team (Pune) with a US project manager; 12 months' warranty.",
             "Yes", "Certified components", "Yes", "Yes", "Yes"),
            ("Keystone Medical Systems", 189000, 34000, 1100, 175,
             "US team; includes on-site training and the first year's hosting.",
             "Yes", "Certified components", "Yes", "Yes", None),
        ),
    ),
}


INSTRUCTIONS = (
    "# Clinic budget intake workbook",
    "This workbook describes your clinic and the EHR system you want built. clinic-budget "
    "turns it into a budget: build cost, phases, running costs and a five-year comparison with "
    "off-the-shelf subscriptions.",
    "",
    "# How to fill it in",
    "• Clinic sheet: type each answer in column B, next to its label. Required: {required}. "
    "Everything else may stay blank; a blank field takes the default shown in column C.",
    "• Cells with a fixed set of answers (Yes/No, Clinic type, Hosting, Phase, Complexity, "
    "Category...) have a dropdown: click the cell and pick from the list.",
    "• Money is in US dollars. Percentages can be typed as 5% or 0.05. Dates as 2026-03-02.",
    "• Do not rename the sheets, the labels in column A of Clinic, or the table headers in "
    "row 1. Hover over a table header to see what the column means.",
    "",
    "# Modules",
    "• One row per part of the system. Every standard module is listed with the cost guide's "
    "range in Low cost / High cost. Set Include to No for anything you do not want, or change "
    "the costs to your own estimate. Like the guide's, these costs are what a healthcare-experienced "
    "offshore team charges: with Development team = US the budget scales them to the US rate. "
    "To price the build at one vendor's hours and rate, give them on the Clinic sheet; to compare "
    "vendors' quotes with this estimate, list them on the Quotes sheet.",
    "• Phase 1 is built in year one; Phase 2 (integrations, AI documentation, specialty "
    "features) follows in year two. Complexity picks where inside the range the estimate sits.",
    "• Add your own specialty features (e.g. surgical scheduling) in the empty rows: give a "
    "name, Low cost and High cost.",
    "",
    "# Integrations",
    "• One row per external system to connect (lab, imaging, billing, e-prescribing, other). "
    "Each row is priced by its Category. Leave the table empty if you connect nothing.",
    "",
    "# Subscriptions",
    "• The off-the-shelf products to compare against, priced per provider per month. If you "
    "leave this table empty, the cost guide's products are used: {products}.",
    "",
    "# Quotes (optional)",
    "• Development vendors' quotes for the build this workbook describes, one a row: Vendor and Build "
    "price are required; Annual maintenance, Hours and Hourly rate if the quote states them. The "
    "report places each quote against the simulated cost of the same scope and re-costs the five-year "
    "comparison with it.",
    "• The last five columns are the guide's five questions to ask any EHR development vendor before "
    "signing. Record each vendor's answer with the dropdown; the panel beside the table gives the "
    "guide's strong answer. A blank counts as not answered.",
    "",
    "# Scenarios (optional)",
    "• Ask \"what if\" questions. Column A, headed Scenario, names each scenario; add columns "
    "headed by a Clinic label (e.g. Development team), a module name (e.g. AI documentation, "
    "Yes/No) or a rate-card key. Each row changes only the cells you fill; empty cells keep "
    "the Clinic and Modules values. Your workbook as entered is always the first scenario, "
    "Baseline.",
    "",
    "# Assumptions (optional)",
    "• Override a figure from the rate card for this workbook only: Key, Value and where the "
    "figure comes from (Source). List every key with: clinic-budget assumptions",
    "",
    "# Getting the report",
    "• Check the workbook: clinic-budget validate FILE  (lists every problem, by cell)",
    "• Make the report: clinic-budget run FILE  (writes the documents to the output folder)",
)


# ------------------------------------------------------------------ public API


def write_blank(path: Path) -> None:
    """Write an empty intake workbook with instructions, dropdowns and the rate card's figures."""
    _save(build_workbook(BLANK), path)


def write_example(path: Path, name: str) -> None:
    """Write the example `name`; an unknown name is a UsageError listing the examples."""
    _save(build_workbook(find_example(name)), path)


def find_example(name: str) -> Example:
    try:
        return EXAMPLES[name.strip().lower()]
    except KeyError:
        raise UsageError(
            f"--example: unknown example {name!r} (choose from {', '.join(EXAMPLES)})"
            f"{suggest(name, list(EXAMPLES))}"
        ) from None


def build_workbook(example: Example) -> Workbook:
    wb = Workbook()
    wb.remove(wb.active)
    _instructions_sheet(wb.create_sheet("Instructions"))
    _clinic_sheet(wb.create_sheet(schema.CLINIC_SHEET), example)
    tables: list[tuple[str, Sequence[Row]]] = [
        (schema.MODULES_SHEET, module_rows(example)),
        (schema.INTEGRATIONS_SHEET, example.integrations),
        (schema.SUBSCRIPTIONS_SHEET, example.subscriptions),
        (schema.QUOTES_SHEET, example.quotes),
    ]
    for sheet, rows in tables:
        _table_sheet(wb.create_sheet(sheet), schema.TABLE_SHEETS[sheet], rows)
    _quotes_guide(wb[schema.QUOTES_SHEET])
    _scenarios_sheet(wb.create_sheet(schema.SCENARIOS_SHEET), example.scenarios)
    assumptions = wb.create_sheet(schema.ASSUMPTIONS_SHEET)
    _table_sheet(assumptions, schema.ASSUMPTION_COLUMNS, example.assumptions)
    for key, value in assumptions.iter_rows(min_row=2, max_col=2):
        if "pct" in str(key.value or ""):
            value.number_format = PERCENT
    wb.active = 0  # open on the Instructions
    return wb


def module_rows(example: Example) -> list[Row]:
    """Every known module with its defaults and the rate card's range, then the example's
    changes."""
    card = default_card()
    no_records = example.clinic_value("Current records") == Records.NONE.value
    rows: list[list[Cell]] = []
    for km in KNOWN_MODULES:
        include = km.default_on and not (no_records and km.key == "data_migration")
        low, high = card.money(f"module.{km.key}.low"), card.money(f"module.{km.key}.high")
        complexity = None if km.key == "staff_training" else "Typical"  # blank: training follows staff users
        rows.append([km.name, "Yes" if include else "No", km.phase, complexity, low, high, None])
    for change in example.modules:
        name = str(change[0])
        if name.lower() not in MODULES_BY_NAME:
            rows.append(list(change))
            continue
        row = next(r for r in rows if str(r[0]).lower() == name.lower())
        pairs = zip(row[1:], change[1:], strict=True)
        row[1:] = [new if new is not None else old for old, new in pairs]
    return [tuple(r) for r in rows]


# ------------------------------------------------------------------ sheets


def _instructions_sheet(ws: Worksheet) -> None:
    ws.column_dimensions["A"].width = 110
    ws.sheet_view.showGridLines = False
    for line in instructions():
        heading = line.startswith("# ")
        ws.append([line.removeprefix("# ")])
        cell = ws.cell(ws.max_row, 1)
        cell.alignment = WRAP
        if heading:
            cell.font = TITLE if ws.max_row == 1 else BOLD


def instructions() -> list[str]:
    """The Instructions sheet's text, one line a row; "# " marks a heading."""
    required = ", ".join(f.label for f in schema.CLINIC_FIELDS if f.required)
    card = default_card()
    products = "eClinicalWorks at ${:,.0f}, DrChrono at ${:,.0f} and a combined EHR + practice-" \
        "management subscription at ${:,.0f}".format(
            card.value("offshelf.eclinicalworks.monthly"), card.value("offshelf.drchrono.monthly"),
            card.value("offshelf.combined.monthly"))
    return [line.format(required=required, products=products) for line in INSTRUCTIONS]


def _clinic_sheet(ws: Worksheet, example: Example) -> None:
    ws.append(["Clinic profile", None, "Help"])
    for cell in ws[1]:
        cell.font = BOLD
        cell.fill = HEADER_FILL
    values = dict(example.clinic)
    for field in schema.CLINIC_FIELDS:
        ws.append([field.label, values.get(field.label), clinic_help(field)])
        row = ws.max_row
        ws.cell(row, 1).font = BOLD if field.required else Font()
        ws.cell(row, 3).alignment = WRAP
        value_cell = ws.cell(row, 2)
        value_cell.alignment = Alignment(horizontal="left")
        value_cell.number_format = _number_format(field.kind)
        _clinic_validation(ws, field, value_cell.coordinate)
    for letter, width in zip("ABC", (24, 34, 90), strict=True):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = "A2"


def clinic_help(field: schema.Field) -> str:
    """Column C beside a Clinic field: required or not, what it means, its default."""
    parts = ["Required." if field.required else "Optional."]
    if field.help:
        parts.append(field.help)
    if field.kind == schema.WHOLE and field.minimum is not None:
        parts.append(f"A whole number, {field.minimum:g} to {field.maximum:g}.")
    if field.default:
        parts.append(f"Default: {field.default}.")
    return " ".join(parts)


def _clinic_validation(ws: Worksheet, field: schema.Field, ref: str) -> None:
    dv = _validation(field)
    if dv is None and field.kind == schema.WHOLE and field.minimum is not None:
        low, high = f"{field.minimum:g}", f"{field.maximum:g}"
        dv = DataValidation(
            type="whole", operator="between", formula1=low, formula2=high, allow_blank=True,
            showErrorMessage=True, errorTitle=field.label,
            error=f"A whole number, {low} to {high}.",
        )
    if dv is None and field.kind == schema.MONEY:
        dv = DataValidation(type="decimal", operator="greaterThanOrEqual", formula1="0",
                            allow_blank=True, showErrorMessage=True, errorTitle=field.label,
                            error="An amount in US dollars, 0 or more.")
    if dv is not None:
        ws.add_data_validation(dv)
        dv.add(ref)


def _validation(field: schema.Field) -> DataValidation | None:
    """A dropdown for a Yes/No, choice or phase field; None for free-form fields."""
    choices = dropdown_choices(field)
    if not choices:
        return None
    return DataValidation(
        type="list", formula1='"' + ",".join(choices) + '"', allow_blank=True,
        showDropDown=False,  # (sic) False means the in-cell arrow is shown
        showErrorMessage=True, errorTitle=field.label, error="Pick one of: " + ", ".join(choices),
    )


def _amount_validation(field: schema.Field) -> DataValidation | None:
    """Excel's own check for a bounded number or amount (the reader checks it again)."""
    if field.kind not in (schema.NUMBER, schema.MONEY) or field.maximum is None:
        return None
    low = "more than 0" if field.positive else "0 or more"
    what = "An amount in US dollars" if field.kind == schema.MONEY else "A number"
    return DataValidation(
        type="decimal", operator="between", formula1="0.01" if field.positive else "0",
        formula2=f"{field.maximum:.0f}", allow_blank=True, showErrorMessage=True, errorTitle=field.label,
        error=f"{what}, {low} and at most {field.maximum:,.0f}.")


def dropdown_choices(field: schema.Field) -> tuple[str, ...]:
    if field.kind == schema.CHOICE:
        return field.choices
    if field.kind == schema.YESNO:
        return ("Yes", "No")
    if field.kind == schema.PHASE:
        return ("1", "2")
    return ()


def _table_sheet(ws: Worksheet, columns: Sequence[schema.Field], rows: Sequence[Row]) -> None:
    _header(ws, [c.label for c in columns], [_column_comment(c) for c in columns])
    for row in rows:
        ws.append(list(row))
    last = max(ws.max_row, 1) + EMPTY_ROWS
    for index, column in enumerate(columns, start=1):
        letter = get_column_letter(index)
        for r in range(2, last + 1):
            ws.cell(r, index).number_format = _number_format(column.kind)
        dv = _validation(column) or _amount_validation(column)
        if dv is not None:
            ws.add_data_validation(dv)
            dv.add(f"{letter}2:{letter}{DROPDOWN_ROWS + 1}")
    for letter, width in zip("ABCDEFGHIJK", COLUMN_WIDTHS.get(ws.title, ()), strict=False):
        ws.column_dimensions[letter].width = width
    if ws.title == schema.MODULES_SHEET:
        _module_comments(ws)


GUIDE_PANEL_COLUMN = 13  # column M: one empty column (L) after the Quotes table


def _quotes_guide(ws: Worksheet) -> None:
    """Beside the Quotes table (never in its header row, so the reader ignores it): the guide's
    five vendor questions, what a strong answer looks like, and the answer that records it; the
    same on each question column's header comment."""
    col = GUIDE_PANEL_COLUMN
    ws.cell(2, col, "The guide's five questions to ask any EHR development vendor before signing").font = BOLD
    for i, label in enumerate(("Column", "Question", "What a strong answer looks like (the guide)",
                               "Record it as")):
        cell = ws.cell(3, col + i, label)
        cell.font, cell.fill = BOLD, HEADER_FILL
    headers = {str(c.value): c for c in ws[1]}
    for r, q in enumerate(vendor_questions(), start=4):
        for i, value in enumerate((q.column, q.question, q.strong_answer, q.strong)):
            ws.cell(r, col + i, value).alignment = WRAP
        headers[q.column].comment = Comment(
            f"{q.question} The guide's strong answer: {q.strong_answer}. Record it as '{q.strong}'; "
            "anything else, or a blank, counts as not answered.", AUTHOR, width=320, height=130)
    for i, width in enumerate((24, 44, 44, 20)):
        ws.column_dimensions[get_column_letter(col + i)].width = width


def _scenarios_sheet(ws: Worksheet, rows: Sequence[Row]) -> None:
    header = [str(c) for c in rows[0]] if rows else ["Scenario"]
    _header(ws, header, ["The scenario's name. Add columns headed by a Clinic label, a module "
                         "name or a rate-card key; see the Instructions sheet."])
    for row in rows[1:]:
        ws.append(list(row))
    ws.column_dimensions["A"].width = 24
    for index, label in enumerate(header[1:], start=2):
        dv = _validation(_scenario_field(label))
        if dv is not None:
            letter = get_column_letter(index)
            ws.add_data_validation(dv)
            dv.add(f"{letter}2:{letter}{DROPDOWN_ROWS + 1}")
    for index in range(2, len(header) + 1):
        ws.column_dimensions[get_column_letter(index)].width = max(18, len(header[index - 1]) + 4)


def _scenario_field(label: str) -> schema.Field:
    """What a Scenarios column holds: a Clinic field, a module's Include, or a rate-card value."""
    by_label = {f.label.lower(): f for f in schema.CLINIC_FIELDS}
    if label.lower() in by_label:
        return by_label[label.lower()]
    if label.lower() in MODULES_BY_NAME:
        return schema.Field(label, "include", schema.YESNO)
    return schema.Field(label, "value", schema.NUMBER)


def _header(ws: Worksheet, labels: Sequence[str], comments: Sequence[str]) -> None:
    ws.append(list(labels))
    for cell, text in zip(ws[1], comments, strict=False):
        cell.font = BOLD
        cell.fill = HEADER_FILL
        if text:
            cell.comment = Comment(text, AUTHOR, width=320, height=110)
    ws.freeze_panes = "A2"


def _column_comment(field: schema.Field) -> str:
    text = field.help
    if field.required:
        text = f"Required. {text}"
    choices = dropdown_choices(field)
    if choices:
        text += f" Pick from the list: {', '.join(choices)}."
    if field.default:
        text += f" Default: {field.default}."
    return text.strip()


def _module_comments(ws: Worksheet) -> None:
    """A comment on each known module's name: what the guide's range covers."""
    card = default_card()
    for (cell,) in ws.iter_rows(min_row=2, max_col=1):
        known = MODULES_BY_NAME.get(str(cell.value or "").lower())
        if known is not None:
            entry = card.entry(f"module.{known.key}.low")
            blank = known.key == "staff_training"
            text = f"{entry.note} (source: {entry.source})" + (". Complexity blank: follows the staff users" * blank)
            cell.comment = Comment(text, AUTHOR, width=320, height=110)


def _number_format(kind: str) -> str:
    return {schema.MONEY: CURRENCY, schema.PERCENT: PERCENT, schema.DATE: DATE}.get(kind, "General")


# ------------------------------------------------------------------ saving


def _save(wb: Workbook, path: Path) -> None:
    """Save atomically (a temporary file, then os.replace); the same workbook, the same bytes."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(workbook_bytes(wb))
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write the workbook: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_all(folder: Path) -> list[Path]:
    """Write every example into `folder` (the shipped `inputs/`), overwriting."""
    paths = {name: Path(folder) / f"{name}.xlsx" for name in EXAMPLES}
    for name, path in paths.items():
        write_example(path, name)
    return list(paths.values())
