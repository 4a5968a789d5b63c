"""What the intake makes of files that are not (quite) intake workbooks, decided by their bytes,
and the same messages through the `validate` command."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from generator.errors import IntakeError
from generator.intake.reader import read_intake
from generator.intake.workbook import open_workbook
from tests.builders import clinic_workbook
from tests.helpers import run_cli

OLE2 = bytes.fromhex("D0CF11E0A1B11AE1")


def ole2(*streams: str) -> bytes:
    """A minimal OLE2 compound-file header, padding and (UTF-16-LE) directory names."""
    header = OLE2 + b"\x00" * 16 + b"\x3e\x00\x03\x00\xfe\xff\x09\x00" + b"\x00" * 472
    names = b"".join(name.encode("utf-16-le").ljust(64, b"\x00") + b"\x00" * 64 for name in streams)
    return header + names + b"\xff" * 1024


def message(path: Path) -> list[str]:
    with pytest.raises(IntakeError) as info:
        read_intake(path)
    return info.value.lines()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


# ---------------------------------------------------------------- file kinds


def test_a_missing_file(tmp_path: Path) -> None:
    assert message(tmp_path / "ridgeview.xlsx") == [f"ridgeview.xlsx: file not found ({tmp_path / 'ridgeview.xlsx'})"]


def test_a_folder(tmp_path: Path) -> None:
    (tmp_path / "ridgeview.xlsx").mkdir()
    assert message(tmp_path / "ridgeview.xlsx") == ["ridgeview.xlsx: this is a folder, not an Excel workbook"]


def test_an_empty_file(tmp_path: Path) -> None:
    assert message(write(tmp_path, "ridgeview.xlsx", b"")) == [
        "ridgeview.xlsx: the file is empty (0 bytes); it is not an Excel workbook",
    ]


def test_a_legacy_xls_file(tmp_path: Path) -> None:
    assert message(write(tmp_path, "ridgeview.xlsx", ole2("Root Entry", "Workbook"))) == [
        "ridgeview.xlsx: this is a legacy Excel 97-2003 (.xls) file; open it in Excel and save as .xlsx",
    ]


def test_a_password_protected_workbook(tmp_path: Path) -> None:
    data = ole2("Root Entry", "EncryptionInfo", "EncryptedPackage")
    assert message(write(tmp_path, "ridgeview.xlsx", data)) == [
        "ridgeview.xlsx: the workbook is password-protected (encrypted); open it in Excel, remove the "
        "password (File › Info › Protect Workbook › Encrypt with Password, clear the box) and save it as .xlsx",
    ]


@pytest.mark.parametrize("text", [
    "Clinic name,Ridgeview\nPhysicians,3\n",
    "\ufeffLabel;Value\nClinic type;Urgent care\n",
    "Clínica,São José\r\n",
])
def test_a_csv_renamed_xlsx(tmp_path: Path, text: str) -> None:
    assert message(write(tmp_path, "ridgeview.xlsx", text.encode("utf-8"))) == [
        "ridgeview.xlsx: this is a CSV or text file, not an Excel workbook; open it in Excel and save as .xlsx",
    ]


def test_random_bytes(tmp_path: Path) -> None:
    data = bytes((i * 7919 + 13) % 256 for i in range(4096))
    assert message(write(tmp_path, "ridgeview.xlsx", data)) == [
        "ridgeview.xlsx: this is not an Excel workbook (.xlsx); open the intake in Excel and save as .xlsx",
    ]


def test_a_truncated_workbook(tmp_path: Path) -> None:
    whole = clinic_workbook(tmp_path / "whole.xlsx").read_bytes()
    assert message(write(tmp_path, "ridgeview.xlsx", whole[: len(whole) // 2])) == [
        "ridgeview.xlsx: the workbook is damaged or incomplete (not a readable zip archive); save it again "
        "from Excel, or ask for a fresh copy",
    ]


def test_a_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    assert message(write(tmp_path, "ridgeview.xlsx", zipped({"notes/readme.txt": b"hello"}))) == [
        "ridgeview.xlsx: this is a zip file but not an Excel workbook (it has no xl/workbook.xml)",
    ]


def test_an_opendocument_spreadsheet(tmp_path: Path) -> None:
    data = zipped({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<x/>"})
    assert message(write(tmp_path, "ridgeview.xlsx", data)) == [
        "ridgeview.xlsx: this is an OpenDocument spreadsheet (.ods), not an Excel workbook; save it as .xlsx",
    ]


def test_a_workbook_openpyxl_cannot_read_is_an_intake_error(tmp_path: Path) -> None:
    data = zipped({"xl/workbook.xml": b"<workbook><sheets><sheet"})
    assert message(write(tmp_path, "ridgeview.xlsx", data)) == [
        "ridgeview.xlsx: could not be read as an Excel workbook: There is no item named "
        "'[Content_Types].xml' in the archive",
    ]


def test_a_corrupt_member_inside_a_good_zip(tmp_path: Path) -> None:
    data = bytearray(clinic_workbook(tmp_path / "whole.xlsx").read_bytes())
    at = data.find(b"sheet1.xml") + 40  # inside the compressed sheet data
    data[at:at + 8] = b"\x00" * 8
    assert message(write(tmp_path, "ridgeview.xlsx", bytes(data))) == [
        "ridgeview.xlsx: the workbook is damaged or incomplete (not a readable zip archive); save it again "
        "from Excel, or ask for a fresh copy",
    ]


def test_the_kind_is_decided_by_bytes_not_by_the_extension(tmp_path: Path) -> None:
    good = clinic_workbook(tmp_path / "whole.xlsx").read_bytes()
    for name in ("ridgeview.xls", "ridgeview.csv", "ridgeview", "ridgeview.xlsm"):
        assert read_intake(write(tmp_path, name, good)).base.clinic.physicians == 3
    assert open_workbook(tmp_path / "ridgeview.csv").sheetnames == ["Clinic"]


# ---------------------------------------------------------------- formulas


def test_formula_cells_with_no_saved_value_in_every_sheet_are_named(tmp_path: Path) -> None:
    path = clinic_workbook(
        tmp_path / "ridgeview.xlsx",
        [["Clinic name", "Ridgeview"], ["Clinic type", "Family practice"], ["Physicians", "=1+2"],
         ["Current records", "Paper"]],
        Subscriptions=[["Product", "Monthly per provider"], ["eCW", "=449*1"]],
    )
    assert message(path) == [
        "ridgeview.xlsx › Clinic!B3 (Physicians): formula '=1+2' has no saved value (the workbook was never "
        "calculated); open and save it in Excel or LibreOffice, or type the value",
        "ridgeview.xlsx › Subscriptions!B2 (Monthly per provider): formula '=449*1' has no saved value (the "
        "workbook was never calculated); open and save it in Excel or LibreOffice, or type the value",
    ]


@pytest.mark.slow
def test_a_libreoffice_round_trip_saves_the_formula_values(tmp_path: Path) -> None:
    soffice = shutil.which("soffice")
    if soffice is None and not os.environ.get("CI"):
        pytest.skip("LibreOffice (soffice) is not installed")
    assert soffice is not None, "CI must have LibreOffice to check formulas it calculated"
    (tmp_path / "in").mkdir()
    source = clinic_workbook(
        tmp_path / "in" / "ridgeview.xlsx",
        [["Clinic name", "Ridgeview"], ["Clinic type", "Family practice"], ["Physicians", "=1+2"],
         ["Current records", "Paper"], ["Hourly rate", "=B3*20"]],
    )
    home = tmp_path / "home"
    home.mkdir()
    out = tmp_path / "out"
    subprocess.run(
        [soffice, f"-env:UserInstallation={home.as_uri()}", "--headless", "--norestore",
         "--convert-to", "xlsx", "--outdir", str(out), str(source)],
        check=True, capture_output=True, timeout=180, env={**os.environ, "HOME": str(home)},
    )
    clinic = read_intake(out / "ridgeview.xlsx").base.clinic
    assert (clinic.physicians, clinic.hourly_rate) == (3, 60.0)


# ---------------------------------------------------------------- the validate command


@pytest.mark.slow
def test_validate_reports_every_problem_and_exits_2(tmp_path: Path) -> None:
    path = clinic_workbook(
        tmp_path / "ridgeview.xlsx",
        [["Clinic name", "Ridgeview"], ["Clinic type", "Dentist"], ["Physicians", "three"],
         ["Current records", "Paper"]],
    )
    result = run_cli("validate", path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "error: ridgeview.xlsx › Clinic!B2 (Clinic type): expected one of Family practice | Urgent care | "
        "Specialty clinic | Multi-specialty | Other, got 'Dentist'",
        "error: ridgeview.xlsx › Clinic!B3 (Physicians): expected a whole number from 1 to 200, got 'three'",
    ]


@pytest.mark.slow
@pytest.mark.parametrize(("data", "text"), [
    (b"", "the file is empty (0 bytes); it is not an Excel workbook"),
    (b"a,b\n1,2\n", "this is a CSV or text file, not an Excel workbook; open it in Excel and save as .xlsx"),
])
def test_validate_on_a_file_that_is_not_a_workbook(tmp_path: Path, data: bytes, text: str) -> None:
    result = run_cli("validate", write(tmp_path, "ridgeview.xlsx", data))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"error: ridgeview.xlsx: {text}"]


@pytest.mark.slow
def test_validate_a_good_workbook_prints_its_warnings(tmp_path: Path) -> None:
    path = clinic_workbook(tmp_path / "ridgeview.xlsx", None, Subscriptions=[
        ["Product", "Monthly per provider", "Annual increase"], ["eCW", 449, 5]])
    result = run_cli("validate", path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "warning: ridgeview.xlsx › Subscriptions!C2 (Annual increase): read 5 as 5%; type 5% or 0.05 to say so",
    ]
    assert result.stdout.splitlines() == [f"{path}: ok (1 scenario)"]


def test_a_far_away_cell_does_not_make_the_reader_walk_the_whole_grid(tmp_path: Path) -> None:
    path = clinic_workbook(tmp_path / "ridgeview.xlsx")
    from openpyxl import load_workbook

    wb = load_workbook(path)
    wb["Clinic"]["XFD1048576"] = "end"
    wb.save(path)
    assert read_intake(path).base.clinic.physicians == 3


@pytest.mark.slow
def test_the_reader_refuses_to_run_without_defusedxml() -> None:
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import generator.intake.workbook"], capture_output=True, text=True,
        env={**os.environ, "OPENPYXL_DEFUSEDXML": "False"}, timeout=60,
    )
    assert result.returncode != 0
    assert "RuntimeError: openpyxl is not using defusedxml" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("lxml", ["True", "False"])
def test_openpyxl_on_lxml_or_defusedxml_reads_and_refuses_entities_alike(tmp_path: Path, lxml: str) -> None:
    """python-docx brings lxml, and openpyxl then parses whole parts with lxml (entities left
    unexpanded) instead of defusedxml: the reader must import, read a good workbook, and refuse
    entity declarations by name either way."""
    import sys

    from tests import hostile_corpus

    pytest.importorskip("lxml")
    base = clinic_workbook(tmp_path / "base.xlsx")
    cases = hostile_corpus.xml_attacks(tmp_path, base)
    script = (
        "import sys, openpyxl.xml.functions as f\n"
        "from defusedxml import ElementTree as T\n"
        "from generator.errors import IntakeError\n"
        "from generator.intake.reader import read_intake\n"
        "print('lxml' if f.fromstring is not T.fromstring else 'defusedxml')\n"
        "print(read_intake(sys.argv[1]).base.clinic.physicians)\n"
        "for path in sys.argv[2:]:\n"
        "    try:\n"
        "        read_intake(path)\n"
        "    except IntakeError as exc:\n"
        "        print(exc.lines()[0])\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(base), *(str(c.path) for c in cases)],
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "OPENPYXL_LXML": lxml, "CLINIC_BUDGET_SANDBOX": "0"})
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    assert out[0] == ("lxml" if lxml == "True" else "defusedxml")
    assert out[1] == "3"
    assert out[2:] == [f"{c.path.name}: the workbook's XML declares entities or a DTD (EntitiesForbidden), which "
                       "Excel never writes; it may be damaged or hostile and is refused" for c in cases]
