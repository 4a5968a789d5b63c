"""The writer registry: every output format, in one list.

Each `Writer` turns a `Plan` into one file's bytes with the same signature,
`render(plan, settings) -> bytes`. The command line's `--formats`, the default formats, the
batch manifest's fingerprint, the portfolio's links and the batch workers' preloaded modules all
read `WRITERS`; nothing else lists the formats.

Adding a format is one entry in `WRITERS` plus its module, which has
`render(plan: Plan, settings: Settings) -> bytes` (see `from_module`).

Markdown, HTML and PDF are one chain (templates -> Markdown -> HTML -> printed PDF): when several
of them are asked for, `render_all` renders the Markdown and the HTML once and hands them on.
budget.md is the full report; budget.html, budget.pdf and budget.docx are the client edition, the
deliverable (`client.md.j2`: the base scenario in full, the others side by side and in an
appendix), budget.docx as an editable Word document.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from generator.errors import UsageError

if TYPE_CHECKING:
    from generator.model import Plan
    from generator.settings import Settings

Render = Callable[["Plan", "Settings"], bytes]


def _always() -> bool:
    return True


@dataclass(frozen=True)
class Writer:
    """One output format."""

    name: str
    """What `--formats` and `Settings.formats` call it ("md")."""

    file_name: str
    """The file it writes in the workbook's output folder ("budget.md")."""

    media_type: str
    """The file's IANA media type, for anything that serves or attaches it."""

    render: Render = field(repr=False)
    """The plan as this file's bytes."""

    rank: int
    """Where the portfolio links it among a workbook's documents: lowest first (the best to read)."""

    templated: bool = False
    """Rendered through the Jinja templates, so an edited template changes its bytes."""

    preload: tuple[str, ...] = ()
    """Modules a batch's worker processes import once, ahead of the first workbook."""

    available: Callable[[], bool] = field(default=_always, repr=False)
    """Whether this installation can make it (an optional engine is installed)."""

    engine: Callable[[Settings], str] | None = field(default=None, repr=False)
    """The name and version of the engine that makes it, when a new version may change its bytes."""

    label: str = "Budget"
    """What the document is, as `serve`'s result page links it ("Budget", "Figures")."""

    description: str = ""
    """What kind of file it is and what it is for, after its name on that page ("Word, editable")."""


def from_module(module: str) -> Render:
    """A writer's `render` that imports `module` when first called and calls its
    `render(plan, settings)` (so that listing the formats imports no writer)."""

    def render(plan: Plan, settings: Settings) -> bytes:
        writer_render: Render = importlib.import_module(module).render
        return writer_render(plan, settings)

    render.__qualname__ = f"from_module({module!r})"
    return render


# ------------------------------------------------------------------ the document chain


@dataclass
class _Chain:
    """The Markdown and HTML of one (plan, settings), kept while `render_all` renders its formats."""

    plan: Plan | None = None
    settings: Settings | None = None
    markdown: str | None = None
    client: str | None = None  # the client edition's Markdown
    html: str | None = None

    def for_(self, plan: Plan, settings: Settings) -> _Chain:
        if plan is not self.plan or settings is not self.settings:
            self.plan, self.settings, self.markdown, self.client, self.html = plan, settings, None, None, None
        return self

    def clear(self) -> None:
        self.plan, self.settings, self.markdown, self.client, self.html = None, None, None, None, None


_chain = _Chain()


def _markdown(plan: Plan, settings: Settings) -> str:
    chain = _chain.for_(plan, settings)
    if chain.markdown is None:
        from generator.render import document

        chain.markdown = document.render_markdown(plan, settings)
    return chain.markdown


def _client(plan: Plan, settings: Settings) -> str:
    chain = _chain.for_(plan, settings)
    if chain.client is None:
        from generator.render import document

        chain.client = document.render_markdown(plan, settings, "client")
    return chain.client


def _html(plan: Plan, settings: Settings) -> str:
    chain = _chain.for_(plan, settings)
    if chain.html is None:
        from generator.render import document

        chain.html = document.render_html(_client(plan, settings), plan, settings)
    return chain.html


def render_md(plan: Plan, settings: Settings) -> bytes:
    return _markdown(plan, settings).encode("utf-8")


def render_html(plan: Plan, settings: Settings) -> bytes:
    return _html(plan, settings).encode("utf-8")


def render_pdf(plan: Plan, settings: Settings) -> bytes:
    from generator.render import pdf

    return pdf.render(plan, settings, _html(plan, settings))


def pdf_available() -> bool:
    """Chromium or WeasyPrint is installed."""
    from generator.render import chromium, pdf

    return chromium.find() is not None or pdf.weasyprint_available()


def pdf_engine(settings: Settings) -> str:
    from generator.render import pdf

    return pdf.engine_label(settings.pdf_engine)


def render_docx(plan: Plan, settings: Settings) -> bytes:
    from generator.render import docx

    return docx.render(plan, settings, _client(plan, settings))


def docx_available() -> bool:
    """python-docx and CairoSVG (the `docx` extra) are installed."""
    from generator.render import docx

    return docx.available()


DOCUMENT_MODULES = ("generator.render.document", "generator.render.charts", "markdown", "markdown.extensions.tables",
                    "markdown.extensions.toc", "markdown.extensions.attr_list")

# ------------------------------------------------------------------ the registry

WRITERS: tuple[Writer, ...] = (
    Writer("md", "budget.md", "text/markdown; charset=utf-8", render_md, rank=30, templated=True,
           preload=DOCUMENT_MODULES, description="Markdown text"),
    Writer("html", "budget.html", "text/html; charset=utf-8", render_html, rank=10, templated=True,
           preload=DOCUMENT_MODULES, description="web page, printable"),
    Writer("xlsx", "budget.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
           from_module("generator.render.xlsx"), rank=40, preload=("generator.render.xlsx",),
           description="Excel, with live formulas"),
    # the PDF engine is imported by the workers that are asked for it, not preloaded
    Writer("pdf", "budget.pdf", "application/pdf", render_pdf, rank=20, templated=True,
           available=pdf_available, engine=pdf_engine, description="PDF, for the client"),
    # the charts' rasteriser loads the Cairo library: imported by the workers that are asked for it
    Writer("docx", "budget.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
           render_docx, rank=25, templated=True, available=docx_available, description="Word, editable"),
    Writer("json", "budget.json", "application/json", from_module("generator.render.budget_json"), rank=50,
           preload=("generator.render.budget_json",), label="Figures", description="JSON, for other tools"),
)
FORMATS: tuple[str, ...] = tuple(w.name for w in WRITERS)
_BY_NAME = {w.name: w for w in WRITERS}


def get(name: str) -> Writer:
    """The writer called `name`; an unknown name is a UsageError listing the formats."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UsageError(f"unknown format {name!r}; choose from {','.join(FORMATS)}") from None


def by_file_name(file_name: str) -> Writer | None:
    """The writer of the file called `file_name` in an output folder, if one writes it."""
    return next((w for w in WRITERS if w.file_name == file_name), None)


def selected(formats: Iterable[str]) -> tuple[Writer, ...]:
    """The writers for `formats`, in the registry's order (every name checked)."""
    wanted = {get(name).name for name in formats}
    return tuple(w for w in WRITERS if w.name in wanted)


def file_names(formats: Iterable[str]) -> list[str]:
    """The files `formats` write, in the registry's order."""
    return [w.file_name for w in selected(formats)]


def preload_modules() -> list[str]:
    """Every writer's preloaded modules, each once, in the registry's order."""
    return list(dict.fromkeys(m for w in WRITERS for m in w.preload))


FIRST = ("xlsx",)
"""Rendered before the others: the XLSX writer needs the most memory while it works (some
500 MB for the largest workbook within the limits) and gives it all back, so it runs while
nothing else is held."""


def render_all(plan: Plan, settings: Settings) -> dict[str, bytes]:
    """Every format in `settings.formats`, as file name -> bytes, in the registry's order.

    Where the garbage collector is off (the job's forked child, which must not touch its
    parent's pages), each writer's own reference cycles (XlsxWriter's workbook and sheets, some
    350 MB for the largest workbook) are collected after it, or the next writer would start on
    top of them."""
    import gc

    chosen = selected(settings.formats)
    files: dict[str, bytes] = {}
    try:
        for w in sorted(chosen, key=lambda w: w.name not in FIRST):
            files[w.file_name] = w.render(plan, settings)
            if not gc.isenabled():
                gc.collect()
        return {w.file_name: files[w.file_name] for w in chosen}
    finally:
        _chain.clear()
