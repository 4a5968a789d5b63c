"""The whole job for one workbook: read -> plan -> risk -> render -> write, atomically.

`run`, `batch` and `watch` all call `generate`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from generator.errors import OutputError, UsageError
from generator.model import Plan

FORMAT_FILES = {"md": "budget.md", "html": "budget.html", "xlsx": "budget.xlsx", "pdf": "budget.pdf",
                "json": "budget.json"}
HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass(frozen=True)
class Branding:
    firm: str = ""
    logo: Path | None = None
    color: str = "#1f5f8b"  # accent, readable in greyscale print

    @classmethod
    def load(cls, path: Path | None, firm: str | None, logo: Path | None, color: str | None) -> Branding:
        """A branding file (TOML: firm, logo, color), with command-line options on top."""
        data: dict[str, object] = {}
        if path is not None:
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise UsageError(f"{path}: branding file not found") from None
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise UsageError(f"{path}: branding file is not valid TOML: {exc}") from None
            unknown = sorted(set(data) - {"firm", "logo", "color"})
            if unknown:
                raise UsageError(f"{path}: unknown branding key {unknown[0]!r}; use firm, logo, color")
        firm_v = firm if firm is not None else str(data.get("firm", ""))
        logo_v = logo if logo is not None else (
            (path.parent / str(data["logo"])) if path is not None and data.get("logo") else None)
        color_v = color if color is not None else str(data.get("color", cls.color))
        if not HEX_COLOR.match(color_v):
            raise UsageError(f"branding colour must look like '#1f5f8b', got {color_v!r}")
        if logo_v is not None:
            if not logo_v.is_file():
                raise UsageError(f"{logo_v}: logo file not found")
            if logo_v.suffix.lower() not in (".png", ".jpg", ".jpeg", ".svg"):
                raise UsageError(f"{logo_v}: the logo must be a PNG, JPEG or SVG file")
        return cls(firm_v, logo_v, color_v.lower())


PDF_ENGINES = ("auto", "chromium", "weasyprint")
NO_PDF_ENGINE = "PDF needs the optional engine: pip install 'clinic-budget[pdf]'"


@dataclass(frozen=True)
class Settings:
    out: Path
    formats: tuple[str, ...]
    templates: Path | None = None
    branding: Branding = field(default_factory=Branding)
    pdf_engine: str = "weasyprint"  # "weasyprint" or "chromium"; from_options resolves "auto"

    @classmethod
    def from_options(cls, out: Path, formats: tuple[str, ...] | None = None, templates: Path | None = None,
                     brand_file: Path | None = None, firm: str | None = None, logo: Path | None = None,
                     color: str | None = None, pdf_engine: str = "auto") -> Settings:
        engine = "weasyprint"
        if formats is None or "pdf" in formats:  # only then is an engine worth looking for
            chosen = choose_pdf_engine(pdf_engine)
            if formats is None:
                formats = tuple(f for f in FORMAT_FILES if f != "pdf" or chosen)
            elif chosen is None:
                raise UsageError(NO_PDF_ENGINE)
            engine = chosen or engine
        if templates is not None and not templates.is_dir():
            raise UsageError(f"--templates {templates}: not a folder")
        return cls(out, formats, templates, Branding.load(brand_file, firm, logo, color), engine)


def choose_pdf_engine(choice: str) -> str | None:
    """The engine for `choice` ("auto", "chromium" or "weasyprint"); None when "auto" finds none.

    "auto" prefers Chromium (about six times faster), then WeasyPrint (the `pdf` extra). An engine
    asked for by name that is not installed is a usage error.
    """
    from generator.render import chromium

    if choice not in PDF_ENGINES:
        raise UsageError(f"--pdf-engine: unknown engine {choice!r}; choose from {', '.join(PDF_ENGINES)}")
    if choice == "chromium":
        chromium.require()
        return "chromium"
    if choice == "auto" and chromium.find() is not None:
        return "chromium"
    if pdf_available():
        return "weasyprint"
    if choice == "weasyprint":
        raise UsageError(NO_PDF_ENGINE)
    return None


@cache
def pdf_available() -> bool:
    """WeasyPrint imports, with the Pango library it loads (found only by trying)."""
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


def available_formats() -> tuple[str, ...]:
    return Settings.from_options(Path(".")).formats


@dataclass(frozen=True)
class Result:
    source: str | Path  # as given to `generate`
    slug: str
    folder: str  # the output folder (a string: see `generate`)
    files: tuple[str, ...]
    warnings: tuple[str, ...]
    plan: Plan


def build_plan(path: str | Path, today: dt.date | None = None) -> Plan:
    """Read, validate and plan one workbook (no files written)."""
    from generator.intake.sandbox import read_untrusted
    from generator.plan import quotes, risk
    from generator.plan.pricing import plan_intake

    # The workbook is untrusted: read it in a child process with memory and time limits
    # (CLINIC_BUDGET_SANDBOX=0 reads it in process).
    return quotes.apply(risk.apply(plan_intake(read_untrusted(path), today)))


def render(plan: Plan, settings: Settings) -> dict[str, bytes]:
    """Every requested format, as file name -> bytes."""
    from generator.render import budget_json

    out: dict[str, bytes] = {}
    wanted = set(settings.formats)
    if wanted & {"md", "html", "pdf"}:
        from generator.render import document as documents

        markdown_text = documents.render_markdown(plan, settings)
        if "md" in wanted:
            out["budget.md"] = markdown_text.encode("utf-8")
        if wanted & {"html", "pdf"}:
            html = documents.render_html(markdown_text, plan, settings)
            if "html" in wanted:
                out["budget.html"] = html.encode("utf-8")
            if "pdf" in wanted:
                from generator.render import pdf

                out["budget.pdf"] = pdf.render(plan, settings, html)
    if "xlsx" in wanted:
        from generator.render import xlsx

        out["budget.xlsx"] = xlsx.render(plan, settings)
    if "json" in wanted:
        out["budget.json"] = budget_json.render(plan)
    return {FORMAT_FILES[f]: out[FORMAT_FILES[f]] for f in FORMAT_FILES if FORMAT_FILES[f] in out}


def write_atomically(folder: str | Path, files: dict[str, bytes]) -> None:
    """Write every file to a temporary folder beside `folder`, then move each into place with an
    atomic rename: a reader never sees a half-written file, and a failure before the moves
    leaves the earlier outputs untouched. (String paths: see `generate`.)"""
    parent, base = os.path.split(os.fspath(folder))
    parent = parent or "."
    try:
        os.makedirs(parent, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=f".{base}.", dir=parent)
    except OSError as exc:
        raise OutputError(f"{parent}: cannot write the output folder: {exc.strerror or exc}") from None
    try:
        for name, data in files.items():
            with open(os.path.join(staging, name), "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):
            os.mkdir(folder)
        for name in files:
            os.replace(os.path.join(staging, name), os.path.join(folder, name))
    except OSError as exc:
        raise OutputError(f"{folder}: cannot write outputs: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def generate(path: str | Path, settings: Settings, plan_hook: Callable[[Plan], None] | None = None) -> Result:
    """One workbook to its documents in `<out>/<slug>/`.

    No `Path` is made from the workbook's name or slug: pathlib interns every name it parses,
    and a process that generates workbook after workbook (a one-worker batch) saw its memory grow
    with the interned-string table (see generator.run.batch)."""
    from generator.intake.reader import slugify
    from generator.run.manifest import subpath

    plan = build_plan(path)
    if plan_hook is not None:
        plan_hook(plan)
    files = render(plan, settings)
    slug = slugify(os.path.basename(path))
    folder = subpath(settings.out, slug)
    write_atomically(folder, files)
    return Result(path, slug, folder, tuple(files), plan.intake.warnings, plan)
