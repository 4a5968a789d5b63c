"""The client edition printed: one scenario in at most 8 pages, four in at most 12, with either
engine; a table of contents, bookmarks, and no heading left at the foot of a page."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from pathlib import Path

import pytest
from openpyxl import load_workbook

from generator.render import chromium
from generator.render.writers import render_all
from tests.builders import write_workbook
from tests.conftest import settings
from tests.test_documents import has_weasyprint

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "inputs").glob("*.xlsx"))
ENGINES = [pytest.param("chromium", marks=pytest.mark.skipif(chromium.find() is None, reason="no Chromium")),
           pytest.param("weasyprint", marks=pytest.mark.skipif(not has_weasyprint(), reason="no WeasyPrint"))]
pytestmark = pytest.mark.slow


def four_scenarios(folder: Path) -> Path:
    """The orthopedic example (three scenarios) with a fourth, on premises."""
    wb = load_workbook(ROOT / "inputs" / "orthopedic.xlsx")
    sheets = {ws.title: [list(row) for row in ws.iter_rows(values_only=True)] for ws in wb.worksheets}
    sheets["Scenarios"][0].append("Hosting")
    for row in sheets["Scenarios"][1:]:
        row.append(None)
    sheets["Scenarios"].append(["On premises", None, None, "On-premise"])
    return write_workbook(folder / "orthopedic-4.xlsx", sheets)


def printed(path: Path, engine: str) -> tuple[object, bytes, str]:
    """(plan, PDF bytes, HTML) of a workbook."""
    from generator.run.generate import build_plan

    plan = build_plan(path)
    files = render_all(plan, replace(settings(formats=("html", "pdf")), pdf_engine=engine))
    return plan, files["budget.pdf"], files["budget.html"].decode()


def pages(data: bytes) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_the_shipped_examples_print_within_their_page_limits(path: Path, engine: str) -> None:
    plan, data, html = printed(path, engine)
    limit = 8 if len(plan.scenarios) == 1 else 12  # type: ignore[attr-defined]
    text = pages(data)
    assert len(text) <= limit, (path.name, engine, len(text))
    no_heading_ends_a_page(text, html)
    foot = f"clinic-budget {plan.version} · {plan.intake.source}"  # type: ignore[attr-defined]
    assert all(foot in " ".join(page.split()) for page in text)  # the colophon, in every page's foot


@pytest.mark.parametrize("engine", ENGINES)
def test_four_scenarios_print_in_at_most_12_pages_with_contents_and_bookmarks(tmp_path: Path, engine: str) -> None:
    from pypdf import PdfReader

    plan, data, html = printed(four_scenarios(tmp_path), engine)
    assert len(plan.scenarios) == 4  # type: ignore[attr-defined]
    text = pages(data)
    assert len(text) <= 12, (engine, len(text))
    no_heading_ends_a_page(text, html)
    outline = [" ".join(item.title.split()) for item in _flatten(PdfReader(io.BytesIO(data)).outline)]
    for heading in ("Scenarios side by side", "Executive summary", "Other scenarios", "Assumptions and sources"):
        assert heading in outline, (engine, outline)
    first = text[0]
    assert "Contents" in first and "Other scenarios" in first
    if engine == "weasyprint":  # target-counter(): each contents line ends with its page number
        assert re.search(r"Other scenarios\W*\d+", first), first


def _flatten(items: list) -> list:  # type: ignore[type-arg]
    out = []
    for item in items:
        out += _flatten(item) if isinstance(item, list) else [item]
    return out


def headings(html: str) -> set[str]:
    """The text of every heading and every bold line that introduces a table or a chart."""
    found = {re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<h[2-4][^>]*>(.*?)</h[2-4]>", html)}
    found |= {re.sub(r"<[^>]+>", "", p) for p in re.findall(r"<p[^>]*><strong>([^<]*)</strong></p>", html)}
    return {" ".join(h.replace("&amp;", "&").split()) for h in found}


def no_heading_ends_a_page(text: list[str], html: str) -> None:
    """No page's last line of body text is a heading (the running head and foot, with their
    " · " and "Page n of m", and list bullets, which WeasyPrint's text comes with last, aside)."""
    names = headings(html)
    for number, page in enumerate(text[:-1], start=1):
        lines = [" ".join(line.split()) for line in page.splitlines() if line.strip()]
        body = [line for line in lines if not re.fullmatch(r"Page \d+ of \d+|[• ]+", line) and " · " not in line]
        assert body and body[-1] not in names, (number, body[-3:])
