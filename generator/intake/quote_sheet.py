"""The Quotes sheet (intake-spec.md): development vendors' quotes for the base scope, read as a
table by header name with the reader's own table helpers, every bad cell reported by the reader's
Report."""

from __future__ import annotations

from generator.intake import fields, schema
from generator.intake.reader import INVALID, Report, _rows, _usable
from generator.intake.workbook import Cell, Sheet, normalize
from generator.model import Quote


def read_quotes(sheet: Sheet | None, rep: Report) -> tuple[Quote, ...]:
    """The Quotes sheet: one vendor's quote a row, at most MAX_QUOTES rows."""
    found: list[Quote] = []
    seen: dict[str, Cell] = {}
    for values, cells in _rows(sheet, schema.QUOTE_COLUMNS, rep):  # at most MAX_QUOTES rows: reader._limited
        vendor = values["vendor"]
        if vendor not in (None, INVALID):
            key = normalize(vendor)
            if key in seen:
                rep.at(cells["vendor"], "Vendor", f"vendor {fields.show(vendor)} is listed twice (first at "
                       f"{seen[key].coordinate}); give each quote its own name, e.g. "
                       f"{fields.show(vendor + ' (option B)')}")
                continue
            seen[key] = cells["vendor"]
        if any(v is INVALID for v in values.values()) or vendor is None or values["price"] is None:
            continue
        usable = _usable(values)
        maintenance = usable.get("maintenance")
        found.append(Quote(
            vendor=vendor, price=round(values["price"]),
            maintenance=None if maintenance is None else round(maintenance),
            hours=usable.get("hours"), hourly_rate=usable.get("hourly_rate"), notes=usable.get("notes", ""),
            hipaa_builds=usable.get("hipaa_builds"), fhir=usable.get("fhir"),
            maintenance_sla=usable.get("maintenance_sla"), code_ownership=usable.get("code_ownership"),
            migration_plan=usable.get("migration_plan"), row=cells["vendor"].row,
        ))
    return tuple(found)
