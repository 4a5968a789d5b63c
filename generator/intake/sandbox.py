"""Reading an untrusted workbook with bounded resources.

Workbooks arrive from strangers and are read unattended, so the read runs in a forked child
process with an address-space limit (`RLIMIT_AS`) and a CPU-time backstop, while the parent
enforces a wall-clock timeout and kills the child when it runs over. The child sends back the
pickled `Intake` (or the `IntakeError`'s problems); a child that runs out of memory or time
becomes an `IntakeError` naming the file, so one poisoned workbook cannot take a batch or the
watcher down with it.

`fork` is used because it costs a few milliseconds: the child already has the reader imported.
Workbook after workbook, the read runs in a child that stays (`served.Served`, forked on first use,
with the same bounds and replaced when it dies, runs over or is worn), so the fork and each
child's first-run work (specialised bytecode, the reader's caches) are paid once per process,
not per workbook; the per-workbook job (`run.job`) is served the same way. A forked child does
not collect the garbage its parent made (`gc.freeze`, or no collection at all in a child forked
for one read): a collection walks every object the parent has, copying each page it touches.
Where there is no `fork` (Windows), or when `CLINIC_BUDGET_SANDBOX=0`, the read happens in
process, with only the reader's own limits (`workbook.py`).
"""

from __future__ import annotations

import math
import os
import pickle
import resource
import select
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from generator.errors import IntakeError
from generator.model import Intake

MEMORY_MB = 600
SECONDS = 9.0  # with start-up (under a second), `validate` answers within 10 s
ENV = "CLINIC_BUDGET_SANDBOX"
MB = 1024 * 1024
_FLOOR = 128 * MB  # the least a read may allocate, however large the process it forks from

TIMEOUT = "took more than {seconds:g} seconds to read; it may be damaged or hostile"
MEMORY = "needed more than {mb} MB to read; it may be damaged or hostile"
CRASHED = ("stopped the reader ({how}), most likely at the {mb} MB memory limit; "
           "it may be damaged or hostile")

Reader = Callable[[Path], Intake]
T = TypeVar("T")


def enabled() -> bool:
    """Whether workbooks are read in a bounded child process (the default where fork exists)."""
    off = os.environ.get(ENV, "1").strip().lower() in ("0", "no", "false", "off")
    return hasattr(os, "fork") and not off


def read_untrusted(path: str | Path) -> Intake:
    """`read_intake(path)`, in a bounded child process unless the sandbox is off."""
    if enabled():
        from generator.intake.served import read_intake_served

        return read_intake_served(path)
    from generator.intake.reader import read_intake

    return read_intake(Path(path))


def read_intake_bounded(path: Path, *, memory_mb: int = MEMORY_MB, seconds: float = SECONDS,
                        reader: Reader | None = None) -> Intake:
    """Read `path` in a child process that may hold at most `memory_mb` and run `seconds`.

    Returns the Intake, re-raises the reader's IntakeError (or any other exception it raised),
    and turns a child that ran out of memory or time into an IntakeError naming the file.
    `reader` (default `intake.read_intake`) is what the child calls; tests pass their own.
    The `seconds` count everything, the fork and the clean-up after a kill included.
    """
    from generator.intake.reader import read_intake

    path = Path(path)
    read: Reader = reader or read_intake
    intake = run_bounded(lambda: read(path), path.name, memory_mb=memory_mb,
                         deadline=time.monotonic() + seconds, messages=Messages(seconds, memory_mb))
    assert isinstance(intake, Intake)
    return intake


@dataclass(frozen=True)
class Messages:
    """What a child that ran out of time or memory, or died, is reported as."""

    seconds: float
    memory_mb: int
    timeout: str = TIMEOUT
    memory: str = MEMORY
    crashed: str = CRASHED

    def timed_out(self) -> str:
        return self.timeout.format(seconds=self.seconds, mb=self.memory_mb)

    def out_of_memory(self) -> str:
        return self.memory.format(seconds=self.seconds, mb=self.memory_mb)

    def died(self, how: str) -> str:
        return self.crashed.format(how=how, seconds=self.seconds, mb=self.memory_mb)


KILL_MARGIN = 0.1  # seconds kept back from a deadline for killing and reaping a child
CHUNK = 1 << 20  # bytes read from a child's pipe at a time
UNTIL_THE_END = sys.maxsize  # a count for _read_exactly: whatever comes before the end of file
STAYING_PIPES: set[int] = set()  # this process's ends of the pipes to its children that stay (served.py)


def _fork(*pipes: int) -> int:
    """`os.fork()`; the `pipes` are closed when it fails (too many processes, no memory)."""
    try:
        return os.fork()
    except OSError:
        for fd in pipes:
            os.close(fd)
        raise


def _readable(fd: int, seconds: float) -> bool:
    """Whether `fd` has something to read (or its end) within `seconds`. `poll`, not `select`,
    which refuses a descriptor numbered 1024 or more (a library user's process may have them)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(max(0, math.ceil(seconds * 1000))))


def run_bounded(work: Callable[[], T], name: str, *, memory_mb: int, deadline: float, messages: Messages) -> T:
    """`work()` in a forked child that may hold at most `memory_mb` and must answer before
    `deadline` (a time.monotonic() value; the child is killed and reaped by then).

    Returns what `work` returned (it must pickle), re-raises an IntakeError's problems or any
    other exception `work` raised, and turns a child that ran out of memory or time, or died,
    into an IntakeError naming `name`.
    """
    rfd, wfd = os.pipe()
    seconds = max(0.0, deadline - KILL_MARGIN - time.monotonic())
    pid = _fork(rfd, wfd)
    if pid == 0:  # pragma: no cover - the child; its outcome is checked through the parent
        os.close(rfd)
        _let_go_of_inherited_files(keep=(wfd,))
        _child(work, memory_mb, seconds, wfd)
    os.close(wfd)
    status: int | None = None
    try:
        payload, timed_out = _collect(rfd, deadline - KILL_MARGIN)
        if timed_out:
            os.kill(pid, signal.SIGKILL)
        status = os.waitpid(pid, 0)[1]
    finally:
        os.close(rfd)
        if status is None:  # interrupted (Ctrl-C): the child must not outlive the read
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    if timed_out:
        raise IntakeError.single(name, messages.timed_out())
    return _outcome(name, payload, status, messages)  # type: ignore[return-value]


# ---------------------------------------------------------------- the child


def _let_go_of_inherited_files(keep: tuple[int, ...]) -> None:  # pragma: no cover - in the child
    """Point every file descriptor the child inherited (besides 0-2 and `keep`) at /dev/null.

    A forked child holds its parent's open files. One may be the output folder's lock: an
    `flock` belongs to the open file, not to the process, so a reader that outlives the round of
    work that forked it (the watcher's, or a one-worker batch's) kept the folder locked after
    its parent let go, and the next round waited for ever. Others are the parent's pipes (to a
    browser, to the pool), which must see their end of file when the parent closes them.
    Each descriptor is replaced, not closed, so that no number is freed for reuse: a file object
    of the parent's finalised in the child would otherwise close whatever the child opened next.
    """
    try:
        inherited = [int(fd) for fd in os.listdir("/proc/self/fd")]
    except OSError:  # no /proc: at least the pipes of this process's children that stay, whose
        inherited = list(STAYING_PIPES)  # end would wait for this one (the lock stays held by it)
    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    for fd in inherited:
        if fd > 2 and fd != null and fd not in keep:
            try:
                os.dup2(null, fd, inheritable=False)  # (the one listdir used becomes /dev/null too)
            except OSError:
                pass
    os.close(null)


def memory_of(pid: int | str = "self") -> tuple[int, int]:
    """(address space, resident set) of a process, in bytes, from /proc; (0, 0) where there is none."""
    try:
        with open(f"/proc/{pid}/statm") as fh:
            size, resident = (int(x) for x in fh.read().split()[:2])
    except (OSError, ValueError):
        return 0, 0
    page = os.sysconf("SC_PAGE_SIZE")
    return size * page, resident * page


def _limit(memory_mb: int, seconds: float) -> None:
    """Cap the address space so the child's resident memory stays within `memory_mb` (what it
    shares with its parent counts), and its CPU time as a backstop should the parent die."""
    _limit_memory(memory_mb)
    cpu = int(seconds) + 5
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))


def _limit_memory(memory_mb: int) -> None:
    size, resident = memory_of()
    if size:
        allowed = size + max(memory_mb * MB - resident, _FLOOR)
        resource.setrlimit(resource.RLIMIT_AS, (allowed, allowed))


def _limit_cpu(seconds: float) -> None:
    """Move the reader's CPU backstop to `seconds` + 5 from now (the soft limit only; SIGXCPU)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = int(usage.ru_utime + usage.ru_stime + seconds) + 5
    resource.setrlimit(resource.RLIMIT_CPU, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))


def _message(work: Callable[[], object]) -> tuple[str, object]:
    try:
        return "ok", work()
    except IntakeError as exc:
        return "intake", exc.problems  # IntakeError's own pickling would lose its problems
    except MemoryError:
        return "memory", None
    except BaseException as exc:  # noqa: BLE001 - sent to the parent, which raises it
        try:
            pickle.loads(pickle.dumps(exc))
            return "raise", exc
        except Exception:  # noqa: BLE001 - an exception that does not pickle travels as text
            return "raise", RuntimeError(f"{type(exc).__name__}: {exc}")


def _child(work: Callable[[], object], memory_mb: int, seconds: float, wfd: int
           ) -> NoReturn:  # pragma: no cover - runs in the forked child
    import gc

    gc.disable()  # a collection would touch, and so copy, every page of the parent's heap
    code = 0
    try:
        _limit(memory_mb, seconds)
        # streamed: a job's documents (budget.json alone is 100 MB for the largest workbook within
        # the limits) are not copied into one pickle first
        with os.fdopen(wfd, "wb", buffering=1 << 16) as pipe:
            pickle.dump(_message(work), pipe, protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException:  # noqa: BLE001 - an exit status but 0 tells the parent the work failed
        code = 70
    finally:
        os._exit(code)  # no atexit handlers, no flushing of the parent's buffered output


# ---------------------------------------------------------------- the parent


def _collect(fd: int, deadline: float) -> tuple[bytes, bool]:
    """Everything the child writes, and whether it ran past the deadline first (then b"")."""
    payload, timed_out = _read_exactly(fd, UNTIL_THE_END, deadline)
    return (b"" if timed_out else payload), timed_out


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_exactly(fd: int, count: int, deadline: float | None) -> tuple[bytes, bool]:
    """`count` bytes from `fd` (fewer at end of file), and whether `deadline` passed first."""
    chunks: list[bytes] = []
    left = count
    while left:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not _readable(fd, wait):
                return b"".join(chunks), True
        chunk = os.read(fd, min(left, CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks), False


def died(name: str, status: int, messages: Messages) -> IntakeError:
    """The error for a child that ended with wait `status` without answering."""
    if os.WIFSIGNALED(status):
        how = signal.Signals(os.WTERMSIG(status)).name
    else:
        how = f"exit status {os.WEXITSTATUS(status)}"
    return IntakeError.single(name, messages.died(how))


def _outcome(name: str, payload: bytes, status: int, messages: Messages) -> object:
    if not payload or status != 0:  # a child that failed while it wrote leaves part of a payload
        raise died(name, status, messages)
    kind, value = pickle.loads(payload)  # written by our own child, never by the workbook
    return _unpack(name, kind, value, messages)


def _unpack(name: str, kind: str, value: Any, messages: Messages) -> object:
    """What a child's answer stands for: its value, or the error it reports."""
    if kind == "ok":
        return value
    if kind == "intake":
        raise IntakeError(value)
    if kind == "memory":
        raise IntakeError.single(name, messages.out_of_memory())
    raise value
