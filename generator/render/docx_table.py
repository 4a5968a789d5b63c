"""budget.docx tables: real Word tables laid out by what their columns hold.

No figure and no header word is ever broken inside itself: every column is at least as wide as
its longest word (a figure such as "$302,796" is one word), measured in a wide fallback font so
that a machine without Calibri (LibreOffice's DejaVu Sans) keeps it on one line too. A wide
table gets smaller type (down to 8 pt) and narrower cell margins until its columns fit between
the margins; a table that still does not fit is printed on a landscape page of its own, with
the heading and the sentence that introduce it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from typing import Any

TEXT_WORD = 12  # a prose or key column may break a longer word (a rate-card key) to keep figures whole
SIZES = {7: (8.5, 8.0), 5: (9.5, 9.0, 8.5, 8.0)}  # type sizes to try, by the least column count
NARROW_MARGIN = 72  # twips (0.05 in) each side of a cell in a wide table; Word's default is 108
HEADER_FILL = "E8EEF3"
TALL = 0.6  # a table filling more of a portrait page than this may be better on a landscape one
NARROW, WIDE = ",.:;'|!()[]ijlft ", "%@mwMW"
FIGURE = re.compile(r"^[^0-9A-Za-z]*[0-9]")  # "$302,796", "(12%)", "4": not "class5" or "R4"


@dataclass(frozen=True)
class Layout:
    """How a table is set: its type size (None: the body's), its column widths in inches, its
    cell margins (None: the style's), and whether it needs a landscape page."""

    size: float | None
    widths: tuple[float, ...]
    margin: int | None
    landscape: bool


def cell_texts(cells: list[list[Any]]) -> list[list[str]]:
    return [[" ".join("".join(c.itertext()).split()) for c in row] for row in cells]


def em(word: str, bold: bool = False) -> float:
    """The width of `word` in ems, in a wide fallback font (DejaVu Sans, which LibreOffice uses
    where Calibri is missing), with some slack: Calibri itself is narrower."""
    return _em(word) * (1.12 if bold else 1.05)


@lru_cache(maxsize=1 << 16)
def _em(word: str) -> float:
    """`em` before the slack; kept, since a large report repeats its names in table after table."""
    return sum(0.64 if ch.isdigit() or ch in "$€£#+" else 0.34 if ch in NARROW else 0.95 if ch in WIDE
               else 0.74 if ch.isupper() else 0.62 for ch in word)


def least_width(texts: list[str], headers: list[str], size: float, pad: float) -> float:
    """The narrowest a column may be (inches): its header words and its figures (words that
    start with a digit after any sign: "$302,796", "$2,400/month", "(12%)") whole, any other word
    up to TEXT_WORD characters."""
    longest = em("000", True)
    for t in headers:
        longest = max([longest, *(em(w, True) for w in t.split())])
    for t in texts:
        longest = max([longest, *(em(w if FIGURE.match(w) else w[:TEXT_WORD]) for w in t.split())])
    return longest * size / 72 + pad


def layout(texts: list[list[str]], header_rows: int, count: int, portrait: tuple[float, float],
           landscape: tuple[float, float]) -> Layout:
    """How to set a table, given the (width, height) between the margins of a portrait and of a
    landscape page: the largest type size at which every column's least width fits across the
    portrait page; a landscape page when none fits, or when the table's wrapped text would fill
    most of a portrait page and a landscape page holds it whole in two thirds of the height; at
    worst every column narrowed alike."""
    sizes = next((s for least, s in sorted(SIZES.items(), reverse=True) if count >= least), (None,))
    options: list[tuple[Layout, float, float]] = []  # with the table's height and the page's
    for (width, height), turned in ((portrait, False), (landscape, True)):
        for size in sizes:
            margin = NARROW_MARGIN if size is not None else None
            widths = column_widths(texts, header_rows, count, width, size or 10.5, margin)
            if widths is not None:
                tall = table_height(texts, widths, size or 10.5, margin)
                options.append((Layout(size, widths, margin, turned), tall, height))
                break
    if options and not options[0][0].landscape and len(options) == 2:
        (upright, tall, page), (turned_layout, turned_tall, turned_page) = options
        if count >= 5 and tall > TALL * page and turned_tall <= min(turned_page, tall * 2 / 3):
            return turned_layout
    if options:
        return options[0][0]
    size = sizes[-1] or 10.5
    squeezed = column_widths(texts, header_rows, count, landscape[0], size, NARROW_MARGIN, squeeze=True)
    assert squeezed is not None
    return Layout(size, squeezed, NARROW_MARGIN, True)


def table_height(texts: list[list[str]], widths: tuple[float, ...], size: float, margin: int | None) -> float:
    """About how tall the table is set (inches): each row as many lines as its fullest cell needs
    when its words wrap at the column's width."""
    pad = 2 * (margin if margin is not None else 108) / 1440
    total = 0.0
    for row in texts:
        lines = max((wrapped_lines(t, (w - pad) * 72 / size) for t, w in zip(row, widths, strict=False)), default=1)
        total += lines * size * 1.2 / 72 + 0.02
    return total


def wrapped_lines(text: str, width_em: float) -> int:
    lines, used = 1, 0.0
    for word in text.split():
        w = em(word)
        if used and used + 0.33 + w > width_em:
            lines, used = lines + 1, w
        else:
            used += (0.33 if used else 0.0) + w
    return lines


def column_widths(texts: list[list[str]], header_rows: int, count: int, text_width: float, size: float,
                  margin: int | None, squeeze: bool = False) -> tuple[float, ...] | None:
    """Column widths (inches): each column its least width, the room left shared in proportion to
    how much more each column's longest cell wants; None when the least widths do not fit (or,
    with `squeeze`, every column narrowed alike)."""
    pad = 2 * (margin if margin is not None else 108) / 1440 + 0.05
    least, wanted = [], []
    for c in range(count):
        column = [row[c] for row in texts[header_rows:] if c < len(row)]
        heads = [row[c] for row in texts[:header_rows] if c < len(row)]
        least.append(least_width(column, heads, size, pad))
        longest = max((em(t[:40]) for t in column), default=1.0)  # a header may wrap between words
        wanted.append(max(longest * size / 72 + pad, least[-1]))
    if sum(least) > text_width:
        return tuple(m * text_width / sum(least) for m in least) if squeeze else None
    if sum(wanted) <= text_width:
        return tuple(w * text_width / sum(wanted) for w in wanted)
    room = text_width - sum(least)
    extra = [w - m for w, m in zip(wanted, least, strict=True)]
    share = sum(extra) or 1.0
    return tuple(m + room * e / share for m, e in zip(least, extra, strict=True))


def add_table(builder: Any, node: Any) -> None:
    """`node` (an HTML table) as a Word table at the end of the builder's document.

    The table's XML is written as one string and parsed once: python-docx's cell, paragraph and
    run objects cost milliseconds a cell, minutes for the largest workbook's hundreds of
    thousands of cells. The elements are the ones python-docx itself writes, in its order."""
    head = [tr for tr in node.iter("tr") if tr.getparent().tag == "thead"]
    rows = list(node.iter("tr"))
    cells = [[c for c in tr if c.tag in ("td", "th")] for tr in rows]
    count = max((len(r) for r in cells), default=0)
    if not rows or not count:
        return
    doc = builder.doc
    plan = layout(cell_texts(cells), len(head), count, *text_area(doc.sections[-1]))
    if plan.landscape:
        orient(doc, landscape=True, carry=True)
    twips = [_twips(w) for w in plan.widths]
    grid = builder.style("Table Grid")
    keep = len(rows) <= 20  # a short table stays on one page with the line that introduces it
    size = f'<w:sz w:val="{round(plan.size * 2)}"/>' if plan.size is not None else ""
    out = [f"<w:tbl {_NS}><w:tblPr>"]
    if grid is not None:
        out.append(f'<w:tblStyle w:val="{escape(grid.style_id, True)}"/>')
    out.append('<w:tblW w:type="auto" w:w="0"/><w:jc w:val="left"/><w:tblLayout w:type="fixed"/>')
    if plan.margin is not None:
        out.append("<w:tblCellMar>" + "".join(f'<w:{side} w:w="{plan.margin}" w:type="dxa"/>'
                                              for side in ("left", "right")) + "</w:tblCellMar>")
    out.append('<w:tblLook w:firstColumn="1" w:firstRow="1" w:lastColumn="0" w:lastRow="0" w:noHBand="0" '
               'w:noVBand="1" w:val="04A0"/></w:tblPr><w:tblGrid>')
    out.extend(f'<w:gridCol w:w="{t}"/>' for t in twips)
    out.append("</w:tblGrid>")
    last = len(rows) - 1
    spare = _spare_twips(doc, count)
    for r, (tr, row_cells) in enumerate(zip(rows, cells, strict=True)):
        header = tr in head
        out.append('<w:tr><w:trPr><w:cantSplit/>' + ('<w:tblHeader w:val="true"/>' if header else "") + "</w:trPr>")
        kept = "<w:keepNext/>" if keep and r < last else ""
        for c in range(count):
            if c >= len(row_cells):  # a short row: the empty cell python-docx makes
                body = f"<w:pPr>{kept}</w:pPr>" if kept else ""
                out.append(f'<w:tc><w:tcPr><w:tcW w:type="dxa" w:w="{spare}"/></w:tcPr><w:p>{body}</w:p></w:tc>')
                continue
            cell_node = row_cells[c]
            shade = f'<w:shd w:val="clear" w:color="auto" w:fill="{HEADER_FILL}"/>' if header else ""
            out.append(f'<w:tc><w:tcPr><w:tcW w:type="dxa" w:w="{twips[c]}"/>{shade}</w:tcPr>')
            align = (cell_node.get("style") or "") + (cell_node.get("align") or "")
            jc = "right" if "right" in align else "center" if "center" in align else ""
            ppr = kept + (f'<w:jc w:val="{jc}"/>' if jc else "")
            runs: list[str] = []
            inline_xml(runs, cell_node, size, bold=True if header else None)
            body = (f"<w:pPr>{ppr}</w:pPr>" if ppr else "") + "".join(runs)
            out.append(f"<w:p>{body}</w:p></w:tc>" if body else "<w:p/></w:tc>")
        out.append("</w:tr>")
    out.append("</w:tbl>")
    from docx.oxml import parse_xml

    doc.element.body._insert_tbl(parse_xml("".join(out)))
    if plan.landscape:
        orient(doc, landscape=False)  # its section break's paragraph also keeps the next table apart
    else:
        doc.add_paragraph()  # Word joins two tables that touch; a paragraph keeps them apart


_NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
_BREAKS = re.compile(r"([\t\r\n])")


def _twips(inches: float) -> int:
    """A width in inches as python-docx writes it (whole EMUs, then rounded twips)."""
    return int(round(int(inches * 914400) / 635))


def _spare_twips(doc: Any, count: int) -> int:
    """The width python-docx gives a new table's cells (the text width shared alike), in twips."""
    section = doc.sections[-1]
    width = int(section.page_width or 0) - int(section.left_margin or 0) - int(section.right_margin or 0)
    return int(round((width // count) / 635))


def inline_xml(out: list[str], node: Any, size: str, bold: bool | None = None, italic: bool | None = None,
               code: bool = False) -> None:
    """The text of `node` and its inline children as `w:r` elements, as `Builder.inline` makes
    them with python-docx (each in `size`, a `w:sz` element or "")."""
    if node.text:
        run_xml(out, node.text, size, bold, italic, code)
    for child in node:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag in ("strong", "b"):
            inline_xml(out, child, size, True, italic, code)
        elif tag in ("em", "i"):
            inline_xml(out, child, size, bold, True, code)
        elif tag == "code":
            inline_xml(out, child, size, bold, italic, True)
        elif tag == "br":
            out.append(f"<w:r><w:rPr>{size}</w:rPr><w:br/></w:r>" if size else "<w:r><w:br/></w:r>")
        elif tag:
            inline_xml(out, child, size, bold, italic, code)
        if child.tail:
            run_xml(out, child.tail, size, bold, italic, code)


def run_xml(out: list[str], value: str, size: str, bold: bool | None, italic: bool | None, code: bool) -> None:
    """One run of `value` (`Builder._run`'s text, python-docx's tabs and breaks)."""
    from generator.render.docx import text

    value = text(re.sub(r"\s*\n\s*", " ", value))
    if not value:
        return
    props = ('<w:rFonts w:ascii="Courier New" w:hAnsi="Courier New"/>' if code else "") + \
        ("<w:b/>" if bold else "") + ("<w:i/>" if italic else "") + size
    parts = [f"<w:rPr>{props}</w:rPr>" if props else ""]
    for piece in _BREAKS.split(value):
        if piece == "\t":
            parts.append("<w:tab/>")
        elif piece in ("\r", "\n"):
            parts.append("<w:br/>")
        elif piece:
            space = ' xml:space="preserve"' if len(piece.strip()) < len(piece) else ""
            parts.append(f"<w:t{space}>{escape(piece)}</w:t>")
    out.append("<w:r>" + "".join(parts) + "</w:r>")


def text_area(section: Any) -> tuple[tuple[float, float], tuple[float, float]]:
    """The (width, height) between the margins of `section`'s page upright and turned (inches)."""
    short, long = sorted((int(section.page_width or 0), int(section.page_height or 0)))
    across = int(section.left_margin or 0) + int(section.right_margin or 0)
    down = int(section.top_margin or 0) + int(section.bottom_margin or 0)
    inch = 914400
    return ((max(short - across, inch) / inch, max(long - down, inch) / inch),
            (max(long - across, inch) / inch, max(short - down, inch) / inch))


def orient(doc: Any, landscape: bool, carry: bool = False) -> None:
    """Start a section on a new page, landscape or portrait. With `carry`, the paragraphs that
    introduce what follows (a heading, a sentence kept with the next) move to the new section."""
    from docx.enum.section import WD_ORIENT, WD_SECTION
    from docx.oxml.ns import qn

    body = doc.element.body
    moved: list[Any] = []
    keep = f"{qn('w:pPr')}/{qn('w:keepNext')}"
    if carry:
        while len(body) >= 2 and body[-2].tag == qn("w:p") and body[-2].find(keep) is not None:
            moved.insert(0, body[-2])
            body.remove(body[-2])
    section = doc.add_section(WD_SECTION.NEW_PAGE)
    width, height = int(section.page_width or 0), int(section.page_height or 0)
    if (width > height) != landscape:
        section.page_width, section.page_height = height, width
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    for p in moved:
        body[-1].addprevious(p)
