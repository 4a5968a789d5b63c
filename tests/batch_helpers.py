"""Shared by test_batch.py and test_watch.py: build a drop folder, check an output folder."""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from openpyxl import load_workbook

from tests.builders import clinic_rows, clinic_workbook

SUMMARY = re.compile(r"^(\d+) workbooks?: (\d+) generated, (\d+) unchanged, (\d+) failed in \d+\.\d s$",
                     re.MULTILINE)
MANIFEST = ".clinic-budget-manifest.sqlite"
TYPES = ("Family practice", "Urgent care", "Specialty clinic", "Multi-specialty")


def good_workbook(path: Path, n: int) -> Path:
    return clinic_workbook(path, clinic_rows(f"Clinic {n} <&> Care", 1 + n % 12, TYPES[n % len(TYPES)]))


def bad_workbooks(folder: Path) -> dict[str, str]:
    """Three workbooks that must fail: file name -> a fragment of their first error."""
    clinic_workbook(folder / "bad-cell.xlsx", clinic_rows("Bad Cell Clinic", "<b>three</b>"))
    (folder / "renamed-csv.xlsx").write_text("Clinic name,Ridgeview\nPhysicians,3\n", encoding="utf-8")
    (folder / "empty.xlsx").write_bytes(b"")
    return {"bad-cell.xlsx": "Physicians", "renamed-csv.xlsx": "CSV", "empty.xlsx": "empty"}


def ignored_files(folder: Path) -> None:
    """Files a batch must not treat as workbooks."""
    for name in ("~$clinic-1.xlsx", ".hidden.xlsx", ".~lock.clinic-1.xlsx#", "backup.xlsx~",
                 "A1B2C3D4.tmp", "notes.txt", "clinic.xls.tmp"):
        (folder / name).write_bytes(b"not a workbook")
    (folder / "sub").mkdir(exist_ok=True)
    (folder / "sub" / "nested.xlsx").write_bytes(b"not read: batches are not recursive")


def summary(text: str) -> tuple[int, int, int, int]:
    found = SUMMARY.findall(text)
    assert len(found) == 1, text
    total, generated, unchanged, failed = map(int, found[0])
    return total, generated, unchanged, failed


def check_outputs(out: Path, expected: tuple[str, ...] = ("budget.json",)) -> list[str]:
    """Every output folder has the `expected` documents, each complete and readable; returns
    the slugs."""
    assert manifest_version(out) == 2
    slugs = []
    for entry in sorted(out.iterdir()):
        if entry.name.startswith("."):
            continue  # the manifest, the lock, and staging folders of a killed run
        if entry.is_file():
            assert entry.name in ("index.html", "index.csv"), entry
            continue
        if entry.name == "_errors":
            assert all(p.suffix in (".html", ".txt") for p in entry.iterdir() if not p.name.startswith("."))
            continue
        docs = list(entry.iterdir())
        assert set(expected) <= {d.name for d in docs}, entry
        for doc in docs:
            assert not doc.name.startswith("."), doc
            check_document(doc)
        slugs.append(entry.name)
    return slugs


def manifest_version(out: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"{(out / MANIFEST).as_uri()}?mode=ro", uri=True)) as db:
        return int(db.execute("PRAGMA user_version").fetchone()[0])


def manifest_records(out: Path) -> dict[str, dict[str, object]]:
    """The output folder's manifest records, slug -> the record's fields (read-only)."""
    with contextlib.closing(sqlite3.connect(f"{(out / MANIFEST).as_uri()}?mode=ro", uri=True)) as db:
        return {slug: json.loads(record) for slug, record in db.execute("SELECT slug, record FROM records")}


def check_document(doc: Path) -> None:
    if doc.name == "budget.json":
        data = json.loads(doc.read_text(encoding="utf-8"))
        assert data["schema_version"] == 1 and data["scenarios"][0]["build"]["low"] > 0
    elif doc.suffix == ".xlsx":
        load_workbook(doc, read_only=True).close()
    elif doc.suffix in (".md", ".html"):
        assert doc.read_text(encoding="utf-8").strip()


def wait_for(condition: Callable[[], object], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
