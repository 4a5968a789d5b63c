"""The whole per-workbook job is bounded (issue 17, item 1): planning, the risk analysis and
every renderer run in a forked child limited in memory, and the job, read included, ends by its
deadline; a job over either bound is that workbook's one-line error, never a stalled process."""

from __future__ import annotations

import array
import hashlib
import os
import pickle
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from generator.errors import IntakeError
from generator.intake import sandbox, served
from generator.plan import risk
from generator.run import job
from generator.run.generate import generate
from tests.builders import clinic_workbook
from tests.conftest import settings

pytestmark = pytest.mark.slow  # each job forks a bounded child process


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    return clinic_workbook(tmp_path / "ridgeview.xlsx")


def _slow(plan):  # type: ignore[no-untyped-def]
    time.sleep(30)
    return plan


def spy_on_deadlines(monkeypatch: pytest.MonkeyPatch) -> dict[str, float]:
    """The deadline the bounded child (forked for the work, or served) is given, when it was
    given, and the time the parent waits for it until (the rest is kept for killing and reaping it)."""
    seen: dict[str, float] = {}
    run_bounded, collect = sandbox.run_bounded, sandbox._collect
    call, ask = served.Served.__call__, served._Server.ask

    def spy_run(*args, deadline: float, **kw):  # type: ignore[no-untyped-def]
        seen.update(deadline=deadline, entered=time.monotonic())
        return run_bounded(*args, deadline=deadline, **kw)

    def spy_served(self, *args, deadline: float, **kw):  # type: ignore[no-untyped-def]
        if self is job.JOBS:
            seen.update(deadline=deadline, entered=time.monotonic())
        return call(self, *args, deadline=deadline, **kw)

    def spy_collect(fd: int, until: float):  # type: ignore[no-untyped-def]
        seen["waits_until"] = until
        return collect(fd, until)

    def spy_ask(self, argument, until: float):  # type: ignore[no-untyped-def]
        if not isinstance(argument, str):  # the job's, not the reader's
            seen["waits_until"] = until
        return ask(self, argument, until)

    monkeypatch.setattr(sandbox, "run_bounded", spy_run)
    monkeypatch.setattr(sandbox, "_collect", spy_collect)
    monkeypatch.setattr(served.Served, "__call__", spy_served)
    monkeypatch.setattr(served._Server, "ask", spy_ask)
    return seen


def test_a_job_past_its_time_is_stopped_within_the_bound(workbook: Path, monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    """Stopped, not finished: the job would sleep 30 s and then succeed. Within the bound: its
    clock starts when the job does (the read included) and the parent stops waiting a margin
    before the deadline, to kill and reap the child by then. How close to the bound a stopped job
    ends on a given machine is a figure for bench/, not an assertion (a loaded machine is no bug)."""
    monkeypatch.setattr(job, "SECONDS", 2.5)  # stated as "3 s" here, as 85 s is stated as 90 s
    monkeypatch.setattr(risk, "apply", _slow)
    seen = spy_on_deadlines(monkeypatch)
    called = time.monotonic()
    with pytest.raises(IntakeError) as info:
        generate(workbook, settings(tmp_path / "out", ("md", "json")))
    assert called <= seen["deadline"] - 2.5 < seen["entered"]  # started with the job, before the read
    assert seen["waits_until"] == seen["deadline"] - sandbox.KILL_MARGIN
    assert info.value.lines() == ["ridgeview.xlsx: took more than 2.5 seconds to plan and render, the bound for one "
                                  "workbook, and was stopped; it may be hostile, or larger than this machine can "
                                  "handle in time"]
    assert not (tmp_path / "out" / "ridgeview").exists()


def _greedy(plan):  # type: ignore[no-untyped-def]
    hoard = [bytearray(64 * 1024 * 1024) for _ in range(16)]  # 1 GB
    return plan if hoard else plan


def test_a_job_past_its_memory_is_stopped(workbook: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(job, "MEMORY_MB", 300)
    monkeypatch.setattr(risk, "apply", _greedy)
    with pytest.raises(IntakeError) as info:
        generate(workbook, settings(tmp_path / "out", ("json",)))
    assert info.value.lines() == ["ridgeview.xlsx: needed more than 300 MB to plan and render, the bound for one "
                                  "workbook, and was stopped; it may be hostile"]


def _killed(plan):  # type: ignore[no-untyped-def]
    os.kill(os.getpid(), signal.SIGKILL)
    return plan


def test_a_job_that_dies_is_named(workbook: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(risk, "apply", _killed)
    with pytest.raises(IntakeError, match=r"^ridgeview.xlsx: stopped while planning and rendering \(SIGKILL\)"):
        generate(workbook, settings(tmp_path / "out", ("json",)))


def _bug(plan):  # type: ignore[no-untyped-def]
    raise ZeroDivisionError("a bug")


def test_a_bug_in_the_job_stays_a_bug(workbook: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(risk, "apply", _bug)
    with pytest.raises(ZeroDivisionError, match="a bug"):
        generate(workbook, settings(tmp_path / "out", ("json",)))


def test_the_bounded_job_writes_what_the_job_in_process_writes(workbook: Path, monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    formats = ("md", "html", "xlsx", "json")
    bounded = generate(workbook, settings(tmp_path / "bounded", formats))
    monkeypatch.setenv(sandbox.ENV, "0")
    in_process = generate(workbook, settings(tmp_path / "in-process", formats))
    assert bounded.files == in_process.files == ("budget.md", "budget.html", "budget.xlsx", "budget.json")
    for name in bounded.files:
        digests = {hashlib.sha256((Path(folder) / name).read_bytes()).hexdigest()
                   for folder in (bounded.folder, in_process.folder)}
        assert len(digests) == 1, name
    assert bounded.plan.scenarios[0].risk == in_process.plan.scenarios[0].risk


def test_a_read_past_its_time_ends_within_the_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 17 item 19: the read limit was exceeded at the limit (10.07-10.25 s); the fork and the
    clean-up after the kill now count towards it (bench/bench_hostile.py measures the time)."""
    def sleep(path: Path):  # type: ignore[no-untyped-def]
        time.sleep(30)

    seen = spy_on_deadlines(monkeypatch)
    called = time.monotonic()
    with pytest.raises(IntakeError, match="took more than 1.5 seconds to read"):
        sandbox.read_intake_bounded(tmp_path / "slow.xlsx", seconds=1.5, reader=sleep)
    assert called <= seen["deadline"] - 1.5 <= seen["entered"]  # the clock starts at the call, before the fork
    assert seen["waits_until"] == seen["deadline"] - sandbox.KILL_MARGIN  # kill and reap by the deadline


def test_one_job_child_plans_and_renders_workbook_after_workbook(tmp_path: Path) -> None:
    """Issue 14's speed: the child stays, so templates are compiled once per process."""
    first = generate(clinic_workbook(tmp_path / "ridgeview.xlsx"), settings(tmp_path / "out", ("md", "json")))
    assert job.JOBS.server is not None
    pid = job.JOBS.server.pid
    second = generate(clinic_workbook(tmp_path / "summit.xlsx"), settings(tmp_path / "out", ("md", "json")))
    assert job.JOBS.server is not None and job.JOBS.server.pid == pid and job.JOBS.server.jobs == 2
    assert first.files == second.files == ("budget.md", "budget.json")


def test_a_job_out_of_memory_in_the_served_child_is_tried_alone_before_it_is_refused(
        workbook: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A child that has served other workbooks may have less room left than a fresh one."""
    tried: list[str] = []
    run_bounded, ask = sandbox.run_bounded, served._Server.ask

    def alone(work, name: str, **kw):  # type: ignore[no-untyped-def]
        tried.append(f"alone {name}")
        return run_bounded(work, name, **kw)

    def asked(self, argument, deadline: float):  # type: ignore[no-untyped-def]
        if not isinstance(argument, str):  # the job's request, not the reader's
            tried.append("served")
        return ask(self, argument, deadline)

    monkeypatch.setattr(job, "MEMORY_MB", 300)
    monkeypatch.setattr(risk, "apply", _greedy)
    monkeypatch.setattr(sandbox, "run_bounded", alone)
    monkeypatch.setattr(served._Server, "ask", asked)
    with pytest.raises(IntakeError, match="needed more than 300 MB to plan and render"):
        generate(workbook, settings(tmp_path / "out", ("json",)))
    assert tried == ["served", "alone ridgeview.xlsx"] and job.JOBS.server is None


def test_a_job_child_that_died_between_workbooks_is_replaced_and_the_next_workbook_is_not_blamed(
        workbook: Path, tmp_path: Path) -> None:
    """The kernel's out-of-memory killer favours a large idle process: the next workbook's job
    runs in a child of its own, as a child forked for it would, and succeeds."""
    generate(workbook, settings(tmp_path / "out", ("json",)))
    assert job.JOBS.server is not None
    dead = job.JOBS.server.pid
    os.kill(dead, signal.SIGKILL)
    assert generate(workbook, settings(tmp_path / "again", ("json",))).files == ("budget.json",)
    assert job.JOBS.server is None
    assert generate(workbook, settings(tmp_path / "again", ("json",))).files == ("budget.json",)
    assert job.JOBS.server is not None and job.JOBS.server.pid != dead


class _TooLargeToSend:
    """An answer whose pickling needs more memory than the child may hold."""

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return bytes, (bytearray(4096 * 1024 * 1024),)


def _answer_too_large(argument: object) -> object:
    return [b"x" * (3 << 20), _TooLargeToSend()]  # a frame is sent before the pickling fails


def test_an_answer_too_large_to_send_is_tried_alone() -> None:
    child = served.Served(_answer_too_large)
    messages = sandbox.Messages(10, 300)
    try:
        answer = child("request", "big.xlsx", memory_mb=300, deadline=time.monotonic() + 10, messages=messages,
                        alone=lambda deadline: "tried alone")
        assert answer == "tried alone" and child.server is None
    finally:
        child.end(kill=True)


def test_a_request_interrupted_while_the_child_answers_ends_that_child(
        workbook: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Ctrl-C (or SIGTERM) with part of the answer read: the child is killed and reaped at once,
    not left to finish, and the next workbook does not read the rest of the old answer."""
    generate(workbook, settings(tmp_path / "out", ("json",)))
    assert job.JOBS.server is not None
    busy = job.JOBS.server.pid
    read_exactly = served._read_exactly
    reads: list[int] = []

    def interrupted(fd: int, count: int, deadline: float | None):  # type: ignore[no-untyped-def]
        if deadline is not None and job.JOBS.server is not None and fd == job.JOBS.server.replies:
            reads.append(count)
            if len(reads) == 3:  # the first frame's header and data read, the next header not
                raise KeyboardInterrupt
        return read_exactly(fd, count, deadline)

    monkeypatch.setattr(served, "_read_exactly", interrupted)
    with pytest.raises(KeyboardInterrupt):
        generate(workbook, settings(tmp_path / "again", ("json",)))
    assert job.JOBS.server is None
    with pytest.raises(ChildProcessError):
        os.waitpid(busy, os.WNOHANG)  # killed and reaped
    monkeypatch.undo()
    again = generate(workbook, settings(tmp_path / "again", ("json",)))
    first = tmp_path / "out" / "ridgeview" / "budget.json"
    assert (Path(again.folder) / "budget.json").read_bytes() == first.read_bytes()


# ---------------------------------------------------------------- the served child, directly


def _served(handle: Callable[[object], object], **kw: Any) -> object:
    child = served.Served(handle)
    try:
        return child("request", "book.xlsx", memory_mb=kw.get("memory_mb", 600), deadline=time.monotonic() + 10,
                      messages=sandbox.Messages(10, 600), alone=lambda deadline: "tried alone")
    finally:
        child.end(kill=True)


def _three_mb(argument: object) -> object:
    return b"x" * (3 << 20)


def test_a_child_out_of_memory_part_way_through_a_frame_exits_so_and_the_request_is_tried_alone(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A frame's header is on the pipe when its data fails to go: the reply cannot be abandoned
    in the pipe, so the child's exit status says it."""
    write_all = served._write_all

    def fails_after_a_header(fd: int, data) -> None:  # type: ignore[no-untyped-def]
        if len(data) >= served._FRAME:
            raise MemoryError
        write_all(fd, data)

    monkeypatch.setattr(served, "_write_all", fails_after_a_header)  # the child forks with it
    assert _served(_three_mb) == "tried alone"


def _a_pickle_buffer(argument: object) -> object:
    return pickle.PickleBuffer(bytearray(b"y" * (2 << 20)))


def _a_wide_view(argument: object) -> object:
    return array.array("d", range(300_000))  # 2.4 MB of 8-byte items


def test_answers_that_pickle_as_buffers_or_wide_items_arrive_whole() -> None:
    assert _served(_a_pickle_buffer) == bytearray(b"y" * (2 << 20))
    assert _served(_a_wide_view) == array.array("d", range(300_000))


_kept: list[bytearray] = []


def _keeps_memory(argument: object) -> object:
    _kept.append(bytearray(b"k" * (40 << 20)))  # touched: resident
    return "done"


def test_a_child_that_holds_too_much_after_an_answer_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(served, "SERVE_GROWTH", 32 * sandbox.MB)
    child = served.Served(_keeps_memory)
    try:
        assert child("request", "book.xlsx", memory_mb=600, deadline=time.monotonic() + 10,
                      messages=sandbox.Messages(10, 600), alone=lambda deadline: "tried alone") == "done"
        assert child.server is None  # worn: ended, and the next request forks another
    finally:
        child.end(kill=True)


def _echo(argument: object) -> object:
    return argument


def test_without_proc_a_child_still_lets_go_of_another_childs_pipes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where /proc is missing (macOS), a served child forked after another must not keep that
    one's request pipe open: the first could then never see the end of it and end by itself."""
    listdir = os.listdir

    def no_proc(path):  # type: ignore[no-untyped-def]
        if str(path).startswith("/proc"):
            raise FileNotFoundError(path)
        return listdir(path)

    monkeypatch.setattr(os, "listdir", no_proc)
    first, second = served.Served(_echo), served.Served(_echo)
    ask = {"name": "book.xlsx", "memory_mb": 600, "messages": sandbox.Messages(10, 600),
           "alone": lambda deadline: "tried alone"}
    try:
        assert first("one", deadline=time.monotonic() + 10, **ask) == "one"
        assert second("two", deadline=time.monotonic() + 10, **ask) == "two"  # forked after the first
        server = first.server
        assert server is not None
        first.server = None
        status = server.close(kill=False)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0  # ended by itself, not killed
    finally:
        first.end(kill=True)
        second.end(kill=True)
