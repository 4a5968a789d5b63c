"""`clinic-budget serve` in a real headless Chromium: choose the workbook in the file input, press
the button, read the result page, open a document; then drop a bad workbook on the box and read
its cells."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.intake.blank import write_example
from generator.render import chromium
from tests.serve_helpers import Server
from tests.test_serve import bad_workbook, validate_lines

FOUND = chromium.find()
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(FOUND is None, reason="Chromium 131+ not installed (Debian: chromium)")]


@pytest.fixture
def browser() -> Iterator[chromium.Browser]:
    from tests.browser_helpers import PageBrowser

    assert FOUND is not None
    page = PageBrowser(FOUND)
    try:
        yield page
    finally:
        page.close()


def test_upload_in_a_browser_and_read_the_result(tmp_path: Path, browser) -> None:  # type: ignore[no-untyped-def]
    server = Server(tmp_path, "--out", "out", "--workers", "1")  # every format this machine makes, PDF too
    try:
        workbook = tmp_path / "Summit Ortho.xlsx"
        write_example(workbook, "orthopedic")
        browser.goto(server.url)
        assert "Make the budget" in browser.html()
        browser.set_file("input[type=file]", str(workbook))
        browser.click("button[type=submit]")
        page = browser.html()
        assert browser.url() == server.url + "upload"
        budget = json.loads((tmp_path / "out" / "summit-ortho" / "budget.json").read_text())
        assert f"Budget for {html.escape(budget['clinic']['name'], quote=False)}" in page
        assert html.escape(budget["scenarios"][0]["recommendation"]["headline"], quote=False) in page
        links = re.findall(r'href="(/files/summit-ortho/[^"]+)"', page)
        assert {link.rsplit("/", 1)[1] for link in links} >= {"budget.html", "budget.pdf", "budget.xlsx",
                                                              "budget.json", "budget.md"}
        browser.click('a[href="/files/summit-ortho/budget.html"]')
        assert browser.url() == server.url + "files/summit-ortho/budget.html"
        assert budget["clinic"]["name"].split(" ")[0] in browser.html()

        bad = bad_workbook(tmp_path / "bad-cells.xlsx")
        browser.goto(server.url)
        browser.drop_file("input[type=file]", str(bad))  # dragged onto the box, not chosen
        browser.click("button[type=submit]")
        page = html.unescape(re.sub(r"<[^>]+>", "", browser.html()))
        for line in validate_lines(bad):
            assert line in page
    finally:
        assert server.stop() == 0
