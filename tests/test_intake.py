"""The intake contract (../shared/intake-spec.md): every rule, with its exact message."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from generator.errors import IntakeError
from generator.intake.reader import read_intake, slugify
from generator.model import (
    KNOWN_MODULES,
    Category,
    ClinicType,
    Complexity,
    Hosting,
    Intake,
    Level,
    Records,
    Team,
)
from generator.ratecard import default_card
from tests.builders import BASE_CLINIC, clinic_workbook, write_workbook

# Physicians sits on row 4 here, so messages point at Clinic!B4 as in the style guide.
FORM: list[list[object]] = [
    ["Clinic profile"],
    ["Clinic name", "Ridgeview Family Medicine"],
    ["Clinic type", "Family practice"],
    ["Physicians", 3],
    ["Current records", "Paper"],
]


def form(**changes: object) -> list[list[object]]:
    """FORM with some labels' values replaced (None removes the row)."""
    rows: list[list[object]] = []
    for row in FORM:
        label = str(row[0])
        if label in changes:
            if changes[label] is not None:
                rows.append([label, changes[label]])
        else:
            rows.append(list(row))
    known = {str(r[0]) for r in FORM}
    rows += [[label, value] for label, value in changes.items() if label not in known]
    return rows


def book(tmp_path: Path, clinic: list[list[object]] | None = None, **sheets: list[list[object]]) -> Path:
    return clinic_workbook(tmp_path / "ridgeview.xlsx", clinic if clinic is not None else FORM, **sheets)


def read(tmp_path: Path, clinic: list[list[object]] | None = None, **sheets: list[list[object]]) -> Intake:
    return read_intake(book(tmp_path, clinic, **sheets))


def problems(tmp_path: Path, clinic: list[list[object]] | None = None, **sheets: list[list[object]]) -> list[str]:
    with pytest.raises(IntakeError) as info:
        read(tmp_path, clinic, **sheets)
    return info.value.lines()


def module(intake: Intake, name: str, scenario: int = 0):  # type: ignore[no-untyped-def]
    return next(m for m in intake.scenarios[scenario].modules if m.name == name)


# ---------------------------------------------------------------- the whole intake


def test_minimal_workbook_gives_one_baseline_scenario_with_the_spec_defaults(tmp_path: Path) -> None:
    intake = read_intake(clinic_workbook(tmp_path / "Ridgeview Family.xlsx"))
    assert intake.source == "Ridgeview Family.xlsx"
    assert intake.slug == "ridgeview-family"
    assert [s.name for s in intake.scenarios] == ["Baseline"]
    assert intake.warnings == ()
    clinic = intake.base.clinic
    assert (clinic.name, clinic.clinic_type, clinic.physicians, clinic.records) == (
        "Ridgeview Family Medicine", ClinicType.FAMILY, 3, Records.PAPER)
    assert clinic.report_date == dt.date(2026, 3, 2)
    assert (clinic.hosting, clinic.team, clinic.workflow_specificity) == (Hosting.CLOUD, Team.OFFSHORE, Level.MEDIUM)
    assert (clinic.staff_users, clinic.hourly_rate, clinic.development_hours) == (None, None, None)
    assert (clinic.certified_components, clinic.horizon_years, clinic.specialty) == (False, 5, "")
    assert intake.base.integrations == () and intake.base.subscriptions == ()
    assert intake.base.card == default_card()


def test_modules_default_to_every_known_module_but_ai_documentation(tmp_path: Path) -> None:
    modules = read(tmp_path).base.modules
    assert [m.name for m in modules] == [k.name for k in KNOWN_MODULES]
    assert {m.name: m.include for m in modules} == {k.name: k.name != "AI documentation" for k in KNOWN_MODULES}
    assert [m.phase for m in modules] == [k.phase for k in KNOWN_MODULES]
    assert all(m.complexity is None and m.low is None and m.high is None for m in modules)


def test_data_migration_is_off_by_default_when_there_are_no_current_records(tmp_path: Path) -> None:
    intake = read(tmp_path, form(**{"Current records": "None"}))
    assert intake.base.clinic.records is Records.NONE
    assert module(intake, "Data migration").include is False


@pytest.mark.parametrize(("name", "slug"), [
    ("Ridgeview Family.xlsx", "ridgeview-family"),
    ("  --Dr. Smith & Sons (2026).xlsm", "dr-smith-sons-2026"),
    ("Clínica São José.xlsx", "clinica-sao-jose"),
    ("ridgeview", "ridgeview"),
    ("!!!.xlsx", "workbook"),
])
def test_slugify(name: str, slug: str) -> None:
    assert slugify(name) == slug


@given(st.lists(st.sampled_from(["/", ".", "..", "a", "B", "é", " ", "-", "xlsx", "x.y"]), max_size=8).map("".join)
       | st.text(max_size=20))
def test_slugify_takes_the_stem_pathlib_does(name: str) -> None:
    """slugify avoids `Path` (pathlib interns names, see generator.run.batch) but must give every
    name the folder it always had: output folders must not move between versions."""
    import re
    import unicodedata
    from pathlib import PurePosixPath

    if "\0" in name:
        return
    stem = unicodedata.normalize("NFKD", PurePosixPath(name).stem).encode("ascii", "ignore").decode("ascii")
    assert slugify(name) == (re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-") or "workbook")


def test_every_problem_in_a_workbook_is_reported_together(tmp_path: Path) -> None:
    lines = problems(tmp_path, form(Physicians="three", Hosting="Cloudy", **{"Report date": "soon"}))
    assert lines == [
        "ridgeview.xlsx › Clinic!B4 (Physicians): expected a whole number from 1 to 200, got 'three'",
        "ridgeview.xlsx › Clinic!B6 (Hosting): expected one of Cloud | On-premise, got 'Cloudy'; "
        "did you mean 'Cloud'?",
        "ridgeview.xlsx › Clinic!B7 (Report date): expected a date such as 2026-03-02 or 03/02/2026, "
        "got 'soon'",
    ]


# ---------------------------------------------------------------- the Clinic sheet


def test_labels_in_any_order_any_case_with_a_trailing_colon(tmp_path: Path) -> None:
    clinic = [
        ["  current RECORDS:", "legacy ehr"],
        ["PHYSICIANS :", 12],
        ["Clinic Type", " urgent CARE "],
        ["clinic name:", "  Northside Urgent Care "],
    ]
    intake = read(tmp_path, clinic)
    c = intake.base.clinic
    assert (c.name, c.clinic_type, c.physicians, c.records) == (
        "Northside Urgent Care", ClinicType.URGENT, 12, Records.LEGACY)


def test_sheet_names_match_case_insensitively_ignoring_spaces(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "ridgeview.xlsx", {
        "Instructions": [["Fill in the Clinic sheet."]],
        " clinic ": FORM,
        "INTEGRATIONS": [["System", "Category"], ["Quest", "Lab"]],
    })
    intake = read_intake(path)
    assert intake.base.clinic.physicians == 3
    assert [i.system for i in intake.base.integrations] == ["Quest"]
    assert intake.warnings == ()


def test_every_optional_clinic_field(tmp_path: Path) -> None:
    clinic = form(**{
        "Specialty": "Orthopedics", "Staff users": "14", "Hosting": "on-premise",
        "Development team": "us", "Hourly rate": "$1,000", "Development hours": "1,350.5",
        "Workflow specificity": "HIGH", "Certified components": "Y", "Horizon years": 7.0,
        "Prepared for": "Dr. Lee", "Prepared by": 2026, "Report date": dt.datetime(2026, 3, 2),
    })
    c = read(tmp_path, clinic).base.clinic
    assert (c.specialty, c.staff_users, c.hosting, c.team) == ("Orthopedics", 14, Hosting.ONPREM, Team.US)
    assert (c.hourly_rate, c.development_hours) == (1000.0, 1350.5)
    assert (c.workflow_specificity, c.certified_components, c.horizon_years) == (Level.HIGH, True, 7)
    assert (c.prepared_for, c.prepared_by, c.report_date) == ("Dr. Lee", "2026", dt.date(2026, 3, 2))


def test_blank_optional_fields_keep_their_defaults(tmp_path: Path) -> None:
    c = read(tmp_path, form(**{"Report date": None, "Staff users": None, "Hosting": "  "})).base.clinic
    assert (c.report_date, c.staff_users, c.hosting) == (None, None, Hosting.CLOUD)


def test_headings_are_ignored_and_an_unknown_label_with_a_value_is_a_warning(tmp_path: Path) -> None:
    intake = read(tmp_path, [*FORM, ["Billing details"], ["Physican count", 4], [None, "stray"]])
    assert intake.warnings == (
        "ridgeview.xlsx › Clinic!A7: unknown label 'Physican count' (its value is ignored); "
        "did you mean 'Physicians'?",
    )


def test_an_unknown_label_with_nothing_close_warns_without_a_suggestion(tmp_path: Path) -> None:
    intake = read(tmp_path, [*FORM, ["Parking spaces", 40]])
    assert intake.warnings == ("ridgeview.xlsx › Clinic!A6: unknown label 'Parking spaces' (its value is ignored)",)


def test_a_duplicate_label_is_an_error(tmp_path: Path) -> None:
    assert problems(tmp_path, [*FORM, ["physicians:", 4]]) == [
        "ridgeview.xlsx › Clinic!A6 (Physicians): the label appears twice (first at A4); keep one row",
    ]


def test_a_missing_required_label_names_the_row_to_add(tmp_path: Path) -> None:
    assert problems(tmp_path, form(Physicians=None)) == [
        "ridgeview.xlsx › Clinic (Physicians): required field is missing; "
        "add a row 'Physicians' with its value in column B",
    ]


def test_a_required_label_with_an_empty_value_names_the_cell(tmp_path: Path) -> None:
    clinic = [row if row[0] != "Clinic type" else ["Clinic type"] for row in FORM]
    assert problems(tmp_path, clinic) == [
        "ridgeview.xlsx › Clinic!B3 (Clinic type): required field is empty; expected one of "
        "Family practice | Urgent care | Specialty clinic | Multi-specialty | Other",
    ]


def test_a_workbook_without_a_clinic_sheet(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "ridgeview.xlsx", {"Clinc": FORM})
    with pytest.raises(IntakeError) as info:
        read_intake(path)
    assert info.value.lines() == [
        "ridgeview.xlsx: the workbook has no 'Clinic' sheet; add one with the labels in column A and "
        "their values in column B; did you mean 'Clinc'?",
    ]


@pytest.mark.parametrize(("value", "shown"), [
    ("three", "'three'"), (3.5, "3.5"), (0, "0"), (201, "201"), ("-2", "'-2'"), (True, "TRUE"),
    ("3 doctors", "'3 doctors'"), ("nan", "'nan'"), ("inf", "'inf'"),
])
def test_physicians_must_be_a_whole_number_from_1_to_200(tmp_path: Path, value: object, shown: str) -> None:
    assert problems(tmp_path, form(Physicians=value)) == [
        f"ridgeview.xlsx › Clinic!B4 (Physicians): expected a whole number from 1 to 200, got {shown}",
    ]


@pytest.mark.parametrize("value", [3, 3.0, "3", " 3.0 ", "3.00"])
def test_whole_numbers_accept_whole_values_written_any_way(tmp_path: Path, value: object) -> None:
    assert read(tmp_path, form(Physicians=value)).base.clinic.physicians == 3


def test_horizon_years_bounds(tmp_path: Path) -> None:
    assert problems(tmp_path, form(**{"Horizon years": 11})) == [
        "ridgeview.xlsx › Clinic!B6 (Horizon years): expected a whole number from 3 to 10, got 11",
    ]


@pytest.mark.parametrize(("value", "expected"), [
    ("$1,000", 1000.0), ("1,000", 1000.0), ("$175", 175.0), ("175.00", 175.0), (" $ 62.50 ", 62.5),
    (40, 40.0), (37.5, 37.5), (37.499, 37.5),
])
def test_money_accepts_numbers_and_money_text(tmp_path: Path, value: object, expected: float) -> None:
    assert read(tmp_path, form(**{"Hourly rate": value})).base.clinic.hourly_rate == expected


@pytest.mark.parametrize(("value", "shown"), [
    ("forty", "'forty'"), (-5, "-5"), ("-$5", "'-$5'"), ("1,20", "'1,20'"), ("1.2.3", "'1.2.3'"),
    (0, "0"), (1000.01, "1000.01"), ("$1,200", "'$1,200'"), (1e12, "1000000000000"), (1e308, "1e+308"),
    (0.004, "0.004"),
])
def test_money_rejects_words_negatives_zero_and_rates_past_1000(tmp_path: Path, value: object, shown: str) -> None:
    """Issue 13's input bounds: more than 0 and at most $1,000; read to the cent, so a rate of
    5e-324 (which made NaN figures) is 0 and refused."""
    assert problems(tmp_path, form(**{"Hourly rate": value})) == [
        "ridgeview.xlsx › Clinic!B6 (Hourly rate): expected an amount in USD, more than 0 and at most 1,000, "
        f"such as 45 or $175.50, got {shown}",
    ]


@pytest.mark.parametrize(("value", "shown"), [("lots", "'lots'"), (0, "0"), (100_001, "100001"), (1e308, "1e+308"),
                                              (0.001, "0.001")])
def test_development_hours_are_more_than_0_and_at_most_100000(tmp_path: Path, value: object, shown: str) -> None:
    assert problems(tmp_path, form(**{"Development hours": value})) == [
        "ridgeview.xlsx › Clinic!B6 (Development hours): expected a number, more than 0 and at most 100,000, "
        f"got {shown}",
    ]


@pytest.mark.parametrize(("label", "value", "side"), [("Hourly rate", 5, "low"), ("Hourly rate", 900, "high"),
                                                      ("Development hours", 20, "low"),
                                                      ("Development hours", 90_000, "high")])
def test_implausible_but_possible_rates_and_hours_are_warnings(tmp_path: Path, label: str, value: float,
                                                                side: str) -> None:
    intake = read(tmp_path, form(**{label: value}))
    assert len(intake.warnings) == 1
    assert intake.warnings[0].startswith(f"ridgeview.xlsx › Clinic!B6 ({label}): {value} is unusually {side} ")
    assert intake.warnings[0].endswith("; check it")


@pytest.mark.parametrize(("label", "value"), [("Hourly rate", 40), ("Hourly rate", 175), ("Development hours", 1200)])
def test_the_guides_rates_and_hours_give_no_warning(tmp_path: Path, label: str, value: float) -> None:
    assert read(tmp_path, form(**{label: value})).warnings == ()


@pytest.mark.parametrize(("value", "expected"), [
    ("Yes", True), ("no", False), ("Y", True), ("n", False), ("TRUE", True), ("false", False),
    ("1", True), ("0", False), (1, True), (0, False), (True, True), (False, False),
])
def test_yes_no_accepts_the_spec_words(tmp_path: Path, value: object, expected: bool) -> None:
    clinic = form(**{"Certified components": value})
    assert read(tmp_path, clinic).base.clinic.certified_components is expected


def test_yes_no_rejects_anything_else(tmp_path: Path) -> None:
    assert problems(tmp_path, form(**{"Certified components": "maybe"})) == [
        "ridgeview.xlsx › Clinic!B6 (Certified components): expected Yes or No, got 'maybe'",
    ]


@pytest.mark.parametrize("value", ["2026-03-02", "03/02/2026", "3/2/2026", dt.datetime(2026, 3, 2),
                                   dt.date(2026, 3, 2)])
def test_dates_accept_date_cells_iso_and_us_text(tmp_path: Path, value: object) -> None:
    assert read(tmp_path, form(**{"Report date": value})).base.clinic.report_date == dt.date(2026, 3, 2)


@pytest.mark.parametrize("value", ["02/30/2026", "2026-13-01", "March 2nd", "02.03.2026"])
def test_impossible_or_unknown_dates_are_errors(tmp_path: Path, value: str) -> None:
    assert problems(tmp_path, form(**{"Report date": value})) == [
        "ridgeview.xlsx › Clinic!B6 (Report date): expected a date such as 2026-03-02 or 03/02/2026, "
        f"got '{value}'",
    ]


@pytest.mark.parametrize(("value", "expected"), [
    ("multi-specialty", ClinicType.MULTI), ("MULTI SPECIALTY", ClinicType.MULTI),
    ("  specialty clinic ", ClinicType.SPECIALTY), ("other", ClinicType.OTHER),
])
def test_choices_match_case_insensitively(tmp_path: Path, value: str, expected: ClinicType) -> None:
    assert read(tmp_path, form(**{"Clinic type": value})).base.clinic.clinic_type is expected


def test_a_choice_error_lists_the_accepted_choices(tmp_path: Path) -> None:
    assert problems(tmp_path, form(**{"Clinic type": "Dental"})) == [
        "ridgeview.xlsx › Clinic!B3 (Clinic type): expected one of Family practice | Urgent care | "
        "Specialty clinic | Multi-specialty | Other, got 'Dental'",
    ]


def test_a_formula_cell_is_read_by_its_cached_value(tmp_path: Path) -> None:
    """openpyxl writes no cached value; edit the saved XML to look like Excel's output."""
    path = book(tmp_path)
    import zipfile

    with zipfile.ZipFile(path) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"]
    assert b'<c r="B4" t="n"><v>3</v></c>' in sheet
    parts["xl/worksheets/sheet1.xml"] = sheet.replace(
        b'<c r="B4" t="n"><v>3</v></c>', b'<c r="B4"><f>1+2</f><v>3</v></c>')
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    assert read_intake(path).base.clinic.physicians == 3


def test_a_formula_with_no_saved_value_is_an_error_naming_the_cell(tmp_path: Path) -> None:
    assert problems(tmp_path, form(Physicians="=B9*2")) == [
        "ridgeview.xlsx › Clinic!B4 (Physicians): formula '=B9*2' has no saved value (the workbook "
        "was never calculated); open and save it in Excel or LibreOffice, or type the value",
    ]


def test_a_formula_with_no_saved_value_outside_the_read_cells_is_ignored(tmp_path: Path) -> None:
    clinic = [[*row, "=1+2"] for row in FORM]
    assert read(tmp_path, clinic).base.clinic.physicians == 3


# ---------------------------------------------------------------- Modules


MODULES_HEADER = ["Module", "Include", "Phase", "Complexity", "Low cost", "High cost", "Notes"]


def test_modules_sheet_rows_override_the_defaults(tmp_path: Path) -> None:
    intake = read(tmp_path, Modules=[
        MODULES_HEADER,
        ["AI documentation", "Yes", 1, "high", None, None, "Ambient scribe"],
        ["patient records", "No"],
        ["Telehealth visits", None, None, "Low", "$20,000", "35000"],
        [None],
        ["Staff training", None, "2"],
    ])
    ai, records, training = (module(intake, n) for n in ("AI documentation", "Patient records", "Staff training"))
    assert (ai.include, ai.phase, ai.complexity, ai.notes) == (True, 1, Complexity.HIGH, "Ambient scribe")
    assert records.include is False
    assert (training.include, training.phase) == (True, 2)
    assert [m.name for m in intake.base.modules] == [k.name for k in KNOWN_MODULES] + ["Telehealth visits"]
    tele = intake.base.modules[-1]
    assert (tele.include, tele.phase, tele.complexity, tele.low, tele.high, tele.known) == (
        True, 2, Complexity.LOW, 20000, 35000, None)


def test_a_module_row_with_a_blank_include_is_included(tmp_path: Path) -> None:
    intake = read(tmp_path, form(**{"Current records": "None"}),
                  Modules=[["Module", "Include"], ["AI documentation"], ["Data migration", " "]])
    assert module(intake, "AI documentation").include is True
    assert module(intake, "Data migration").include is True


def test_modules_columns_in_any_order_and_an_unknown_column_warns(tmp_path: Path) -> None:
    sheet = [["high COST:", "Colour", "Module", "Low Cost"], [30000, "red", "FHIR R4 API", 9000]]
    intake = read(tmp_path, Modules=sheet)
    fhir = module(intake, "FHIR R4 API")
    assert (fhir.low, fhir.high) == (9000, 30000)
    assert intake.warnings == ("ridgeview.xlsx › Modules!B1: unknown column 'Colour' (its values are ignored)",)


def test_an_unknown_modules_column_close_to_a_known_one_suggests_it(tmp_path: Path) -> None:
    intake = read(tmp_path, Modules=[["Module", "Includes"], ["Patient records", "Yes"]])
    assert intake.warnings == (
        "ridgeview.xlsx › Modules!B1: unknown column 'Includes' (its values are ignored); did you mean 'Include'?",
    )


def test_an_empty_modules_sheet_keeps_the_defaults(tmp_path: Path) -> None:
    assert read(tmp_path, Modules=[]).base.modules == read(tmp_path).base.modules


def test_a_modules_sheet_without_a_module_column(tmp_path: Path) -> None:
    assert problems(tmp_path, Modules=[["Name", "Include"], ["Patient records", "Yes"]]) == [
        "ridgeview.xlsx › Modules (Module): no 'Module' column; the first row must be the header, "
        "naming the columns: Module, Include, Phase, Complexity, Low cost, High cost, Notes",
    ]


def test_a_specialty_feature_needs_both_costs(tmp_path: Path) -> None:
    assert problems(tmp_path, Modules=[["Module", "Low cost", "High cost"], ["Wound imaging", 5000]]) == [
        "ridgeview.xlsx › Modules!C2 (High cost): a specialty feature ('Wound imaging') needs its cost "
        "range; expected an amount in USD, 0 or more, such as 1,200 or $175",
    ]


def test_a_specialty_feature_without_cost_columns(tmp_path: Path) -> None:
    assert problems(tmp_path, Modules=[["Module"], ["Wound imaging"]]) == [
        "ridgeview.xlsx › Modules!A2 (Low cost): a specialty feature ('Wound imaging') needs its cost "
        "range; add a 'Low cost' column",
        "ridgeview.xlsx › Modules!A2 (High cost): a specialty feature ('Wound imaging') needs its cost "
        "range; add a 'High cost' column",
    ]


def test_high_cost_below_low_cost_is_an_error_on_the_high_cost(tmp_path: Path) -> None:
    assert problems(tmp_path, Modules=[["Module", "Low cost", "High cost"], ["Wound imaging", 9000, 5000]]) == [
        "ridgeview.xlsx › Modules!C2 (High cost): expected an amount of at least the Low cost ($9,000), got 5000",
    ]


def test_one_sided_known_module_costs_are_checked_against_the_rate_card(tmp_path: Path) -> None:
    assert problems(tmp_path, Modules=[
        ["Module", "Low cost", "High cost"],
        ["Patient records", None, 5000],  # card low 8,000
        ["FHIR R4 API", 20000],  # card high 15,000
    ]) == [
        "ridgeview.xlsx › Modules!C2 (High cost): expected an amount of at least the rate card's low "
        "cost for this module ($8,000), got 5000",
        "ridgeview.xlsx › Modules!B3 (Low cost): expected an amount of at most the rate card's high "
        "cost for this module ($15,000), got 20000",
    ]


def test_one_sided_known_module_cost_inside_the_card_range(tmp_path: Path) -> None:
    fhir = module(read(tmp_path, Modules=[["Module", "High cost"], ["FHIR R4 API", 12000]]), "FHIR R4 API")
    assert (fhir.low, fhir.high) == (None, 12000)


def test_a_module_listed_twice(tmp_path: Path) -> None:
    assert problems(tmp_path, Modules=[["Module"], ["Patient records"], ["PATIENT RECORDS "]]) == [
        "ridgeview.xlsx › Modules!A3 (Module): module 'PATIENT RECORDS' is listed twice (first in row 2); "
        "keep one row",
    ]


def test_module_cells_are_validated(tmp_path: Path) -> None:
    assert problems(tmp_path, Modules=[
        ["Module", "Include", "Phase", "Complexity"],
        ["Patient records", "perhaps", 3, "Hard"],
        [None, "Yes"],
    ]) == [
        "ridgeview.xlsx › Modules!B2 (Include): expected Yes or No, got 'perhaps'",
        "ridgeview.xlsx › Modules!C2 (Phase): expected phase 1 or 2, got 3",
        "ridgeview.xlsx › Modules!D2 (Complexity): expected one of Low | Typical | High, got 'Hard'",
        "ridgeview.xlsx › Modules!A3 (Module): required field is empty; expected text",
    ]


# ---------------------------------------------------------------- Integrations


def test_integrations_with_their_defaults(tmp_path: Path) -> None:
    intake = read(tmp_path, Integrations=[
        ["System", "Category", "Vendor", "Phase", "Complexity"],
        ["Quest lab interface", "lab", "Quest", None, None],
        ["Surescripts", "eprescribing", None, 1, "high"],
        ["Clearinghouse", "Billing"],
        ["PACS", "IMAGING"],
        ["Fax", " other "],
        ["DrFirst", "E-Prescribing"],
    ])
    got = [(i.system, i.category, i.vendor, i.phase, i.complexity) for i in intake.base.integrations]
    assert got == [
        ("Quest lab interface", Category.LAB, "Quest", 2, Complexity.TYPICAL),
        ("Surescripts", Category.EPRESCRIBING, "", 1, Complexity.HIGH),
        ("Clearinghouse", Category.BILLING, "", 2, Complexity.TYPICAL),
        ("PACS", Category.IMAGING, "", 2, Complexity.TYPICAL),
        ("Fax", Category.OTHER, "", 2, Complexity.TYPICAL),
        ("DrFirst", Category.EPRESCRIBING, "", 2, Complexity.TYPICAL),
    ]


def test_integration_rows_need_a_system_and_a_known_category(tmp_path: Path) -> None:
    assert problems(tmp_path, Integrations=[
        ["System", "Category", "Vendor"], ["Quest", None], [None, "Lab", "LabCorp"], ["Fax", "Faxes"],
    ]) == [
        "ridgeview.xlsx › Integrations!B2 (Category): required field is empty; expected one of "
        "Lab | Imaging | Billing | E-prescribing | Other",
        "ridgeview.xlsx › Integrations!A3 (System): required field is empty; expected text",
        "ridgeview.xlsx › Integrations!B4 (Category): expected one of Lab | Imaging | Billing | "
        "E-prescribing | Other, got 'Faxes'",
    ]


def test_an_integrations_sheet_without_a_category_column(tmp_path: Path) -> None:
    assert problems(tmp_path, Integrations=[["System"], ["Quest"]]) == [
        "ridgeview.xlsx › Integrations (Category): no 'Category' column; the first row must be the "
        "header, naming the columns: System, Category, Vendor, Phase, Complexity",
    ]


# ---------------------------------------------------------------- Subscriptions


def _percent_cell_workbook(tmp_path: Path) -> Path:
    path = book(tmp_path, Subscriptions=[
        ["Product", "Monthly per provider", "Annual extras", "Annual increase"],
        ["eClinicalWorks", "$449", "$2,500", "4%"],
        ["DrChrono", 249, None, 0.05],
        ["Kareo", "175.00", 1200, None],
    ])
    from openpyxl import load_workbook

    wb = load_workbook(path)
    wb["Subscriptions"]["D3"].number_format = "0%"
    wb.save(path)
    return path


def test_subscriptions_with_money_text_and_percent_forms(tmp_path: Path) -> None:
    intake = read_intake(_percent_cell_workbook(tmp_path))
    got = [(s.product, s.monthly_per_provider, s.annual_extras, s.annual_increase) for s in intake.base.subscriptions]
    assert got == [
        ("eClinicalWorks", 449.0, 2500.0, 0.04),
        ("DrChrono", 249.0, None, 0.05),
        ("Kareo", 175.0, 1200.0, None),
    ]
    assert intake.warnings == ()


def test_a_percent_formatted_cell_reads_as_its_percentage(tmp_path: Path) -> None:
    path = book(tmp_path, Subscriptions=[["Product", "Monthly per provider", "Annual increase"], ["A", 100, 0.07]])
    from openpyxl import load_workbook

    wb = load_workbook(path)
    wb["Subscriptions"]["C2"].number_format = "0.0%"
    wb.save(path)
    assert read_intake(path).base.subscriptions[0].annual_increase == 0.07


def test_a_plain_number_above_1_is_read_as_percent_points_with_a_warning(tmp_path: Path) -> None:
    intake = read(tmp_path, Subscriptions=[["Product", "Monthly per provider", "Annual increase"], ["A", 100, 5]])
    assert intake.base.subscriptions[0].annual_increase == 0.05
    assert intake.warnings == (
        "ridgeview.xlsx › Subscriptions!C2 (Annual increase): read 5 as 5%; type 5% or 0.05 to say so",
    )


@pytest.mark.parametrize(("value", "shown"), [(150, "150"), ("150%", "'150%'"), (-0.05, "-0.05"), ("fast", "'fast'")])
def test_percentages_out_of_range_are_errors(tmp_path: Path, value: object, shown: str) -> None:
    sheet = [["Product", "Monthly per provider", "Annual increase"], ["A", 100, value]]
    assert problems(tmp_path, Subscriptions=sheet) == [
        f"ridgeview.xlsx › Subscriptions!C2 (Annual increase): expected a percentage such as 5% or 0.05, got {shown}",
    ]


def test_subscription_rows_need_product_and_monthly_price(tmp_path: Path) -> None:
    assert problems(tmp_path, Subscriptions=[["Product", "Monthly per provider"], ["A", None], [None, 300]]) == [
        "ridgeview.xlsx › Subscriptions!B2 (Monthly per provider): required field is empty; expected an "
        "amount in USD, 0 to 100,000, such as 1,200 or $175",
        "ridgeview.xlsx › Subscriptions!A3 (Product): required field is empty; expected text",
    ]


def test_a_header_only_subscriptions_sheet_compares_the_rate_cards_products(tmp_path: Path) -> None:
    assert read(tmp_path, Subscriptions=[["Product", "Monthly per provider"]]).base.subscriptions == ()


# ---------------------------------------------------------------- Assumptions


def test_assumptions_override_the_card_with_their_source(tmp_path: Path) -> None:
    intake = read(tmp_path, Assumptions=[
        ["Key", "Value", "Source"],
        ["rate.offshore", "$45", "Vendor quote, March 2026"],
        ["maintenance.low_pct", "16%", None],
        ["offshelf.increase_pct", 0.06, "Contract"],
        [" Horizon.Years ", 7, "Board"],
    ])
    card = intake.base.card
    assert card.value("rate.offshore") == 45
    assert card.entry("rate.offshore").cited == "workbook override (Vendor quote, March 2026)"
    assert card.value("maintenance.low_pct") == pytest.approx(0.16)
    assert card.entry("maintenance.low_pct").override_source == "no source given"
    assert card.value("offshelf.increase_pct") == 0.06
    assert card.value("horizon.years") == 7
    assert card.overridden == ("rate.offshore", "maintenance.low_pct", "offshelf.increase_pct", "horizon.years")


def test_an_unknown_assumption_key_suggests_the_closest(tmp_path: Path) -> None:
    assert problems(tmp_path, Assumptions=[["Key", "Value"], ["rate.offshor", 45], ["parking.fee", 3]]) == [
        "ridgeview.xlsx › Assumptions!A2 (Key): unknown rate-card key 'rate.offshor'; did you mean "
        "'rate.offshore'? (`clinic-budget assumptions` lists every key)",
        "ridgeview.xlsx › Assumptions!A3 (Key): unknown rate-card key 'parking.fee' "
        "(`clinic-budget assumptions` lists every key)",
    ]


def test_assumption_values_are_checked(tmp_path: Path) -> None:
    assert problems(tmp_path, Assumptions=[
        ["Key", "Value"],
        ["rate.us", -5],
        ["maintenance.high_pct", "120%"],
        ["rate.offshore", "cheap"],
        ["discount.rate", None],
        ["rate.us", 150],
    ]) == [
        "ridgeview.xlsx › Assumptions!B2 (rate.us): expected a number, 0 or more, or a percentage such as 5%, got -5",
        "ridgeview.xlsx › Assumptions!B3 (maintenance.high_pct): expected a percentage such as 5% or 0.05, got '120%'",
        "ridgeview.xlsx › Assumptions!B4 (rate.offshore): expected a number, 0 or more, or a percentage such as 5%, "
        "got 'cheap'",
        "ridgeview.xlsx › Assumptions!B5 (discount.rate): required field is empty; expected a percentage such as 5% "
        "or 0.05",
        "ridgeview.xlsx › Assumptions!A6 (Key): key 'rate.us' is set twice (first at B2); keep one row",
    ]


def test_a_percent_key_typed_as_points_warns(tmp_path: Path) -> None:
    intake = read(tmp_path, Assumptions=[["Key", "Value"], ["maintenance.high_pct", 18]])
    assert intake.base.card.value("maintenance.high_pct") == 0.18
    assert intake.warnings == (
        "ridgeview.xlsx › Assumptions!B2 (maintenance.high_pct): read 18 as 18%; type 18% or 0.18 to say so",
    )


def test_overhead_typed_as_points_reads_as_a_percentage_with_the_share_warning(tmp_path: Path) -> None:
    """The rate card's `unit = "share"` decides, not the key's name: `overhead.offshore = 30` is 30%
    (it was read as 3,000%, taking the build from about $48,000 to over $1,150,000)."""
    from generator.plan.pricing import plan_scenario

    intake = read(tmp_path, Assumptions=[["Key", "Value"], ["overhead.offshore", 30]])
    assert intake.base.card.value("overhead.offshore") == 0.30
    assert intake.warnings == (
        "ridgeview.xlsx › Assumptions!B2 (overhead.offshore): read 30 as 30%; type 30% or 0.3 to say so",
    )
    shipped = plan_scenario(read(tmp_path, Assumptions=[["Key", "Value"]]).base).build.expected
    assert plan_scenario(intake.base).build.expected < shipped


@pytest.mark.parametrize("key", sorted(e.key for e in default_card() if e.is_share))
def test_every_share_key_reads_points_as_a_percentage(tmp_path: Path, key: str) -> None:
    points = round(default_card().value(key) * 100, 4) or 12  # the shipped share, in points
    intake = read(tmp_path, Scenarios=[["Scenario", key], ["Other", points]])
    assert intake.scenarios[1].card.value(key) == pytest.approx(points / 100)
    assert intake.warnings == (
        f"ridgeview.xlsx › Scenarios!B2 ({key}): read {points:g} as {points:g}%; type {points:g}% or "
        f"{points / 100:g} to say so",
    )


@pytest.mark.parametrize(("key", "value"), [("rate.us", 150), ("hosting.full_size_physicians", 150),
                                          ("fees.interface.high", 12000)])
def test_a_key_in_dollars_or_a_count_reads_as_written(tmp_path: Path, key: str, value: int) -> None:
    intake = read(tmp_path, Scenarios=[["Scenario", key], ["Other", value]])
    assert intake.scenarios[1].card.value(key) == value
    assert intake.warnings == ()


def test_an_override_may_not_put_a_low_figure_above_its_high(tmp_path: Path) -> None:
    assert problems(tmp_path, Assumptions=[["Key", "Value"], ["hosting.cloud.monthly.low", 3000]]) == [
        "ridgeview.xlsx › Assumptions!B2 (hosting.cloud.monthly.low): expected a value of at most "
        "hosting.cloud.monthly.high (2400), got 3000",
    ]


def test_module_costs_are_checked_against_the_workbooks_own_card(tmp_path: Path) -> None:
    intake = read(tmp_path, Assumptions=[["Key", "Value"], ["module.fhir_r4_api.high", 40000]],
                  Modules=[["Module", "Low cost"], ["FHIR R4 API", 20000]])
    assert module(intake, "FHIR R4 API").low == 20000


# ---------------------------------------------------------------- Scenarios


def test_scenarios_override_a_clinic_label_a_module_and_an_assumption_key(tmp_path: Path) -> None:
    intake = read(
        tmp_path,
        Assumptions=[["Key", "Value", "Source"], ["rate.offshore", 45, "Quote"]],
        Scenarios=[
            ["Scenario", "Physicians:", "development team", "ai documentation", "rate.us", "Current records"],
            ["US team", None, "US", None, 160, None],
            ["Growth with AI", 6, None, "Yes", None, "None"],
        ],
    )
    base, us, growth = intake.scenarios
    assert [s.name for s in intake.scenarios] == ["Baseline", "US team", "Growth with AI"]
    assert (base.clinic.physicians, base.clinic.team, us.clinic.team, us.clinic.physicians) == (
        3, Team.OFFSHORE, Team.US, 3)
    assert us.card.value("rate.us") == 160 and base.card.value("rate.us") == 175
    assert us.card.entry("rate.us").cited == "workbook override (scenario 'US team')"
    assert us.card.value("rate.offshore") == 45  # the workbook's Assumptions still apply
    assert growth.clinic.physicians == 6 and growth.clinic.records is Records.NONE
    assert module(intake, "AI documentation", 2).include is True
    assert module(intake, "AI documentation", 0).include is False
    assert module(intake, "Data migration", 2).include is False  # default follows the scenario's records
    assert module(intake, "Data migration", 0).include is True


def test_a_scenario_can_switch_a_specialty_feature(tmp_path: Path) -> None:
    intake = read(tmp_path, Modules=[["Module", "Low cost", "High cost"], ["Telehealth", 1000, 2000]],
                  Scenarios=[["Scenario", "Telehealth"], ["Lean", "No"]])
    assert intake.scenarios[0].modules[-1].include is True
    assert intake.scenarios[1].modules[-1].include is False


def test_scenario_problems_point_at_the_scenarios_sheet(tmp_path: Path) -> None:
    assert problems(tmp_path, Scenarios=[
        ["Scenario", "Physicians", "Hostng", "FHIR R4 API", "maintenance.low_pct"],
        ["Baseline", 4, None, None, None],
        ["Growth", "many", None, "sure", "150%"],
        ["growth", 5],
        [None, 6],
    ]) == [
        "ridgeview.xlsx › Scenarios!C1: unknown column 'Hostng'; expected a Clinic label, a module name "
        "or a rate-card key; did you mean 'Hosting'?",
        "ridgeview.xlsx › Scenarios!A2 (Scenario): 'Baseline' is the name of the workbook's own values "
        "(the first scenario); give this scenario another name",
        "ridgeview.xlsx › Scenarios!B3 (Physicians): expected a whole number from 1 to 200, got 'many'",
        "ridgeview.xlsx › Scenarios!D3 (FHIR R4 API): expected Yes or No, got 'sure'",
        "ridgeview.xlsx › Scenarios!E3 (maintenance.low_pct): expected a percentage such as 5% or 0.05, "
        "got '150%'",
        "ridgeview.xlsx › Scenarios!A4 (Scenario): scenario 'growth' appears twice (first at A3); give "
        "each scenario its own name",
        "ridgeview.xlsx › Scenarios!A5 (Scenario): required field is empty; expected the scenario's name",
    ]


def test_a_scenarios_sheet_needs_a_scenario_column(tmp_path: Path) -> None:
    assert problems(tmp_path, Scenarios=[["Name", "Physicians"], ["Growth", 5]]) == [
        "ridgeview.xlsx › Scenarios!A1: unknown column 'Name'; expected a Clinic label, a module name or "
        "a rate-card key",
        "ridgeview.xlsx › Scenarios (Scenario): no 'Scenario' column; the first row must be the header, "
        "with 'Scenario' in column A and one column per value to change",
    ]


def test_a_scenario_override_keeps_rate_card_pairs_in_order(tmp_path: Path) -> None:
    assert problems(tmp_path, Scenarios=[["Scenario", "hosting.cloud.monthly.high"], ["Cheap", 500]]) == [
        "ridgeview.xlsx › Scenarios!B2 (hosting.cloud.monthly.high): expected a value of at least "
        "hosting.cloud.monthly.low (800), got 500",
    ]


def test_an_empty_scenarios_sheet_is_one_baseline(tmp_path: Path) -> None:
    assert [s.name for s in read(tmp_path, Scenarios=[]).scenarios] == ["Baseline"]


# ---------------------------------------------------------------- sheets


def test_a_sheet_named_close_to_a_known_one_warns_that_it_is_ignored(tmp_path: Path) -> None:
    intake = read(tmp_path, Integration=[["System", "Category"], ["Quest", "Lab"]], Instructions=[["Read me"]])
    assert intake.base.integrations == ()
    assert intake.warnings == ("ridgeview.xlsx › Integration: this sheet is ignored; did you mean 'Integrations'?",)


def test_two_sheets_with_the_same_name_once_normalized(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "ridgeview.xlsx", {"Clinic": FORM, "CLINIC ": []})
    with pytest.raises(IntakeError) as info:
        read_intake(path)
    assert info.value.lines() == ["ridgeview.xlsx › CLINIC : another sheet ('Clinic') is also named 'Clinic'; keep one"]


def test_base_clinic_helper_rows_are_valid(tmp_path: Path) -> None:
    assert read(tmp_path, BASE_CLINIC).base.clinic.physicians == 3


# ---------------------------------------------------------------- the parsers on their own


def test_parsers_show_what_was_found_as_written() -> None:
    from generator.intake import fields

    with pytest.raises(fields.FieldError, match=r"^expected a percentage such as 5% or 0.05, got 150%$"):
        fields.percent(1.5, "0%")
    with pytest.raises(fields.FieldError, match=r"^expected Yes or No, got 2026-03-02$"):
        fields.yes_no(dt.datetime(2026, 3, 2))
    with pytest.raises(fields.FieldError, match=r"^expected a whole number, got nan$"):
        fields.whole(float("nan"))
    with pytest.raises(fields.FieldError, match=r"^expected a number, 0 to 10,000,000, got inf$"):
        fields.number(float("inf"))
    with pytest.raises(fields.FieldError) as info:
        fields.choice("Hgh", ["Low", "Typical", "High"])
    assert str(info.value) == "expected one of Low | Typical | High, got 'Hgh'; did you mean 'High'?"
    long = "x" * 100
    with pytest.raises(fields.FieldError, match=rf"^expected phase 1 or 2, got '{'x' * 57}\.\.\. \(100 characters\)'$"):
        fields.phase(long)


def test_parsers_accept_the_spec_forms() -> None:
    from generator.intake import fields

    assert fields.phase("Phase 2") == 2 and fields.phase(1.0) == 1
    assert fields.percent("5 %") == 0.05 and fields.percent(0.05) == 0.05 and fields.percent(5) == 0.05
    assert fields.percent_points(5) and not fields.percent_points(0.05) and not fields.percent_points("5%")
    assert fields.quantity("90%") == 0.9 and fields.quantity("$1,200") == 1200
    assert fields.text(3.0) == "3" and fields.text(True) == "Yes" and fields.text(dt.date(2026, 3, 2)) == "2026-03-02"
    assert fields.choice("e prescribing", ["Lab", "E-prescribing"]) == "E-prescribing"


def test_a_misspelled_required_label_is_pointed_at_not_reported_missing(tmp_path: Path) -> None:
    """A new user typed 'Phsyicians': the error names that cell and the label it meant."""
    rows = [row if row[0] != "Physicians" else ["Phsyicians", 3] for row in BASE_CLINIC]
    with pytest.raises(IntakeError) as caught:
        read_intake(clinic_workbook(tmp_path / "ridgeview.xlsx", rows))
    assert caught.value.lines() == [
        "ridgeview.xlsx › Clinic!A3 (Physicians): unknown label 'Phsyicians'; did you mean 'Physicians'? "
        "It is a required field"]


# ---------------------------------------------------------------- limits (issue 17, items 1, 9, 10, 13)


def test_a_text_cell_holds_at_most_500_characters_and_notes_2000(tmp_path: Path) -> None:
    name = "R" * 501
    notes = "n" * 2001
    found = problems(tmp_path, form(**{"Clinic name": name}), Modules=[
        ["Module", "Notes"], ["Patient records", "n" * 2000], ["AI documentation", notes]])
    assert found == [
        "ridgeview.xlsx › Clinic!B2 (Clinic name): expected text of at most 500 characters, got 501 characters "
        f"('{'R' * 37}... (501 characters)')",
        "ridgeview.xlsx › Modules!B3 (Notes): expected text of at most 2,000 characters, got 2,001 characters "
        f"('{'n' * 37}... (2,001 characters)')",
    ]
    assert read(tmp_path, form(**{"Clinic name": "R" * 500})).base.clinic.name == "R" * 500


@pytest.mark.parametrize(("sheet", "header", "row", "limit"), [
    ("Modules", ["Module", "Low cost", "High cost"], lambda i: [f"Feature {i}", 1000, 2000], 200),
    ("Integrations", ["System", "Category"], lambda i: [f"System {i}", "Lab"], 200),
    ("Subscriptions", ["Product", "Monthly per provider"], lambda i: [f"Product {i}", 100], 200),
    ("Scenarios", ["Scenario", "Physicians"], lambda i: [f"Option {i}", 4], 50),
])
def test_a_table_holds_at_most_its_row_limit(tmp_path: Path, sheet: str, header: list[object],
                                             row: Any, limit: int) -> None:
    at_limit = read(tmp_path, **{sheet: [header, *(row(i) for i in range(limit))]})
    assert at_limit.warnings == ()
    over = problems(tmp_path, **{sheet: [header, *(row(i) for i in range(limit + 40))]})
    noun = "scenarios" if sheet == "Scenarios" else "rows"
    assert over == [f"ridgeview.xlsx › {sheet}!A{limit + 2}: the sheet holds more than {limit} {noun}, the most an "
                    "intake workbook may have; this row and those after it are not read"]


def test_blank_rows_do_not_count_towards_the_limit(tmp_path: Path) -> None:
    rows: list[list[object]] = [["System", "Category"]]
    for i in range(200):
        rows += [[f"System {i}", "Lab"], [None, None]]
    assert len(read(tmp_path, Integrations=rows).base.integrations) == 200


@pytest.mark.parametrize(("key", "value", "shown", "allowed"), [
    ("risk.draws", 5_000_000, "5000000", "1,000 to 20,000"),
    ("risk.draws", 10, "10", "1,000 to 20,000"),
    ("rate.us", 0, "0", "$1/h to $1,000/h"),
    ("rate.offshore", 1e308, "1e+308", "$1/h to $1,000/h"),
    ("module.patient_records.high", 1e308, "1e+308", "$0 to $10,000,000"),
    ("payback.years", 1e308, "1e+308", "1 year to 10 years"),
    ("horizon.years", 50, "50", "3 years to 10 years"),
    ("hours.reference", 0.0000001, "1e-07", "1 to 100,000"),
    ("phase1.build_quarters", 0, "0", "1 quarter to 4 quarters"),
])
def test_an_assumption_outside_its_keys_range_is_an_error_naming_the_cell(
        tmp_path: Path, key: str, value: float, shown: str, allowed: str) -> None:
    from generator.ratecard import default_card

    assert default_card().entry(key).range_text == allowed  # the range `clinic-budget assumptions` prints
    assert problems(tmp_path, Assumptions=[["Key", "Value"], [key, value]]) == [
        f"ridgeview.xlsx › Assumptions!B2 ({key}): expected a value from {allowed} for this key (the range "
        f"`clinic-budget assumptions` states), got {shown}"]


def test_a_scenario_column_outside_its_keys_range_is_an_error_too(tmp_path: Path) -> None:
    found = problems(tmp_path, Scenarios=[["Scenario", "risk.draws", "Hourly rate"], ["Heavy", 50_000_000, 1e12]])
    assert found == [
        "ridgeview.xlsx › Scenarios!B2 (risk.draws): expected a value from 1,000 to 20,000 for this key (the range "
        "`clinic-budget assumptions` states), got 50000000",
        "ridgeview.xlsx › Scenarios!C2 (Hourly rate): expected an amount in USD, more than 0 and at most 1,000, "
        "such as 45 or $175.50, got 1000000000000",
    ]


def test_the_smallest_float_is_read_as_zero_and_refused_where_zero_is() -> None:
    """5e-324 (a denormal) in a rate made NaN figures: amounts are read to the cent."""
    from generator.intake import fields

    assert fields.money(5e-324) == 0.0
    with pytest.raises(fields.FieldError, match="more than 0 and at most 1,000"):
        fields.money(5e-324, 1000, more_than=0)
    with pytest.raises(fields.FieldError, match="more than 0 and at most 100,000"):
        fields.number(5e-324, None, 100_000, more_than=0)


def test_every_shipped_value_lies_within_its_range_and_every_key_has_one() -> None:
    from generator.ratecard import default_card

    for entry in default_card():
        assert entry.minimum <= entry.value <= entry.maximum, entry.key
        assert entry.maximum > entry.minimum, entry.key


def test_errors_per_workbook_are_capped_with_a_count_of_the_rest(tmp_path: Path) -> None:
    """Issue 17 item 10: 1,999 long module names made a 161 MB error report; now the first 100
    problems are listed, each quoting at most 60 characters, and one line counts the rest."""
    rows: list[list[object]] = [["Module", "Low cost", "High cost"]]
    rows += [[f"{i} " + "m" * 5000, "lots", "more"] for i in range(150)]
    found = problems(tmp_path, Modules=rows)
    assert len(found) == 101
    assert found[-1] == ("ridgeview.xlsx: and 350 more problems not listed (only the first 100 are); "
                         "fix these and validate again")
    assert max(map(len, found)) < 250


def test_a_value_with_newlines_and_escapes_is_quoted_on_one_line(tmp_path: Path) -> None:
    found = problems(tmp_path, form(**{"Physicians": "3\nerror: forged.xlsx: all fine\t"}))
    assert found == ["ridgeview.xlsx › Clinic!B4 (Physicians): expected a whole number from 1 to 200, got "
                     "'3\\nerror: forged.xlsx: all fine\\t'"]
    from generator.intake import fields

    assert fields.show("\x1b[2J\u202eevil\r") == "'\\x1b[2J\\u202eevil\\r'"


@pytest.mark.parametrize(("key", "value", "message"), [
    ("maintenance.low_pct", 0.5, "expected a value of at most maintenance.high_pct (0.2), got 0.5"),
    ("underestimate.high_pct", 0.1, "expected a value of at least underestimate.low_pct (0.3), got 0.1"),
    ("hosting.cloud.monthly.low", 5000, "expected a value of at most hosting.cloud.monthly.high (2400), got 5000"),
])
def test_a_pair_of_percentages_stays_in_order_like_a_pair_of_amounts(tmp_path: Path, key: str, value: float,
                                                                     message: str) -> None:
    """`maintenance.low_pct` above `maintenance.high_pct` passed validate and crashed run."""
    assert problems(tmp_path, Assumptions=[["Key", "Value"], [key, value]]) == [
        f"ridgeview.xlsx › Assumptions!B2 ({key}): {message}"]
