"""Whatever a workbook holds, the intake returns an Intake or raises IntakeError, nothing else."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from generator.errors import IntakeError
from generator.intake import read_intake
from generator.model import KNOWN_MODULES, Intake
from generator.schema import (
    ASSUMPTION_COLUMNS,
    CLINIC_FIELDS,
    INTEGRATION_COLUMNS,
    MODULE_COLUMNS,
    SUBSCRIPTION_COLUMNS,
)

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
    wb = Workbook()
    wb.remove(wb.active)
    for name, sheet_rows in (book or {"Notes": []}).items():
        if name.strip().lower() in {n.strip().lower() for n in wb.sheetnames}:
            continue  # Excel (and openpyxl) cannot hold two sheets differing only in case
        ws = wb.create_sheet(name)
        for row in sheet_rows:
            ws.append(row)
        if percent_cells:
            for row in ws.iter_rows():
                for cell in row:
                    cell.number_format = "0%"
    try:
        wb.save(path)
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
