"""Hostile and broken inputs (issue 7): each file in the corpus (`tests/hostile_corpus.py`) gets
its exit status and message from the installed `validate` and `run` commands, no traceback,
under 600 MB, without touching another workbook's outputs; and the sandbox that reads untrusted
workbooks in a bounded child process. How long each case takes is measured by
`bench/bench_hostile.py`, not asserted here (a loaded machine is no failure); the process
timeout is only a guard against a hang."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from generator.errors import IntakeError
from generator.intake import sandbox, served
from generator.intake.reader import read_intake, slugify
from generator.model import Intake
from tests import hostile_corpus
from tests.builders import BASE_CLINIC, clinic_workbook
from tests.helpers import cli

MEMORY_MB = 600
HANG_GUARD = 120.0  # seconds: far beyond any case's time, only so that a hang fails instead of waiting
ENV = {"CLINIC_BUDGET_SANDBOX": "1", "PYTHONIOENCODING": "utf-8"}


@dataclass(frozen=True)
class Measured:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float  # the command's peak resident memory, its sandbox child included


# Measures the command from a small launcher: a child forked straight from pytest would count
# pytest's own memory in its peak, until it execs.
LAUNCHER = """import os, subprocess, sys
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
with open(sys.argv[1], "w") as fh:
    fh.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_measured(*args: object, timeout: float = HANG_GUARD) -> Measured:
    """Run the installed command; os.wait4 gives the peak RSS of it and every child it waited for
    (the sandbox's child included), in kilobytes on Linux."""
    with tempfile.TemporaryDirectory() as folder:
        peak = Path(folder) / "peak"
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-c", LAUNCHER, peak, *cli(), *map(str, args)],
                                capture_output=True, env={**os.environ, **ENV}, timeout=timeout)
        seconds = time.monotonic() - started
        return Measured(result.returncode, result.stdout.decode("utf-8"), result.stderr.decode("utf-8"),
                        seconds, int(peak.read_text()) / 1024)


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[hostile_corpus.Case]:
    return hostile_corpus.build_corpus(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="module")
def good_outputs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """An output folder holding another workbook's earlier, good documents."""
    root = tmp_path_factory.mktemp("outputs")
    good = clinic_workbook(root / "ridgeview.xlsx")
    result = run_measured("run", good, "--out", root / "out", "--formats", "json,md")
    assert result.returncode == 0, result.stderr
    yield root / "out", tree_digest(root / "out" / "ridgeview")


def _check(case: hostile_corpus.Case, command: str, result: Measured) -> list[str]:
    """What is wrong with the command's answer for this case (nothing, when all is well)."""
    wrong = []
    if result.returncode != case.expect_exit:
        wrong.append(f"exit {result.returncode}, expected {case.expect_exit}")
    if "Traceback" in result.stderr:
        wrong.append("a traceback")
    if case.expect_exit == 0:
        expected = case.expect_message_substring if command == "validate" else " -> "
        if expected not in result.stdout:
            wrong.append(f"stdout {result.stdout!r} lacks {expected!r}")
    else:
        stderr = "".join(line for line in result.stderr.splitlines(keepends=True)
                         if not line.startswith("waiting for another clinic-budget run"))  # `run`s share --out
        if not stderr.startswith(f"error: {case.path.name}"):
            wrong.append(f"stderr does not start with 'error: {case.path.name}': {result.stderr[:200]!r}")
        if case.expect_message_substring not in result.stderr:
            wrong.append(f"stderr {result.stderr[:300]!r} lacks {case.expect_message_substring!r}")
    if result.peak_mb >= MEMORY_MB:
        wrong.append(f"peaked at {result.peak_mb:.0f} MB")
    return [f"{command} {case.name} ({case.path.name}): {w}" for w in wrong]


def _run_all(corpus: list[hostile_corpus.Case], command: str, *extra: object) -> list[str]:
    def one(case: hostile_corpus.Case) -> tuple[hostile_corpus.Case, Measured]:
        return case, run_measured(command, case.path, *extra)

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        results = list(pool.map(one, corpus))
    sys.stdout.write(f"\n{command}: seconds, peak MB, exit, case\n")
    problems = []
    for case, result in results:
        sys.stdout.write(f"  {result.seconds:5.2f}  {result.peak_mb:5.0f}  {result.returncode}  {case.name}\n")
        problems += _check(case, command, result)
    return problems


@pytest.mark.slow
def test_validate_answers_every_hostile_file(corpus: list[hostile_corpus.Case]) -> None:
    problems = _run_all(corpus, "validate")
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_run_answers_every_hostile_file_and_leaves_other_outputs_alone(
    corpus: list[hostile_corpus.Case], good_outputs: tuple[Path, dict[str, str]],
) -> None:
    out, before = good_outputs
    problems = _run_all(corpus, "run", "--out", out, "--formats", "json,md")
    assert not problems, "\n".join(problems)
    assert tree_digest(out / "ridgeview") == before
    accepted = {slugify(c.path.name) for c in corpus if c.expect_exit == 0}
    # besides the documents: the manifest, the lock and the error reports (`run` goes the way a batch does)
    assert {p.name for p in out.iterdir() if not p.name.startswith((".clinic-budget", "_errors"))} == {
        "ridgeview", *accepted}


# ---------------------------------------------------------------- the same refusals in process


def lines(path: Path) -> list[str]:
    with pytest.raises(IntakeError) as info:
        read_intake(path)
    return info.value.lines()


def test_billion_laughs_and_external_entities_are_refused_by_name(tmp_path: Path) -> None:
    cases = hostile_corpus.xml_attacks(tmp_path, clinic_workbook(tmp_path / "base.xlsx"))
    for case in cases:
        assert lines(case.path) == [
            f"{case.path.name}: the workbook's XML declares entities or a DTD (EntitiesForbidden), which Excel "
            "never writes; it may be damaged or hostile and is refused"]


@pytest.mark.slow  # writes workbooks of many megabytes
def test_zip_bomb_limits_name_the_part_and_the_limit(tmp_path: Path) -> None:
    by_name = {c.path.name: c for c in hostile_corpus.zip_bombs(tmp_path, clinic_workbook(tmp_path / "b.xlsx"))}
    assert lines(by_name["bomb-ratio.xlsx"].path) == [
        "bomb-ratio.xlsx: part 'xl/worksheets/sheet1.xml' unpacks to 1,023 times its packed size (a zip bomb; the "
        "limit is 100); the workbook may be damaged or hostile and is refused unread"]
    assert lines(by_name["bomb-declared.xlsx"].path) == [
        "bomb-declared.xlsx: part 'xl/worksheets/sheet1.xml' unpacks to 2,861 MB, too large for an intake "
        "workbook (the limit is 100 MB); it is refused unread"]
    assert lines(by_name["many-parts.xlsx"].path) == [
        "many-parts.xlsx: the workbook has 20,009 parts inside, too many for an intake workbook (the limit is "
        "10,000)"]


@pytest.mark.slow  # writes workbooks of many megabytes
def test_a_part_that_inflates_past_its_declared_size_is_damaged(tmp_path: Path) -> None:
    """zipfile stops at the declared size and the CRC then fails: declared sizes are not trusted."""
    case = next(c for c in hostile_corpus.zip_bombs(tmp_path, clinic_workbook(tmp_path / "b.xlsx"))
                if c.path.name == "bomb-lying.xlsx")
    with zipfile.ZipFile(case.path) as zf:
        assert zf.getinfo("xl/worksheets/sheet1.xml").file_size == 4000
    assert lines(case.path) == [
        "bomb-lying.xlsx: the workbook is damaged or incomplete (not a readable zip archive); save it again "
        "from Excel, or ask for a fresh copy"]


@pytest.mark.slow  # writes workbooks of many megabytes
def test_a_form_past_its_window_is_refused_and_a_table_within_it_is_read(tmp_path: Path) -> None:
    rows: list[list[object]] = [[f"Module {i}", "Yes", 100, 200] for i in range(1, 200)]
    path = clinic_workbook(tmp_path / "ridgeview.xlsx", [*BASE_CLINIC, *([[]] * 195), ["Notes", "x"]],
                           Modules=[["Module", "Include", "Low cost", "High cost"], *rows])
    assert lines(path) == [
        "ridgeview.xlsx › Clinic: the sheet has a value at A201, outside the area the intake reads (A1:J200, the "
        "first 200 rows and 10 columns); the Clinic form must fit in it, so move or delete the cells beyond"]
    path = clinic_workbook(tmp_path / "ridgeview.xlsx", Modules=[["Module", "Include", "Low cost", "High cost"],
                                                                  *rows, *([[]] * 1799),
                                                                  ["Module 1999", "Yes", 100, 200]])
    assert read_intake(path).base.modules[-1].name == "Module 1999"  # row 2,000: the last one read


def test_hidden_and_very_hidden_sheets_are_read(tmp_path: Path) -> None:
    intake = read_intake(hostile_corpus.hidden(tmp_path).path)
    assert intake.base.clinic.physicians == 3  # the Clinic sheet is hidden
    assert {m.name: m.include for m in intake.base.modules}["AI documentation"] is True  # Modules: veryHidden


# ---------------------------------------------------------------- the sandbox


def _sleep(path: Path) -> Intake:
    time.sleep(30)
    raise AssertionError("not reached")


def _hog(path: Path) -> Intake:
    chunks = []
    while True:
        chunks.append(bytearray(16 * 1024 * 1024))


def _bug(path: Path) -> Intake:
    raise KeyError("a bug in the reader")


def _die(path: Path) -> Intake:
    os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's OOM killer would
    raise AssertionError("not reached")


def test_the_sandbox_returns_what_the_reader_returns(tmp_path: Path) -> None:
    path = clinic_workbook(tmp_path / "ridgeview.xlsx", Assumptions=[["Key", "Value", "Source"],
                                                                       ["rate.us", 150, "quote"]])
    assert sandbox.read_intake_bounded(path) == read_intake(path)


def test_the_sandbox_re_raises_every_intake_problem(tmp_path: Path) -> None:
    path = clinic_workbook(tmp_path / "ridgeview.xlsx", [["Clinic name", "R"], ["Physicians", "three"]])
    with pytest.raises(IntakeError) as bounded:
        sandbox.read_intake_bounded(path)
    assert bounded.value.problems == tuple(lines(path)) or bounded.value.lines() == lines(path)
    assert len(bounded.value.problems) == 3


def test_a_read_that_runs_too_long_is_killed(tmp_path: Path) -> None:
    with pytest.raises(IntakeError) as info:  # _sleep's 30 s would end in another error: no clock needed
        sandbox.read_intake_bounded(tmp_path / "slow.xlsx", seconds=0.5, reader=_sleep)
    assert info.value.lines() == ["slow.xlsx: took more than 0.5 seconds to read; it may be damaged or hostile"]


def test_a_read_that_needs_too_much_memory_is_stopped(tmp_path: Path) -> None:
    with pytest.raises(IntakeError) as info:
        sandbox.read_intake_bounded(tmp_path / "big.xlsx", memory_mb=200, reader=_hog)
    assert info.value.lines() == ["big.xlsx: needed more than 200 MB to read; it may be damaged or hostile"]


def test_a_crashed_reader_is_an_intake_error_and_a_bug_stays_a_bug(tmp_path: Path) -> None:
    with pytest.raises(IntakeError) as info:
        sandbox.read_intake_bounded(tmp_path / "crash.xlsx", reader=_die)
    assert info.value.lines() == ["crash.xlsx: stopped the reader (SIGKILL), most likely at the 600 MB memory "
                                  "limit; it may be damaged or hostile"]
    with pytest.raises(KeyError, match="a bug in the reader"):
        sandbox.read_intake_bounded(tmp_path / "bug.xlsx", reader=_bug)


def test_the_sandbox_can_be_turned_off(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = clinic_workbook(tmp_path / "ridgeview.xlsx")
    monkeypatch.setenv(sandbox.ENV, "0")
    monkeypatch.setattr(os, "fork", lambda: pytest.fail("forked with the sandbox off"))
    assert sandbox.read_untrusted(path).base.clinic.physicians == 3


@pytest.fixture
def fresh_reader() -> Iterator[None]:
    """No reader process from an earlier test; none left behind by this one."""
    _end_reader()
    yield
    _end_reader()


def _end_reader() -> None:
    served.READER.end()


def test_the_served_reader_reads_workbook_after_workbook_in_one_process(
        tmp_path: Path, fresh_reader: None) -> None:
    first = clinic_workbook(tmp_path / "ridgeview.xlsx")
    second = clinic_workbook(tmp_path / "summit.xlsx", Assumptions=[["Key", "Value", "Source"],
                                                                    ["rate.us", 150, "quote"]])
    assert served.read_intake_served(first) == read_intake(first)
    assert served.READER.server is not None
    pid = served.READER.server.pid
    assert served.read_intake_served(second) == read_intake(second)
    with pytest.raises(IntakeError) as info:
        served.read_intake_served(clinic_workbook(tmp_path / "bad.xlsx", [["Clinic name", "B"],
                                                                          ["Physicians", "three"]]))
    assert info.value.lines() == lines(tmp_path / "bad.xlsx")
    assert served.READER.server.pid == pid and served.READER.server.jobs == 3


def test_a_served_reader_that_died_between_reads_is_replaced_and_the_next_workbook_is_not_blamed(
        tmp_path: Path, fresh_reader: None) -> None:
    """The reader can die while idle (the kernel's out-of-memory killer, an operator): the next
    workbook is read in a child of its own, as it would have been forked for, and succeeds."""
    path = clinic_workbook(tmp_path / "ridgeview.xlsx")
    served.read_intake_served(path)
    assert served.READER.server is not None
    dead = served.READER.server.pid
    os.kill(dead, signal.SIGKILL)
    assert served.read_intake_served(path).base.clinic.physicians == 3
    assert served.READER.server is None
    assert served.read_intake_served(path).base.clinic.physicians == 3
    assert served.READER.server is not None and served.READER.server.pid != dead


def test_a_fresh_served_reader_killed_by_its_first_workbook_names_it(
        tmp_path: Path, fresh_reader: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import generator.intake.reader

    monkeypatch.setattr(generator.intake.reader, "read_intake", _die)  # the reader forks with it
    with pytest.raises(IntakeError) as info:
        served.read_intake_served(tmp_path / "crash.xlsx")
    assert info.value.lines() == ["crash.xlsx: stopped the reader (SIGKILL), most likely at the 600 MB "
                                  "memory limit; it may be damaged or hostile"]
    assert served.READER.server is None


def test_a_served_read_that_runs_too_long_ends_that_reader(
        tmp_path: Path, fresh_reader: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import generator.intake.reader

    monkeypatch.setattr(generator.intake.reader, "read_intake", _sleep)  # the reader forks with it
    with pytest.raises(IntakeError) as info:  # _sleep's 30 s would end in another error: no clock needed
        served.read_intake_served(tmp_path / "slow.xlsx", seconds=0.5)
    assert info.value.lines() == ["slow.xlsx: took more than 0.5 seconds to read; it may be damaged or hostile"]
    assert served.READER.server is None


def test_a_served_read_out_of_memory_is_tried_again_alone_before_it_is_refused(
        tmp_path: Path, fresh_reader: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import generator.intake.reader

    tried: list[str] = []
    bounded = sandbox.run_bounded

    def alone(work: Any, name: str, **kw: Any) -> Any:
        tried.append(name)
        return bounded(work, name, **kw)

    monkeypatch.setattr(generator.intake.reader, "read_intake", _hog)
    monkeypatch.setattr(sandbox, "run_bounded", alone)
    with pytest.raises(IntakeError) as info:
        served.read_intake_served(tmp_path / "big.xlsx", memory_mb=200)
    assert info.value.lines() == ["big.xlsx: needed more than 200 MB to read; it may be damaged or hostile"]
    assert tried == ["big.xlsx"] and served.READER.server is None


def test_a_worn_reader_is_replaced(tmp_path: Path, fresh_reader: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(served, "SERVE_JOBS", 2)
    path = clinic_workbook(tmp_path / "ridgeview.xlsx")
    served.read_intake_served(path)
    assert served.READER.server is not None
    first = served.READER.server.pid
    served.read_intake_served(path)  # the second read wears it out
    assert served.READER.server is None
    with pytest.raises(ChildProcessError):
        os.waitpid(first, os.WNOHANG)  # ended and reaped
    served.read_intake_served(path)
    assert served.READER.server is not None and served.READER.server.pid != first


@pytest.mark.slow
def test_clean_up_runs_once_when_the_process_ends_however_often_it_was_asked_for() -> None:
    code = ("from generator.lifecycle import at_exit\n"
            "def bye():\n    print('bye')\n"
            "for _ in range(3):\n    at_exit(bye)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout == "bye\n"


def test_a_reader_does_not_keep_its_parents_lock(tmp_path: Path, fresh_reader: None) -> None:
    """The reader is forked while the batch or watcher holds the output folder's lock (an
    `flock`, which a forked copy of the file keeps); once the parent lets go, the folder must be
    free although the reader lives on."""
    from generator.run.outputs import OutputLock

    path = clinic_workbook(tmp_path / "ridgeview.xlsx")
    held = OutputLock(tmp_path / "out")
    assert held.acquire(blocking=False)
    assert served.read_intake_served(path).base.clinic.name  # forks the reader now
    held.release()
    assert served.READER.server is not None and os.waitpid(served.READER.server.pid, os.WNOHANG) == (0, 0)  # alive
    other = OutputLock(tmp_path / "out")
    try:
        assert other.acquire(blocking=False)
    finally:
        other.release()
