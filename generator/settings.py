"""What shapes a workbook's documents besides the workbook: `Settings` and its `Branding`.

The CLI builds them from its options (`Settings.from_options`); a script builds them directly:

    Settings(out=Path("output"), formats=("json",))

Both are frozen and picklable (a batch hands them to its worker processes).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from generator.errors import UsageError

HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_COLOR = "#1f5f8b"  # the accent, readable in greyscale print
BRANDING_KEYS = ("firm", "logo", "color", "docx_reference")

PdfEngine = Literal["chromium", "weasyprint"]
PDF_ENGINES = ("auto", "chromium", "weasyprint")  # what --pdf-engine accepts
NO_PDF_ENGINE = "PDF needs the optional engine: pip install 'clinic-budget[pdf]'"


@dataclass(frozen=True)
class Branding:
    """The consulting firm's look on every document."""

    firm: str = ""
    """The firm's name, on the cover, in the running heads and in the XLSX properties ("" for none)."""

    logo: Path | None = None
    """A PNG, JPEG or SVG file embedded in the documents (never linked); None for no logo."""

    color: str = DEFAULT_COLOR
    """The accent colour as '#rrggbb' (lower case once loaded)."""

    docx_reference: Path | None = None
    """A Word document whose styles, margins and letterhead budget.docx takes (like pandoc's
    reference documents); None for the house style."""

    @classmethod
    def load(cls, path: Path | None, firm: str | None, logo: Path | None, color: str | None) -> Branding:
        """A branding file (TOML: firm, logo, color, docx_reference), with command-line options on top."""
        data: dict[str, object] = {}
        if path is not None:
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise UsageError(f"{path}: branding file not found") from None
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise UsageError(f"{path}: branding file is not valid TOML: {exc}") from None
            unknown = sorted(set(data) - set(BRANDING_KEYS))
            if unknown:
                raise UsageError(f"{path}: unknown branding key {unknown[0]!r}; use {', '.join(BRANDING_KEYS)}")
        firm_v = firm if firm is not None else str(data.get("firm", ""))
        logo_v = logo if logo is not None else (
            (path.parent / str(data["logo"])) if path is not None and data.get("logo") else None)
        color_v = color if color is not None else str(data.get("color", DEFAULT_COLOR))
        if not HEX_COLOR.match(color_v):
            raise UsageError(f"branding colour must look like '#1f5f8b', got {color_v!r}")
        if logo_v is not None:
            check_logo(logo_v)
        reference = (path.parent / str(data["docx_reference"])) if path is not None and data.get(
            "docx_reference") else None
        if reference is not None:
            check_reference(reference)
        return cls(firm_v, logo_v, color_v.lower(), reference)


def check_reference(path: Path) -> None:
    """A reference Word document must be a readable .docx (a zip with word/document.xml)."""
    import zipfile

    if not path.is_file():
        raise UsageError(f"{path}: docx_reference file not found")
    try:
        with zipfile.ZipFile(path) as zf:
            if "word/document.xml" not in zf.namelist():
                raise UsageError(f"{path}: docx_reference is not a Word document (.docx)")
    except (zipfile.BadZipFile, OSError):
        raise UsageError(f"{path}: docx_reference is not a Word document (.docx)") from None


LOGO_MAX = 2 * 1024 * 1024  # bytes: a letterhead logo is tens of kilobytes; 200 MB used 1.15 GB per workbook
_SVG = re.compile(rb"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*(<!DOCTYPE svg[^>]*>\s*)?<svg[\s>]", re.S)


def check_logo(path: Path) -> None:
    """Once, up front: the logo is a real PNG, JPEG or SVG file of at most LOGO_MAX bytes (a file
    that only had the suffix made every workbook of a batch an internal error)."""
    suffix = path.suffix.lower()
    if suffix not in (".png", ".jpg", ".jpeg", ".svg"):
        raise UsageError(f"{path}: the logo must be a PNG, JPEG or SVG file")
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise UsageError(f"{path}: the logo is not a file")
        if size > LOGO_MAX:
            raise UsageError(f"{path}: the logo is {size / 1024 / 1024:,.1f} MB; at most 2 MB, please "
                             "(a letterhead logo is usually under 100 KB)")
        with path.open("rb") as fh:
            head = fh.read(4096)
    except FileNotFoundError:
        raise UsageError(f"{path}: logo file not found") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the logo: {exc.strerror or exc}") from None
    real = {".png": head.startswith(b"\x89PNG\r\n\x1a\n"), ".svg": bool(_SVG.match(head)),
            ".jpg": head.startswith(b"\xff\xd8\xff"), ".jpeg": head.startswith(b"\xff\xd8\xff")}[suffix]
    if not real:
        kind = {".png": "PNG", ".svg": "SVG", ".jpg": "JPEG", ".jpeg": "JPEG"}[suffix]
        raise UsageError(f"{path}: the logo is named {suffix} but is not a {kind} image; export it again")


@dataclass(frozen=True)
class Settings:
    """Everything besides the workbook that decides a run's outputs."""

    out: Path
    """The output folder; each workbook's documents go to `<out>/<slug>/`."""

    formats: tuple[str, ...]
    """The formats to write, by writer name (`generator.render.writers.FORMATS`), e.g. ("md", "json")."""

    templates: Path | None = None
    """A folder whose templates override the shipped ones (same names), or None."""

    branding: Branding = field(default_factory=Branding)
    """The firm's name, logo and accent colour."""

    pdf_engine: PdfEngine = "weasyprint"
    """What prints budget.pdf; `from_options` resolves the command line's "auto"."""

    @classmethod
    def from_options(cls, out: Path, formats: tuple[str, ...] | None = None, templates: Path | None = None,
                     brand_file: Path | None = None, firm: str | None = None, logo: Path | None = None,
                     color: str | None = None, pdf_engine: str = "auto") -> Settings:
        """Settings from the command line's options, checked: `formats` None means every format
        this installation can make; `pdf_engine` may be "auto" (Chromium first)."""
        from generator.render.writers import WRITERS

        engine: PdfEngine = "weasyprint"
        if formats is None or "pdf" in formats:  # only then is an engine worth looking for
            chosen = choose_pdf_engine(pdf_engine)
            if formats is None:
                formats = tuple(w.name for w in WRITERS if w.available())
            elif chosen is None:
                raise UsageError(NO_PDF_ENGINE)
            engine = chosen or engine
        if "docx" in formats:
            from generator.render import docx

            docx.require()
        if templates is not None:
            if not templates.is_dir():
                raise UsageError(f"--templates {templates}: not a folder")
            from generator.render.document import check_overrides

            check_overrides(templates)  # once, up front: a broken override fails before any work
        return cls(out, formats, templates, Branding.load(brand_file, firm, logo, color), engine)


def choose_pdf_engine(choice: str) -> PdfEngine | None:
    """The engine for `choice` ("auto", "chromium" or "weasyprint"); None when "auto" finds none.

    "auto" prefers Chromium (about six times faster), then WeasyPrint (the `pdf` extra). An engine
    asked for by name that is not installed is a usage error.
    """
    from generator.render import chromium, pdf

    if choice not in PDF_ENGINES:
        raise UsageError(f"--pdf-engine: unknown engine {choice!r}; choose from {', '.join(PDF_ENGINES)}")
    if choice == "chromium":
        chromium.require()
        return "chromium"
    if choice == "auto" and chromium.find() is not None:
        return "chromium"
    if pdf.weasyprint_available():
        return "weasyprint"
    if choice == "weasyprint":
        raise UsageError(NO_PDF_ENGINE)
    return None


def available_formats() -> tuple[str, ...]:
    """The formats this installation can make (PDF only with an engine)."""
    return Settings.from_options(Path(".")).formats
