"""A workbook's slug: the name of its output folder (output-spec.md), from its file name.

On its own, without the reader's imports: a batch slugifies every workbook's name in its main
process, which never reads a workbook (importing the reader, and openpyxl with it, cost 0.28 s
of a batch's start).
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata

SLUG_MAX = 100  # characters, the hash included
SLUG_HASH = 8  # hex digits of the whole name's SHA-256 ending a long slug


def _stem(name: str) -> str:
    """`Path(name).stem`, the same string for every name, computed without making a `Path`."""
    parts = [p for p in name.replace(os.altsep or os.sep, os.sep).split(os.sep) if p and p != "."]
    last = parts[-1] if parts else ""
    dot = last.rfind(".")
    return last[:dot] if 0 < dot < len(last) - 1 else last


def slugify(name: str) -> str:
    """`Ridgeview Family.xlsx` -> `ridgeview-family`: the file name without its extension,
    lower-cased, accents dropped, every run of other than letters and digits made one `-`.
    (No `Path` here: a batch slugifies every workbook's name, and pathlib would intern each.)"""
    stem = _stem(name)
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_stem.lower()).strip("-") or "workbook"
    if len(slug) <= SLUG_MAX:
        return slug
    # Cut to SLUG_MAX with a short hash of the whole name (output-spec.md): every name the
    # product writes (`.<slug>.<random>` staging folders, `_errors/<slug>.html`) fits NAME_MAX.
    digest = hashlib.sha256(stem.encode("utf-8", "surrogatepass")).hexdigest()[:SLUG_HASH]
    return f"{slug[:SLUG_MAX - SLUG_HASH - 1].rstrip('-')}-{digest}"

