"""Zip containers (xlsx, docx) with reproducible bytes."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from typing import TYPE_CHECKING

from openpyxl.writer.excel import ExcelWriter

if TYPE_CHECKING:
    from openpyxl import Workbook

ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can carry


def reproducible_zip(data: bytes, date: dt.date | None = None) -> bytes:
    """The same zip with every entry dated `date` (or 1980-01-01), in the same order and with the same
    permissions, so the same content gives the same bytes (openpyxl and python-docx stamp each entry
    with the time it was saved)."""
    stamp = (max(date.year, 1980), date.month, date.day, 0, 0, 0) if date else ZIP_DATE
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=stamp)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            entry.create_system = 0
            dst.writestr(entry, src.read(info.filename))
    return out.getvalue()


def workbook_bytes(wb: Workbook, date: dt.datetime = dt.datetime(2026, 1, 1)) -> bytes:
    """An openpyxl workbook's bytes, the same for the same workbook: its properties dated `date`
    (openpyxl's own save stamps `modified` with the time) and every zip entry dated alike."""
    wb.properties.created = wb.properties.modified = date
    buffer = io.BytesIO()
    ExcelWriter(wb, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, allowZip64=True)).save()
    return reproducible_zip(buffer.getvalue(), date)
