"""budget.docx: the same deliverable as an editable Word document.

The document is the client edition's Markdown (`client.md.j2`, so it says exactly what the HTML
and the PDF say; budget.md keeps the full report), converted to HTML by Python-Markdown and then
walked element by element into Word's own structures: headings in the built-in Heading styles
(Word's navigation pane lists them), real tables with a repeated header row, bullet lists, and
the charts as PNG pictures. The table of contents is Word's own TOC field (updated with page
numbers when Word opens it). User text only ever becomes the text of a run, never markup or a field code.

With `docx_reference` in the branding file, the document starts from that .docx, like pandoc's
and Quarto's reference documents: its styles (fonts, colours, spacing), page size and margins,
and its header and footer when it has them (a letterhead); its body text is dropped. A style the
reference lacks is copied from python-docx's default template.

Reproducible bytes: the core properties carry the report date, and the zip is written again
with fixed entry dates, in the same order, with the same compression.

Charts are the documents' own SVG charts (render/charts.py), rasterised by CairoSVG: they are
drawn once, in one place, and look the same in every format.
"""

from __future__ import annotations

import copy
import datetime as dt
import html
import io
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generator.errors import OutputError, UsageError
from generator.render import docx_table
from generator.zipfiles import reproducible_zip

if TYPE_CHECKING:
    from docx.document import Document as DocxDocument
    from docx.text.paragraph import Paragraph

    from generator.model import Plan
    from generator.settings import Settings

CHART_MARK = re.compile(r"^\s*chart:(\w+):(\d+)\s*$")
SVG = re.compile(r"<svg\b.*</svg>", re.S)
FIGCAPTION = re.compile(r"<figcaption>(.*?)</figcaption>", re.S)
XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
CHART_PIXELS = 1440  # 2x the SVG's 720 user units: about 220 dots per inch at the text width
HEADINGS = {"h1": "Title", "h2": "Heading 1", "h3": "Heading 2", "h4": "Heading 3", "h5": "Heading 4"}


def available() -> bool:
    """python-docx and CairoSVG import (CairoSVG loads the Cairo library, found only by trying)."""
    return _available()


@cache
def _available() -> bool:
    try:
        import cairosvg  # noqa: F401
        import docx  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


def require() -> None:
    try:
        import docx  # noqa: F401
    except ImportError:
        raise UsageError("DOCX needs the optional writer: pip install 'clinic-budget[docx]'") from None
    try:
        import cairosvg  # noqa: F401
    except ImportError:
        raise UsageError("DOCX needs the optional writer: pip install 'clinic-budget[docx]'") from None
    except OSError as exc:
        raise UsageError(f"DOCX charts need the Cairo library (Debian: apt-get install libcairo2): {exc}") from None


def text(value: str) -> str:
    """Text as Word can hold it: XML 1.0 has no place for most control characters."""
    return XML_INVALID.sub("\ufffd", value)


# ------------------------------------------------------------------ entry point


def render(plan: Plan, settings: Settings, markdown_text: str | None = None) -> bytes:
    """The Word document for `plan`: the client edition, the deliverable a consultant edits
    before it goes out (budget.md keeps the full report); pass its Markdown when it is already
    rendered."""
    require()
    if markdown_text is None:
        from generator.render import document

        markdown_text = document.render_markdown(plan, settings, "client")
    return Builder(plan, settings).build(markdown_text)


# ------------------------------------------------------------------ charts


def chart_png(svg: str) -> bytes:
    import cairosvg

    data = cairosvg.svg2png(bytestring=svg.encode("utf-8"), output_width=CHART_PIXELS, background_color="white")
    return bytes(data)


# ------------------------------------------------------------------ the builder


class Builder:
    def __init__(self, plan: Plan, settings: Settings) -> None:
        from generator.render.document import accent

        self.plan = plan
        self.settings = settings
        self.accent = accent(settings)
        self.reference = settings.branding.docx_reference
        self.doc = self._start()
        self._styles: dict[str, Any] = {}
        self._next_id: int | None = None  # the next shape id for a chart's picture

    # -------------------------------------------------------------- the document and its styles

    def _start(self) -> DocxDocument:
        import docx

        if self.reference is None:
            doc = docx.Document()
            _house_style(doc, self.accent)
            return doc
        try:
            doc = docx.Document(str(self.reference))
        except Exception as exc:  # noqa: BLE001 - python-docx raises many kinds on a bad file
            raise OutputError(f"{self.reference}: cannot use it as the reference Word document: {exc}") from None
        body = doc.element.body
        for child in list(body):
            if not child.tag.endswith("}sectPr"):
                body.remove(child)
        return doc

    def style(self, name: str) -> Any:
        """The style called `name` (copied from python-docx's default template when the reference
        lacks it), or None. Kept: python-docx finds a style by name by walking them all."""
        if name not in self._styles:
            found = self._find_style(name)
            self._styles[name] = self.doc.styles[found] if found else None
        return self._styles[name]

    def _find_style(self, name: str) -> str | None:
        from docx.enum.style import WD_STYLE_TYPE

        styles = self.doc.styles
        try:
            styles[name]
            return name
        except KeyError:
            pass
        donor = _default_styles()
        try:
            found = donor[name]
        except KeyError:
            return None
        if found.type not in (WD_STYLE_TYPE.PARAGRAPH, WD_STYLE_TYPE.TABLE, WD_STYLE_TYPE.CHARACTER):
            return None
        if found.element.find(".//{*}numPr") is not None:
            return None  # its numbering definition would be missing: the caller draws its own bullets
        styles.element.append(copy.deepcopy(found.element))
        return name

    def paragraph(self, style: Any, content: str = "") -> Paragraph:
        """A new paragraph in `style` (a style object or None). The style is set by its id:
        python-docx's own `style=` looks the style up by walking every style, each time."""
        p = self.doc.add_paragraph(content)
        if style is not None:
            p._p.get_or_add_pPr().style = style.style_id
        return p

    # -------------------------------------------------------------- the body

    def build(self, markdown_text: str) -> bytes:
        import markdown
        from lxml import html as lxml_html

        from generator.render.document import MD_EXTENSIONS

        body = markdown.Markdown(extensions=list(MD_EXTENSIONS), output_format="html",
                                 extension_configs={"toc": {"toc_depth": "2-2"}}).convert(markdown_text)
        root = lxml_html.fragment_fromstring(body or "<p></p>", create_parent="div")
        self._blocks(root)
        self._header_footer()
        self._properties()
        _drop_thumbnail(self.doc)
        out = io.BytesIO()
        self.doc.save(out)
        return reproducible_zip(out.getvalue(), self.plan.generated)

    def _blocks(self, parent: Any) -> None:
        children = list(parent)
        for i, node in enumerate(children):
            nxt = children[i + 1] if i + 1 < len(children) else None
            self._block(node, nxt)

    def _block(self, node: Any, nxt: Any) -> None:
        tag = node.tag if isinstance(node.tag, str) else "#comment"
        if tag == "#comment":
            match = CHART_MARK.match(node.text or "")
            if match:
                self._chart(match.group(1), int(match.group(2)))
            return
        if tag in HEADINGS:
            self._heading(node, HEADINGS[tag])
        elif tag == "p":
            p = self.doc.add_paragraph()
            self.inline(p, node)
            # a paragraph that introduces a table or a chart stays on its page
            if nxt is not None and (getattr(nxt, "tag", "") == "table" or _is_chart(nxt)):
                p.paragraph_format.keep_with_next = True
        elif tag in ("ul", "ol"):
            self._list(node, ordered=tag == "ol", level=1)
        elif tag == "table":
            docx_table.add_table(self, node)
        elif tag == "blockquote":
            for child in node:
                if child.tag == "p":
                    p = self.paragraph(self.style("Quote"))
                    self.inline(p, child)
        elif tag == "hr":
            return
        elif tag == "div" and "toc" in (node.get("class") or "").split():
            self._contents(node)
        elif tag in ("div", "section"):
            self._blocks(node)
        else:
            p = self.doc.add_paragraph()
            self.inline(p, node)

    def _contents(self, node: Any) -> None:
        """The table of contents: Word's own TOC field over the level-1 headings, with the
        sections' names as its text until Word (or LibreOffice) updates it with page numbers;
        `w:dirty` asks Word to update it when the document is opened."""
        from docx.oxml.ns import qn
        from docx.oxml.parser import OxmlElement
        from docx.shared import Pt

        entries = [text("".join(a.itertext())) for a in node.iter("a")]
        if not entries:
            return
        title = self.paragraph(self.style("TOC Heading") or self.style("Heading 1"))
        title.add_run("Contents")
        title.paragraph_format.keep_with_next = True

        def field(p: Paragraph, kind: str, instruction: str = "") -> None:
            run = OxmlElement("w:r")
            if instruction:
                element = OxmlElement("w:instrText")
                element.set(qn("xml:space"), "preserve")
                element.text = instruction
            else:
                element = OxmlElement("w:fldChar")
                element.set(qn("w:fldCharType"), kind)
                if kind == "begin":
                    element.set(qn("w:dirty"), "true")
            run.append(element)
            p._p.append(run)

        for i, entry in enumerate(entries):
            p = self.paragraph(self.style("TOC 1") or self.style("Normal"))
            p.paragraph_format.space_before, p.paragraph_format.space_after = Pt(0), Pt(2)
            if i == 0:
                field(p, "begin")
                field(p, "", ' TOC \\o "1-1" \\h \\z \\u ')
                field(p, "separate")
            p.add_run(entry)
            if i == len(entries) - 1:
                field(p, "end")

    def _heading(self, node: Any, style_name: str) -> None:
        from docx.oxml.ns import qn
        from docx.oxml.parser import OxmlElement

        style = self.style(style_name) or self.style("Heading 1")
        p = self.paragraph(style)
        self.inline(p, node, bold=None)
        p.paragraph_format.keep_with_next = True
        if style_name.startswith("Heading") and style is not None and style.name == style_name:
            ppr = style.element.get_or_add_pPr()
            if ppr.find(qn("w:outlineLvl")) is None:  # the navigation pane lists outline levels
                level = OxmlElement("w:outlineLvl")
                level.set(qn("w:val"), str(int(style_name.split()[-1]) - 1))
                ppr.append(level)

    def inline(self, p: Paragraph, node: Any, bold: bool | None = None, italic: bool | None = None,
                code: bool = False) -> None:
        """The text of `node` and its inline children as runs of `p`."""
        if node.text:
            self._run(p, node.text, bold, italic, code)
        for child in node:
            tag = child.tag if isinstance(child.tag, str) else ""
            if tag in ("strong", "b"):
                self.inline(p, child, True, italic, code)
            elif tag in ("em", "i"):
                self.inline(p, child, bold, True, code)
            elif tag == "code":
                self.inline(p, child, bold, italic, True)
            elif tag == "br":
                p.add_run().add_break()
            elif tag:
                self.inline(p, child, bold, italic, code)
            if child.tail:
                self._run(p, child.tail, bold, italic, code)

    @staticmethod
    def _run(p: Paragraph, value: str, bold: bool | None, italic: bool | None, code: bool) -> None:
        value = text(re.sub(r"\s*\n\s*", " ", value))
        if not value:
            return
        run = p.add_run(value)
        if bold:
            run.bold = True
        if italic:
            run.italic = True
        if code:
            run.font.name = "Courier New"

    def _list(self, node: Any, ordered: bool, level: int) -> None:
        from docx.shared import Inches

        base = "List Number" if ordered else "List Bullet"
        name = self.style(base if level == 1 else f"{base} {min(level, 3)}")
        for n, item in enumerate((c for c in node if c.tag == "li"), start=1):
            p = self.paragraph(name)
            if name is None:  # the reference has no list style: draw the bullet ourselves
                p.paragraph_format.left_indent = Inches(0.25 * level)
                p.paragraph_format.first_line_indent = Inches(-0.2)
                p.add_run(f"{n}. " if ordered else "• ")
            nested = [c for c in item if c.tag in ("ul", "ol")]
            for child in nested:
                item.remove(child)
            paragraphs = [c for c in item if c.tag == "p"]
            if paragraphs:  # a loose list: <li><p>...</p></li>
                for k, child in enumerate(paragraphs):
                    if k:
                        p.add_run().add_break()
                    self.inline(p, child)
            else:
                self.inline(p, item)
            for child in nested:
                self._list(child, ordered=child.tag == "ol", level=level + 1)

    def _chart(self, kind: str, index: int) -> None:
        from docx.enum.text import WD_ALIGN_PARAGRAPH
        from docx.shared import Inches

        from generator.render import charts

        figure = charts.plan_chart(kind, self.plan, index, self.accent)
        svg = SVG.search(figure)
        if svg is None:
            return
        caption = FIGCAPTION.search(figure)
        p = self.doc.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        p.paragraph_format.keep_with_next = caption is not None
        self._picture(p.add_run(), chart_png(svg.group(0)), Inches(min(6.5, self.text_width())))
        if caption is not None:
            cp = self.paragraph(self.style("Caption"), text(html.unescape(caption.group(1))))
            cp.alignment = WD_ALIGN_PARAGRAPH.CENTER

    def _picture(self, run: Any, png: bytes, width: Any) -> None:
        """`run.add_picture(png, width=width)`, without python-docx's search of the whole body for
        the next free shape id before each picture (minutes for a body of a thousand tables): the
        id is counted on from the first search; nothing else in the body takes one."""
        from docx.oxml.shape import CT_Inline

        part = self.doc.part
        r_id, image = part.get_or_add_image(io.BytesIO(png))
        cx, cy = image.scaled_dimensions(width, None)
        shape_id = part.next_id if self._next_id is None else self._next_id
        self._next_id = shape_id + 1
        run._r.add_drawing(CT_Inline.new_pic_inline(shape_id, r_id, image.filename, cx, cy))

    def text_width(self, section: Any = None) -> float:
        """The width between the margins of `section` (the last one by default), in inches."""
        section = self.doc.sections[-1] if section is None else section
        width = int(section.page_width or 0) - int(section.left_margin or 0) - int(section.right_margin or 0)
        return max(width / 914400, 3.0) if width > 0 else 6.5

    # -------------------------------------------------------------- header, footer, properties

    def _header_footer(self) -> None:
        """The header and footer of the first section; a landscape page (a wide table) gets its
        own pair with the right tab at its own margin, and every later section shares one of the
        two pairs by reference."""
        sections = list(self.doc.sections)
        first = sections[0]
        wrote = self._fill(first)
        turned = [s for s in sections[1:] if _is_landscape(s) != _is_landscape(first)]
        if not wrote or not turned:
            return
        other = turned[0]
        other.header.is_linked_to_previous = False
        other.footer.is_linked_to_previous = False
        self._fill(other)
        refs = {_is_landscape(first): _references(first), _is_landscape(other): _references(other)}
        for section in sections[1:]:
            if section is not other:
                sect_pr = section._sectPr
                for old in _references(section):
                    sect_pr.remove(old)
                for ref in reversed(refs[_is_landscape(section)]):
                    sect_pr.insert(0, copy.deepcopy(ref))

    def _fill(self, section: Any) -> bool:
        """Write the header and footer of `section` unless it has its own (a letterhead); True if
        either was written."""
        from docx.enum.text import WD_TAB_ALIGNMENT
        from docx.shared import Inches

        plan, branding = self.plan, self.settings.branding
        clinic = plan.intake.base.clinic.name
        right = Inches(self.text_width(section))
        wrote = False
        if not _has_content(section.header):
            p = section.header.paragraphs[0] if section.header.paragraphs else section.header.add_paragraph()
            p.style = self.style("Header")
            if branding.logo is not None:
                self._logo(p, branding.logo)
            _clear_style_tabs(p)
            head = p.add_run(text(branding.firm or "Custom EHR budget"))
            head.bold = True
            p.paragraph_format.tab_stops.add_tab_stop(right, WD_TAB_ALIGNMENT.RIGHT)
            p.add_run("\t" + text(f"{clinic} · {plan.generated:%B %-d, %Y}"))
            wrote = True
        if not _has_content(section.footer):
            p = section.footer.paragraphs[0] if section.footer.paragraphs else section.footer.add_paragraph()
            p.style = self.style("Footer")
            _clear_style_tabs(p)
            p.paragraph_format.tab_stops.add_tab_stop(right, WD_TAB_ALIGNMENT.RIGHT)
            p.add_run(text(f"{branding.firm} · " if branding.firm else "") + "Custom EHR budget for "
                      + text(clinic) + "\tPage ")
            _field(p, "PAGE", "1")
            p.add_run(" of ")
            _field(p, "NUMPAGES", "1")
            wrote = True
        return wrote

    def _logo(self, p: Paragraph, logo: Path) -> None:
        from docx.shared import Inches

        try:
            data = logo.read_bytes()
        except OSError as exc:
            raise OutputError(f"{logo}: cannot read the logo: {exc.strerror or exc}") from None
        if logo.suffix.lower() == ".svg":
            import cairosvg

            data = bytes(cairosvg.svg2png(bytestring=data, output_height=120, unsafe=False))
        try:
            p.add_run().add_picture(io.BytesIO(data), height=Inches(0.4))
        except Exception as exc:  # noqa: BLE001 - an image python-docx cannot size
            raise OutputError(f"{logo}: cannot place the logo in the Word document: {exc}") from None
        p.add_run("  ")

    def _properties(self) -> None:
        plan = self.plan
        when = dt.datetime.combine(plan.generated, dt.time(0, 0), tzinfo=dt.UTC)
        props = self.doc.core_properties
        props.title = text(f"{plan.intake.base.clinic.name}: custom EHR budget")[:255]
        props.subject = "Custom EHR budget"
        props.author = text(self.settings.branding.firm or "clinic-budget")[:255]
        props.last_modified_by = props.author
        props.comments = f"Generated by clinic-budget {plan.version} from {text(plan.intake.source)}"[:255]
        props.keywords = ""
        props.category = ""
        props.created = when
        props.modified = when
        props.last_printed = when
        props.revision = 1


# ------------------------------------------------------------------ helpers


def _house_style(doc: DocxDocument, accent: str) -> None:
    """The look without a reference document: the HTML's accent colour on the headings, a plain
    sans-serif body, one-inch margins."""
    from docx.shared import Inches, Pt, RGBColor

    color = RGBColor.from_string(accent.lstrip("#").upper())
    normal = doc.styles["Normal"]
    normal.font.name = "Calibri"
    normal.font.size = Pt(10.5)
    for name, size in (("Title", 22), ("Heading 1", 15), ("Heading 2", 12.5), ("Heading 3", 11)):
        style = doc.styles[name]
        style.font.color.rgb = color
        style.font.size = Pt(size)
        style.font.name = "Calibri"
    for section in doc.sections:
        section.left_margin = section.right_margin = Inches(1)
        section.top_margin = section.bottom_margin = Inches(0.9)


@cache
def _default_styles() -> Any:
    import docx

    return docx.Document().styles


def _clear_style_tabs(p: Paragraph) -> None:
    """Clear the tab stops a paragraph's style sets (the Header style's centre stop), so that one
    tab goes to the right margin."""
    from docx.enum.text import WD_TAB_ALIGNMENT

    style = p.style
    while style is not None:
        for stop in list(style.paragraph_format.tab_stops):
            p.paragraph_format.tab_stops.add_tab_stop(stop.position, WD_TAB_ALIGNMENT.CLEAR)
        style = style.base_style


def _is_landscape(section: Any) -> bool:
    return int(section.page_width or 0) > int(section.page_height or 0)


def _references(section: Any) -> list[Any]:
    return list(section._sectPr.xpath("w:headerReference|w:footerReference"))


def _is_chart(node: Any) -> bool:
    return not isinstance(node.tag, str) and bool(CHART_MARK.match(node.text or ""))


def _has_content(part: Any) -> bool:
    """A header or footer with text or a picture in it (a letterhead), not one just linked."""
    if part.is_linked_to_previous:
        return False
    element = part._element
    return bool("".join(element.itertext()).strip()) or element.find(".//{*}drawing") is not None


def _field(p: Paragraph, instruction: str, shown: str) -> None:
    """A Word field (PAGE, NUMPAGES) that Word and LibreOffice fill in when they lay out pages."""
    from docx.oxml.ns import qn
    from docx.oxml.parser import OxmlElement

    def char(kind: str) -> None:
        el = OxmlElement("w:fldChar")
        el.set(qn("w:fldCharType"), kind)
        p.add_run()._r.append(el)

    char("begin")
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = f" {instruction} "
    p.add_run()._r.append(instr)
    char("separate")
    p.add_run(shown)
    char("end")


def _drop_thumbnail(doc: DocxDocument) -> None:
    """The template's thumbnail shows a blank page, not this document: leave it out."""
    from docx.opc.constants import RELATIONSHIP_TYPE as RT

    rels = doc.part.package.rels
    for r_id, rel in list(rels.items()):
        if rel.reltype == RT.THUMBNAIL:
            del rels[r_id]


def iter_text(data: bytes) -> Iterator[str]:
    """Every paragraph's text in a .docx, body then tables (for tests and checks)."""
    import docx

    doc = docx.Document(io.BytesIO(data))
    for p in doc.paragraphs:
        yield p.text
    for table in doc.tables:
        for row in table.rows:
            for cell in row.cells:
                yield cell.text
