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
    calls = {"md": 0, "html": 0}
    real_md, real_html = document.render_markdown, document.render_html

    def counted_md(*args: object) -> str:
        calls["md"] += 1
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
    assert calls == {"md": 2, "html": 2}  # once per render_all, not once per format
    assert writers._chain.plan is None and writers._chain.html is None  # nothing kept afterwards


def test_a_format_missing_from_the_registry_is_refused(plan: Plan) -> None:
    from generator.errors import UsageError

    with pytest.raises(UsageError, match="unknown format 'docs'"):
        writers.render_all(plan, Settings(Path("unused"), ("md", "docs")))
