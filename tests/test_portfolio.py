"""The portfolio page a batch writes (index.html, index.csv): every file in the input folder has a
row, the figures add up, the date reads as a date, and the columns sort in a real browser."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.builders import clinic_rows, clinic_workbook
from tests.helpers import run_cli


def drop_folder(folder: Path) -> dict[str, str]:
    """Three good workbooks, a broken one and three files that are not workbooks; returns the
    not-workbook files' names -> a fragment of what `validate` says about them."""
    folder.mkdir()
    for name, clinic, physicians in (("north_side_orthopedic_group_2026.xlsx", "Northside Ortho", 7),
                                     ("b-small.xlsx", "@Home Clinic", 2),
                                     ("c-middle.xlsx", "Middle Clinic", 4)):
        clinic_workbook(folder / name, clinic_rows(clinic, physicians))
    (folder / "broken.xlsx").write_bytes(b"PK\x03\x04 half a zip")
    with zipfile.ZipFile(folder / "notes.ods", "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
    (folder / "export.csv").write_text("Clinic name,Ridgeview\n", encoding="utf-8")
    (folder / "old.xls").write_bytes(bytes.fromhex("D0CF11E0A1B11AE1") + b"\0" * 600)
    (folder / "~$b-small.xlsx").write_bytes(b"Excel's owner file")  # never listed
    return {"notes.ods": "OpenDocument", "export.csv": "CSV", "old.xls": "97-2003"}


@pytest.mark.slow
def test_every_file_has_a_row_and_the_totals_add_up(tmp_path: Path) -> None:
    others = drop_folder(tmp_path / "inputs")
    r = run_cli("batch", "--formats", "json,md", "--workers", "1", cwd=tmp_path)
    assert r.returncode == 1, r.stderr  # broken.xlsx failed; the other files do not count as failures
    assert "portfolio: output/index.html" in r.stdout
    for name, fragment in others.items():
        said = run_cli("validate", f"inputs/{name}", cwd=tmp_path).stderr.strip()
        message = said.removeprefix("error: ")
        assert fragment in message and message.startswith(f"{name}: ")
        assert f"not read inputs/{name}: {message.removeprefix(name + ': ')}" in r.stderr.splitlines()
    assert "~$" not in r.stderr

    out = tmp_path / "output"
    page = (out / "index.html").read_text(encoding="utf-8")
    bodies = re.findall(r'<tbody class="(\w+)">(.*?)</tbody>', page, re.S)
    listed = {re.search(r'data-key="([^"]+)"', body).group(1): status for status, body in bodies}  # type: ignore[union-attr]
    assert listed == {"north_side_orthopedic_group_2026.xlsx": "generated", "b-small.xlsx": "generated",
                      "c-middle.xlsx": "generated", "broken.xlsx": "failed", "notes.ods": "ignored",
                      "export.csv": "ignored", "old.xls": "ignored"}
    for name, fragment in others.items():
        body = next(b for s, b in bodies if f'data-key="{name}"' in b)
        assert fragment in body and '<td class="status">not read</td>' in body
    failed = next(b for s, b in bodies if s == "failed")
    assert '<tr class="problems"><td colspan="11">' in failed and 'href="_errors/broken.html"' in failed
    assert "north_<wbr>side_<wbr>orthopedic_<wbr>group_<wbr>2026.xlsx" in page  # breaks only between words

    budgets = [json.loads((out / slug / "budget.json").read_text(encoding="utf-8"))["scenarios"][0]
               for slug in ("north-side-orthopedic-group-2026", "b-small", "c-middle")]
    recommended = sum(b["risk"]["recommended_budget"] for b in budgets)
    capital = sum(b["capital"]["year_one"] for b in budgets)
    slugs = ("north-side-orthopedic-group-2026", "b-small", "c-middle")
    advised = [advised_figure((out / slug / "budget.md").read_text(encoding="utf-8")) for slug in slugs]
    foot = page[page.index("<tfoot>"):page.index("</tfoot>")]
    assert "Total of 3 current budgets" in foot
    assert f"${recommended:,}" in foot and f"${capital:,}" in foot
    assert f"${sum(figure for figure, _ in advised):,}" in foot
    for (figure, basis), name in zip(advised, ("north_side_orthopedic_group_2026.xlsx", "b-small.xlsx",
                                               "c-middle.xlsx"), strict=True):
        body = next(b for s, b in bodies if f'data-key="{name}"' in b)
        assert f'${figure:,}<span class="range">{basis}</span>' in body
    assert re.search(r"Updated \d{1,2} (January|February|March|April|May|June|July|August|September|October|"
                     r"November|December) \d{4}, \d\d:\d\d ", page), page[:2000]
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:", page)
    assert "3 other files in the folder not read" in page

    rows = list(csv.DictReader((out / "index.csv").read_text(encoding="utf-8").splitlines()))
    assert len(rows) == 7 and sum(r["status"] == "ignored" for r in rows) == 3
    assert next(r for r in rows if r["workbook"] == "b-small.xlsx")["clinic"] == "'@Home Clinic"
    assert sum(int(r["recommended_budget"]) for r in rows if r["recommended_budget"]) == recommended
    in_csv = sorted((int(r["advised_budget"]), r["advised_basis"]) for r in rows if r["advised_budget"])
    assert in_csv == sorted(advised)

    order = sorted_in_chromium(out / "index.html", "Custom build budget")
    if order is not None:
        by_budget = sorted(zip((b["risk"]["recommended_budget"] for b in budgets),
                               ("north_side_orthopedic_group_2026.xlsx", "b-small.xlsx", "c-middle.xlsx"),
                               strict=True))
        assert order[:3] == [name for _, name in by_budget], order  # no figure: last
        assert set(order[3:]) == {"broken.xlsx", "notes.ods", "export.csv", "old.xls"}


def advised_figure(report: str) -> tuple[int, str]:
    """What a report's executive summary says to budget (its base scenario, the first), in its own
    words: the portfolio's "What to budget" column must show the same figure."""
    build = re.search(r"\*\*What to budget:\*\* \*\*\$([\d,]+)\*\* for the build, enough in", report)
    product = re.search(r"\*\*What to budget:\*\* about \*\*\$([\d,]+)\*\* in the first year for (.+?) \(", report)
    first = min((m for m in (build, product) if m), key=lambda m: m.start())
    figure = int(first.group(1).replace(",", ""))
    return (figure, "build, P80") if first is build else (figure, f"year one, {first.group(2)}")


def sorted_in_chromium(page: Path, header: str) -> list[str] | None:
    """The workbooks' order after a click on `header` in headless Chromium; None without it."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        return None
    probe = page.with_name("probe.html")
    click = ("<script>var b=[...document.querySelectorAll('th button.sort')].find(x=>x.textContent.startsWith("
             f"{json.dumps(header)}));b.click();document.body.setAttribute('data-order',"
             "[...document.querySelectorAll('table.portfolio tbody td.workbook')].map(t=>t.dataset.key).join('|'))"
             "</script></body>")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", click), encoding="utf-8")
    r = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--no-first-run", f"--user-data-dir={page.parent / '.chromium'}", "--dump-dom",
                        probe.as_uri()], capture_output=True, text=True, timeout=120, check=False)
    found = re.search(r'data-order="([^"]*)"', r.stdout)
    assert found, r.stderr[-2000:]
    return found.group(1).split("|")


def test_what_to_budget_follows_the_advice_as_the_executive_summary_words_it() -> None:
    from dataclasses import replace

    from generator.model import CLOSE, CUSTOM
    from tests.builders import analysed, family, plan

    sp = analysed(family()).base
    own = sp.ownership
    product = own.product(own.cheapest_product)
    assert own.recommendation.path != CUSTOM
    assert sp.what_to_budget == (product.yearly[0], f"year one, {product.product}")
    close = replace(sp, ownership=replace(own, recommendation=replace(own.recommendation, path=CLOSE)))
    assert close.what_to_budget == sp.what_to_budget
    custom = replace(sp, ownership=replace(own, recommendation=replace(own.recommendation, path=CUSTOM)))
    assert sp.risk is not None and custom.what_to_budget == (sp.risk.recommended_budget, "build, P80")
    unanalysed = plan(family()).base
    unanalysed = replace(unanalysed, ownership=replace(unanalysed.ownership, recommendation=replace(
        unanalysed.ownership.recommendation, path=CUSTOM)))
    assert unanalysed.what_to_budget == (unanalysed.build.expected, "build, expected")
