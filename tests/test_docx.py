"""budget.docx: Word's own headings, tables and pictures; the same figures as budget.json; user
text literal; the same bytes twice; a firm's reference document's styles; LibreOffice opens it."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

docx = pytest.importorskip("docx")
from generator.render import docx as docx_writer  # noqa: E402
from generator.render.budget_json import budget_dict  # noqa: E402
from generator.settings import Branding  # noqa: E402
from tests.builders import clinic_workbook  # noqa: E402
from tests.conftest import CASES, HOSTILE, settings  # noqa: E402
from tests.helpers import run_cli  # noqa: E402
from tests.test_documents import allowed_figures, key_figures, money, pdf_text  # noqa: E402

pytestmark = pytest.mark.skipif(not docx_writer.available(), reason="the docx extra (python-docx, CairoSVG)")


def open_docx(data: bytes):  # type: ignore[no-untyped-def]
    return docx.Document(io.BytesIO(data))


def all_text(document) -> str:  # type: ignore[no-untyped-def]
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts += [cell.text for cell in row.cells]
    return "\n".join(parts)


def render(name: str, **kw: object) -> bytes:
    return docx_writer.render(CASES[name](), replace(settings(formats=("docx",)), **kw))  # type: ignore[arg-type]


def test_word_headings_tables_pictures_and_the_same_figures_as_json() -> None:
    plan = CASES["ortho-risk"]()
    data = docx_writer.render(plan, settings(formats=("docx",)))
    document = open_docx(data)
    styles = [p.style.name for p in document.paragraphs]
    assert styles[0] == "Title"
    assert "Heading 1" in styles
    for name in ("Heading 1", "Heading 2"):  # the navigation pane lists paragraphs with an outline level
        assert document.styles[name].element.find(".//{*}outlineLvl") is not None
    headings = [p.text for p in document.paragraphs if p.style.name == "Heading 1"]
    assert "Executive summary" in headings
    assert len(document.tables) >= 10
    header_row = document.tables[0].rows[0]._tr
    assert header_row.find(".//{*}tblHeader") is not None  # repeated on every page the table spans
    assert len(document.inline_shapes) == 5  # the five charts, as pictures
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        pngs = [n for n in zf.namelist() if n.startswith("word/media/") and n.endswith(".png")]
        assert len(pngs) == 5 and all(zf.read(n).startswith(b"\x89PNG") for n in pngs)
        assert not [n for n in zf.namelist() if "thumbnail" in n]
    text = all_text(document)
    allowed = allowed_figures(plan)
    assert [f for f in money(text) if f not in allowed] == []
    for figure in key_figures(plan):
        assert f"${figure:,}" in text
    base = budget_dict(plan)["scenarios"][0]
    assert f"${base['build']['expected']:,}" in text


def test_header_footer_page_numbers_and_fixed_properties() -> None:
    plan = CASES["family"]()
    data = docx_writer.render(plan, settings(formats=("docx",), branding=Branding(firm="Northbridge Health")))
    document = open_docx(data)
    section = document.sections[0]
    assert "Northbridge Health" in section.header.paragraphs[0].text
    assert plan.intake.base.clinic.name in section.header.paragraphs[0].text
    footer = section.footer._element
    instructions = [t.text.strip() for t in footer.iter() if t.tag.endswith("}instrText")]
    assert instructions == ["PAGE", "NUMPAGES"]
    props = document.core_properties
    assert props.created.date() == props.modified.date() == plan.generated
    assert props.author == "Northbridge Health"
    assert props.title == f"{plan.intake.base.clinic.name}: custom EHR budget"


def test_the_same_plan_gives_the_same_bytes() -> None:
    first = render("scenarios")
    assert first == render("scenarios")
    with zipfile.ZipFile(io.BytesIO(first)) as zf:
        assert {i.date_time for i in zf.infolist()} == {(2026, 3, 2, 0, 0, 0)}


def test_user_text_stays_literal_text() -> None:
    plan = CASES["hostile"]()
    data = docx_writer.render(plan, settings(formats=("docx",), branding=Branding(firm="{PAGE} <b>Firm</b>")))
    document = open_docx(data)
    text = all_text(document)
    assert HOSTILE in text  # the clinic's name, as typed
    assert "# heading <b>x</b>" in text and "*bold* _x_ [link](http://evil) | pipe" in text
    assert "=HYPERLINK(\"http://evil\")" in text
    assert "{PAGE} <b>Firm</b>" in document.sections[0].header.paragraphs[0].text
    body = zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml").decode()
    assert "<script>" not in body and "instrText" not in body  # no markup and no field from user text
    assert "<w:hyperlink" not in body and "<w:fldSimple" not in body


def test_control_characters_become_replacement_characters() -> None:
    assert docx_writer.text("a\x01b\x0bc") == "a\ufffdb\ufffdc"


def reference_docx(path: Path) -> Path:
    from docx.shared import Inches, Pt, RGBColor

    document = docx.Document()
    document.styles["Normal"].font.name = "Georgia"
    document.styles["Normal"].font.size = Pt(12)
    document.styles["Heading 1"].font.color.rgb = RGBColor(0x8B, 0x1E, 0x3F)
    section = document.sections[0]
    section.left_margin = section.right_margin = Inches(0.75)
    section.header.paragraphs[0].text = "NORTHBRIDGE LETTERHEAD"
    document.add_paragraph("Body text of the reference, which the budget must not keep")
    document.save(str(path))
    return path


@pytest.mark.slow
def test_a_reference_document_gives_its_styles_margins_and_letterhead(tmp_path: Path) -> None:
    reference_docx(tmp_path / "firm.docx")
    (tmp_path / "brand.toml").write_text('firm = "Northbridge"\ndocx_reference = "firm.docx"\n', encoding="utf-8")
    book = clinic_workbook(tmp_path / "ridgeview.xlsx")
    result = run_cli("run", book, "--out", tmp_path / "out", "--formats", "docx,json",
                     "--brand", tmp_path / "brand.toml", env={"CLINIC_BUDGET_SANDBOX": "0"})
    assert result.returncode == 0, result.stderr
    document = docx.Document(str(tmp_path / "out" / "ridgeview" / "budget.docx"))
    assert document.styles["Normal"].font.name == "Georgia"
    assert document.styles["Heading 1"].font.color.rgb == docx.shared.RGBColor(0x8B, 0x1E, 0x3F)
    assert document.sections[0].left_margin == docx.shared.Inches(0.75)
    assert document.sections[0].header.paragraphs[0].text == "NORTHBRIDGE LETTERHEAD"
    text = all_text(document)
    assert "Body text of the reference" not in text
    assert "Ridgeview Family Medicine: custom EHR budget" in text


@pytest.mark.slow
def test_a_bad_reference_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "firm.docx").write_text("not a zip", encoding="utf-8")
    (tmp_path / "brand.toml").write_text('docx_reference = "firm.docx"\n', encoding="utf-8")
    book = clinic_workbook(tmp_path / "ridgeview.xlsx")
    result = run_cli("run", book, "--out", tmp_path / "out", "--formats", "docx", "--brand", tmp_path / "brand.toml")
    assert result.returncode == 2
    assert "docx_reference is not a Word document (.docx)" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_libreoffice_opens_it_and_prints_every_figure(tmp_path: Path) -> None:
    soffice = shutil.which("soffice")
    if soffice is None and not os.environ.get("CI"):
        pytest.skip("LibreOffice (soffice) is not installed")
    assert soffice is not None, "CI must have LibreOffice to open the Word document"
    plan = CASES["ortho-risk"]()
    source = tmp_path / "budget.docx"
    source.write_bytes(docx_writer.render(plan, settings(formats=("docx",), branding=Branding(firm="Northbridge"))))
    home = tmp_path / "home"
    home.mkdir()
    subprocess.run([soffice, f"-env:UserInstallation={home.as_uri()}", "--headless", "--norestore",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=300, env={**os.environ, "HOME": str(home)})
    text = re.sub(r"-\s*\n", "-", pdf_text((tmp_path / "budget.pdf").read_bytes()))  # "$68,000-" at a line's end
    # LibreOffice wraps a figure in the 8-column sensitivity table ("$302,79" / "6"): a known layout
    # defect of that table in Word (issue 14), read here as the figure it is
    text = re.sub(r"(\$[\d,]*,\d{1,2})\n(\d{1,2})\b", r"\1\2", text)  # only a group cut short
    assert [f for f in money(text) if f not in allowed_figures(plan)] == []
    for figure in key_figures(plan):
        assert f"${figure:,}" in text
    pages = re.findall(r"Page (\d+) of (\d+)", text)
    assert pages and pages[0] == ("1", pages[0][1]) and int(pages[0][1]) == len(pages)
