"""The writer registry: one signature for every format, one Markdown/HTML rendering shared by
md, html and pdf, and nothing of a plan kept once `render_all` is done."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from generator.intake.reader import read_intake
from generator.model import Plan
from generator.plan.pricing import plan_intake
from generator.render import document, writers
from generator.settings import Settings

INPUTS = Path(__file__).resolve().parent.parent / "inputs"


@pytest.fixture(scope="module")
def plan() -> Plan:
    return plan_intake(read_intake(INPUTS / "family-practice.xlsx"), dt.date(2026, 3, 1))


def test_render_all_gives_each_format_in_the_registry_order(plan: Plan) -> None:
    files = writers.render_all(plan, Settings(Path("unused"), ("json", "md", "html")))
    assert list(files) == ["budget.md", "budget.html", "budget.json"]
    assert files["budget.md"].startswith(b"# ") and files["budget.html"].lower().startswith(b"<!doctype html>")


def test_each_writer_alone_gives_the_same_bytes(plan: Plan) -> None:
    settings = Settings(Path("unused"), ("md", "html", "xlsx", "json"))
    together = writers.render_all(plan, settings)
    for name in settings.formats:
        writer = writers.get(name)
        assert writer.render(plan, settings) == together[writer.file_name], name


def test_markdown_and_html_are_rendered_once_for_md_html_and_pdf(plan: Plan, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"md": 0, "client md": 0, "html": 0}
    real_md, real_html = document.render_markdown, document.render_html

    def counted_md(*args: object) -> str:
        calls["client md" if args[2:] == ("client",) else "md"] += 1
        return real_md(*args)  # type: ignore[arg-type]

    def counted_html(*args: object) -> str:
        calls["html"] += 1
        return real_html(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(document, "render_markdown", counted_md)
    monkeypatch.setattr(document, "render_html", counted_html)
    monkeypatch.setattr(writers, "render_pdf", lambda p, s: b"%PDF")  # the engine is not the point here
    settings = Settings(Path("unused"), ("md", "html"))
    writers.render_all(plan, settings)
    writers.render_all(plan, settings)
    # once per render_all, not once per format: the report (budget.md) and the client edition
    # (budget.html, printed as budget.pdf) each once
    assert calls == {"md": 2, "client md": 2, "html": 2}
    assert writers._chain.plan is None and writers._chain.html is None  # nothing kept afterwards


def test_a_format_missing_from_the_registry_is_refused(plan: Plan) -> None:
    from generator.errors import UsageError

    with pytest.raises(UsageError, match="unknown format 'docs'"):
        writers.render_all(plan, Settings(Path("unused"), ("md", "docs")))


def result_page(documents: list[str]) -> str:
    from generator.serve.web import _templates

    env = _templates(Settings(Path("unused"), ("md",)))
    return env.get_template("serve/result.html.j2").render(
        name="ridgeview.xlsx", slug="ridgeview", status="generated", figures=None, warnings=(),
        documents=documents, limit="10 MB")


def test_the_serve_result_page_names_each_document_as_its_writer_does() -> None:
    page = result_page([w.file_name for w in writers.WRITERS] + ["notes.txt"])
    for w in writers.WRITERS:
        assert f'{w.label} <small>{w.file_name} · {w.description}</small>' in page, w.name
    assert "Budget <small>budget.docx · Word, editable</small>" in page
    assert "Figures <small>budget.json · JSON, for other tools</small>" in page
    assert "notes.txt <small>notes.txt</small>" in page  # a file no writer makes: its name alone


def test_a_new_format_needs_no_change_in_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    odt = writers.Writer("odt", "budget.odt", "application/vnd.oasis.opendocument.text", writers.render_md, rank=26,
                         label="Budget", description="OpenDocument, editable")
    monkeypatch.setattr(writers, "WRITERS", (*writers.WRITERS, odt))
    assert "Budget <small>budget.odt · OpenDocument, editable</small>" in result_page(["budget.odt"])
