"""The whole per-workbook job is bounded (issue 17, item 1): planning, the risk analysis and
every renderer run in a forked child limited in memory, and the job, read included, ends by its
deadline; a job over either bound is that workbook's one-line error, never a stalled process."""

from __future__ import annotations

import hashlib
import os
import signal
import time
from pathlib import Path

import pytest

from generator.errors import IntakeError
from generator.intake import sandbox
from generator.plan import risk
from generator.run import job
from generator.run.generate import generate
from tests.builders import clinic_workbook
from tests.conftest import settings

pytestmark = pytest.mark.slow  # each job forks a bounded child process


@pytest.fixture(autouse=True)
def _warm(tmp_path: Path) -> None:
    """The job warms up once per process, planning an example in that process: before a test
    swaps risk.apply for one that kills, hoards or hangs (with tests spread over pytest-xdist
    workers, any of them may be a worker's first job; `_killed` then killed the worker)."""
    job.warm_up(settings(tmp_path / "warm"))


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    return clinic_workbook(tmp_path / "ridgeview.xlsx")


def _slow(plan):  # type: ignore[no-untyped-def]
    time.sleep(30)
    return plan


def spy_on_deadlines(monkeypatch: pytest.MonkeyPatch) -> dict[str, float]:
    """The deadline the bounded child is given, when it was given, and the time the parent waits
    for it until (the rest is kept for killing and reaping it)."""
    seen: dict[str, float] = {}
    run_bounded, collect = sandbox.run_bounded, sandbox._collect

    def spy_run(*args, deadline: float, **kw):  # type: ignore[no-untyped-def]
        seen.update(deadline=deadline, entered=time.monotonic())
        return run_bounded(*args, deadline=deadline, **kw)

    def spy_collect(fd: int, until: float):  # type: ignore[no-untyped-def]
        seen["waits_until"] = until
        return collect(fd, until)

    monkeypatch.setattr(sandbox, "run_bounded", spy_run)
    monkeypatch.setattr(sandbox, "_collect", spy_collect)
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
