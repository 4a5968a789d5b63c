"""Markdown, HTML and PDF: every figure equals budget.json, user text is inert, templates layer."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from generator.errors import TemplateError
from generator.model import Plan
from generator.render import document as render
from generator.render.budget_json import budget_dict
from generator.settings import Branding
from tests.conftest import CASES, HOSTILE, settings

MONEY = re.compile(r"-?\$[\d,]+(?:\.\d+)?")


def money(text: str) -> list[float]:
    return [float(m.replace("$", "").replace(",", "")) for m in MONEY.findall(text)]


def allowed_figures(plan: Plan) -> set[float]:
    """Every number in budget.json, and every dollar figure quoted in its text."""
    out: set[float] = set()

    def walk(x: Any) -> None:
        if isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
        elif isinstance(x, bool):
            return
        elif isinstance(x, int | float):
            out.add(float(x))
            out.add(float(round(x)))
        elif isinstance(x, str):
            out.update(money(x))

    walk(budget_dict(plan))
    return out


class TextOf(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.skip += tag in ("style", "script")

    def handle_endtag(self, tag: str) -> None:
        self.skip -= tag in ("style", "script")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def html_text(html: str) -> str:
    parser = TextOf()
    parser.feed(html)
    return " ".join(parser.parts)


def documents(plan: Plan, **kw: Any) -> tuple[str, str]:
    """budget.md (the report) and budget.html (the client edition)."""
    s = settings(**kw)
    return render.render_markdown(plan, s), render.client_html(plan, s)


def key_figures(plan: Plan, edition: str = "report") -> list[int]:
    """The figures a document must show: every scenario's in full in the report; in the client
    edition the base scenario's in full and the others' as the comparison and the appendix give them."""
    out = []
    for n, sp in enumerate(budget_dict(plan)["scenarios"]):
        out += [sp["build"]["low"], sp["build"]["expected"], sp["build"]["high"], sp["capital"]["year_one"],
                sp["annual"]["all_in"]["expected"], sp["tco"]["custom"][-1], *[c["expected"] for c in sp["components"]]]
        if n == 0 or edition == "report":
            out += [sp["capital"]["all_at_once"], sp["labor"]["cost"], *sp["tco"]["custom"],
                    *[q["total"] for q in sp["cash_flow"]], *[v[-1] for v in sp["tco"]["off_the_shelf"].values()]]
        else:
            out.append(sp["tco"]["off_the_shelf"][sp["tco"]["cheapest_product"]][-1])
    return out


def test_every_money_figure_in_markdown_and_html_is_in_budget_json(case: tuple[str, Plan]) -> None:
    _, plan = case
    md, html = documents(plan)
    allowed = allowed_figures(plan)
    for text, edition in ((md, "report"), (html_text(html), "client")):
        found = money(text)
        assert found
        assert [f for f in found if f not in allowed] == []
        for figure in key_figures(plan, edition):
            assert f"${figure:,}" in text


def test_sections_in_reading_order() -> None:
    plan = CASES["ortho-risk"]()
    md, _ = documents(plan)
    order = ["Executive summary", "Clinic profile", "Phased build plan", "Component breakdown", "Integrations",
             "Team and geography", "Run costs", "Custom versus off-the-shelf", "Uncertainty",
             "Compliance and risk", "Five questions", "Assumptions and sources", "Where the guide contradicts",
             "## Warnings"]
    positions = [md.index(h) for h in order]
    assert positions == sorted(positions)
    risk = plan.base.risk
    assert risk is not None and "AACE class 5 estimate" in risk.accuracy_text
    assert risk.accuracy_text in md and f"**Recommended budget: ${risk.recommended_budget:,}**" in md


def test_scenarios_side_by_side_come_first() -> None:
    md, _ = documents(CASES["scenarios"]())
    assert md.index("Scenarios side by side") < md.index("Scenario: Baseline") < md.index("Scenario: US team")


def test_no_risk_section_before_the_risk_stage() -> None:
    md, _ = documents(CASES["family"]())
    assert "Uncertainty" not in md


def test_user_text_is_inert_in_markdown_and_html() -> None:
    md, html = documents(CASES["hostile"]())
    assert HOSTILE not in md and "&lt;script&gt;alert(1)&lt;/script&gt;" in md
    assert "<script" not in html and "<img src=x" not in html and "<b>x</b>" not in html
    assert HOSTILE in html_text(html)
    assert "[link](http://evil)" in html_text(html) and 'href="http://evil"' not in html
    assert html.count("<h1") == 1  # '# heading' in a module name is no heading


def test_five_questions_come_from_data() -> None:
    md, _ = documents(CASES["family"]())
    for q in render.vendor_questions():
        assert q.question in md and q.strong_answer in md
    assert len(render.vendor_questions()) == 5


def test_contradictions_and_sources_listed() -> None:
    plan = CASES["family"]()
    md, _ = documents(plan)
    for c in plan.contradictions:
        assert c[:40] in md
    assert "our assumption" in md and "Stats Market Research" in md


def test_override_extends_one_block(tmp_path: Path) -> None:
    (tmp_path / "budget.md.j2").write_text(
        '{% extends "default:budget.md.j2" %}{% block summary %}Note from the firm.\n\n{{ super() }}{% endblock %}')
    (tmp_path / "sections").mkdir()
    (tmp_path / "sections" / "questions.md.j2").write_text("## Our own questions\n")
    md, _ = documents(CASES["family"](), templates=tmp_path)
    assert md.index("Note from the firm.") < md.index("## Executive summary")
    assert "## Our own questions" in md and "Five questions" not in md


def test_strict_templates(tmp_path: Path) -> None:
    (tmp_path / "budget.md.j2").write_text("{{ no_such_figure }}")
    with pytest.raises(TemplateError, match="no_such_figure"):
        documents(CASES["family"](), templates=tmp_path)


def test_charts_inline_svg() -> None:
    _, html = documents(CASES["ortho-risk"]())
    assert html.count("<svg") == 5 and "Break-even" in html or "Cumulative cost" in html
    assert "<!-- chart:" not in html and "<script" not in html
    assert "stroke-dasharray" in html  # series differ by more than colour


def test_hatching_is_drawn_as_lines_inside_the_bar_not_a_pattern() -> None:
    """Chromium's PDF output expanded the charts' SVG <pattern> fills: a quarter of its time to
    print a budget. The hatching is now line segments cut to each bar, on white."""
    from generator.render.charts import _hatched

    _, html = documents(CASES["ortho-risk"]())
    assert "<pattern" not in html and "url(#hatch" not in html
    svg = _hatched(10, 20, 30, 12, "#123456", 'stroke="#123456"', opacity=0.35)
    assert svg.startswith('<g opacity="0.35"><rect x="10.0" y="20.0" width="30.0" height="12.0" fill="#ffffff"/>')
    assert svg.endswith('<rect x="10.0" y="20.0" width="30.0" height="12.0" fill="none" stroke="#123456"/></g>')
    points = [(float(x), float(y)) for x, y in re.findall(r"[ML](-?[\d.]+),(-?[\d.]+)", svg)]
    assert len(points) == 2 * 5  # (30 + 12) / (6 x 1.414) lines
    assert all(10 <= x <= 40 and 20 <= y <= 32 for x, y in points)
    for (x1, y1), (x2, y2) in zip(points[::2], points[1::2], strict=True):
        assert abs((x2 - x1) + (y2 - y1)) < 0.11  # rising at 45 degrees, as the pattern did


def test_branding_in_html(tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    logo.write_bytes(Path(__file__).parent.joinpath("data", "logo.png").read_bytes()
                     if (Path(__file__).parent / "data" / "logo.png").exists() else _tiny_png())
    _, html = documents(CASES["family"](), branding=Branding("Northbridge & Co <Advisors>", logo, "#7a1f3d"))
    assert 'src="data:image/png;base64,' in html and "Northbridge &amp; Co &lt;Advisors&gt;" in html
    assert "--accent: #7a1f3d" in html and "http" not in html.split("<body>")[0].replace("http-equiv", "")


def _tiny_png() -> bytes:
    import base64

    return base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwAD"
                            "hgGAWjR9awAAAABJRU5ErkJggg==")


def test_documents_are_reproducible() -> None:
    a, b = documents(CASES["scenarios"].__wrapped__()), documents(CASES["scenarios"].__wrapped__())
    assert a == b


# ------------------------------------------------------------------ PDF

def has_weasyprint() -> bool:
    """Whether the pdf extra is installed (without it only the PDF tests skip)."""
    return importlib.util.find_spec("weasyprint") is not None


# A WeasyPrint render takes seconds of CPU, so the PDF tests run with the system tests, not in the inner loop.
pdf_test = [pytest.mark.slow,
            pytest.mark.skipif(not has_weasyprint(), reason="the pdf extra (WeasyPrint) is not installed")]


def pdf_marks(test: Any) -> Any:
    for mark in reversed(pdf_test):
        test = mark(test)
    return test


def pdf_text(data: bytes) -> str:
    import io

    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


def pdf_figures_match_json(plan: Plan, data: bytes) -> str:
    """The PDF's text, once every dollar figure in it is checked against budget.json."""
    text = pdf_text(data)
    allowed = allowed_figures(plan)
    assert [f for f in money(text) if f not in allowed] == []
    for figure in key_figures(plan, "client"):
        assert f"${figure:,}" in text
    assert "Page 1 of" in text
    return text


@pdf_marks
def test_pdf_figures_match_json_and_bytes_repeat() -> None:
    from generator.render import pdf

    plan = CASES["ortho-risk"]()
    data = pdf.render(plan, settings())
    assert data == pdf.render(plan, settings())
    pdf_figures_match_json(plan, data)


@pdf_marks
def test_pdf_fetches_nothing_remote() -> None:
    from generator.render import pdf

    assert pdf.allowed("data:image/png;base64,AAAA")
    for url in ("http://example.com/x.png", "https://example.com/a.css", "file:///etc/passwd", "ftp://x/y"):
        assert not pdf.allowed(url)
    html = '<html><body><img src="http://127.0.0.1:9/x.png"><img src="file:///etc/passwd"><p>ok</p></body></html>'
    assert pdf.html_to_pdf(html, b"0" * 32).startswith(b"%PDF")


@pdf_marks
def test_hostile_pdf_renders_text() -> None:
    from generator.render import pdf

    assert "<script>alert(1)</script>" in pdf_text(pdf.render(CASES["hostile"](), settings()))


# ------------------------------------------------------------------ a real browser


@pytest.mark.slow
def test_html_renders_in_headless_chromium(tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs chromium for the browser test")
        pytest.skip("chromium not installed")
    _, html = documents(CASES["ortho-risk"]())
    page, shot = tmp_path / "budget.html", tmp_path / "shot.png"
    page.write_text(html, encoding="utf-8")
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
                    f"--screenshot={shot}", "--window-size=1200,2000", page.as_uri()],
                   capture_output=True, timeout=120, check=False)
    assert shot.exists() and shot.stat().st_size > 20000


# ------------------------------------------------------------------ the shipped example workbooks

EXAMPLES = sorted((Path(__file__).parent.parent / "inputs").glob("*.xlsx"))


def example_texts(path: Path, pdf: bool) -> tuple[Plan, dict[str, str]]:
    """The shipped workbook read, planned, analysed and rendered: each document's text."""
    from generator.render.writers import render_all
    from generator.run.generate import build_plan

    plan = build_plan(path)
    files = render_all(plan, settings(formats=("md", "html", "json") + (("pdf",) if pdf else ())))
    texts = {"md": files["budget.md"].decode(), "html": html_text(files["budget.html"].decode())}
    if pdf:
        texts["pdf"] = pdf_text(files["budget.pdf"])
    return plan, texts


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_workbooks_end_to_end(path: Path) -> None:
    """Read, plan, risk, render: every money figure of every document is in budget.json."""
    plan, texts = example_texts(path, pdf=False)
    check_example(plan, texts)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
@pdf_marks
def test_example_workbooks_end_to_end_as_pdf(path: Path) -> None:
    plan, texts = example_texts(path, pdf=True)
    check_example(plan, texts)


def check_example(plan: Plan, texts: dict[str, str]) -> None:
    allowed = allowed_figures(plan)
    for name, text in texts.items():
        assert [f for f in money(text) if f not in allowed] == [], name
        for figure in key_figures(plan, "report" if name == "md" else "client"):
            assert f"${figure:,}" in text, (name, figure)
    if any(sp.risk is not None for sp in plan.scenarios):
        assert "Uncertainty" in texts["md"] and texts["html"].count("P80") >= 1


def test_chart_labels_wrap_or_shorten_inside_the_plot() -> None:
    """A long user-named component is wrapped onto two lines, shortened with an ellipsis if it
    is longer still, and never wider than the room left of the bars (so never clipped)."""
    from generator.render.charts import fit_lines

    name = "Surgical scheduling & OR block booking with anaesthesia notes and theatre lists"
    for size in (10, 11):
        lines = fit_lines(name, 188, size)
        assert 1 <= len(lines) <= 2
        assert all(len(line) * size * 0.6 <= 188 for line in lines)
    assert fit_lines("Surgical scheduling & OR block booking", 188, 10) == ["Surgical scheduling & OR block", "booking"]
    assert fit_lines(name, 188, 10)[-1].endswith("…")
    assert fit_lines("x" * 80, 188, 10) == ["x" * 30 + "…"]
    assert fit_lines("Patient records", 188, 11) == ["Patient records"]


def test_cash_chart_draws_every_quarter_to_its_total_going_live_included() -> None:
    """Seen on the orthopedic PDF: the quarterly table said Y1 Q4 $44,804 and Y3 Q1 $51,691, the
    chart drew about $14,000 and $20,000 there: the going-live costs (productivity dip, old
    system) were drawn only in quarters that also had build, and there as if they were build."""
    from generator.render.charts import cash_chart
    from tests.builders import ortho, plan

    sp = plan(ortho()).scenarios[0]
    flow = sp.ownership.cash_flow
    assert any(q.launch and not q.build for q in flow)  # the case that was dropped
    svg = cash_chart(sp, "#1f5f8b", "t")
    zero = float(re.search(r'<line x1="60" y1="([\d.]+)"', svg).group(1))  # type: ignore[union-attr]
    bars = re.findall(r'<rect x="([\d.]+)" y="([\d.]+)" width="[\d.]+" height="([\d.]+)"', svg)
    tops: dict[str, float] = {}
    for x, y, _ in bars:
        tops[x] = min(tops.get(x, zero), float(y))
    scale = max(zero - top for top in tops.values()) / max(q.total for q in flow)
    for i, q in enumerate(flow):
        x = f"{60 + i * 640 / len(flow) + 640 / len(flow) * 0.15:.1f}"
        assert abs((zero - tops[x]) - q.total * scale) < 0.3, q.label
    assert "Going live" in svg
    _, html = documents(CASES["ortho-risk"]())
    assert "the chart shows the three apart" in html and "the chart splits build and run" not in html
