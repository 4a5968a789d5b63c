"""`clinic-budget batch`: the installed command over real folders, in real processes.

Only JSON (and a little Markdown) is requested: the other formats are tested with their writers.
"""

from __future__ import annotations

import csv
import inspect
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import textwrap
import tracemalloc
from pathlib import Path

import pytest

from generator.run.batch import Ledger
from generator.run.manifest import Headline, Manifest, Record
from tests.batch_helpers import (
    MANIFEST,
    bad_workbooks,
    check_outputs,
    clinic_rows,
    good_workbook,
    ignored_files,
    manifest_records,
    summary,
    wait_for,
)
from tests.builders import clinic_workbook
from tests.helpers import cli, run_cli

GOOD = 47


@pytest.fixture(scope="module")
def drop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """47 good workbooks, 3 bad ones and a handful of files to ignore, built once."""
    folder = tmp_path_factory.mktemp("inputs")
    for n in range(GOOD):
        good_workbook(folder / f"clinic-{n:02d}.xlsx", n)
    bad = bad_workbooks(folder)
    ignored_files(folder)
    return folder, bad


def copy_drop(drop: tuple[Path, dict[str, str]], tmp_path: Path) -> Path:
    folder = tmp_path / "inputs"
    shutil.copytree(drop[0], folder)
    return folder


@pytest.mark.slow
def test_fifty_workbooks_some_bad(drop: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    inputs, bad = copy_drop(drop, tmp_path), drop[1]
    before = {p.name: p.read_bytes() for p in inputs.iterdir() if p.is_file()}
    r = run_cli("batch", "inputs", "--out", "output", "--formats", "json", "--workers", "2", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert summary(r.stdout) == (50, GOOD, 0, 3)
    out = tmp_path / "output"
    assert sorted(check_outputs(out)) == [f"clinic-{n:02d}" for n in range(GOOD)]
    for n in (0, 46):
        assert f"ok   inputs/clinic-{n:02d}.xlsx -> output/clinic-{n:02d}" in r.stdout.splitlines()
    for name, fragment in bad.items():
        line = next(x for x in r.stderr.splitlines() if x.startswith(f"FAIL inputs/{name}: "))
        assert fragment in line
        slug = name.removesuffix(".xlsx")
        assert fragment in (out / "_errors" / f"{slug}.txt").read_text(encoding="utf-8")
        assert (out / "_errors" / f"{slug}.html").is_file()
        assert not (out / slug).exists()
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "&lt;b&gt;three&lt;/b&gt;" in page and "<b>three" not in page
    assert "Clinic 3 &lt;&amp;&gt; Care" in page and 'href="_errors/bad-cell.html"' in page
    assert 'href="clinic-05/budget.json"' in page
    rows = list(csv.DictReader((out / "index.csv").read_text(encoding="utf-8").splitlines()))
    assert len(rows) == 51 and {r["status"] for r in rows} == {"generated", "failed", "ignored"}  # + notes.txt
    assert {p.name: p.read_bytes() for p in inputs.iterdir() if p.is_file()} == before  # inputs untouched


@pytest.mark.slow
def test_rerun_is_unchanged_and_a_change_regenerates(drop: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    inputs = copy_drop(drop, tmp_path)
    run_cli("batch", "inputs", "--formats", "json", cwd=tmp_path)
    r = run_cli("batch", "inputs", "--formats", "json", cwd=tmp_path)
    assert r.returncode == 1 and summary(r.stdout) == (50, 0, GOOD, 3)
    assert "skip inputs/clinic-07.xlsx (unchanged)" in r.stdout.splitlines()
    json_7 = tmp_path / "output" / "clinic-07" / "budget.json"
    stamp = json_7.stat().st_mtime_ns
    clinic_workbook(inputs / "clinic-07.xlsx", clinic_rows("Clinic 7 renamed", 9))
    (tmp_path / "output" / "clinic-08" / "budget.json").unlink()  # a missing output is regenerated
    clinic_workbook(inputs / "bad-cell.xlsx", clinic_rows("Bad Cell Clinic, fixed", 3))  # fixed
    os.utime(inputs / "clinic-09.xlsx")  # a new timestamp alone is not a change
    r = run_cli("batch", "inputs", "--formats", "json", cwd=tmp_path)
    assert r.returncode == 1 and summary(r.stdout) == (50, 3, GOOD - 2, 2), r.stdout
    assert json.loads(json_7.read_text())["clinic"]["name"] == "Clinic 7 renamed" and json_7.stat().st_mtime_ns != stamp
    assert not (tmp_path / "output" / "_errors" / "bad-cell.txt").exists()
    check_outputs(tmp_path / "output")


@pytest.mark.slow
def test_settings_are_part_of_up_to_date(tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    good_workbook(inputs / "one.xlsx", 1)
    (tmp_path / "mine").mkdir()

    def batch(*args: str) -> tuple[int, int, int, int]:
        r = run_cli("batch", "--templates", "mine", *args, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        return summary(r.stdout)

    assert batch("--formats", "json,md") == (1, 1, 0, 0)
    assert batch("--formats", "json,md") == (1, 0, 1, 0)
    (tmp_path / "mine" / "extra.md.j2").write_text("x")
    assert batch("--formats", "json,md") == (1, 1, 0, 0)  # an override template appeared
    (tmp_path / "mine" / "extra.md.j2").write_text("y")
    assert batch("--formats", "json,md") == (1, 1, 0, 0)  # it changed
    assert batch("--formats", "json") == (1, 1, 0, 0)  # other formats
    (tmp_path / "mine" / "extra.md.j2").write_text("z")
    assert batch("--formats", "json") == (1, 0, 1, 0)  # JSON is not made from templates
    assert batch("--formats", "json", "--firm", "Acme") == (1, 1, 0, 0)  # branding
    assert batch("--formats", "json", "--firm", "Acme", "--force") == (1, 1, 0, 0)
    assert batch("--formats", "json", "--firm", "Acme") == (1, 0, 1, 0)


@pytest.mark.slow
def test_a_workbook_that_now_fails_keeps_its_documents(tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    good_workbook(inputs / "one.xlsx", 1)
    good_workbook(inputs / "two.xlsx", 2)
    run_cli("batch", "--formats", "json", cwd=tmp_path)
    kept = (tmp_path / "output" / "one" / "budget.json").read_bytes()
    (inputs / "one.xlsx").write_bytes(b"PK\x03\x04 truncated")
    r = run_cli("batch", "--formats", "json", cwd=tmp_path)
    assert r.returncode == 1 and summary(r.stdout) == (2, 0, 1, 1)
    assert (tmp_path / "output" / "one" / "budget.json").read_bytes() == kept
    report = (tmp_path / "output" / "_errors" / "one.txt").read_text(encoding="utf-8")
    assert "left as they were" in report
    page = (tmp_path / "output" / "index.html").read_text(encoding="utf-8")
    assert 'href="one/budget.json"' in page and 'href="_errors/one.html"' in page


@pytest.mark.slow
def test_exit_codes_and_quiet(tmp_path: Path) -> None:
    r = run_cli("batch", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.strip() == "error: inputs: no such folder"
    (tmp_path / "inputs").mkdir()
    r = run_cli("batch", cwd=tmp_path)
    assert r.returncode == 0
    assert re.fullmatch(r"0 workbooks: 0 generated, 0 unchanged, 0 failed in \d+\.\d s\n"
                        r"portfolio: output/index.html\n", r.stdout), r.stdout
    good_workbook(tmp_path / "inputs" / "one.xlsx", 1)
    r = run_cli("batch", "--formats", "json", "--quiet", cwd=tmp_path)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    (tmp_path / "inputs" / "two.xlsx").write_bytes(b"")
    r = run_cli("batch", "--formats", "json", "--quiet", cwd=tmp_path)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.splitlines()[0].startswith("FAIL inputs/two.xlsx: ")
    assert summary(r.stderr) == (2, 0, 1, 1)
    (tmp_path / "inputs" / "one.xlsx").write_bytes(b"")
    r = run_cli("batch", "--formats", "json", cwd=tmp_path)
    assert r.returncode == 2 and summary(r.stdout) == (2, 0, 0, 2)
    r = run_cli("batch", "--formats", "json", "--workers", "0", cwd=tmp_path)
    assert r.returncode == 2 and "--workers" in r.stderr


CRASH = """
import os
import re
import generator.run.generate as pipeline

_generate = pipeline.generate

def generate(path, settings, *args, **kwargs):
    if "crash" in os.path.basename(path):
        os._exit(7)
    if "memory" in os.path.basename(path):
        raise MemoryError()
    return _generate(path, settings, *args, **kwargs)

pipeline.generate = generate
"""


@pytest.mark.slow
def test_a_crashing_worker_fails_only_its_workbook(tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for n in range(8):
        good_workbook(inputs / f"c{n}.xlsx", n)
    good_workbook(inputs / "c3-crash.xlsx", 3)
    good_workbook(inputs / "c5-memory.xlsx", 5)
    (tmp_path / "hook").mkdir()
    (tmp_path / "hook" / "sitecustomize.py").write_text(textwrap.dedent(CRASH))
    env = {"PYTHONPATH": str(tmp_path / "hook")}
    r = run_cli("batch", "--formats", "json", "--workers", "2", cwd=tmp_path, env=env)
    assert r.returncode == 1, r.stderr
    assert summary(r.stdout) == (10, 8, 0, 2)
    assert "FAIL inputs/c3-crash.xlsx: c3-crash.xlsx: reading this workbook crashed the worker" in r.stderr
    assert "FAIL inputs/c5-memory.xlsx: c5-memory.xlsx: internal error (MemoryError" in r.stderr
    assert len(check_outputs(tmp_path / "output")) == 8


@pytest.mark.slow
def test_two_batches_on_one_output_folder(drop: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    copy_drop(drop, tmp_path)
    args = [*cli(), "batch", "inputs", "--formats", "json", "--workers", "2"]
    procs = [subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [1, 1]
    counts = sorted(summary(stdout) for stdout, _ in results)
    assert counts == [(50, 0, GOOD, 3), (50, GOOD, 0, 3)]  # the second waited, then found it all done
    assert any("waiting for another clinic-budget run" in stderr for _, stderr in results)
    assert len(check_outputs(tmp_path / "output")) == GOOD
    assert len(manifest_records(tmp_path / "output")) == 50


def descendants(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
def test_killed_batch_then_restarted(drop: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    copy_drop(drop, tmp_path)
    out = tmp_path / "output"
    args = [*cli(), "batch", "inputs", "--formats", "json,xlsx", "--workers", "2"]
    proc = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: out.is_dir() and sum(1 for p in out.glob("clinic-*/budget.json")) >= 5,
             what="the first outputs")
    family = descendants(proc.pid)
    assert family, "the batch runs its workbooks in worker processes"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    wait_for(lambda: not any(alive(pid) for pid in family), timeout=10, what="the orphaned workers to exit")
    r = run_cli("batch", "inputs", "--formats", "json,xlsx", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    total, generated, unchanged, failed = summary(r.stdout)
    assert (total, failed, generated + unchanged) == (50, 3, GOOD)
    assert sorted(check_outputs(out, ("budget.json", "budget.xlsx"))) == [f"clinic-{n:02d}" for n in range(GOOD)]
    visible = {p.name for p in out.iterdir() if not p.name.startswith(".")}
    assert visible == {*(f"clinic-{n:02d}" for n in range(GOOD)), "_errors", "index.html", "index.csv"}
    r = run_cli("batch", "inputs", "--formats", "json,xlsx", cwd=tmp_path)
    assert summary(r.stdout) == (50, 0, GOOD, 3)


@pytest.mark.slow
def test_sigterm_stops_a_batch_like_ctrl_c(drop: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    """cron's timeout, `systemctl stop` and `kill` send SIGTERM: the batch must unwind as on Ctrl-C
    (workers, readers and browsers ended, the lock released, no multiprocessing warnings), not
    die where it stands (which left leaked semaphores and browser profiles behind)."""
    copy_drop(drop, tmp_path)
    out = tmp_path / "output"
    args = [*cli(), "batch", "inputs", "--formats", "json,xlsx", "--workers", "2"]
    proc = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: out.is_dir() and sum(1 for p in out.glob("clinic-*/budget.json")) >= 5,
             what="the first outputs")
    family = descendants(proc.pid)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143 and stderr.splitlines()[-1] == "terminated", stderr
    assert all(line.startswith(("FAIL inputs/", "not read inputs/")) for line in stderr.splitlines()[:-1]), \
        stderr  # no warnings (a file that is not a workbook is listed as not read, issue 14)
    # the fork server and the resource tracker leave once they see the batch gone
    wait_for(lambda: not any(alive(pid) for pid in family), timeout=10, what="the batch's processes to exit")
    r = run_cli("batch", "inputs", "--formats", "json,xlsx", cwd=tmp_path, timeout=120)  # the lock is free
    assert r.returncode == 1 and summary(r.stdout)[0] == 50


@pytest.mark.slow
def test_two_workbooks_with_one_slug(tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    good_workbook(inputs / "North Clinic.xlsx", 1)
    good_workbook(inputs / "north-clinic.xlsm", 2)
    r = run_cli("batch", "--formats", "json", cwd=tmp_path)
    assert r.returncode == 1 and summary(r.stdout) == (2, 1, 0, 1)
    assert ("FAIL inputs/north-clinic.xlsm: north-clinic.xlsm: its documents would go to the same folder "
            "(north-clinic/) as North Clinic.xlsx's; rename one of the two workbooks") in r.stderr
    rows = list(csv.DictReader((tmp_path / "output" / "index.csv").read_text(encoding="utf-8").splitlines()))
    assert [(row["workbook"], row["status"]) for row in rows] == [
        ("North Clinic.xlsx", "generated"), ("north-clinic.xlsm", "failed")]


@pytest.mark.slow
def test_a_template_error_is_reported_as_a_template_problem(tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    good_workbook(inputs / "one.xlsx", 1)
    (tmp_path / "tpl" / "sections").mkdir(parents=True)
    (tmp_path / "tpl" / "sections" / "questions.md.j2").write_text("\n{{ clinc.name }}\n", encoding="utf-8")
    r = run_cli("batch", "--formats", "md", "--templates", "tpl", cwd=tmp_path)
    assert r.returncode == 2 and summary(r.stdout) == (1, 0, 0, 1)
    assert "one.xlsx: sections/questions.md.j2:2: 'clinc' is undefined" in r.stderr
    text = (tmp_path / "output" / "_errors" / "one.txt").read_text(encoding="utf-8")
    assert "1. one.xlsx: sections/questions.md.j2:2: 'clinc' is undefined" in text
    assert "This is a problem with the templates, not with the workbook: correct " \
           "`sections/questions.md.j2` in the --templates folder" in text
    assert "Open the workbook in Excel" not in text and "correct each cell" not in text
    page = (tmp_path / "output" / "_errors" / "one.html").read_text(encoding="utf-8")
    assert "<code>sections/questions.md.j2</code>" in page and "`" not in page
    assert "Open the workbook in Excel" not in page


def page_overflow(page: Path, width: int = 1200) -> tuple[int, int] | None:
    """(scrollWidth, clientWidth) of `page` in headless Chromium at `width` px; None without it."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        return None
    probe = page.with_name("probe.html")
    probe.write_text(page.read_text(encoding="utf-8").replace(
        "</body>", "<script>document.body.setAttribute('data-sw', document.documentElement.scrollWidth + '/' "
                   "+ document.documentElement.clientWidth)</script></body>"), encoding="utf-8")
    r = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--no-first-run", "--disable-sync",
                        f"--user-data-dir={page.parent / '.chromium'}", f"--window-size={width},800", "--dump-dom",
                        probe.as_uri()], capture_output=True, text=True, timeout=120, check=False)
    found = re.search(r'data-sw="(\d+)/(\d+)"', r.stdout)
    assert found, r.stderr[-2000:]
    return int(found.group(1)), int(found.group(2))


@pytest.mark.slow
def test_portfolio_marks_stale_figures_fits_the_window_and_has_document_permissions(tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for n in range(3):
        good_workbook(inputs / f"a-rather-long-workbook-name-for-clinic-{n}.xlsx", n)
    assert run_cli("batch", "--formats", "md,json", cwd=tmp_path).returncode == 0
    clinic_workbook(inputs / "a-rather-long-workbook-name-for-clinic-1.xlsx",
                    clinic_rows("Clinic 1", "three, or perhaps four physicians once the new partner starts"))
    assert run_cli("batch", "--formats", "md,json", cwd=tmp_path).returncode == 1
    out = tmp_path / "output"
    page = (out / "index.html").read_text(encoding="utf-8")
    failed_row = page[page.index('<tbody class="failed">'):]
    failed_row = failed_row[:failed_row.index("</tbody>")]
    assert "(from the last good run)" in failed_row and 'class="num stale"' in failed_row
    assert page.count("(from the last good run)") == 1
    document_mode = (out / "a-rather-long-workbook-name-for-clinic-0" / "budget.json").stat().st_mode & 0o777
    for written in ("index.html", "index.csv", MANIFEST, "_errors/a-rather-long-workbook-name-for-clinic-1.html",
                    "_errors/a-rather-long-workbook-name-for-clinic-1.txt"):
        assert (out / written).stat().st_mode & 0o777 == document_mode, written
    widths = page_overflow(out / "index.html")
    if widths is not None:
        assert widths[0] <= widths[1], f"index.html scrolls sideways at 1200 px: {widths}"


# ------------------------------------------------------------------ the manifest, in-process


@pytest.mark.slow
def test_a_damaged_manifest_is_started_afresh(tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for n in range(3):
        good_workbook(inputs / f"c{n}.xlsx", n)
    out = tmp_path / "output"
    out.mkdir()
    (out / MANIFEST).write_bytes(b"not a database, " * 512)
    (out / (MANIFEST + "-journal")).write_bytes(b"nor is this a journal")
    r = run_cli("batch", "--formats", "json", cwd=tmp_path)
    assert r.returncode == 0 and summary(r.stdout) == (3, 3, 0, 0), r.stderr
    assert sorted(manifest_records(out)) == ["c0", "c1", "c2"]
    assert not (out / (MANIFEST + "-journal")).exists()
    r = run_cli("batch", "--formats", "json", cwd=tmp_path)
    assert summary(r.stdout) == (3, 0, 3, 0)
    with sqlite3.connect(out / MANIFEST) as db:  # a database of an older schema is rebuilt too
        db.execute("PRAGMA user_version = 1")
    damaged = Manifest.load(out)
    assert damaged.damaged and len(damaged) == 0
    damaged.close()


def stored(slug: str, size: int = 0) -> Record:
    headline = Headline(f"Clinic {slug}", 3, 1, 2, 3, "small", 4, "cloud", None)
    return Record(slug, f"inputs/{slug}.xlsx", "ab" * 32, "cd" * 32, ("budget.json",), "now", headline,
                  "generated", ("x" * size,) if size else (), "now")


@pytest.mark.slow  # 700 commits
def test_sources_are_listed_in_name_order_a_page_at_a_time(tmp_path: Path) -> None:
    names = [f"w{n:04d}.xlsx" for n in range(700)] + ["Zeta.xlsx", "zeta.xlsm", "élan.xlsx", "b\udcff.xlsx"]
    manifest = Manifest.load(tmp_path)
    try:
        slugs = ((name, name.lower().split(".")[0].encode("ascii", "replace").decode()) for name in reversed(names))
        assert manifest.add_sources(slugs) == len(names)
        listed = []
        for name, slug in manifest.sources():  # records written between two pages do not disturb it
            listed.append(name)
            manifest.put(stored(slug))
            manifest.save()
        assert listed == sorted(names)
        assert manifest.clashes() == {"zeta.xlsm": "Zeta.xlsx"}
    finally:
        manifest.close()


@pytest.mark.slow  # 3,000 records, about 6 MB
def test_portfolio_rows_are_streamed_from_the_manifest(tmp_path: Path) -> None:
    count = 3000
    manifest = Manifest.load(tmp_path)
    try:
        manifest.add_sources((f"clinic-{n:04d}.xlsx", f"clinic-{n:04d}") for n in range(count))
        for n in range(count):
            manifest.put(stored(f"clinic-{n:04d}", size=2000))  # about 6 MB of records
        manifest.save()
        ledger = Ledger(tmp_path, manifest)
        rows = ledger.rows()
        assert inspect.isgenerator(rows)
        tracemalloc.start()
        try:
            seen = sum(1 for row in rows if row.status == "generated")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert seen == count
        assert peak < 512 * 1024, f"{peak} bytes held while listing {count} rows"
    finally:
        manifest.close()


def _sqlite_memory_used() -> int | None:
    """Bytes SQLite holds in this process (the library the sqlite3 module uses), or None."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("sqlite3")
    if name is None:
        return None
    used = ctypes.CDLL(name).sqlite3_memory_used
    used.restype = ctypes.c_int64
    return int(used())


def test_listing_many_workbooks_keeps_sqlite_memory_flat(tmp_path: Path) -> None:
    """The temporary list lives in a file with a 32 KiB page cache: 20,000 names must not sit in
    memory (they did when temp_store was set after the cache size: 1.8 MiB)."""
    from generator.run.manifest import Manifest

    if _sqlite_memory_used() is None:
        pytest.skip("libsqlite3 not found by ctypes")
    manifest = Manifest.load(tmp_path)
    try:
        manifest.add_sources((f"clinic-{i:05d}.xlsx", f"clinic-{i:05d}") for i in range(20))
        small = _sqlite_memory_used()
        assert manifest.add_sources((f"clinic-{i:05d}.xlsx", f"clinic-{i:05d}") for i in range(20_000)) == 20_000
        assert sum(1 for _ in manifest.listing()) == 20_000
        assert manifest.clashes() == {}
        large = _sqlite_memory_used()
    finally:
        manifest.close()
    assert small is not None and large is not None
    assert large - small < 200 * 1024


@pytest.mark.slow  # forks batch workers
@pytest.mark.parametrize("workers", [1, 2])
def test_the_batch_process_interns_no_workbook_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     workers: int) -> None:
    """pathlib interns every component of a path; a `Path` per workbook in the batch process sent
    each name and slug through CPython's interned-string table, whose resizes (~1 MiB each, kept
    by the allocator) made memory grow with the batch (51.1 MiB at 20,000 workbooks, 48.6 at 20).
    The batch process must keep per-workbook paths as strings: generated, unchanged, failed and
    clashing workbooks, the error reports and the portfolio; with one worker it also generates
    the documents itself (the served read, the output folder, the staging folder)."""
    import sys

    from generator.run.batch import run_batch
    from generator.settings import Settings

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for n in range(4):
        good_workbook(inputs / f"Zebra Clinic {n}.xlsx", n)
    good_workbook(inputs / "zebra-clinic-0.xlsm", 5)  # the same slug as "Zebra Clinic 0.xlsx"
    clinic_workbook(inputs / "Zebra Bad.xlsx", clinic_rows("Zebra Bad", "three"))
    settings = Settings(out=tmp_path / "out", formats=("json",))
    interned: list[str] = []
    real = sys.intern

    def spy(text: str) -> str:
        if "zebra" in text.lower():
            interned.append(text)
        return real(text)

    def batch() -> list[object]:
        with monkeypatch.context() as patch:
            patch.setattr(sys, "intern", spy)
            return [e for e in run_batch(inputs, settings, workers=workers) if hasattr(e, "status")]

    assert len(batch()) == 6
    good_workbook(inputs / "Zebra Clinic 3.xlsx", 9)  # changed: generated again
    clinic_workbook(inputs / "Zebra Clinic 2.xlsx", clinic_rows("Zebra", "two"))  # now failing
    statuses = sorted(e.status for e in batch())  # type: ignore[attr-defined]
    assert statuses == ["failed", "failed", "failed", "generated", "unchanged", "unchanged"], statuses
    assert (settings.out / "_errors" / "zebra-clinic-2.html").is_file()
    assert "Zebra Clinic 2.xlsx" in (settings.out / "index.html").read_text(encoding="utf-8")
    assert interned == []


def test_text_is_written_atomically_to_a_string_path_and_a_missing_folder_is_made(tmp_path: Path) -> None:
    from generator.errors import OutputError
    from generator.run.outputs import write_text_atomically

    target = tmp_path / "made" / "index.csv"
    write_text_atomically(str(target), iter(["a,", "b\n"]))
    assert target.read_text(encoding="utf-8") == "a,b\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["index.csv"]  # no temporary left
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(OutputError) as info:
        write_text_atomically(str(tmp_path / "file" / "sub" / "index.csv"), "a")
    assert info.value.lines() == [f"{tmp_path}/file/sub/index.csv: cannot write: part of {tmp_path}/file/sub "
                                  "is a file, not a folder"]


@pytest.mark.slow
def test_a_file_where_the_error_reports_go_is_reported_without_a_traceback(tmp_path: Path) -> None:
    inputs, out = tmp_path / "inputs", tmp_path / "output"
    inputs.mkdir()
    out.mkdir()
    (inputs / "broken.xlsx").write_bytes(b"x")
    (out / "_errors").write_text("not a folder", encoding="utf-8")
    r = run_cli("batch", "--formats", "json", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.splitlines()[-1] == ("error: output/_errors/broken.txt: cannot write: output/_errors "
                                         "is a file, not a folder")
    assert "Traceback" not in r.stderr


@pytest.mark.slow
def test_paths_are_printed_as_given_with_the_current_folder_as_input(tmp_path: Path) -> None:
    """Per-workbook paths are strings joined without pathlib (see generator.run.batch); the input
    folder `.` must still give `one.xlsx`, not `./one.xlsx`, as `Path('.') / name` did."""
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    good_workbook(inputs / "one.xlsx", 1)
    (inputs / "two.xlsx").write_bytes(b"")
    r = run_cli("batch", ".", "--out", "../out", "--formats", "json", cwd=inputs)
    assert r.returncode == 1
    assert r.stdout.splitlines()[0] == "ok   one.xlsx -> ../out/one"
    assert r.stderr.splitlines()[0].startswith("FAIL two.xlsx: two.xlsx: ")
    report = (tmp_path / "out" / "_errors" / "two.txt").read_text(encoding="utf-8")
    assert report.startswith("clinic-budget could not make a budget from two.xlsx\n")
    record = Manifest.load(tmp_path / "out")
    try:
        assert record.get("one").source == "one.xlsx"  # type: ignore[union-attr]
    finally:
        record.close()
