"""`clinic-budget new`: the blank workbook a practice manager fills in, and the shipped examples."""

from __future__ import annotations

import datetime as dt
import importlib.util
import time
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from generator.intake import schema
from generator.intake.blank import EXAMPLES, dropdown_choices
from generator.model import KNOWN_MODULES, MODULES_BY_NAME
from generator.ratecard import default_card
from tests.helpers import run_cli

INPUTS = Path(__file__).resolve().parent.parent / "inputs"
SHEETS = ["Instructions", "Clinic", "Modules", "Integrations", "Subscriptions", "Quotes", "Scenarios",
          "Assumptions"]
HAS_READER = importlib.util.find_spec("generator.intake.reader") is not None
needs_reader = pytest.mark.skipif(not HAS_READER, reason="generator.intake.reader is not written yet")


@pytest.fixture(scope="module")
def blank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("new") / "blank.xlsx"
    result = run_cli("new", path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"wrote a blank intake workbook to {path}\n"
    return path


@pytest.fixture(scope="module")
def blank_wb(blank: Path) -> Workbook:
    return load_workbook(blank)


def clinic_rows(ws: Worksheet) -> dict[str, int]:
    """Clinic label -> row number."""
    return {str(row[0].value): row[0].row for row in ws.iter_rows(max_col=1) if row[0].value}


def validation_for(ws: Worksheet, ref: str) -> DataValidation | None:
    found = [dv for dv in ws.data_validations.dataValidation if ref in dv.sqref]
    assert len(found) <= 1, f"{ws.title}!{ref} has {len(found)} validations"
    return found[0] if found else None


def list_items(dv: DataValidation) -> list[str]:
    assert dv.type == "list"
    formula = dv.formula1
    assert formula.startswith('"') and formula.endswith('"'), formula
    return formula[1:-1].split(",")


def values(ws: Worksheet) -> list[tuple[object, ...]]:
    """A sheet's non-empty rows, as cell values."""
    return [row for row in ws.iter_rows(values_only=True) if any(v is not None for v in row)]


# ------------------------------------------------------------------ the blank workbook


def test_blank_has_the_sheets_instructions_first(blank_wb: Workbook) -> None:
    assert blank_wb.sheetnames == SHEETS
    assert blank_wb.active.title == "Instructions"


def test_instructions_explain_how_to_fill_it_in_and_get_the_report(blank_wb: Workbook) -> None:
    text = "\n".join(str(v[0]) for v in values(blank_wb["Instructions"]))
    for sheet in SHEETS[1:]:
        assert sheet in text
    assert "dropdown" in text
    assert "default" in text
    assert "clinic-budget run FILE" in text
    assert "empty, the cost guide's products are used" in text
    for field in schema.CLINIC_FIELDS:
        if field.required:
            assert field.label in text


def test_clinic_labels_in_order_with_help_and_defaults(blank_wb: Workbook) -> None:
    ws = blank_wb["Clinic"]
    rows = clinic_rows(ws)
    labels = [f.label for f in schema.CLINIC_FIELDS]
    assert [label for label in rows if label in labels] == labels
    for field in schema.CLINIC_FIELDS:
        row = rows[field.label]
        assert ws.cell(row, 2).value is None, field.label
        help_text = str(ws.cell(row, 3).value)
        assert field.help in help_text
        if field.default:
            assert f"Default: {field.default}." in help_text
        assert help_text.startswith("Required." if field.required else "Optional.")
        assert bool(ws.cell(row, 1).font.b) == field.required, field.label
    assert ws.column_dimensions["C"].width >= 60
    assert ws.freeze_panes == "A2"


def test_clinic_headings_leave_column_b_empty(blank_wb: Workbook) -> None:
    ws = blank_wb["Clinic"]
    known = {f.label for f in schema.CLINIC_FIELDS}
    for label, row in clinic_rows(ws).items():
        if label not in known:
            assert ws.cell(row, 2).value is None, f"heading {label!r} has a value"


@pytest.mark.parametrize(
    "field", [f for f in schema.CLINIC_FIELDS if dropdown_choices(f)], ids=lambda f: f.label,
)
def test_clinic_choice_fields_have_dropdowns(blank_wb: Workbook, field: schema.Field) -> None:
    ws = blank_wb["Clinic"]
    dv = validation_for(ws, f"B{clinic_rows(ws)[field.label]}")
    assert dv is not None, field.label
    expected = list(field.choices) if field.kind == schema.CHOICE else ["Yes", "No"]
    assert list_items(dv) == expected


def test_clinic_whole_numbers_are_checked(blank_wb: Workbook) -> None:
    ws = blank_wb["Clinic"]
    dv = validation_for(ws, f"B{clinic_rows(ws)['Physicians']}")
    assert dv is not None
    assert (dv.type, dv.formula1, dv.formula2) == ("whole", "1", "200")


TABLE_DROPDOWNS = [
    (sheet, col, field)
    for sheet, columns in schema.TABLE_SHEETS.items()
    for col, field in enumerate(columns, start=1)
    if dropdown_choices(field)
]


@pytest.mark.parametrize("sheet, col, field", TABLE_DROPDOWNS,
                         ids=[f"{s}.{f.label}" for s, _, f in TABLE_DROPDOWNS])
def test_table_columns_have_dropdowns(blank_wb: Workbook, sheet: str, col: int,
                                      field: schema.Field) -> None:
    ws = blank_wb[sheet]
    assert ws.cell(1, col).value == field.label
    for row in (2, 9, 150):  # filled rows and the spare ones below
        dv = validation_for(ws, f"{ws.cell(row, col).column_letter}{row}")
        assert dv is not None, f"{sheet}!{field.label} row {row}"
        assert list_items(dv) == list(dropdown_choices(field))


def test_table_dropdowns_cover_the_schema(blank_wb: Workbook) -> None:
    names = {(s, f.label) for s, _, f in TABLE_DROPDOWNS}
    assert names == {
        ("Modules", "Include"), ("Modules", "Phase"), ("Modules", "Complexity"),
        ("Integrations", "Category"), ("Integrations", "Phase"), ("Integrations", "Complexity"),
        ("Quotes", "HIPAA builds in production"), ("Quotes", "FHIR approach"), ("Quotes", "Maintenance SLA"),
        ("Quotes", "Code ownership"), ("Quotes", "Migration plan"),
    }
    assert dropdown_choices(schema.MODULE_COLUMNS[2]) == ("1", "2")


@pytest.mark.parametrize("sheet, columns", schema.TABLE_SHEETS.items())
def test_table_headers_are_the_schema_labels(blank_wb: Workbook, sheet: str,
                                             columns: tuple[schema.Field, ...]) -> None:
    ws = blank_wb[sheet]
    header = [c for c in ws[1] if c.value is not None]
    assert [c.value for c in header] == [c.label for c in columns]
    assert [c.column for c in header] == list(range(1, len(columns) + 1))
    assert ws.freeze_panes == "A2"
    assert all(c.comment is not None for c in header)


def test_quotes_sheet_gives_the_guides_strong_answers_beside_the_table(blank_wb: Workbook) -> None:
    ws = blank_wb["Quotes"]
    panel = [row[12:16] for row in ws.iter_rows(min_row=2, max_row=8, values_only=True)]
    assert panel == [
        ("The guide's five questions to ask any EHR development vendor before signing", None, None, None),
        ("Column", "Question", "What a strong answer looks like (the guide)", "Record it as"),
        ("HIPAA builds in production", "Do you have prior HIPAA-certified EHR builds in production?",
         "Named client references, not just general healthcare experience", "Yes"),
        ("FHIR approach", "How do you handle FHIR R4 API compliance?",
         "Pre-built certified components, not built from scratch each time", "Certified components"),
        ("Maintenance SLA", "What does the maintenance contract cover after launch?",
         "Specific SLA response times, security patch schedule, scope definition", "Yes"),
        ("Code ownership", "Who owns the source code after delivery?",
         "Full code ownership transferred to the clinic at final payment", "Yes"),
        ("Migration plan", "How is data migration handled from our current system?",
         "Defined migration protocol, test environment, rollback plan", "Yes"),
    ]
    assert ws["J1"].comment.text.startswith("Who owns the source code after delivery? The guide's strong answer: "
                                            "Full code ownership transferred to the clinic at final payment.")
    price = validation_for(ws, "B9")
    assert price is not None and (price.type, price.formula1, price.formula2) == ("decimal", "0.01", "100000000")
    text = "\n".join(str(v[0]) for v in values(blank_wb["Instructions"]))
    assert "The last five columns are the guide's five questions" in text


def test_modules_prefilled_from_the_rate_card(blank_wb: Workbook) -> None:
    card = default_card()
    rows = values(blank_wb["Modules"])[1:]
    assert [r[0] for r in rows] == [m.name for m in KNOWN_MODULES]
    for name, include, phase, complexity, low, high, notes in rows:
        known = MODULES_BY_NAME[str(name).lower()]
        assert include == ("No" if known.key == "ai_documentation" else "Yes")
        assert phase == known.phase
        # Staff training is left blank so that its estimate follows the staff users (issue 13).
        assert complexity == (None if known.key == "staff_training" else "Typical")
        assert (low, high) == card.pair(f"module.{known.key}")
        assert notes is None


def test_money_columns_are_currency(blank_wb: Workbook) -> None:
    for sheet, col in [("Modules", "E"), ("Modules", "F"), ("Subscriptions", "B"),
                       ("Subscriptions", "C")]:
        assert "$" in blank_wb[sheet][f"{col}2"].number_format, (sheet, col)
    assert "%" in blank_wb["Subscriptions"]["D2"].number_format


def test_other_tables_are_empty(blank_wb: Workbook) -> None:
    for sheet in ("Integrations", "Subscriptions"):
        assert values(blank_wb[sheet]) == [tuple(c.label for c in schema.TABLE_SHEETS[sheet])]
    assert values(blank_wb["Scenarios"]) == [("Scenario",)]
    assert values(blank_wb["Assumptions"]) == [("Key", "Value", "Source")]


# ------------------------------------------------------------------ the command


@pytest.mark.slow
def test_new_refuses_to_overwrite(blank: Path) -> None:
    before = blank.read_bytes()
    result = run_cli("new", blank)
    assert result.returncode == 2
    assert result.stderr == f"error: {blank}: already exists; pass --force to overwrite it\n"
    assert blank.read_bytes() == before


@pytest.mark.slow
def test_new_force_overwrites_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "clinic.xlsx"
    path.write_text("not a workbook")
    result = run_cli("new", path, "--example", "orthopedic", "--force")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"wrote example 'orthopedic' to {path}\n"
    assert load_workbook(path)["Clinic"]["B2"].value == "Summit Orthopedics & Sports Medicine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clinic.xlsx"]


@pytest.mark.slow
def test_new_creates_missing_folders(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "clinic.xlsx"
    assert run_cli("new", path).returncode == 0
    assert path.exists()


@pytest.mark.slow
def test_unknown_example_lists_the_names(tmp_path: Path) -> None:
    path = tmp_path / "x.xlsx"
    result = run_cli("new", path, "--example", "orthopedics")
    assert result.returncode == 2
    assert result.stderr == (
        "error: --example: unknown example 'orthopedics' "
        "(choose from family-practice, orthopedic, urgent-care, pediatrics-quotes); did you mean 'orthopedic'?\n"
    )
    assert not path.exists()


@pytest.mark.slow
def test_new_list(tmp_path: Path) -> None:
    result = run_cli("new", tmp_path / "unused.xlsx", "--list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(EXAMPLES)
    for line, example in zip(lines, EXAMPLES.values(), strict=True):
        assert line.endswith(example.description)
    assert not (tmp_path / "unused.xlsx").exists()


@pytest.mark.slow
def test_new_needs_xlsx(tmp_path: Path) -> None:
    result = run_cli("new", tmp_path / "clinic.csv")
    assert result.returncode == 2
    assert "must end in .xlsx" in result.stderr


# ------------------------------------------------------------------ the examples


def test_the_brief_s_examples_ship() -> None:
    assert {"family-practice", "orthopedic", "urgent-care"} <= set(EXAMPLES)
    assert sorted(p.stem for p in INPUTS.glob("*.xlsx")) == sorted(EXAMPLES)


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_data_follows_the_contract(name: str) -> None:
    example = EXAMPLES[name]
    fields = {f.label: f for f in schema.CLINIC_FIELDS}
    given = dict(example.clinic)
    assert set(given) <= set(fields)
    for label, field in fields.items():
        if field.required or label in ("Prepared for", "Prepared by", "Report date"):
            assert given.get(label) not in (None, ""), label
        if field.kind == schema.CHOICE and label in given:
            assert given[label] in field.choices
    assert isinstance(given["Report date"], dt.date)
    card = default_card()
    for key, _value, source in example.assumptions:
        assert key in card and source
    for header in example.scenarios[:1]:
        assert header[0] == "Scenario"
        for column in header[1:]:
            assert (column in fields or str(column).lower() in MODULES_BY_NAME or column in card)


def test_orthopedic_is_the_guide_s_worked_example() -> None:
    # "A 5-physician orthopedic practice connecting to a lab system, a billing platform, and an
    # e-prescribing tool will typically land between $65,000 and $85,000"
    example = EXAMPLES["orthopedic"]
    assert example.clinic_value("Physicians") == 5
    assert example.clinic_value("Specialty") == "Orthopedics"
    assert sorted(str(r[1]) for r in example.integrations) == ["Billing", "E-prescribing", "Lab"]
    assert len(example.scenarios) == 3


@pytest.mark.slow
@pytest.mark.parametrize("name", EXAMPLES)
def test_shipped_inputs_match_what_new_writes(tmp_path: Path, name: str) -> None:
    """Regenerate with: python -m tests.update_inputs"""
    fresh = tmp_path / f"{name}.xlsx"
    assert run_cli("new", fresh, "--example", name).returncode == 0
    shipped, written = load_workbook(INPUTS / f"{name}.xlsx"), load_workbook(fresh)
    assert shipped.sheetnames == written.sheetnames
    for sheet in written.sheetnames:
        assert values(shipped[sheet]) == values(written[sheet]), (
            f"inputs/{name}.xlsx › {sheet} is stale; run: python -m tests.update_inputs")
    assert fresh.read_bytes() == (INPUTS / f"{name}.xlsx").read_bytes(), "stale; run: python -m tests.update_inputs"


def test_new_writes_the_same_bytes_every_time(tmp_path: Path) -> None:
    """`new` is reproducible, like the documents: the shipped inputs do not churn when regenerated."""
    from generator.intake.blank import write_blank, write_example

    write_example(tmp_path / "a.xlsx", "orthopedic")
    write_blank(tmp_path / "b.xlsx")
    time.sleep(1.1)  # the zip and property dates would differ by now
    write_example(tmp_path / "c.xlsx", "orthopedic")
    write_blank(tmp_path / "d.xlsx")
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "c.xlsx").read_bytes()
    assert (tmp_path / "b.xlsx").read_bytes() == (tmp_path / "d.xlsx").read_bytes()


def test_python_m_examples_writes_every_example(tmp_path: Path) -> None:
    from tests.update_inputs import main

    assert main([str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.xlsx" for n in EXAMPLES)


@pytest.mark.slow
@needs_reader
@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_validate(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.xlsx"
    assert run_cli("new", path, "--example", name).returncode == 0
    result = run_cli("validate", path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no warnings either
    scenarios = 1 + max(len(EXAMPLES[name].scenarios) - 1, 0)
    assert result.stdout.startswith(f"{path}: ok ({scenarios} scenario")


@pytest.mark.slow
@needs_reader
@pytest.mark.parametrize("name", EXAMPLES)
def test_shipped_inputs_validate(name: str) -> None:
    result = run_cli("validate", INPUTS / f"{name}.xlsx")
    assert result.returncode == 0, result.stderr


@needs_reader
def test_examples_read_back_as_written() -> None:
    from generator.intake.reader import read_intake

    intake = read_intake(INPUTS / "orthopedic.xlsx")
    clinic = intake.base.clinic
    assert (clinic.name, clinic.physicians, clinic.report_date) == (
        "Summit Orthopedics & Sports Medicine", 5, dt.date(2026, 4, 15))
    assert [s.name for s in intake.scenarios] == ["Baseline", "US team", "With AI scribe"]
    categories = [i.category.value for i in intake.base.integrations]
    assert categories == ["Lab", "Billing", "E-prescribing"]
    specialty = [(m.name, m.low, m.high) for m in intake.base.modules if m.is_specialty]
    assert specialty == [("Orthopedic imaging viewer", 10000, 22000)]
    assert intake.base.card.value("offshelf.increase_pct") == pytest.approx(0.06)


@pytest.mark.slow
@needs_reader
def test_blank_with_required_fields_filled_in_validates(blank: Path, tmp_path: Path) -> None:
    wb = load_workbook(blank)
    ws = wb["Clinic"]
    rows = clinic_rows(ws)
    answers = {"Clinic name": "Ridgeview Family Medicine", "Clinic type": "Family practice",
               "Physicians": 3, "Current records": "Paper"}
    assert set(answers) == {f.label for f in schema.CLINIC_FIELDS if f.required}
    for label, value in answers.items():
        ws.cell(rows[label], 2).value = value
    path = tmp_path / "filled.xlsx"
    wb.save(path)
    result = run_cli("validate", path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout == f"{path}: ok (1 scenario)\n"


@pytest.mark.slow
@needs_reader
def test_untouched_blank_names_every_required_field(blank: Path) -> None:
    result = run_cli("validate", blank)
    assert result.returncode == 2
    for field in schema.CLINIC_FIELDS:
        if field.required:
            assert f"({field.label})" in result.stderr
