"""Reading the workbook: decide what a file is by its bytes, load it with openpyxl, and hand
the intake stage plain cells (value, number format, and any formula with no saved value).

Nothing here knows the intake contract beyond "sheets, labels and header rows"; `intake.py`
decides what the cells mean.
"""

from __future__ import annotations

import contextlib
import io
import posixpath
import re
import struct
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import openpyxl
import openpyxl.reader.excel
import openpyxl.xml
import openpyxl.xml.functions
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeTree
from openpyxl.utils import column_index_from_string, get_column_letter
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet.worksheet import Worksheet

from generator.errors import IntakeError
from generator.intake.rawfile import MAX_FILE, open_workbook_file

PROBE = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "expanded">]><r>&e;</r>'


def _refuses_entities(parse: Callable[[bytes], object]) -> bool:
    """Whether `parse` refuses an entity declaration (defusedxml) or leaves it unexpanded (lxml
    with resolve_entities=False, which openpyxl uses whenever lxml is installed)."""
    try:
        root = parse(PROBE)
    except DefusedXmlException:
        return True
    except Exception:  # noqa: BLE001 - any other failure means we cannot vouch for the parser
        return False
    itertext = getattr(root, "itertext", None)
    return callable(itertext) and "expanded" not in "".join(itertext())


def _iterparse_root(data: bytes) -> object:
    root = None
    for _event, element in openpyxl.xml.functions.iterparse(io.BytesIO(data)):
        root = element
    return root


# openpyxl parses whole parts (workbook.xml, styles, relationships) with `fromstring` and streams
# the sheets with `iterparse`. With defusedxml both refuse entity declarations. Installing lxml
# (python-docx brings it) makes openpyxl's `fromstring` lxml with resolve_entities=False: entities
# are left unexpanded, which is as safe; `_declarations` below still refuses such a part by name.
_LXML_PARTS = openpyxl.xml.functions.fromstring is not SafeTree.fromstring
_SAFE = (openpyxl.xml.DEFUSEDXML and openpyxl.xml.functions.iterparse is SafeTree.iterparse
         and _refuses_entities(openpyxl.xml.functions.fromstring) and _refuses_entities(_iterparse_root))
if not _SAFE:  # pragma: no cover - an installation problem, not a workbook one
    raise RuntimeError(
        "openpyxl is not using defusedxml, so an untrusted workbook could expand XML entities; "
        "install defusedxml and unset OPENPYXL_DEFUSEDXML"
    )

OLE2_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
ENCRYPTION_STREAM = "EncryptionInfo".encode("utf-16-le")

# Limits for untrusted files. A clinic's intake workbook is tens of kilobytes; these leave room
# for logos and long notes while refusing zip bombs before anything is inflated (Apache POI's
# ZipSecureFile does the same with its 0.01 minimum inflate ratio).
MB = 1024 * 1024
MAX_PARTS = 10_000  # zip entries
MAX_PART = 100 * MB  # one entry, unpacked (a worksheet is read only within its window)
MAX_XML_PART = 5 * MB  # one other XML part: openpyxl parses shared strings and styles whole
MAX_TOTAL = 200 * MB  # every entry, unpacked
MAX_RATIO = 100  # unpacked / packed, for an entry over RATIO_FLOOR
RATIO_FLOOR = 1 * MB

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
EMPTY = "the file is empty (0 bytes); it is not an Excel workbook"
ODS = "this is an OpenDocument spreadsheet (.ods), not an Excel workbook; save it as .xlsx"
XLSB = "this is an Excel binary workbook (.xlsb); open it in Excel and save as .xlsx"
ZIP_NOT_EXCEL = "this is a zip file but not an Excel workbook (it has no xl/workbook.xml)"
TOO_MANY_PARTS = "the workbook has {count:,} parts inside, too many for an intake workbook (the limit is {limit:,})"
TOO_BIG_PART = ("part '{part}' unpacks to {size}, too large for an intake workbook (the limit is {limit}); "
                "it is refused unread")
TOO_BIG_TOTAL = ("the workbook unpacks to {size}, too large for an intake workbook (the limit is {limit}); "
                 "it is refused unread")
ZIP_BOMB = ("part '{part}' unpacks to {ratio:,.0f} times its packed size (a zip bomb; the limit is "
            "{limit}); the workbook may be damaged or hostile and is refused unread")
HOSTILE_XML = ("the workbook's XML declares entities or a DTD ({reason}), which Excel never writes; "
               "it may be damaged or hostile and is refused")
UNCACHED = (
    "{formula} has no saved value (the workbook was never calculated); "
    "open and save it in Excel or LibreOffice, or type the value"
)


def normalize(name: object) -> str:
    """A sheet name, label or header as matched: case, surrounding spaces, a trailing colon."""
    text = " ".join(str(name).split()).lower()
    return text[:-1].rstrip() if text.endswith(":") else text


# ---------------------------------------------------------------- what the file is


def _size(n: int) -> str:
    return f"{n / MB:,.0f} MB" if n >= MB else f"{n:,} bytes"


def _read_bytes(path: Path) -> bytes:
    try:
        with open_workbook_file(path) as fh:  # a regular file of at most MAX_FILE bytes (rawfile.py)
            return fh.read(MAX_FILE + 1)  # a file that grows while read is cut, then found damaged
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


def _declared_parts(data: bytes) -> int:
    """The entry count the zip's end record declares, read before zipfile builds an object per
    entry; 0 when there is no end record (zipfile then reports the damage)."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end < 0 or end + 22 > len(data):
        return 0
    count, directory = struct.unpack_from("<HI", data, end + 10)
    return min(int(count), int(directory) // 46)  # a directory entry takes 46 bytes or more


def _part_limit(name: str) -> int:
    xml = name.lower().endswith((".xml", ".rels", ".vml"))
    return MAX_XML_PART if xml and not name.startswith("xl/worksheets/") else MAX_PART


def _size_problem(infos: list[zipfile.ZipInfo]) -> str | None:
    """Zip-bomb checks on the declared sizes (zipfile never inflates past a declared size)."""
    if len(infos) > MAX_PARTS:
        return TOO_MANY_PARTS.format(count=len(infos), limit=MAX_PARTS)
    for info in infos:
        limit = _part_limit(info.filename)
        if info.file_size > limit:
            return TOO_BIG_PART.format(part=info.filename, size=_size(info.file_size), limit=_size(limit))
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_FLOOR and ratio > MAX_RATIO:
            return ZIP_BOMB.format(part=info.filename, ratio=ratio, limit=MAX_RATIO)
    total = sum(info.file_size for info in infos)
    if total > MAX_TOTAL:
        return TOO_BIG_TOTAL.format(size=_size(total), limit=_size(MAX_TOTAL))
    return None


def _zip_problem(data: bytes) -> str | None:
    """Why a file that starts like a zip is not a readable .xlsx; None when it is one."""
    count = _declared_parts(data)
    if count > MAX_PARTS:
        return TOO_MANY_PARTS.format(count=count, limit=MAX_PARTS)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
            problem = _size_problem(zf.infolist())
            if problem:
                return problem
            if "xl/workbook.xml" in names:
                return None
            if "xl/workbook.bin" in names:
                return XLSB
            if "mimetype" in names and b"opendocument" in capped_read(zf, "mimetype", 1024):
                return ODS
            return ZIP_NOT_EXCEL
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, zlib.error,
            NotImplementedError):  # zipfile: "zip file version 7.0", an unknown compression method
        return DAMAGED


def capped_read(zf: zipfile.ZipFile, name: str, limit: int) -> bytes:
    """At most `limit` bytes of a zip entry, whatever its header declares."""
    with zf.open(name) as stream:
        return stream.read(limit)


class CappedStream:
    """A zip entry read as a stream that fails once more than `limit` bytes come out of it
    (zipfile stops at the declared size already; this does not rely on that)."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self._stream, self._left = stream, limit

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(self._left + 1 if n < 0 else min(n, self._left + 1))
        self._left -= len(data)
        if self._left < 0:
            raise zipfile.BadZipFile("a part inflates past its limit")
        return data


def file_problem(data: bytes) -> str | None:
    """What is wrong with these bytes as an .xlsx, decided by content, not the file's name."""
    if not data:
        return EMPTY
    if data.startswith(OLE2_MAGIC):
        return ENCRYPTED if ENCRYPTION_STREAM in data else LEGACY_XLS
    if not data.startswith(b"PK"):
        return TEXT_FILE if _looks_like_text(data[:4096]) else NOT_EXCEL
    return _zip_problem(data)


def _hostile_xml(exc: BaseException) -> DefusedXmlException | None:
    """The defusedxml refusal behind `exc` (openpyxl wraps it in its own ValueError)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, DefusedXmlException):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def unreadable(name: str, exc: Exception) -> IntakeError:
    """The IntakeError for a workbook whose parts openpyxl (or our scan) failed on."""
    refused = _hostile_xml(exc)
    if refused is not None:
        return IntakeError.single(name, HOSTILE_XML.format(reason=type(refused).__name__))
    if isinstance(exc, zipfile.BadZipFile | zlib.error | EOFError):
        return IntakeError.single(name, DAMAGED)
    if isinstance(exc, MemoryError):
        return IntakeError.single(name, "needed more memory than this machine allows to read; it may be damaged "
                                  "or hostile")
    while isinstance(exc.__cause__, Exception) and str(exc).startswith("Unable to read workbook"):
        exc = exc.__cause__  # openpyxl's wrapper names a BytesIO object; its cause says what is wrong
    detail = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
    reason = " ".join(str(detail).split()) or type(exc).__name__
    if len(reason) > 200:
        reason = reason[:197] + "..."
    return IntakeError.single(name, f"could not be read as an Excel workbook: {reason}")


class _UnsizedSheet(ReadOnlyWorksheet):
    """A read-only worksheet that does not look for its <dimension> when opened.

    openpyxl finds the dimension by parsing the sheet up to the *end* of <sheetData> when the
    element is missing: a whole million-row sheet, even one the intake never reads. The intake
    always passes explicit bounds to `iter_rows`, so the dimension is never needed.
    """

    def _get_size(self) -> None:
        return None


@contextlib.contextmanager
def _unsized_sheets() -> Iterator[None]:
    module = openpyxl.reader.excel
    original = module.ReadOnlyWorksheet  # type: ignore[attr-defined]
    module.ReadOnlyWorksheet = _UnsizedSheet  # type: ignore[attr-defined]
    try:
        yield
    finally:
        module.ReadOnlyWorksheet = original  # type: ignore[attr-defined]


def _load(name: str, data: bytes) -> Workbook:
    """Open the workbook lazily: read_only mode parses a sheet only when it is asked for, and
    then only as far as the rows the intake reads."""
    try:
        if _LXML_PARTS:
            _declarations(data)
        with warnings.catch_warnings(), _unsized_sheets():
            warnings.simplefilter("ignore")  # openpyxl warns about extensions it drops
            return openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds on malformed parts
        raise unreadable(name, exc) from exc


def _declarations(data: bytes) -> None:
    """Refuse, as defusedxml would, a part that openpyxl parses whole and that declares entities.

    Only needed when openpyxl parses those parts with lxml (see `_LXML_PARTS`): lxml leaves the
    entities unexpanded, and this gives the same refusal, by name, as the defusedxml path. The
    worksheets are streamed through defusedxml either way."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            name = info.filename
            if name.startswith("xl/worksheets/") or not name.lower().endswith((".xml", ".rels")):
                continue
            part = capped_read(zf, name, MAX_XML_PART + 1)
            if b"<!DOCTYPE" in part or b"<!ENTITY" in part:
                SafeTree.fromstring(part)  # raises EntitiesForbidden / ExternalReferenceForbidden


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


def _row_number(element: object, previous: int) -> int:
    r = getattr(element, "get", lambda _k: None)("r")
    return int(r) if isinstance(r, str) and r.isdigit() else previous + 1


def _uncached_formulas(zf: zipfile.ZipFile, part: str, window: Window) -> dict[str, str]:
    """Cell reference -> formula text, for formula cells with no saved (cached) value, in the
    rows of `window` (and the one after it); the rest of the sheet is not parsed."""
    found: dict[str, str] = {}
    row = 0
    with zf.open(part) as raw:
        for event, element in SafeTree.iterparse(CappedStream(raw, MAX_PART), events=("start", "end")):
            tag = _local(element.tag)
            if tag == "row" and event == "start":
                row = _row_number(element, row)
                if row > window.rows + 1:
                    break
            if event != "end" or tag not in ("c", "row"):
                continue
            if tag == "c":
                children = {_local(child.tag): child for child in element}
                formula, cached = children.get("f"), children.get("v")
                empty = cached is None or (not cached.text and element.get("t") != "str")
                if formula is not None and empty and element.get("r"):
                    found[element.get("r", "")] = formula.text or ""
            element.clear()
    return found


def _scan_formulas(data: bytes, title: str, window: Window) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        part = _sheet_parts(zf).get(title)
        return _uncached_formulas(zf, part, window) if part else {}


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


@dataclass(frozen=True)
class Window:
    """The top-left block of a sheet the intake reads: a form or table outside it is refused."""

    rows: int
    columns: int
    what: str  # "a form", "a table"

    @property
    def corner(self) -> str:
        return f"{get_column_letter(self.columns)}{self.rows}"

    def outside(self, where: str) -> str:
        return (f"the sheet has a value at {where}, outside the area the intake reads (A1:{self.corner}, "
                f"the first {self.rows:,} rows and {self.columns} columns); {self.what} must fit in it, "
                "so move or delete the cells beyond")


FORM = Window(200, 10, "the Clinic form")
TABLE = Window(2_000, 50, "a table")


@dataclass
class Sheet:
    """A worksheet's non-blank cells (and formulas with no saved value) within its window."""

    title: str
    rows: dict[int, dict[int, Cell]] = field(default_factory=dict)
    overflow: str | None = None  # the first value found just outside the window, as "A201"

    def cell(self, row: int, column: int) -> Cell:
        return self.rows.get(row, {}).get(column) or Cell(self.title, row, column)

    def ordered(self) -> Iterator[tuple[int, dict[int, Cell]]]:
        for row in sorted(self.rows):
            yield row, self.rows[row]


def _sheet_cells(ws: ReadOnlyWorksheet | Worksheet, window: Window, uncached: dict[str, str]) -> Sheet:
    """The window's cells, plus one row and one column beyond it to see whether data goes on.

    iter_rows with both bounds stops parsing after that row, so a sheet of a million rows (or
    one styled cell at XFD1048576) costs no more than its first rows.
    """
    sheet = Sheet(ws.title)
    for row in ws.iter_rows(min_row=1, max_row=window.rows + 1, min_col=1, max_col=window.columns + 1):
        for cell in row:
            value = cell.value
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            r, c = int(getattr(cell, "row", 0) or 0), int(getattr(cell, "column", 0) or 0)
            if r > window.rows or c > window.columns:
                sheet.overflow = sheet.overflow or f"{get_column_letter(c)}{r}"
                continue
            fmt = cell.number_format if isinstance(cell.number_format, str) else "General"
            sheet.rows.setdefault(r, {})[c] = Cell(ws.title, r, c, value, fmt)
    for ref, formula in uncached.items():
        match = re.fullmatch(r"\$?([A-Z]{1,3})\$?(\d+)", ref)
        if not match:
            continue
        r, c = int(match.group(2)), column_index_from_string(match.group(1))
        if r <= window.rows and c <= window.columns:
            sheet.rows.setdefault(r, {})[c] = Cell(ws.title, r, c, None, "General", formula)
    return sheet


def _has_cells(ws: object) -> bool:
    return isinstance(ws, ReadOnlyWorksheet | Worksheet)  # a chart sheet has none


@dataclass
class Book:
    """A workbook opened lazily; a sheet is parsed only when the intake asks for it."""

    name: str
    workbook: Workbook
    data: bytes = field(repr=False)
    _sheets: dict[str, Sheet] = field(default_factory=dict, repr=False)

    @property
    def titles(self) -> list[str]:
        return list(self.workbook.sheetnames)

    def matching(self, name: str) -> list[str]:
        """Titles of the worksheets (hidden ones too: they hold data) whose normalized name is `name`'s."""
        want = normalize(name)
        return [t for t in self.titles if normalize(t) == want and _has_cells(self.workbook[t])]

    def sheet(self, title: str, window: Window = TABLE) -> Sheet:
        if title not in self._sheets:
            ws = self.workbook[title]
            if not _has_cells(ws):
                return Sheet(title)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # e.g. a date cell whose number is out of range
                    uncached = _scan_formulas(self.data, title, window)
                    self._sheets[title] = _sheet_cells(ws, window, uncached)  # type: ignore[arg-type]
            except Exception as exc:  # noqa: BLE001 - a damaged or hostile part, whatever openpyxl raises
                raise unreadable(self.name, exc) from exc
        return self._sheets[title]


def file_message(path: Path) -> str | None:
    """The one line `validate` reports for a file that is not an Excel workbook at all (its
    name first), or None when its bytes are a workbook's."""
    try:
        problem = file_problem(_read_bytes(path))
    except IntakeError as exc:
        return exc.lines()[0]
    return f"{path.name}: {problem}" if problem else None


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
