"""`clinic-budget watch`: the drop folder, as a real process fed files the way people do."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.run.watch import Settler
from tests.batch_helpers import check_outputs, good_workbook, manifest_records, summary, wait_for
from tests.builders import clinic_rows, clinic_workbook
from tests.helpers import cli, run_cli

SETTLE = "0.8"


class Watcher:
    """A `clinic-budget watch` process whose output is collected as it runs."""

    running: list[Watcher] = []

    def __init__(self, cwd: Path, *extra: str) -> None:
        args = [*cli(), "watch", "inputs", "--formats", "json", "--settle", SETTLE, *extra]
        env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # lines must arrive anyway
        self.proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env)
        self.lines: list[str] = []
        self.threads = [threading.Thread(target=self._read, args=(s,), daemon=True)
                        for s in (self.proc.stdout, self.proc.stderr)]
        for t in self.threads:
            t.start()
        Watcher.running.append(self)
        if "--quiet" not in extra:
            self.wait_line(lambda x: x.startswith(("watching ", "polling ")))

    def _read(self, stream: io.TextIOWrapper) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def wait_line(self, match, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
        wait_for(lambda: any(match(x) for x in self.lines), timeout, f"a line in {self.lines}")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=15)
        for t in self.threads:
            t.join(timeout=5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return code


@pytest.fixture(autouse=True)
def no_stray_watchers() -> Iterator[None]:
    """A test that fails half-way must not leave its watcher running."""
    yield
    while Watcher.running:
        w = Watcher.running.pop()
        if w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait(timeout=10)
        for stream in (w.proc.stdout, w.proc.stderr):
            if stream is not None:
                stream.close()


def write_slowly(path: Path, data: bytes, chunks: int = 5, pause: float = 0.25) -> None:
    """Write `data` in pieces with pauses, as a slow copy or a sync client does."""
    step = -(-len(data) // chunks)
    with open(path, "wb") as fh:
        for i in range(0, len(data), step):
            fh.write(data[i:i + step])
            fh.flush()
            time.sleep(pause)


def workbook_bytes(tmp: Path, name: str, physicians: int) -> bytes:
    path = clinic_workbook(tmp / f"{name}.build.xlsx", clinic_rows(name, physicians))
    data = path.read_bytes()
    path.unlink()
    return data


def budget(out: Path, slug: str) -> dict[str, object]:
    return json.loads((out / slug / "budget.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()}


@pytest.mark.slow
def test_the_drop_folder(tmp_path: Path) -> None:
    inputs, out, scratch = tmp_path / "inputs", tmp_path / "output", tmp_path / "scratch"
    inputs.mkdir()
    scratch.mkdir()
    good_workbook(inputs / "already-there.xlsx", 1)
    run_cli("batch", "--formats", "json", cwd=tmp_path)  # made before the watcher starts
    good_workbook(inputs / "new-before-start.xlsx", 2)
    w = Watcher(tmp_path)
    w.wait_line(lambda x: x == "ok   inputs/new-before-start.xlsx -> output/new-before-start")
    assert "skip inputs/already-there.xlsx (unchanged)" in w.lines

    # A slow copy to a temporary name, then a rename (how Excel and sync clients save).
    write_slowly(inputs / "~$renamed.xlsx", b"owner file")  # Excel's lock file: ignored
    write_slowly(inputs / "3F2A1B0C.tmp", workbook_bytes(scratch, "Renamed Clinic", 4))
    os.replace(inputs / "3F2A1B0C.tmp", inputs / "renamed.xlsx")
    # A slow copy straight to the final name: never read half-written.
    write_slowly(inputs / "direct.xlsx", workbook_bytes(scratch, "Direct Clinic", 5), chunks=6, pause=0.3)
    # A bad file: reported, and the watcher carries on.
    (inputs / "broken.xlsx").write_text("clinic,physicians\n", encoding="utf-8")
    w.wait_line(lambda x: x.startswith("FAIL inputs/broken.xlsx: "))
    # A file that is not a workbook: said once, with what `validate` says about it, and listed.
    (inputs / "budget.csv").write_text("clinic,physicians\n", encoding="utf-8")
    w.wait_line(lambda x: x == "not read inputs/budget.csv: this is a CSV or text file, not an Excel workbook; "
                               "open it in Excel and save as .xlsx")
    w.wait_line(lambda x: x == "ok   inputs/direct.xlsx -> output/direct")
    w.wait_line(lambda x: x == "ok   inputs/renamed.xlsx -> output/renamed")
    assert budget(out, "direct")["clinic"]["name"] == "Direct Clinic"  # type: ignore[index]

    # An edit saved over the workbook is picked up again.
    before = digests(inputs)
    clinic_workbook(scratch / "edit.xlsx", clinic_rows("Renamed Clinic, edited", 6))
    os.replace(scratch / "edit.xlsx", inputs / "renamed.xlsx")
    wait_for(lambda: budget(out, "renamed")["clinic"]["name"] == "Renamed Clinic, edited",  # type: ignore[index]
             what="the edited workbook's budget")
    time.sleep(0.3)
    assert w.stop() == 0
    assert w.lines[-1] == "stopped" or "stopped" in w.lines
    fails = [x for x in w.lines if x.startswith("FAIL")]
    assert len(fails) == 1 and "broken.xlsx" in fails[0], w.lines  # no half-written file failed
    assert (out / "_errors" / "broken.html").is_file()
    assert "broken.xlsx" in (out / "index.html").read_text(encoding="utf-8")
    assert sum(x.startswith("not read inputs/budget.csv") for x in w.lines) == 1, w.lines
    assert 'data-key="budget.csv"' in (out / "index.html").read_text(encoding="utf-8")
    assert sorted(check_outputs(out)) == ["already-there", "direct", "new-before-start", "renamed"]
    after = digests(inputs)
    assert {k: v for k, v in after.items() if k != "renamed.xlsx"} == {
        k: v for k, v in before.items() if k != "renamed.xlsx"}  # inputs never touched


@pytest.mark.slow
def test_polling_and_sigint(tmp_path: Path) -> None:
    (tmp_path / "inputs").mkdir()
    w = Watcher(tmp_path, "--poll", "--quiet")
    write_slowly(tmp_path / "inputs" / "polled.xlsx", workbook_bytes(tmp_path, "Polled", 3), pause=0.2)
    wait_for(lambda: (tmp_path / "output" / "polled" / "budget.json").is_file(), what="the polled budget")
    assert w.stop(signal.SIGINT) == 0
    assert w.lines == ["stopped"]  # --quiet: nothing else


@pytest.mark.slow
def test_watcher_and_batch_share_an_output_folder(tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for n in range(12):
        good_workbook(inputs / f"c{n}.xlsx", n)
    w = Watcher(tmp_path)
    r = run_cli("batch", "--formats", "json", "--workers", "2", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    total, generated, unchanged, failed = summary(r.stdout)
    assert (total, failed, generated + unchanged) == (12, 0, 12)
    wait_for(lambda: sum(1 for x in w.lines if x.startswith(("ok ", "skip "))) >= 12, what="the watcher")
    assert w.stop() == 0
    assert len(check_outputs(tmp_path / "output")) == 12
    assert len(manifest_records(tmp_path / "output")) == 12


@pytest.mark.slow
def test_missing_folder(tmp_path: Path) -> None:
    r = run_cli("watch", "nowhere", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.strip() == "error: nowhere: no such folder"
    (tmp_path / "inputs").mkdir()
    r = run_cli("watch", "--workers", "0", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.strip() == "error: --workers must be 1 or more"


# ------------------------------------------------------------------ the settling rule, in-process


@pytest.fixture
def clock() -> list[float]:
    return [0.0]


def test_a_file_is_ready_only_after_it_stops_changing(tmp_path: Path, clock: list[float]) -> None:
    settler = Settler(1.0, clock=lambda: clock[0])
    path = tmp_path / "a.xlsx"
    path.write_bytes(b"part")
    settler.touch(path)
    assert settler.ready() == []
    clock[0] = 0.9
    with open(path, "ab") as fh:
        fh.write(b" more")  # still growing: the clock starts again
    assert settler.ready() == []
    clock[0] = 1.8
    assert settler.ready() == []
    clock[0] = 2.0
    assert settler.ready() == [path]
    assert settler.ready() == [] and len(settler) == 0


def test_a_vanished_file_is_forgotten(tmp_path: Path, clock: list[float]) -> None:
    settler = Settler(0.5, clock=lambda: clock[0])
    settler.touch(tmp_path / "gone.xlsx")
    assert settler.ready() == [] and len(settler) == 0


def test_a_rewrite_that_keeps_size_and_time_is_still_caught(tmp_path: Path, clock: list[float]) -> None:
    settler = Settler(1.0, clock=lambda: clock[0])
    path = tmp_path / "a.xlsx"
    path.write_bytes(b"aaaa")
    stamp = path.stat().st_mtime_ns
    settler.touch(path)
    assert settler.ready() == []
    path.write_bytes(b"bbbb")
    os.utime(path, ns=(stamp, stamp))  # same size, same modification time: only the hash differs
    clock[0] = 1.0
    assert settler.ready() == []
    clock[0] = 2.0
    assert settler.ready() == [path]


@pytest.mark.slow
def test_a_one_worker_watcher_lets_go_of_the_output_folder(tmp_path: Path) -> None:
    """With one worker the watcher reads in its own reader process, forked while the watcher
    holds the output folder's lock; that reader must not keep the lock once the round is over
    (it did: the next round, and any batch on the folder, waited for ever)."""
    inputs, scratch = tmp_path / "inputs", tmp_path / "scratch"
    inputs.mkdir()
    scratch.mkdir()
    w = Watcher(tmp_path, "--workers", "1")
    for n, name in enumerate(("first", "second")):
        staged = clinic_workbook(scratch / f"{name}.xlsx", clinic_rows(f"{name.title()} Clinic", 2 + n))
        os.replace(staged, inputs / staged.name)
        w.wait_line(lambda x, name=name: x == f"ok   inputs/{name}.xlsx -> output/{name}")  # type: ignore[misc]
    r = run_cli("batch", "--formats", "json", "--quiet", cwd=tmp_path, timeout=60)
    assert (r.returncode, r.stderr) == (0, "")
    assert w.stop() == 0
    assert not any(x.startswith("waiting for another") for x in w.lines), w.lines


@pytest.mark.slow
def test_a_folder_removed_and_made_again_is_watched_again(tmp_path: Path) -> None:
    """File-system events were asked for the folder that was there at start; a folder made
    again under the same name must be watched too (it was not: drops went unnoticed)."""
    inputs, scratch = tmp_path / "inputs", tmp_path / "scratch"
    inputs.mkdir()
    scratch.mkdir()
    w = Watcher(tmp_path)
    shutil.rmtree(inputs)
    w.wait_line(lambda x: x == "inputs: the folder is gone; watching again when it is back")
    inputs.mkdir()
    w.wait_line(lambda x: sum(1 for line in w.lines if line.startswith("watching inputs")) == 2)
    staged = clinic_workbook(scratch / "back.xlsx", clinic_rows("Back Clinic", 3))
    os.replace(staged, inputs / staged.name)
    w.wait_line(lambda x: x == "ok   inputs/back.xlsx -> output/back")
    assert w.stop() == 0


@pytest.mark.parametrize(("value", "shown"), [("nan", "nan"), ("inf", "inf"), ("-inf", "-inf"), ("-0.5", "-0.5")])
def test_settle_must_be_a_finite_number_of_seconds(value: str, shown: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """`--settle nan` disabled settling (every comparison with nan is false), so half-written
    files were read; inf would never read anything. Both are usage errors, as a negative is."""
    from generator.cli import main

    (tmp_path / "inputs").mkdir()
    code = main(["watch", str(tmp_path / "inputs"), "--out", str(tmp_path / "out"), "--formats", "json",
                 f"--settle={value}"])
    assert (code, capsys.readouterr().err) == (
        2, f"error: --settle must be a number of seconds, 0 or more (got {shown})\n")
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ a copy that pauses (issue 14, issue 17 item 14)


def test_a_held_file_is_looked_at_again_when_it_changes_or_its_time_comes(tmp_path: Path, clock: list[float]) -> None:
    wall = [1000.0]
    settler = Settler(0.5, clock=lambda: clock[0], wall=lambda: wall[0])
    path = tmp_path / "a.xlsx"
    path.write_bytes(b"PK part of a copy")
    settler.hold(path, until=1010.0)
    assert len(settler) == 1 and settler.ready() == []
    wall[0] = 1010.0
    assert settler.ready() == [path] and len(settler) == 0  # unchanged that long: read again, once
    settler.hold(path, until=1020.0)
    settler.touch(path)  # it changed: it settles like any change, the hold is gone
    assert settler.ready() == []
    clock[0] = 0.5
    assert settler.ready() == [path] and len(settler) == 0
    settler.hold(path, until=1030.0)
    path.unlink()  # the copy was abandoned and removed: forgotten, not reported
    assert settler.ready() == [] and len(settler) == 0


def test_only_a_recent_damaged_or_empty_file_is_taken_for_a_copy_in_progress(tmp_path: Path) -> None:
    from generator.intake.workbook import DAMAGED, EMPTY
    from generator.run.batch import Outcome
    from generator.run.watch import recent_window, still_arriving

    path = tmp_path / "a.xlsx"
    path.write_bytes(b"PK")
    os.utime(path, (1000.0, 1000.0))

    def failed(message: str) -> Outcome:
        return Outcome(str(path), "a", "failed", "out/a", errors=(f"a.xlsx: {message}",))

    assert recent_window(0.5) == 10.0 and recent_window(8.0) == 16.0
    assert still_arriving(failed(DAMAGED), 10.0, wall=lambda: 1004.0) == 1010.0
    assert still_arriving(failed(EMPTY), 10.0, wall=lambda: 1009.9) == 1010.0
    assert still_arriving(failed(DAMAGED), 10.0, wall=lambda: 1010.0) is None  # settled that long: report it
    assert still_arriving(failed("Clinic!B3 (Physicians): expected a whole number"), 10.0,
                          wall=lambda: 1001.0) is None  # a complete workbook's error is said at once
    assert still_arriving(Outcome(str(path), "a", "generated", "out/a"), 10.0, wall=lambda: 1001.0) is None


def example_bytes(tmp: Path) -> bytes:
    """A real workbook of about 25 KB (a shipped example), to copy slowly."""
    from generator.intake.blank import write_example

    write_example(tmp / "example.xlsx", "family-practice")
    data = (tmp / "example.xlsx").read_bytes()
    (tmp / "example.xlsx").unlink()
    return data


@pytest.mark.slow
def test_a_slow_or_pausing_copy_is_waited_for_quietly_and_a_damaged_file_reported_once(tmp_path: Path) -> None:
    """8 KB every 1.2 s, and a copy that pauses 4 s, both longer than --settle 0.8: the watcher
    read them half-written and said "FAIL ... damaged or incomplete" (three times for the slow
    copy) before it succeeded. Now it says nothing until each is whole; a file that stays
    damaged is reported once, after it has stopped changing."""
    inputs, scratch = tmp_path / "inputs", tmp_path / "scratch"
    inputs.mkdir()
    scratch.mkdir()
    data = example_bytes(scratch)
    assert len(data) > 3 * 8192
    w = Watcher(tmp_path)
    (scratch / "warm.xlsx").write_bytes(data)
    os.replace(scratch / "warm.xlsx", inputs / "warm.xlsx")  # the workers started and warm: reads are quick
    w.wait_line(lambda x: x == "ok   inputs/warm.xlsx -> output/warm", timeout=60)

    def paused(path: Path) -> None:
        with open(path, "wb") as fh:
            fh.write(data[:len(data) // 2])
            fh.flush()
            time.sleep(4.0)
            fh.write(data[len(data) // 2:])

    writers = [threading.Thread(target=write_slowly, args=(inputs / "slow.xlsx", data, -(-len(data) // 8192), 1.2)),
               threading.Thread(target=paused, args=(inputs / "paused.xlsx",))]
    for t in writers:
        t.start()
    (inputs / "truncated.xlsx").write_bytes(data[:8192])  # a copy that never finishes
    for t in writers:
        t.join()
    w.wait_line(lambda x: x == "ok   inputs/slow.xlsx -> output/slow")
    w.wait_line(lambda x: x == "ok   inputs/paused.xlsx -> output/paused")
    w.wait_line(lambda x: x.startswith("FAIL inputs/truncated.xlsx: "), timeout=60)
    time.sleep(2 * float(SETTLE))  # a second report would come in this time, were there one
    assert w.stop() == 0
    fails = [x for x in w.lines if x.startswith("FAIL")]
    assert len(fails) == 1, w.lines
    assert fails[0].startswith("FAIL inputs/truncated.xlsx: truncated.xlsx: the workbook is damaged or incomplete")
