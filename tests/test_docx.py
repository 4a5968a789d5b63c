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
from functools import cache
from pathlib import Path

import pytest

docx = pytest.importorskip("docx")
from generator.render import docx as docx_writer  # noqa: E402
from generator.render.budget_json import budget_dict  # noqa: E402
from generator.render.document import CHART_MARK  # noqa: E402
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


@cache
def rendered(name: str, firm: str | None = None) -> bytes:
    """A named case's document, rendered once for the tests that only read it."""
    return render(name) if firm is None else render(name, branding=Branding(firm=firm))


@cache
def rendered_report(name: str, firm: str | None = None) -> bytes:
    """The full report's Markdown through the Word writer: its 8-column sensitivity table is the
    widest table the templates make (a client edition comparing many products has such tables too)."""
    from generator.render import document as documents

    s = settings(formats=("docx",)) if firm is None else settings(formats=("docx",), branding=Branding(firm=firm))
    plan = CASES[name]()
    return docx_writer.render(plan, s, documents.render_markdown(plan, s))


def test_word_headings_tables_pictures_and_the_same_figures_as_json() -> None:
    plan = CASES["ortho-risk"]()
    data = rendered("ortho-risk")
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
    charts = len(CHART_MARK.findall(client_markdown(plan)))
    assert charts >= 3 and len(document.inline_shapes) == charts  # every chart, as a picture
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        pngs = [n for n in zf.namelist() if n.startswith("word/media/") and n.endswith(".png")]
        assert len(pngs) == charts and all(zf.read(n).startswith(b"\x89PNG") for n in pngs)
        assert not [n for n in zf.namelist() if "thumbnail" in n]
    text = all_text(document)
    allowed = allowed_figures(plan)
    assert [f for f in money(text) if f not in allowed] == []
    for figure in key_figures(plan):
        assert f"${figure:,}" in text
    base = budget_dict(plan)["scenarios"][0]
    assert f"${base['build']['expected']:,}" in text


def client_markdown(plan) -> str:  # type: ignore[no-untyped-def]
    from generator.render import document as documents

    return documents.render_markdown(plan, settings(formats=("docx",)), "client")


def test_it_is_the_client_edition_with_words_own_table_of_contents() -> None:
    """The deliverable a consultant edits (output-spec: "the same deliverable as an editable Word
    document"): the sections of budget.html and budget.pdf, in their order, listed by a TOC field
    that Word updates with page numbers when it opens the file; budget.md stays the full report."""
    plan = CASES["ortho-risk"]()
    document = open_docx(rendered("ortho-risk"))
    sections = re.findall(r"^## (.+)$", client_markdown(plan), re.M)
    assert [p.text for p in document.paragraphs if p.style.name == "Heading 1"] == sections
    at = next(i for i, p in enumerate(document.paragraphs) if p.text == "Contents")
    assert document.paragraphs[at].style.name == "TOC Heading"
    assert [p.text for p in document.paragraphs[at + 1:at + 1 + len(sections)]] == sections
    body = document.element.body.xml
    assert body.count('w:fldCharType="begin" w:dirty="true"') == 1 and body.count('w:fldCharType="end"') == 1
    assert "Scenario: US team" not in all_text(document)  # the full report's per-scenario chapters


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
    assert "<script>" not in body  # no markup
    fields = re.findall(r"<w:instrText[^>]*>([^<]*)</w:instrText>", body)
    assert fields == [' TOC \\o "1-1" \\h \\z \\u ']  # and no field but the contents' own
    assert "<w:hyperlink" not in body and "<w:fldSimple" not in body


def test_control_characters_become_replacement_characters() -> None:
    assert docx_writer.text("a\x01b\x0bc") == "a\ufffdb\ufffdc"


def sensitivity_table(document):  # type: ignore[no-untyped-def]
    return next(t for t in document.tables if t.rows[0].cells[0].text == "Input" and len(t.columns) == 8)


def section_index(document, table) -> int:  # type: ignore[no-untyped-def]
    """The index of the section a table is in: sections end at their break (a sectPr)."""
    breaks = [e for e in document.element.body.iter() if e.tag.endswith("}sectPr")]
    later = [e for e in table._tbl.itersiblings() if e.tag.endswith("}sectPr") or e.find(".//{*}sectPr") is not None]
    first = later[0] if later[0].tag.endswith("}sectPr") else later[0].find(".//{*}sectPr")
    return breaks.index(first)


def test_the_sensitivity_table_keeps_every_figure_whole_on_a_landscape_page() -> None:
    """Issue 14: in the 8-column table LibreOffice broke "$302,796" as "$302,79" / "6". Each
    column is now at least as wide as its longest figure and header word in a wide font, and a
    table that would fill most of a portrait page goes on a landscape page with its introduction."""
    from generator.render.docx_table import em

    document = open_docx(rendered_report("ortho-risk"))
    table = sensitivity_table(document)
    index = section_index(document, table)
    section = document.sections[index]
    assert section.page_width > section.page_height  # landscape, its own section
    assert section.orientation == docx.enum.section.WD_ORIENT.LANDSCAPE
    widths = [col.w for col in table._tbl.tblGrid.gridCol_lst]
    room = section.page_width - section.left_margin - section.right_margin
    assert sum(widths) <= room
    size = table.rows[1].cells[1].paragraphs[0].runs[0].font.size.pt
    assert size >= 8
    for c, width in enumerate(widths):
        for row in table.rows:
            for word in row.cells[c].text.split():
                if word[0] == "$" or c == 0 and row is table.rows[0]:
                    assert em(word, bold=True) * size / 72 < docx.shared.Emu(width).inches, (word, c)
    intro = table._tbl.getprevious()  # the sentence that introduces it moved to its page
    assert "What moves the build cost most" in "".join(intro.itertext())
    after = document.sections[index + 1]
    assert after.page_width < after.page_height  # back to portrait


def test_a_landscape_page_has_its_own_header_and_the_portrait_pages_share_the_first() -> None:
    document = open_docx(rendered_report("ortho-risk", "Northbridge"))
    sections = list(document.sections)
    turned = [s for s in sections if s.page_width > s.page_height]
    upright = [s for s in sections if s.page_width < s.page_height]
    assert turned and len(upright) >= 2
    tab = turned[0].header.paragraphs[0].paragraph_format.tab_stops[-1].position
    assert tab == turned[0].page_width - turned[0].left_margin - turned[0].right_margin
    assert "Northbridge" in turned[0].header.paragraphs[0].text

    def refs(section):  # type: ignore[no-untyped-def]
        found = section._sectPr.xpath("w:headerReference|w:footerReference")
        return sorted(r.get(docx.oxml.ns.qn("r:id")) for r in found)

    assert {tuple(refs(s)) for s in upright} == {tuple(refs(upright[0]))}
    assert {tuple(refs(s)) for s in turned} == {tuple(refs(turned[0]))}
    assert refs(turned[0]) != refs(upright[0])


def test_a_narrow_table_stays_on_the_portrait_page_in_its_own_type_size() -> None:
    from generator.render.docx_table import layout

    texts = [["Quarter", "Build", "Run", "Total"], *[[f"Y{n} Q1", "$41,735", "$8,731", "$50,466"] for n in range(30)]]
    plan = layout(texts, 1, 4, (6.5, 9.2), (9.0, 6.7))
    assert not plan.landscape and plan.size is None and sum(plan.widths) <= 6.5


def test_a_table_too_wide_for_any_page_is_narrowed_on_a_landscape_page() -> None:
    from generator.render.docx_table import layout

    texts = [[f"${n:,}000,000,000" for n in range(12)]]
    plan = layout(texts, 0, 12, (6.5, 9.2), (9.0, 6.7))
    assert plan.landscape and round(sum(plan.widths), 6) == 9.0 and plan.size == 8.0


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


def has_writer(soffice: str) -> bool:
    """Whether LibreOffice's Writer (libswlo) is installed beside `soffice`: Calc alone
    (Debian's libreoffice-calc-nogui) cannot open a .docx. True where the layout is unknown."""
    program = Path(soffice).resolve().parent
    folders = [program, program.parent / "Frameworks"]  # Linux and Windows; macOS
    if not any(any(f.glob("*sclo.*")) for f in folders):
        return True
    return any(any(f.glob("*swlo.*")) for f in folders)


@pytest.mark.slow
def test_libreoffice_opens_it_and_prints_every_figure(tmp_path: Path) -> None:
    soffice = shutil.which("soffice")
    if soffice is None and not os.environ.get("CI"):
        pytest.skip("LibreOffice (soffice) is not installed")
    assert soffice is not None, "CI must have LibreOffice to open the Word document"
    if not has_writer(soffice) and not os.environ.get("CI"):
        pytest.skip("LibreOffice Writer is not installed (Debian: libreoffice-writer-nogui)")
    assert has_writer(soffice), "CI must have LibreOffice Writer (Debian: libreoffice-writer-nogui) to open it"
    plan = CASES["ortho-risk"]()
    source = tmp_path / "budget.docx"
    source.write_bytes(rendered("ortho-risk", "Northbridge"))
    home = tmp_path / "home"
    home.mkdir()
    subprocess.run([soffice, f"-env:UserInstallation={home.as_uri()}", "--headless", "--norestore",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=300, env={**os.environ, "HOME": str(home)})
    text = re.sub(r"-\s*\n", "-", pdf_text((tmp_path / "budget.pdf").read_bytes()))  # "$68,000-" at a line's end
    assert [f for f in money(text) if f not in allowed_figures(plan)] == []
    for figure in key_figures(plan):
        assert f"${figure:,}" in text
    pages = re.findall(r"Page (\d+) of (\d+)", text)
    assert pages and pages[0] == ("1", pages[0][1]) and int(pages[0][1]) == len(pages)
