"""Build intake workbooks inside tests, and run the installed command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from openpyxl import Workbook

Rows = Sequence[Sequence[object]]

BASE_CLINIC: list[list[object]] = [
    ["Clinic name", "Ridgeview Family Medicine"],
    ["Clinic type", "Family practice"],
    ["Physicians", 3],
    ["Current records", "Paper"],
    ["Report date", "2026-03-02"],
]


def write_workbook(path: Path, sheets: Mapping[str, Rows]) -> Path:
    """Write `{sheet name: rows}` as an .xlsx; a row is a list of cell values (None = empty)."""
    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(list(row))
    wb.save(path)
    return path


def clinic_workbook(path: Path, clinic: Rows | None = None, **sheets: Rows) -> Path:
    """A valid minimal workbook (the BASE_CLINIC form) plus any other sheets."""
    return write_workbook(path, {"Clinic": clinic if clinic is not None else BASE_CLINIC, **sheets})


def cli() -> list[str]:
    """The installed console script, or `python -m generator` beside this interpreter."""
    exe = shutil.which("clinic-budget", path=str(Path(sys.executable).parent)) or shutil.which("clinic-budget")
    return [exe] if exe else [sys.executable, "-m", "generator"]


def run_cli(*args: object, cwd: Path | None = None, env: Mapping[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [*cli(), *map(str, args)], capture_output=True, text=True, cwd=cwd, env=full_env, timeout=timeout,
    )
