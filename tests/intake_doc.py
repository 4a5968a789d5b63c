"""docs/intake.md, the intake workbook contract as it ships: written from generator/intake/schema.py
(the tables the reader and `clinic-budget new` use), the known modules of generator/model.py, the
file checks of generator/intake/workbook.py and the rate card. `python -m tests.update_docs`
writes it; tests/test_docs.py fails when it is stale."""

from __future__ import annotations

from generator.intake import schema
from generator.intake.workbook import MAX_FILE, MB
from generator.model import KNOWN_MODULES, Category
from generator.ratecard import default_card

HEADER = """\
# The intake workbook (contract, version 1)

<!-- Generated from generator/intake/schema.py by `python -m tests.update_docs`; do not edit by hand. -->

The intake workbook is `clinic-budget`'s input: one Excel file per clinic. Make a blank one with
`clinic-budget new intake.xlsx` (every sheet explains itself and its dropdowns list what is
accepted), or build it by hand or export it from another tool (Google Sheets, LibreOffice): any
workbook that follows this page is read. `clinic-budget validate FILE` checks one without writing
anything. Changes to this contract are additive: a workbook valid today stays valid.
"""


def _cell(text: str) -> str:
    return text.replace("|", "&#124;")


def _yes_no() -> str:
    words = [w.capitalize() if w.isalpha() and len(w) > 1 else w.upper() if w.isalpha() else w
             for pair in zip(schema.YES_WORDS, schema.NO_WORDS, strict=True) for w in pair]
    return ", ".join(f"`{w}`" for w in words)


def general_rules() -> list[str]:
    return [
        "## General rules",
        "",
        f"- Format: `.xlsx` (also `.xlsm`; macros are never run), at most {MAX_FILE // MB} MB. A `.xls`, `.xlsb`,"
        " `.ods`, `.csv` or any other file gets a one-line message saying what it is and how to save it as"
        " `.xlsx`; in a batch's input folder such a file is listed on the portfolio page as not read, with"
        " the same message.",
        "- Sheet names, labels and column headers are matched case-insensitively, ignoring surrounding spaces"
        " and a trailing colon (`Clinic Name:` is `Clinic name`). Sheets not named here (instructions,"
        " notes) are ignored; a sheet named close to a known one is a warning.",
        f"- Yes/No cells accept {_yes_no()} and real TRUE/FALSE cells.",
        "- Numbers accept numeric cells and text such as `1,200`, `$175` or `175.00`. Percentages accept"
        " `0.05`, `5%` (text) and percent-formatted cells.",
        "- Dates accept date cells and text in ISO form (`2026-03-02`) or US form (`03/02/2026`).",
        "- Choice cells (listed below with `|`) match case-insensitively.",
        "- A formula cell is read by its saved value; a formula with no saved value (a workbook written by"
        " a tool that never calculated it) is an error that names the cell.",
        "- Every error names the file, the sheet, the cell (A1 style) and the field, says what was found"
        " and what is accepted; all the errors of a workbook are reported together.",
        "- Tables are read by header name, their columns in any order; an unknown header is a warning.",
        f"- Limits: a text cell holds at most {schema.TEXT_LIMIT:,} characters (Notes at most"
        f" {schema.NOTES_LIMIT:,}); the Quotes sheet holds at most {schema.MAX_QUOTES:,} quotes.",
        "",
    ]


def field_table(fields: tuple[schema.Field, ...], first: str) -> list[str]:
    lines = [f"| {first} | Type | Required | Default | What to enter |", "|---|---|---|---|---|"]
    for f in fields:
        lines.append(f"| {f.label} | {_cell(f.type_text)} | {'yes' if f.required else 'no'} | {_cell(f.default)} "
                     f"| {_cell(f.help)} |")
    return [*lines, ""]


def known_modules() -> list[str]:
    names = ", ".join(f"`{m.name}`" for m in KNOWN_MODULES)
    off = ", ".join(f"`{m.name}`" for m in KNOWN_MODULES if not m.default_on)
    phase_two = ", ".join(f"`{m.name}`" for m in KNOWN_MODULES if m.phase == 2)
    return [
        f"Known modules: {names}. A row with any other name is a specialty feature and must give Low"
        " cost and High cost. When the sheet or a known module's row is missing, the defaults apply: every"
        f" known module is included except {off} (off), and `Data migration` is off when Current records"
        f" is None. Known modules are in phase 1 except {phase_two}; specialty features default to phase 2.",
        "",
    ]


def default_products() -> list[str]:
    card = default_card()
    products = [(e.note.split(",")[0], int(e.value)) for e in card if e.key.startswith("offshelf.")
                and e.key.endswith(".monthly")]
    listed = "; ".join(f"{name}, ${price:,}" for name, price in products)
    return [f"When the sheet is missing, the rate card's products are compared, per provider per month: {listed}.",
            ""]


def intake_text() -> str:
    categories = " | ".join(c.value for c in Category)
    lines = [HEADER, *general_rules()]
    lines += [f"## Sheet `{schema.CLINIC_SHEET}` (required)", "",
              "A form: labels in column A, values in column B, in any row order. A row whose label is unknown"
              " and whose column B is empty is a heading; an unknown label with a value is a warning that"
              " suggests the closest known label.", "",
              *field_table(schema.CLINIC_FIELDS, "Label")]
    lines += [f"## Sheet `{schema.MODULES_SHEET}` (optional)", "",
              "A table: the first row is the header, one module a row.", "",
              *field_table(schema.MODULE_COLUMNS, "Column"), *known_modules()]
    lines += [f"## Sheet `{schema.INTEGRATIONS_SHEET}` (optional)", "",
              "A table, header first, one connected external system a row. Each row is priced by its"
              f" category ({categories}) from the rate card.", "",
              *field_table(schema.INTEGRATION_COLUMNS, "Column")]
    lines += [f"## Sheet `{schema.SUBSCRIPTIONS_SHEET}` (optional)", "",
              "The off-the-shelf products to compare against, a table, header first.", "",
              *field_table(schema.SUBSCRIPTION_COLUMNS, "Column"), *default_products()]
    lines += [f"## Sheet `{schema.QUOTES_SHEET}` (optional)", "",
              "Development vendors' quotes for the custom build of the base intake's scope, a table, header"
              " first, one quote a row. The last five columns are the guide's five questions to ask any EHR"
              " development vendor; a blank answer counts as not answered.", "",
              *field_table(schema.QUOTE_COLUMNS, "Column")]
    lines += [f"## Sheet `{schema.SCENARIOS_SHEET}` (optional)", "",
              "A table, header first. Column A is `Scenario` (the scenario's name); every other column is"
              f" headed by a `{schema.CLINIC_SHEET}` label, a module name (Yes/No: include it) or a rate-card"
              " key, and each row overrides those values of the base intake; an empty cell keeps the base"
              " value. Without this sheet the workbook is one scenario named `Baseline`; with it, the base"
              " intake is still the first scenario, and each row adds one.", ""]
    lines += [f"## Sheet `{schema.ASSUMPTIONS_SHEET}` (optional)", "",
              "Rate-card overrides for this workbook, a table, header first. The report lists each override"
              " and its source. An unknown key is an error that suggests the closest known key;"
              " [docs/ratecard.md](ratecard.md) and `clinic-budget assumptions` list every key with its"
              " default and source.", "",
              *field_table(schema.ASSUMPTION_COLUMNS, "Column")]
    return "\n".join(lines).rstrip("\n") + "\n"
