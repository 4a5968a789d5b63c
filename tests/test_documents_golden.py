"""Golden files per format: Markdown and HTML as text, budget.json as written, XLSX as cell
values, PDF as extracted text; the `ortho-risk` case carries the real, seeded risk analysis.

Regenerate them all with one command (the PDF text needs the pdf extra):

    python -m pytest tests/test_documents_golden.py --regen-golden

then read the diff (`git diff tests/golden`) before committing it.
"""

from __future__ import annotations

import io
import json

import pytest
from openpyxl import load_workbook

from generator.render import budget_json, xlsx
from generator.render import document as render
from tests.conftest import CASES, GOLDEN, settings
from tests.test_documents import pdf_marks, pdf_text

GOLDEN_CASES = ("family", "ortho-risk", "scenarios", "hostile")


def xlsx_cells(data: bytes) -> str:
    wb = load_workbook(io.BytesIO(data), data_only=True)
    cells = {ws.title: {c.coordinate: c.value for row in ws.iter_rows() for c in row if c.value not in (None, "")}
             for ws in wb.worksheets}
    return json.dumps(cells, indent=1, ensure_ascii=False, default=str) + "\n"


def outputs(name: str) -> dict[str, str]:
    plan = CASES[name]()
    s = settings()
    md = render.render_markdown(plan, s)
    html = render.client_html(plan, s)
    return {"budget.md": md, "budget.html": html, "budget.json": budget_json.render(plan, s).decode("utf-8"),
            "budget.xlsx.json": xlsx_cells(xlsx.render(plan, s))}


def pdf_output(name: str) -> dict[str, str]:
    from generator.render import pdf

    plan = CASES[name]()
    return {"budget.pdf.txt": pdf_text(pdf.render(plan, settings())) + "\n"}


@pytest.mark.parametrize("name", GOLDEN_CASES)
def test_golden(name: str, regen: bool) -> None:
    compare(name, outputs(name), regen)


@pytest.mark.parametrize("name", GOLDEN_CASES)
@pdf_marks
def test_golden_pdf(name: str, regen: bool) -> None:
    compare(name, pdf_output(name), regen)


def compare(name: str, files: dict[str, str], regen: bool) -> None:
    folder = GOLDEN / name
    for filename, text in files.items():
        path = folder / filename
        if regen:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            continue
        assert path.exists(), f"{path} missing: python -m pytest tests/test_documents_golden.py --regen-golden"
        assert text == path.read_text(encoding="utf-8"), f"{path} differs (regenerate if the change is intended)"
