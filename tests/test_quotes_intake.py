"""The Quotes sheet of the intake contract: columns by header name in any order, every bad
cell named, the limits, and what the reader hands the planner."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.errors import IntakeError
from generator.intake.reader import read_intake
from generator.model import FhirApproach, Quote
from tests.builders import clinic_workbook
from tests.helpers import run_cli

HEADER = ["Vendor", "Build price", "Annual maintenance", "Hours", "Hourly rate", "Notes",
          "HIPAA builds in production", "FHIR approach", "Maintenance SLA", "Code ownership", "Migration plan"]


def problems(tmp_path: Path, rows: list[list[object]]) -> list[str]:
    with pytest.raises(IntakeError) as info:
        read_intake(clinic_workbook(tmp_path / "ridgeview.xlsx", Quotes=rows))
    return [str(p) for p in info.value.problems]


def test_quotes_are_read_by_header_name_in_any_order(tmp_path: Path) -> None:
    rows = [
        ["Code ownership", "Build price", "FHIR approach", "Vendor", "Hourly rate", "Hours", "Notes",
         "Annual maintenance", "Migration plan", "Maintenance SLA", "HIPAA builds in production"],
        ["Y", "$61,500", "certified components", "Northwind Health Software", "$45", "1,200",
         "Fixed price, phase 1 and 2", "9,800", "No", None, True],
        [None, 38000, "Built from Scratch", "Bayside Dev", None, None, None, None, None, None, None],
    ]
    intake = read_intake(clinic_workbook(tmp_path / "ridgeview.xlsx", Quotes=rows))
    assert intake.quotes == (
        Quote("Northwind Health Software", 61500, 9800, 1200.0, 45.0, "Fixed price, phase 1 and 2", True,
              FhirApproach.CERTIFIED, None, True, False, row=2),
        Quote("Bayside Dev", 38000, None, None, None, "", None, FhirApproach.SCRATCH, None, None, None, row=3),
    )
    assert intake.warnings == ()


def test_a_workbook_without_quotes_has_none(tmp_path: Path) -> None:
    assert read_intake(clinic_workbook(tmp_path / "a.xlsx")).quotes == ()
    assert read_intake(clinic_workbook(tmp_path / "b.xlsx", Quotes=[HEADER])).quotes == ()


def test_a_bad_price_cell_is_named_with_what_is_accepted(tmp_path: Path) -> None:
    assert problems(tmp_path, [HEADER, ["Acme", "about 40k"], ["Beta", 0], ["Gamma", None], ["Delta", -5]]) == [
        "ridgeview.xlsx › Quotes!B2 (Build price): expected an amount in USD, more than 0 and at most "
        "100,000,000, such as 1,200 or $175, got 'about 40k'",
        "ridgeview.xlsx › Quotes!B3 (Build price): expected an amount in USD, more than 0 and at most "
        "100,000,000, such as 1,200 or $175, got 0",
        "ridgeview.xlsx › Quotes!B4 (Build price): required field is empty; expected an amount in USD, more "
        "than 0 and at most 100,000,000, such as 1,200 or $175",
        "ridgeview.xlsx › Quotes!B5 (Build price): expected an amount in USD, more than 0 and at most "
        "100,000,000, such as 1,200 or $175, got -5",
    ]


def test_every_bad_cell_of_a_quote_is_reported_together(tmp_path: Path) -> None:
    row = [None, 48000, "15%", 0, 1001, None, "maybe", "scratch", "Yes", 2, "N"]
    assert problems(tmp_path, [HEADER, row]) == [
        "ridgeview.xlsx › Quotes!A2 (Vendor): required field is empty; expected text",
        "ridgeview.xlsx › Quotes!C2 (Annual maintenance): expected an amount in USD, 0 to "
        "100,000,000, such as 1,200 or $175, got '15%'",
        "ridgeview.xlsx › Quotes!D2 (Hours): expected a number, more than 0 and at most 100,000, got 0",
        "ridgeview.xlsx › Quotes!E2 (Hourly rate): expected an amount in USD, more than 0 and at most 1,000, "
        "such as 45 or $175.50, got 1001",
        "ridgeview.xlsx › Quotes!G2 (HIPAA builds in production): expected Yes or No, got 'maybe'",
        "ridgeview.xlsx › Quotes!H2 (FHIR approach): expected one of Certified components | Built from "
        "scratch, got 'scratch'",
        "ridgeview.xlsx › Quotes!J2 (Code ownership): expected Yes or No, got 2",
    ]


def test_a_missing_price_column_and_a_repeated_vendor(tmp_path: Path) -> None:
    assert problems(tmp_path, [["Vendor", "Price"], ["Acme", 1]]) == [
        "ridgeview.xlsx › Quotes (Build price): no 'Build price' column; the first row must be the header, "
        "naming the columns: " + ", ".join(HEADER),
    ]
    assert problems(tmp_path, [HEADER, ["Acme", 40000], [" acme ", 50000]]) == [
        "ridgeview.xlsx › Quotes!A3 (Vendor): vendor 'acme' is listed twice (first at A2); give each quote its "
        "own name, e.g. 'acme (option B)'",
    ]


def test_quote_limits_text_length_and_rows(tmp_path: Path) -> None:
    assert problems(tmp_path, [HEADER, ["V" * 501, 1000, None, None, None, "n" * 2001]]) == [
        "ridgeview.xlsx › Quotes!A2 (Vendor): expected text of at most 500 characters, got 501 characters "
        f"('{'V' * 37}... (501 characters)')",
        "ridgeview.xlsx › Quotes!F2 (Notes): expected text of at most 2,000 characters, got 2,001 characters "
        f"('{'n' * 37}... (2,001 characters)')",
    ]
    many = [HEADER] + [[f"Vendor {i}", 40000 + i] for i in range(201)]
    assert problems(tmp_path, many) == [
        "ridgeview.xlsx › Quotes!A202: the sheet holds more than 200 rows, the most an intake workbook may have; "
        "this row and those after it are not read",
    ]


@pytest.mark.slow
def test_validate_names_the_bad_quote_cell_and_exits_2(tmp_path: Path) -> None:
    path = clinic_workbook(tmp_path / "ridgeview.xlsx", Quotes=[HEADER, ["Acme", "forty thousand"]])
    result = run_cli("validate", path)
    assert result.returncode == 2
    assert "ridgeview.xlsx › Quotes!B2 (Build price): expected an amount in USD, more than 0 and at most " \
           "100,000,000, such as 1,200 or $175, got 'forty thousand'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_validate_counts_the_quotes(tmp_path: Path) -> None:
    path = clinic_workbook(tmp_path / "ridgeview.xlsx", Quotes=[HEADER, ["Acme", 40000], ["Beta", "$52,000"]])
    result = run_cli("validate", path)
    assert (result.returncode, result.stdout) == (0, f"{path}: ok (1 scenario, 2 vendor quotes)\n")
