"""budget.pdf printed by Chromium: the same figures as budget.json, the same bytes twice, nothing
fetched, no script run, a dead browser replaced, and no browser left behind by a batch."""

from __future__ import annotations

import http.server
import os
import re
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from generator.render import chromium
from generator.render import document as render
from tests.conftest import CASES, HOSTILE, settings
from tests.helpers import cli
from tests.test_documents import has_weasyprint, pdf_figures_match_json, pdf_text

FOUND = chromium.find()
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(FOUND is None, reason="Chromium 131+ not installed (Debian: chromium)")]


def chromium_settings():  # type: ignore[no-untyped-def]
    return replace(settings(formats=("pdf",)), pdf_engine="chromium")


def print_html(html: str) -> bytes:
    assert FOUND is not None
    return chromium.html_to_pdf(html, FOUND, "20260302000000")


def test_chromium_pdf_figures_match_json_and_bytes_repeat() -> None:
    from generator.render import pdf

    plan = CASES["ortho-risk"]()
    data = pdf.render(plan, chromium_settings())
    assert data.startswith(b"%PDF")
    assert data == pdf.render(plan, chromium_settings())
    text = pdf_figures_match_json(plan, data)
    assert f"{plan.intake.base.clinic.name} ·" in text.split("Page 1 of")[1]  # the running head


def test_the_print_dates_are_the_report_date_and_keep_their_length() -> None:
    plan = CASES["family"]()
    data = print_html("<p>dated</p>")
    dates = re.findall(rb"/(?:CreationDate|ModDate) \((D:[^)]*)\)", data)
    assert dates and all(d.startswith(b"D:20260302000000") for d in dates)
    from generator.render import pdf

    stamped = pdf.render(plan, chromium_settings())
    expected = plan.generated.strftime("D:%Y%m%d000000").encode()
    assert all(d.startswith(expected) for d in re.findall(rb"/CreationDate \((D:[^)]*)\)", stamped))
    import io

    from pypdf import PdfReader

    assert len(PdfReader(io.BytesIO(stamped)).pages) > 3  # cross-reference offsets still right


@pytest.fixture
def web_server() -> Iterator[tuple[int, list[str]]]:
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b"p { display: none }")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], hits
    finally:
        server.shutdown()
        server.server_close()


def test_chromium_fetches_nothing_and_runs_no_script(web_server: tuple[int, list[str]], tmp_path: Path) -> None:
    port, hits = web_server
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET", encoding="utf-8")
    html = (f'<html><head><link rel="stylesheet" href="http://127.0.0.1:{port}/evil.css"></head><body>'
            f'<p>visible text</p><img src="http://127.0.0.1:{port}/pixel.png">'
            f'<iframe src="file://{secret}"></iframe><iframe src="http://127.0.0.1:{port}/frame"></iframe>'
            '<script>document.write("SCRIPT RAN")</script></body></html>')
    text = pdf_text(print_html(html))
    assert hits == []
    assert "visible text" in text  # the remote stylesheet that hides it was not applied
    assert "SCRIPT RAN" not in text and "TOP SECRET" not in text


def test_the_browser_keeps_its_sandbox_unless_run_as_root() -> None:
    """Chromium will not start its sandbox as root, so only there is --no-sandbox given; what
    bounds it then (above: no request, no script, no file) is in the README's "Untrusted workbooks"."""
    user = chromium.browser_args("/usr/bin/chromium", "/tmp/profile", euid=1000)
    root = chromium.browser_args("/usr/bin/chromium", "/tmp/profile", euid=0)
    assert "--no-sandbox" not in user and root == [*user, "--no-sandbox"]
    assert "--host-resolver-rules=MAP * ~NOTFOUND" in user and "--user-data-dir=/tmp/profile" in user


@pytest.mark.parametrize("engine", ["chromium", pytest.param("weasyprint", marks=pytest.mark.skipif(
    not has_weasyprint(), reason="the pdf extra (WeasyPrint) is not installed"))])
def test_running_heads_are_inert_text_in_both_engines(engine: str) -> None:
    from generator.render import pdf

    plan = CASES["hostile"]()
    text = pdf_text(pdf.render(plan, replace(chromium_settings(), pdf_engine=engine)))
    page_two = text.split("Page 1 of")[1]
    assert f"{HOSTILE} ·" in page_two, engine  # the running head, literally


def test_css_string_escapes_what_could_end_the_string_or_the_style_element() -> None:
    assert render.css_string('Ann\'s "Clinic" \\ </style>\n') == (
        '"Ann\'s \\22 Clinic\\22  \\5c  \\3c /style\\3e \\a "')


def test_a_browser_that_died_is_replaced() -> None:
    print_html("<p>first</p>")
    browser = chromium._browser
    assert browser is not None
    browser._process.kill()
    browser._process.wait()
    assert "second" in pdf_text(print_html("<p>second</p>"))
    assert chromium._browser is not browser


def test_a_browser_that_stops_answering_fails_that_pdf_only(monkeypatch: pytest.MonkeyPatch) -> None:
    print_html("<p>warm</p>")
    browser = chromium._browser
    assert browser is not None
    os.kill(browser._process.pid, 19)  # SIGSTOP: alive but silent
    monkeypatch.setattr(chromium, "PRINT_TIMEOUT", 1.0)
    with pytest.raises(chromium.BrowserError, match="did not answer in time \\(the limit is 1 s a step"):
        print_html("<p>stuck</p>")
    assert chromium._browser is None and browser._process.poll() is not None
    assert "after" in pdf_text(print_html("<p>after</p>"))


def browsers_of(profile_prefix: str = "clinic-budget-chromium-") -> list[str]:
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    return [line for line in ps.splitlines() if profile_prefix in line and "ps -eo" not in line]


def test_a_batch_prints_with_chromium_and_leaves_no_browser_behind(tmp_path: Path) -> None:
    from tests.builders import clinic_workbook

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for name in ("alpha", "beta", "gamma"):
        clinic_workbook(inputs / f"{name}.xlsx")
    out = tmp_path / "out"
    # The batch's own temporary folder, where its browsers keep their profiles: other tests (other
    # pytest-xdist workers, other users of the machine) print with Chromium at the same time.
    with tempfile.TemporaryDirectory(prefix="cb-") as folder:
        temp = Path(folder)
        run = subprocess.run([*cli(), "batch", str(inputs), "--out", str(out), "--formats", "pdf", "--workers", "2",
                              "--pdf-engine", "chromium"], capture_output=True, text=True, check=False,
                             env={**os.environ, "TMPDIR": str(temp)})
        assert run.returncode == 0, run.stderr
        for name in ("alpha", "beta", "gamma"):
            assert (out / name / "budget.pdf").read_bytes().startswith(b"%PDF")
        assert browsers_of(f"{temp}/clinic-budget-chromium-") == []
        assert list(temp.glob("clinic-budget-chromium-*")) == []

    # The engine is part of what decides the bytes: switching it regenerates the PDFs.
    if not has_weasyprint():
        pytest.skip("the pdf extra (WeasyPrint) is not installed: the switch of engines is not tried")
    again = subprocess.run([*cli(), "batch", str(inputs), "--out", str(out), "--formats", "pdf", "--workers", "2",
                            "--pdf-engine", "weasyprint"], capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stderr
    # the summary, then "portfolio: <path>"
    assert again.stdout.strip().splitlines()[-2].startswith("3 workbooks: 3 generated, 0 unchanged")


def test_a_deep_temporary_folder_still_prints(tmp_path: Path) -> None:
    """Chromium makes its singleton socket under TMPDIR and aborts when that path passes 107
    bytes ("Chromium exited unexpectedly" for every PDF under a CI runner's deep TMPDIR): the
    browser is given a short one."""
    from tests.builders import clinic_workbook

    deep = tmp_path / ("d" * 90)
    deep.mkdir()
    assert len(os.fsencode(deep)) + len(chromium.SINGLETON_SOCKET) > chromium.SOCKET_PATH_MAX
    workbook = clinic_workbook(tmp_path / "deep.xlsx")
    run = subprocess.run([*cli(), "run", str(workbook), "--out", str(tmp_path / "out"), "--formats", "pdf",
                          "--pdf-engine", "chromium"], capture_output=True, text=True, check=False,
                         env={**os.environ, "TMPDIR": str(deep)})
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "out" / "deep" / "budget.pdf").read_bytes().startswith(b"%PDF")
    assert list(deep.iterdir()) == []  # the profile was made there, and removed


def test_the_browsers_tmpdir_is_short_enough_for_its_socket(monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / ("d" * 90)))
    assert chromium.browser_tmpdir() in ("/tmp", "/var/tmp", "/dev/shm")
    monkeypatch.setattr(tempfile, "tempdir", "/tmp")
    assert chromium.browser_tmpdir() == "/tmp"


def test_bookmarks_follow_the_headings_and_no_table_title_ends_a_page() -> None:
    """The PDF's outline lists the report's headings (Chromium builds it from the tagged PDF), and
    the line that introduces a table ("Year 1: core system") is printed on the page its table
    starts on."""
    import io

    from pypdf import PdfReader

    from generator.render import pdf

    plan = CASES["scenarios"]()
    reader = PdfReader(io.BytesIO(pdf.render(plan, chromium_settings())))

    def titles(items: list) -> Iterator[str]:  # type: ignore[type-arg]
        for item in items:
            yield from titles(item) if isinstance(item, list) else [" ".join(item.title.split())]

    outline = list(titles(reader.outline))
    assert outline[0].startswith(plan.intake.base.clinic.name)
    for heading in ("Scenarios side by side", "Executive summary", "Phased build plan", "Assumptions and sources"):
        assert heading in outline
    pages = [page.extract_text() or "" for page in reader.pages]
    for page in pages:
        lines = [line.strip() for line in page.splitlines() if line.strip()]
        if "Year 1: core system" in lines:
            after = lines[lines.index("Year 1: core system") + 1:]
            assert any(line.startswith("Component") for line in after), lines[-6:]
