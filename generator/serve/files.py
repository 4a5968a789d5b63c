"""What `serve` does with names and files: an upload's name made a file name, a URL path
checked to lie inside the output folder, each document's media type, and the figures a result
page shows (from the budget's budget.json)."""

from __future__ import annotations

import ipaddress
import os
import re
import unicodedata
from dataclasses import dataclass

from generator.run.batch import WORKBOOK_SUFFIXES
from generator.run.manifest import Record
from generator.run.portfolio import DOCUMENT_ORDER

UPLOADS_DIR = "_uploads"  # beside _errors: no slug has an underscore, so neither is a clinic's folder
MB = 1024 * 1024
NAME_MAX = 120  # characters of an uploaded file name that are kept

TEXT_TYPES = {".csv": "text/csv; charset=utf-8", ".txt": "text/plain; charset=utf-8",
              ".html": "text/html; charset=utf-8"}  # the portfolio's and the error reports' files


def media_type(name: str) -> str | None:
    """The Content-Type of a file in the output folder: the writer's, for a document."""
    from generator.render.writers import WRITERS

    for writer in WRITERS:
        if writer.file_name == name:
            kind = writer.media_type
            return f"{kind}; charset=utf-8" if kind.startswith("text/") and "charset" not in kind else kind
    return TEXT_TYPES.get(os.path.splitext(name)[1].lower())


# ------------------------------------------------------------------ names and paths


def sanitise_name(raw: str) -> str:
    """An uploaded file's name as a file name only: the last component of any path (either
    slash), NFC; letters, digits, spaces and ``.-_()[]'&,+#@!=~`` kept (none is special to a file
    system or a shell's globbing), anything else made `-`; no leading dots, dashes or spaces; at
    most NAME_MAX characters, the suffix kept; "workbook.xlsx" when nothing is left."""
    name = re.split(r"[/\\]", raw)[-1]
    name = unicodedata.normalize("NFC", name)
    name = re.sub(r"\s+", " ", re.sub(r"[^\w .()\[\]'&,+#@!=~-]+", "-", name))
    stem, suffix = os.path.splitext(name)
    if len(suffix) > 10 or " " in suffix:  # not an extension: part of the name
        stem, suffix = name, ""
    stem = stem.strip(" .-")[:NAME_MAX - len(suffix)].rstrip(" .")
    return f"{stem}{suffix}" if stem else "workbook.xlsx"


def is_workbook_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in WORKBOOK_SUFFIXES


def document_path(out_real: str, relative: str) -> str | None:
    """The file `relative` (a URL path, already percent-decoded) names inside the output folder
    `out_real` (a real path), or None when it names anything else."""
    parts = relative.split("/")
    if any(p in ("", ".", "..") or p.startswith(".") or "\\" in p or "\0" in p for p in parts):
        return None
    if parts[0] == UPLOADS_DIR:
        return None
    full = os.path.realpath(os.path.join(out_real, *parts))
    if os.path.commonpath([full, out_real]) != out_real or full == out_real or not os.path.isfile(full):
        return None
    return full


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# ------------------------------------------------------------------ what a result page shows


@dataclass(frozen=True)
class Figures:
    """The headline of one budget, from its budget.json (or the manifest's headline without it)."""

    clinic: str
    physicians: int | None
    build_low: int | None
    build_expected: int | None
    build_high: int | None
    tier: str
    year_one: int | None
    break_even_year: int | None
    recommendation: str
    reasons: tuple[str, ...] = ()
    recommended_budget: int | None = None
    risk_summary: str = ""
    maintenance: tuple[int, int] | None = None
    hosting: tuple[int, int] | None = None
    scenarios: tuple[str, ...] = ()


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def read_figures(folder: str, record: Record | None) -> Figures | None:
    import json

    try:
        with open(os.path.join(folder, "budget.json"), encoding="utf-8") as fh:
            data = json.load(fh)
        base = data["scenarios"][0]
        rec = base.get("recommendation") or {}
        risk = base.get("risk") or {}
        annual = base.get("annual") or {}

        def pair(key: str) -> tuple[int, int] | None:
            low, high = _int((annual.get(key) or {}).get("low")), _int((annual.get(key) or {}).get("high"))
            return (low, high) if low is not None and high is not None else None

        return Figures(
            clinic=str(data["clinic"]["name"]), physicians=_int(data["clinic"].get("physicians")),
            build_low=_int(base["build"]["low"]), build_expected=_int(base["build"]["expected"]),
            build_high=_int(base["build"]["high"]), tier=str(base.get("tier", "")),
            year_one=_int((base.get("capital") or {}).get("year_one")),
            break_even_year=_int((base.get("tco") or {}).get("break_even_year")),
            recommendation=str(rec.get("headline") or rec.get("path") or ""),
            reasons=tuple(str(r) for r in rec.get("reasons") or ()),
            recommended_budget=_int(risk.get("recommended_budget")), risk_summary=str(risk.get("summary") or ""),
            maintenance=pair("maintenance"), hosting=pair("hosting"),
            scenarios=tuple(str(s.get("name", "")) for s in data["scenarios"][1:]),
        )
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError):
        pass
    h = record.headline if record is not None else None
    if h is None:
        return None
    return Figures(h.clinic, h.physicians, h.build_low, h.build_expected, h.build_high, h.tier,
                   h.year_one_capital, h.break_even_year, h.recommendation)


def documents_of(record: Record | None, folder: str) -> list[str]:
    """The documents in `folder`, in the portfolio's order, then any others the record names."""
    named = list(record.files) if record is not None else []
    order = [*DOCUMENT_ORDER, *(n for n in named if n not in DOCUMENT_ORDER)]
    return [n for n in order if os.path.isfile(os.path.join(folder, n))]
