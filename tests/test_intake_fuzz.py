"""Whatever a workbook holds, the intake returns an Intake or raises IntakeError, nothing else."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from generator.errors import IntakeError
from generator.intake.reader import read_intake
from generator.intake.schema import (
    ASSUMPTION_COLUMNS,
    CLINIC_FIELDS,
    INTEGRATION_COLUMNS,
    MODULE_COLUMNS,
    SUBSCRIPTION_COLUMNS,
)
from generator.model import KNOWN_MODULES, Intake
from tests.builders import write_workbook

pytestmark = pytest.mark.slow  # hundreds of workbooks written and read: run with the system tests

SHEET_NAMES = ["Clinic", "clinic ", "Modules", "Integrations", "Subscriptions", "Scenarios", "Assumptions",
               "Instructions", "Notes", "CLINIC"]
WORDS = (
    [f.label for f in CLINIC_FIELDS] + [f.label for f in MODULE_COLUMNS] + [f.label for f in INTEGRATION_COLUMNS]
    + [f.label for f in SUBSCRIPTION_COLUMNS] + [f.label for f in ASSUMPTION_COLUMNS] + [m.name for m in KNOWN_MODULES]
    + ["Scenario", "Baseline", "Yes", "No", "Paper", "None", "Family practice", "Lab", "E-prescribing",
       "rate.us", "maintenance.low_pct", "hosting.cloud.monthly.low", "5%", "$1,200", "03/02/2026", "=1+2",
       "Low", "High", "Typical", "2026-03-02", "1,2", "-", "#DIV/0!"]
)


def _legal(text: str) -> bool:
    """openpyxl refuses control characters in cells (the file format cannot hold them)."""
    return not any(ord(ch) < 32 and ch not in "\t\n\r" for ch in text)


cell_values = st.one_of(
    st.none(),
    st.sampled_from(WORDS),
    st.text(max_size=12).filter(_legal),
    st.text(min_size=200, max_size=400).filter(_legal),
    st.integers(min_value=-10**6, max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(2100, 1, 1)),
    st.datetimes(min_value=dt.datetime(1900, 3, 1), max_value=dt.datetime(2100, 1, 1)),
)
rows = st.lists(st.lists(cell_values, max_size=7), max_size=8)
sheets = st.dictionaries(st.sampled_from(SHEET_NAMES), rows, max_size=5)


def _save(path: Path, book: dict[str, list[list[object]]], percent_cells: bool) -> bool:
    sheets: dict[str, list[list[object]]] = {}
    for name, sheet_rows in (book or {"Notes": []}).items():
        if name.strip().lower() not in {n.strip().lower() for n in sheets}:
            sheets[name] = sheet_rows  # Excel (and openpyxl) cannot hold two sheets differing only in case

    def percent(wb: Workbook) -> None:
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                for cell in row:
                    cell.number_format = "0%"

    try:
        write_workbook(path, sheets, edit=percent if percent_cells else None)
    except (ValueError, TypeError, OverflowError):
        return False  # a value openpyxl itself cannot write: not a workbook anyone could send us
    return True


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(book=sheets, percent_cells=st.booleans(), with_valid_clinic=st.booleans())
def test_read_intake_returns_an_intake_or_raises_intake_error(
    book: dict[str, list[list[object]]], percent_cells: bool, with_valid_clinic: bool,
) -> None:
    if with_valid_clinic:
        book = {**book, "Clinic": [["Clinic name", "R"], ["Clinic type", "Other"], ["Physicians", 2],
                                   ["Current records", "Paper"], *book.get("Clinic", [])]}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.xlsx"
        if not _save(path, book, percent_cells):
            return
        try:
            result = read_intake(path)
        except IntakeError as exc:
            assert exc.problems and all(str(p) for p in exc.problems)
            return
    assert isinstance(result, Intake)
    assert result.scenarios[0].name == "Baseline"
    assert [m.name for m in result.base.modules[: len(KNOWN_MODULES)]] == [m.name for m in KNOWN_MODULES]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=2048), prefix=st.sampled_from([b"", b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"]))
def test_arbitrary_bytes_raise_intake_error(data: bytes, prefix: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.xlsx"
        path.write_bytes(prefix + data)
        try:
            read_intake(path)
        except IntakeError as exc:
            assert len(exc.problems) == 1


# ---------------------------------------------------------------- workbook structure and zip mutations

far_cells = st.lists(st.tuples(st.integers(1, 2_500), st.integers(1, 80), cell_values), max_size=6)
structure = st.fixed_dictionaries({
    "state": st.sampled_from(["visible", "hidden", "veryHidden"]),
    "merges": st.lists(st.tuples(st.integers(1, 8), st.integers(1, 4), st.integers(0, 3), st.integers(0, 2)),
                       max_size=3),
    "formats": st.lists(st.tuples(st.integers(1, 8), st.integers(1, 3),
                                  st.sampled_from(["yyyy-mm-dd", "0%", "@", "[h]:mm", "$#,##0.00", "General"])),
                        max_size=4),
    "far": far_cells,
})
CLINIC = [["Clinic name", "R"], ["Clinic type", "Other"], ["Physicians", 2], ["Current records", "Paper"]]


def _structured(path: Path, clinic_rows: list[list[object]], shape: dict, modules: list[list[object]]) -> bool:
    def shaped(wb: Workbook) -> None:
        ws = wb["Clinic"]
        for row, col, value in shape["far"]:
            ws.cell(row, col, value)
        for row, col, fmt in shape["formats"]:
            ws.cell(row, col).number_format = fmt
        for row, col, down, right in shape["merges"]:
            ws.merge_cells(start_row=row, start_column=col, end_row=row + down, end_column=col + right)
        wb["Modules"].sheet_state = shape["state"]

    try:
        write_workbook(path, {"Clinic": clinic_rows, "Modules": modules}, edit=shaped)
    except (ValueError, TypeError, OverflowError):
        return False
    return True


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(shape=structure, extra=rows, modules=rows)
def test_any_structure_gives_an_intake_or_an_intake_error(shape: dict, extra: list[list[object]],
                                                          modules: list[list[object]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.xlsx"
        if not _structured(path, [*CLINIC, *extra], shape, [["Module", "Include", "Phase"], *modules]):
            return
        try:
            assert isinstance(read_intake(path), Intake)
        except IntakeError as exc:
            assert exc.problems and all(str(p).startswith("fuzz.xlsx") for p in exc.problems)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cuts=st.lists(st.tuples(st.integers(0, 10**6), st.binary(min_size=1, max_size=8)), min_size=1, max_size=4),
       truncate=st.one_of(st.none(), st.integers(0, 10**6)))
def test_a_mutated_workbook_gives_an_intake_or_one_intake_error(cuts: list[tuple[int, bytes]],
                                                                truncate: int | None) -> None:
    """Bytes overwritten anywhere in a real workbook (headers, sizes, compressed data, the
    central directory), and truncations: never anything but an Intake or an IntakeError."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.xlsx"
        _save(path, {"Clinic": CLINIC, "Modules": [["Module", "Include"], ["AI documentation", "Yes"]]}, False)
        data = bytearray(path.read_bytes())
        for at, chunk in cuts:
            at %= len(data)
            data[at: at + len(chunk)] = chunk
        path.write_bytes(bytes(data[: truncate % len(data)] if truncate is not None else data))
        try:
            assert isinstance(read_intake(path), Intake)
        except IntakeError as exc:
            assert exc.problems and all(str(p).startswith("fuzz.xlsx") for p in exc.problems)
