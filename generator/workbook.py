"""Reading the workbook: decide what a file is by its bytes, load it with openpyxl, and hand
the intake stage plain cells (value, number format, and any formula with no saved value).

Nothing here knows the intake contract beyond "sheets, labels and header rows"; `intake.py`
decides what the cells mean.
"""

from __future__ import annotations

import io
import posixpath
import re
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
import openpyxl.xml
from defusedxml import ElementTree as SafeTree
from openpyxl.utils import column_index_from_string, get_column_letter
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from generator.errors import IntakeError

if not openpyxl.xml.DEFUSEDXML:  # pragma: no cover - an installation problem, not a workbook one
    raise RuntimeError(
        "openpyxl is not using defusedxml, so an untrusted workbook could expand XML entities; "
        "install defusedxml and unset OPENPYXL_DEFUSEDXML"
    )

OLE2_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
ENCRYPTION_STREAM = "EncryptionInfo".encode("utf-16-le")
MAX_UNCOMPRESSED = 256 * 1024 * 1024  # a small clinic's intake is kilobytes; refuse zip bombs

ENCRYPTED = (
    "the workbook is password-protected (encrypted); open it in Excel, remove the password "
    "(File › Info › Protect Workbook › Encrypt with Password, clear the box) and save it as .xlsx"
)
LEGACY_XLS = "this is a legacy Excel 97-2003 (.xls) file; open it in Excel and save as .xlsx"
TEXT_FILE = "this is a CSV or text file, not an Excel workbook; open it in Excel and save as .xlsx"
NOT_EXCEL = "this is not an Excel workbook (.xlsx); open the intake in Excel and save as .xlsx"
DAMAGED = (
    "the workbook is damaged or incomplete (not a readable zip archive); "
    "save it again from Excel, or ask for a fresh copy"
)
ODS = "this is an OpenDocument spreadsheet (.ods), not an Excel workbook; save it as .xlsx"
XLSB = "this is an Excel binary workbook (.xlsb); open it in Excel and save as .xlsx"
ZIP_NOT_EXCEL = "this is a zip file but not an Excel workbook (it has no xl/workbook.xml)"
UNCACHED = (
    "{formula} has no saved value (the workbook was never calculated); "
    "open and save it in Excel or LibreOffice, or type the value"
)


def normalize(name: object) -> str:
    """A sheet name, label or header as matched: case, surrounding spaces, a trailing colon."""
    text = " ".join(str(name).split()).lower()
    return text[:-1].rstrip() if text.endswith(":") else text


# ---------------------------------------------------------------- what the file is


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise IntakeError.single(path.name, f"file not found ({path})") from None
    except IsADirectoryError:
        raise IntakeError.single(path.name, "this is a folder, not an Excel workbook") from None
    except OSError as exc:
        raise IntakeError.single(path.name, f"could not be opened: {exc.strerror or exc}") from None


def _looks_like_text(head: bytes) -> bool:
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")):
        return True
    if b"\x00" in head:
        return False
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return controls <= len(head) // 200


def _zip_problem(data: bytes) -> str | None:
    """Why a file that starts like a zip is not a readable .xlsx; None when it is one."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
            if sum(info.file_size for info in zf.infolist()) > MAX_UNCOMPRESSED:
                return "the workbook is too large to be an intake workbook (over 256 MB unpacked)"
            if "xl/workbook.xml" in names:
                return None
            if "xl/workbook.bin" in names:
                return XLSB
            if "mimetype" in names and b"opendocument" in zf.read("mimetype"):
                return ODS
            return ZIP_NOT_EXCEL
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError):
        return DAMAGED


def file_problem(data: bytes) -> str | None:
    """What is wrong with these bytes as an .xlsx, decided by content, not the file's name."""
    if not data:
        return "the file is empty (0 bytes); it is not an Excel workbook"
    if data.startswith(OLE2_MAGIC):
        return ENCRYPTED if ENCRYPTION_STREAM in data else LEGACY_XLS
    if not data.startswith(b"PK"):
        return TEXT_FILE if _looks_like_text(data[:4096]) else NOT_EXCEL
    return _zip_problem(data)


def _load(name: str, data: bytes) -> Workbook:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about extensions it drops
            return openpyxl.load_workbook(io.BytesIO(data), data_only=True, keep_links=False)
    except (zipfile.BadZipFile, zlib.error, EOFError):
        raise IntakeError.single(name, DAMAGED) from None
    except Exception as exc:  # openpyxl raises many kinds on malformed parts
        detail = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        reason = str(detail).strip() or type(exc).__name__
        raise IntakeError.single(name, f"could not be read as an Excel workbook: {reason}") from exc


def open_workbook(path: Path) -> Workbook:
    """The workbook at `path`, or an IntakeError that says what the file is instead."""
    return read_book(path).workbook


# ---------------------------------------------------------------- formulas with no saved value


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _sheet_parts(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet title -> its XML part in the zip, from xl/workbook.xml and its relationships."""
    book = SafeTree.fromstring(zf.read("xl/workbook.xml"))
    rels = SafeTree.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target", "") for r in rels if _local(r.tag) == "Relationship"}
    parts: dict[str, str] = {}
    for sheet in book.iter():
        if _local(sheet.tag) != "sheet":
            continue
        rid = next((v for k, v in sheet.attrib.items() if _local(k) == "id"), None)
        target = targets.get(rid)
        if target:
            part = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
            parts[sheet.get("name", "")] = posixpath.normpath(part)
    return parts


def _uncached_formulas(zf: zipfile.ZipFile, part: str) -> dict[str, str]:
    """Cell reference -> formula text, for formula cells with no saved (cached) value."""
    found: dict[str, str] = {}
    with zf.open(part) as stream:
        for _event, element in SafeTree.iterparse(stream, events=("end",)):
            if _local(element.tag) != "c":
                continue
            children = {_local(child.tag): child for child in element}
            formula, cached = children.get("f"), children.get("v")
            empty = cached is None or (not cached.text and element.get("t") != "str")
            if formula is not None and empty and element.get("r"):
                found[element.get("r", "")] = formula.text or ""
            element.clear()
    return found


def _scan_formulas(data: bytes, title: str) -> dict[str, str]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            part = _sheet_parts(zf).get(title)
            return _uncached_formulas(zf, part) if part else {}
    except Exception:  # noqa: BLE001 - openpyxl already read this part; a detail we cannot see
        return {}  # is not worth failing a readable workbook over


# ---------------------------------------------------------------- cells and sheets


@dataclass(frozen=True)
class Cell:
    """One cell as the intake stage sees it."""

    sheet: str  # the sheet's title as written in the workbook
    row: int
    column: int
    value: object = None
    number_format: str = "General"
    formula: str | None = None  # set when the cell is a formula with no saved value

    @property
    def coordinate(self) -> str:
        return f"{get_column_letter(self.column)}{self.row}"

    @property
    def blank(self) -> bool:
        if self.formula is not None:
            return False
        return self.value is None or (isinstance(self.value, str) and not self.value.strip())

    def uncached_message(self) -> str:
        shown = f"formula '={self.formula}'" if self.formula else "a formula"
        return UNCACHED.format(formula=shown)


@dataclass
class Sheet:
    """A worksheet's non-blank cells (and formulas with no saved value), row by row."""

    title: str
    rows: dict[int, dict[int, Cell]] = field(default_factory=dict)

    def cell(self, row: int, column: int) -> Cell:
        return self.rows.get(row, {}).get(column) or Cell(self.title, row, column)

    def ordered(self) -> Iterator[tuple[int, dict[int, Cell]]]:
        for row in sorted(self.rows):
            yield row, self.rows[row]

    @property
    def is_empty(self) -> bool:
        return not self.rows


def _sheet_cells(ws: Worksheet, uncached: dict[str, str]) -> Sheet:
    sheet = Sheet(ws.title)
    # The cells the file holds, not iter_rows(): one styled cell at XFD1048576 would make that
    # walk 17 billion coordinates. `_cells` has been openpyxl's {(row, column): cell} store since 2.x.
    stored = getattr(ws, "_cells", None)
    cells = stored.values() if isinstance(stored, dict) else (c for row in ws.iter_rows() for c in row)
    for cell in cells:
        value = cell.value
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        r, c = int(cell.row or 0), int(cell.column or 0)
        fmt = cell.number_format if isinstance(cell.number_format, str) else "General"
        sheet.rows.setdefault(r, {})[c] = Cell(ws.title, r, c, value, fmt)
    for ref, formula in uncached.items():
        match = re.fullmatch(r"\$?([A-Z]{1,3})\$?(\d+)", ref)
        if not match:
            continue
        r, c = int(match.group(2)), column_index_from_string(match.group(1))
        sheet.rows.setdefault(r, {})[c] = Cell(ws.title, r, c, None, "General", formula)
    return sheet


@dataclass
class Book:
    """A loaded workbook; sheets are turned into cells only when the intake asks for them."""

    name: str
    workbook: Workbook
    data: bytes = field(repr=False)
    _sheets: dict[str, Sheet] = field(default_factory=dict, repr=False)

    @property
    def titles(self) -> list[str]:
        return list(self.workbook.sheetnames)

    def matching(self, name: str) -> list[str]:
        """Titles of the worksheets whose normalized name is `name`'s."""
        want = normalize(name)
        return [t for t in self.titles
                if normalize(t) == want and isinstance(self.workbook[t], Worksheet)]

    def sheet(self, title: str) -> Sheet:
        if title not in self._sheets:
            ws = self.workbook[title]
            if not isinstance(ws, Worksheet):  # a chart sheet has no cells
                return Sheet(title)
            self._sheets[title] = _sheet_cells(ws, _scan_formulas(self.data, title))
        return self._sheets[title]


def read_book(path: Path) -> Book:
    """Load `path` as an intake workbook, or raise an IntakeError that says what it is instead."""
    data = _read_bytes(path)
    problem = file_problem(data)
    if problem:
        raise IntakeError.single(path.name, problem)
    return Book(path.name, _load(path.name, data), data)


# ---------------------------------------------------------------- tables


@dataclass(frozen=True)
class Table:
    """A sheet read as a table: its first non-blank row is the header."""

    sheet: Sheet
    header_row: int
    headers: dict[int, Cell]  # column -> header cell

    def body(self, columns: set[int]) -> Iterator[tuple[int, dict[int, Cell]]]:
        """Rows under the header with a non-blank cell in one of `columns` (others are skipped)."""
        for row, cells in self.sheet.ordered():
            if row > self.header_row and any(c in cells for c in columns):
                yield row, cells


def table(sheet: Sheet) -> Table | None:
    """The sheet as a table, or None when it has no non-blank cell."""
    for row, cells in sheet.ordered():
        headers = {col: cell for col, cell in cells.items() if cell.formula is None}
        if headers:
            return Table(sheet, row, headers)
    return None
