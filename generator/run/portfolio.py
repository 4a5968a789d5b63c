"""The pages a batch leaves beside the documents: the portfolio (`index.html`, `index.csv`) and
one error report per failed workbook (`_errors/<slug>.html` and `.txt`).

Rows are built from the manifest's records, so workbooks skipped as unchanged are listed with
the figures of their budget.json (stored in the manifest when the budget was generated).
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup, escape

from generator.errors import Problem
from generator.render.writers import WRITERS
from generator.run.manifest import Headline, Record, now_iso
from generator.run.outputs import ERRORS_DIR, subpath, write_text_atomically
from generator.settings import DEFAULT_COLOR as DEFAULT_ACCENT
from generator.settings import HEX_COLOR

INDEX_TEMPLATE = "index.html.j2"
DOCUMENT_ORDER = tuple(w.file_name for w in sorted(WRITERS, key=lambda w: w.rank))  # best first
CSV_COLUMNS = ("clinic", "workbook", "status", "physicians", "build_low", "build_expected",
               "build_high", "tier", "year_one_capital", "recommendation", "break_even_year",
               "quotes", "lowest_quote", "lowest_quote_position", "documents", "error_report", "errors",
               "recommended_budget", "documents_kept", "advised_budget", "advised_basis")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet may run as a formula (OWASP)
HOW_TO_FIX = (
    "Open the workbook in Excel, correct each cell listed above (the message says what is "
    "accepted), save it, and put it back in the input folder: the next batch or the watcher "
    "picks it up. `clinic-budget validate FILE` checks it without writing anything."
)
FIX_TEMPLATES = (
    "This is a problem with the templates, not with the workbook: correct {template} in the "
    "--templates folder (the message above gives the line) and run the batch again. "
    "`clinic-budget run FILE --templates DIR` shows the same error for one workbook."
)
FIX_OUTPUT = (
    "This is a problem with the output folder, not with the workbook: make sure it exists, "
    "is writable and has free space, then run the batch again."
)
FIX_SETUP = ("This is not a problem with the workbook's cells: correct what the message above "
             "names and run the batch again.")
FIX_INTERNAL = ("This is a bug in clinic-budget, not a problem with the workbook: please report it "
                "together with the workbook and this page.")


def how_to_fix(cause: str = "workbook", template: str | None = None) -> str:
    """The advice an error report gives for a failure's cause (batch.Outcome.cause)."""
    if cause == "templates":
        return FIX_TEMPLATES.format(template=f"`{template}`" if template else "the template named above")
    return {"output": FIX_OUTPUT, "setup": FIX_SETUP, "internal": FIX_INTERNAL}.get(cause, HOW_TO_FIX)
KEPT = "The documents made from an earlier version of this workbook were left as they were."


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the portfolio."""

    source: str  # the workbook's file name
    slug: str  # "" for a file that is not a workbook
    status: str  # generated | unchanged | failed | ignored (not a workbook: listed, not read)
    headline: Headline | None
    errors: tuple[str, ...]
    documents: tuple[str, ...]  # links relative to the output folder, best first
    error_report: str | None  # link relative to the output folder
    kept: tuple[str, ...] = ()  # those of `documents` kept from an earlier run of the same workbook

    @property
    def clinic(self) -> str:
        return self.headline.clinic if self.headline else ""


def _documents(out: str | Path, slug: str) -> tuple[str, ...]:
    """Links (relative to the output folder) to the documents in `out/slug`, best first.
    String paths, not `Path`s: pathlib would intern every slug (see generator.run.batch)."""
    folder = subpath(out, slug)
    return tuple(f"{slug}/{name}" for name in DOCUMENT_ORDER if os.path.isfile(subpath(folder, name)))


def build_row(name: str, record: Record, out: Path) -> Row:
    """The portfolio row of the workbook file `name`, from its manifest record."""
    report = f"{ERRORS_DIR}/{record.slug}.html" if record.status == "failed" else None
    documents = _documents(out, record.slug)
    kept = tuple(d for d in documents if d.rsplit("/", 1)[-1] in record.kept)
    return Row(name, record.slug, record.status, record.headline, record.errors, documents, report, kept)


# ------------------------------------------------------------------ index.html and index.csv


def _environment(templates: Path | None):  # type: ignore[no-untyped-def]
    import jinja2

    from generator.render.document import ConfinedLoader, environment_class, shipped_templates

    loaders: list[jinja2.BaseLoader] = [ConfinedLoader(templates)] if templates is not None else []
    loaders.append(jinja2.FileSystemLoader(str(shipped_templates())))
    return environment_class(templates)(
        loader=jinja2.ChoiceLoader(loaders), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )


def in_words(moment: float | None = None) -> str:
    """A date and time as a reader writes it: "4 December 2026, 18:13 UTC" (local time)."""
    t = time.localtime(moment)
    return f"{t.tm_mday} {time.strftime('%B %Y, %H:%M', t)} {time.strftime('%Z', t) or 'local time'}"


def render_index(rows: Iterable[Row], counts: Mapping[str, int], templates: Path | None,
                 seconds: float | None = None, accent: str = DEFAULT_ACCENT) -> Iterator[str]:
    """index.html, in pieces as the template produces them (`rows` is iterated once)."""
    template = _environment(templates).get_template(INDEX_TEMPLATE)
    color = accent.lower() if HEX_COLOR.match(accent) else DEFAULT_ACCENT
    return template.generate(rows=rows, counts=counts, total=sum(counts.values()), updated=in_words(),
                             seconds=seconds, accent=color)


def csv_safe(value: object) -> object:
    """User text that a spreadsheet would run as a formula (CSV injection), kept as text with a
    leading apostrophe; numbers as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _csv_line(values: Sequence[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([csv_safe(v) for v in values])
    return buffer.getvalue()


def render_csv(rows: Iterable[Row]) -> Iterator[str]:
    """index.csv, one line at a time."""
    yield _csv_line(CSV_COLUMNS)
    for r in rows:
        h = r.headline
        figures: list[object] = (
            [h.physicians, h.build_low, h.build_expected, h.build_high, h.tier, h.year_one_capital,
             h.recommendation, "" if h.break_even_year is None else h.break_even_year, h.quotes,
             "" if h.lowest_quote_price is None else h.lowest_quote_price, h.lowest_quote_position or ""]
            if h is not None else [""] * 11
        )
        budget = "" if h is None or h.recommended_budget is None else h.recommended_budget
        advised = ["", ""] if h is None or h.advised_budget is None else [h.advised_budget, h.advised_basis]
        yield _csv_line([r.clinic, r.source, r.status, *figures, r.documents[0] if r.documents else "",
                         r.error_report or "", " | ".join(r.errors), budget, " ".join(r.kept), *advised])


def write_index(out: Path, rows: Callable[[], Iterable[Row]], templates: Path | None,
                seconds: float | None = None, accent: str = DEFAULT_ACCENT) -> Path:
    """Write `index.csv` and `index.html` (atomically), streaming the rows twice; return the
    HTML page's path."""
    counts = {"generated": 0, "unchanged": 0, "failed": 0, "ignored": 0}

    def counted() -> Iterator[Row]:
        for row in rows():
            counts[row.status] = counts.get(row.status, 0) + 1
            yield row

    write_text_atomically(out / "index.csv", render_csv(counted()))
    page = out / "index.html"
    write_text_atomically(page, render_index(rows(), counts, templates, seconds, accent))
    return page


# ------------------------------------------------------------------ error reports


def _problem_lines(number: int, problem: Problem) -> list[str]:
    lines = [f"{number}. {problem}"]
    where = [f"sheet {problem.sheet}" if problem.sheet else "", f"cell {problem.cell}" if problem.cell else "",
             f"field {problem.field}" if problem.field else ""]
    if any(where):
        lines.append("   where: " + ", ".join(w for w in where if w))
    lines.append(f"   what:  {problem.message}")
    return lines


def report_text(source: str | Path, errors: Sequence[str], problems: Sequence[Problem], kept: bool,
                how: str = HOW_TO_FIX) -> str:
    lines = [f"clinic-budget could not make a budget from {source}", f"checked {now_iso()}", "",
             "What is wrong:"]
    if problems:
        for n, problem in enumerate(problems, 1):
            lines += _problem_lines(n, problem)
    else:
        lines += [f"{n}. {e}" for n, e in enumerate(errors, 1)]
    lines += ["", "How to fix it:", how]
    if kept:
        lines += ["", KEPT]
    return "\n".join(lines) + "\n"


REPORT_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Errors: {{ source }}</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
th,td{text-align:left;padding:.3rem .6rem;border-bottom:1px solid #ccc;vertical-align:top}
code{background:#f3f3f3;padding:0 .2rem}</style></head><body>
<p><a href="../index.html">&larr; all clinics</a></p>
<h1>{{ source }} could not be turned into a budget</h1>
<p>Checked {{ checked }}.</p>
<h2>What is wrong</h2>
{% if problems %}<table><tr><th>#</th><th>Sheet</th><th>Cell</th><th>Field</th><th>Problem</th></tr>
{% for p in problems %}<tr><td>{{ loop.index }}</td><td>{{ p.sheet or "" }}</td><td>{{ p.cell or "" }}</td>
<td>{{ p.field or "" }}</td><td>{{ p.message }}</td></tr>
{% endfor %}</table>
{% else %}<ol>{% for e in errors %}<li>{{ e }}</li>{% endfor %}</ol>{% endif %}
<h2>How to fix it</h2><p>{{ how|code }}</p>
{% if kept %}<p>{{ kept }}{% if documents %} ({% for d in documents %}<a href="../{{ d }}">{{ d }}</a>
{%- if not loop.last %}, {% endif %}{% endfor %}){% endif %}</p>{% endif %}
</body></html>
"""


def code_spans(text: str) -> Markup:
    """Plain text with `backticked` spans as <code>, everything escaped."""
    parts = str(text).split("`")
    return Markup("").join(Markup("<code>{}</code>").format(p) if i % 2 else escape(p)
                           for i, p in enumerate(parts))


def report_html(source: str | Path, errors: Sequence[str], problems: Sequence[Problem], kept: bool,
                documents: Sequence[str], how: str = HOW_TO_FIX) -> str:
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["code"] = code_spans
    return env.from_string(REPORT_HTML).render(
        source=os.path.basename(source), checked=in_words(), problems=problems, errors=errors, how=how,
        kept=KEPT if kept else "", documents=documents,
    )


def write_error_report(out: Path, slug: str, source: str | Path, errors: Sequence[str],
                       problems: Sequence[Problem], how: str = HOW_TO_FIX) -> str:
    """`_errors/<slug>.txt` and `.html`; returns the HTML report's path. `how` is the advice
    for the failure's cause (how_to_fix)."""
    documents = _documents(out, slug)
    kept = bool(documents)
    stem = subpath(out, ERRORS_DIR, slug)
    write_text_atomically(f"{stem}.txt", report_text(source, errors, problems, kept, how))
    write_text_atomically(f"{stem}.html", report_html(source, errors, problems, kept, documents, how))
    return f"{stem}.html"


def clear_error_report(out: Path, slug: str) -> None:
    stem = subpath(out, ERRORS_DIR, slug)
    for suffix in (".html", ".txt"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{stem}{suffix}")
