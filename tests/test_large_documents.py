"""Documents of a large workbook stay readable and bounded (issue 17 item 1): a name longer than
a table cell needs is cut in the tables (whole in its section heading and in the base scenario's
own breakdown), the sensitivity tables list the inputs that move the cost most and count the
rest, the client edition's appendix lists each scenario's largest components and sums the rest,
and the charts draw the largest bars and the cheapest products."""

from __future__ import annotations

import io
import re
import zipfile
from functools import cache
from pathlib import Path

import pytest

from generator.model import Category, Plan, Subscription
from generator.render import charts, document, docx, writers
from generator.render.document import APPENDIX_ROWS, NAME_LENGTH, SENSITIVITY_ROWS, f_short, md_escape
from tests.builders import analysed, feature, integration, modules, scenario
from tests.conftest import CASES, settings

FEATURES = 40
PRODUCTS = 12


def long_name(kind: str, i: int) -> str:
    return f"{kind} {i} " + "abcdefghij" * 12


@cache
def large() -> Plan:
    mods = modules(specialty=tuple(feature(long_name("Feature", i), 1000 + 100 * i, 5000 + 100 * i)
                                   for i in range(FEATURES)))
    links = tuple(integration(Category.LAB, system=long_name("System", i), vendor=long_name("Vendor", i))
                  for i in range(3))
    subs = tuple(Subscription(long_name("Product", i), 300.0 + i) for i in range(PRODUCTS))
    overrides = {"risk.draws": 1000}
    return analysed(scenario(mods=mods, integrations=links, subscriptions=subs, overrides=overrides),
                    scenario("Second option " + "x" * 100, mods=mods, integrations=links, subscriptions=subs,
                             overrides=overrides, physicians=5))


def test_a_long_name_is_cut_with_an_ellipsis_before_it_is_escaped() -> None:
    name = "a" * (NAME_LENGTH - 2) + "|b|c"
    cut = f_short(name)
    assert cut == "a" * (NAME_LENGTH - 2) + "|…" and len(cut) == NAME_LENGTH
    assert md_escape(cut).endswith("\\|…")  # the escape is whole
    assert f_short(name, True) == name
    assert f_short("Quest lab interface") == "Quest lab interface"


def test_long_names_are_whole_in_the_reports_base_breakdown_and_cut_in_the_other_tables() -> None:
    md = document.render_markdown(large(), settings())
    whole, cut = long_name("Feature", 7), f_short(long_name("Feature", 7))
    base, second = md.split("## Scenario: Second option")
    assert f"| {whole} |" in base.split("Component breakdown")[1].split("Integrations")[0]
    assert f"| {whole} |" not in second and f"| {cut} |" in second
    assert "## Scenario: Second option " + "x" * 100 in md  # the heading carries the whole name
    assert f"| {f_short(long_name('Product', 3))} |" in second
    client = document.render_markdown(large(), settings(), "client")  # a client's page has no room for them
    assert f"| {whole} |" not in client and f"| {cut} |" in client.split("Component breakdown")[1]


def test_the_sensitivity_tables_list_the_largest_inputs_and_count_the_rest() -> None:
    md = document.render_markdown(large(), settings())
    sp = large().base
    assert sp.risk is not None
    build = [s for s in sp.risk.sensitivity if s.swing]
    assert len(build) > SENSITIVITY_ROWS
    table = md.split("**What moves the build cost most**")[1].split("<!-- chart:tornado:0 -->")[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| Input")]
    assert len(rows) == SENSITIVITY_ROWS
    rest = build[SENSITIVITY_ROWS:]
    assert (f"The other {len(rest)} inputs each move the build cost by {document.f_usd(max(s.swing for s in rest))} "
            "or less; the Risk sheet of budget.xlsx and budget.json give every one.") in table


def test_the_client_appendix_lists_the_largest_components_and_sums_the_rest() -> None:
    md = document.render_markdown(large(), settings(), "client")
    appendix = md.split("## Other scenarios")[1]
    sp = large().scenarios[1]
    shown, others = document.largest_lines(sp.components, APPENDIX_ROWS)
    assert others is not None and others["count"] == len(sp.components) - APPENDIX_ROWS
    rows = [line for line in appendix.splitlines() if line.startswith("| ") and not line.startswith("| Component")]
    assert len(rows) == APPENDIX_ROWS + 2  # the largest, the others, the total
    assert rows[-2] == (f"| {others['count']} smaller components (budget.md lists each) | | "
                        f"{document.f_usd(others['low'])} | {document.f_usd(others['expected'])} | "
                        f"{document.f_usd(others['high'])} |")
    assert sum(li.cost.expected for li in shown) + others["expected"] == sp.build.expected
    cheapest = min(sp.components, key=lambda li: (li.cost.expected, -sp.components.index(li)))
    assert f"| {f_short(cheapest.name)} |" not in appendix


def test_the_charts_draw_the_largest_components_and_the_cheapest_products() -> None:
    sp = large().base
    build = charts.chart("build", sp, "#1f5f8b")
    assert f'viewBox="0 0 720 {40 + 24 * charts.CHART_ROWS + 40}"' in build  # one row a component drawn
    assert f"The {charts.CHART_ROWS} largest of {len(sp.components)} components are drawn" in build
    smallest = min(sp.components, key=lambda li: li.cost.expected)
    assert smallest.name[:20] not in build
    tco = charts.chart("tco", sp, "#1f5f8b")
    assert f"Of the {PRODUCTS} products, the {charts.CHART_PRODUCTS} cheapest over the horizon are drawn." in tco
    assert tco.count("<polyline") == 1 + charts.CHART_PRODUCTS
    small = CASES["family"]()
    assert "are drawn" not in charts.chart("build", small.base, "#1f5f8b")
    assert "are drawn" not in charts.chart("tco", small.base, "#1f5f8b")


def test_every_chart_picture_in_the_word_document_has_its_own_shape_id() -> None:
    if not docx.available():
        pytest.skip("the docx extra (python-docx, CairoSVG)")
    data = writers.get("docx").render(CASES["scenarios"](), settings(formats=("docx",)))
    xml = zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml").decode("utf-8")
    ids = [int(i) for i in re.findall(r'<wp:docPr id="(\d+)"', xml)]
    assert len(ids) > 1 and ids == list(range(1, len(ids) + 1))


# ------------------------------------------------------------------ the job's memory


class _Unpicklable:
    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("cannot pickle this")


def test_a_child_that_fails_while_it_writes_its_answer_is_reported_not_unpickled() -> None:
    """The child streams its answer; one that fails half-way (here its last object does not
    pickle, after 8 MB were written) is a stopped job, not a truncated pickle."""
    import time

    from generator.errors import IntakeError
    from generator.intake import sandbox

    messages = sandbox.Messages(5, 1024, crashed="stopped ({how})")
    with pytest.raises(IntakeError, match=r"^big.xlsx: stopped \(exit status 70\)$"):
        sandbox.run_bounded(lambda: (b"x" * 8_000_000, _Unpicklable()), "big.xlsx", memory_mb=1024,
                            deadline=time.monotonic() + 20, messages=messages)
    assert sandbox.run_bounded(lambda: b"y" * 8_000_000, "big.xlsx", memory_mb=1024,
                               deadline=time.monotonic() + 20, messages=messages) == b"y" * 8_000_000


def test_render_all_renders_the_workbook_first_and_collects_after_each_writer_when_gc_is_off(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import gc
    from dataclasses import replace

    calls: list[str] = []

    def fake(name: str) -> writers.Render:
        return lambda plan, s: calls.append(name) or name.encode()  # type: ignore[func-returns-value]

    fakes = tuple(replace(w, render=fake(w.name)) for w in writers.WRITERS)
    monkeypatch.setattr(writers, "WRITERS", fakes)
    monkeypatch.setattr(writers, "_BY_NAME", {w.name: w for w in fakes})
    collected: list[str] = []

    def collect(*args: object) -> int:
        collected.append(calls[-1])
        return 0

    monkeypatch.setattr(gc, "collect", collect)
    files = writers.render_all(CASES["family"](), settings(formats=("md", "xlsx", "json")))
    assert calls == ["xlsx", "md", "json"] and collected == []  # the collector is on: nothing to do
    assert list(files) == ["budget.md", "budget.xlsx", "budget.json"] and files["budget.md"] == b"md"
    calls.clear()
    gc.disable()
    try:
        writers.render_all(CASES["family"](), settings(formats=("md", "xlsx", "json")))
    finally:
        gc.enable()
    assert calls == ["xlsx", "md", "json"] and collected == calls


def test_budget_json_is_what_json_dumps_writes() -> None:
    import json

    from generator.render import budget_json

    plan = CASES["hostile"]()
    assert budget_json.render(plan) == (json.dumps(budget_json.budget_dict(plan), indent=2, ensure_ascii=False)
                                        + "\n").encode("utf-8")


def test_the_client_cumulative_cost_table_has_the_cheapest_products_and_the_report_every_one() -> None:
    own = large().base.ownership
    client = document.render_markdown(large(), settings(), "client")
    note = (f"Cumulative cost at the end of each year (the {document.TABLE_PRODUCTS} products cheapest over "
            f"{own.years} years; budget.md and budget.xlsx give all {PRODUCTS}):")
    assert note in client
    header = client.split(note)[1].strip().splitlines()[0]
    assert header.count("|") == 4 + document.TABLE_PRODUCTS
    dearest = max(own.off_the_shelf, key=lambda p: p.cumulative[-1])
    assert f_short(dearest.product) not in header
    report = document.render_markdown(large(), settings())
    header = report.split("Cumulative cost at the end of each year:")[1].strip().splitlines()[0]
    assert header.count("|") == 4 + PRODUCTS


@pytest.mark.slow
def test_the_largest_workbook_within_the_limits_gives_documents_of_bounded_size(tmp_path: Path) -> None:
    """Sizes, not times (bench/bench_limits.py measures those): its full report was 64.6 MB of
    Markdown and its client page 13.7 MB before long names were cut and tables capped."""
    from generator.intake.reader import read_intake
    from generator.plan import quotes, risk
    from generator.plan.pricing import plan_intake
    from tests.hostile_corpus import largest_within_limits

    plan = quotes.apply(risk.apply(plan_intake(read_intake(largest_within_limits(tmp_path / "largest.xlsx")))))
    files = writers.render_all(plan, settings(tmp_path, ("md", "html", "docx")))
    assert len(files["budget.md"]) < 20_000_000
    assert len(files["budget.html"]) < 2_000_000
    assert len(files["budget.docx"]) < 1_000_000
    assert "The other " in files["budget.md"].decode("utf-8")  # the sensitivity tables count the rest


def test_the_running_head_of_the_printed_page_cuts_a_long_clinic_name() -> None:
    from dataclasses import replace

    plan = large()
    clinic = replace(plan.intake.base.clinic, name="Clinic " + "y" * 200)
    base = replace(plan.intake.base, clinic=clinic)
    plan = replace(plan, intake=replace(plan.intake, scenarios=(base, *plan.intake.scenarios[1:])))
    page = document.client_html(plan, settings())
    assert str(document.css_string(document.cut(clinic.name, document.HEAD_LENGTH) + " · "))[:-1] in page
    assert document.cut("Ridgeview Family Medicine", document.HEAD_LENGTH) == "Ridgeview Family Medicine"
