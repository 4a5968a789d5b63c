"""Reading an untrusted workbook with bounded resources.

Workbooks arrive from strangers and are read unattended, so the read runs in a forked child
process with an address-space limit (`RLIMIT_AS`) and a CPU-time backstop, while the parent
enforces a wall-clock timeout and kills the child when it runs over. The child sends back the
pickled `Intake` (or the `IntakeError`'s problems); a child that runs out of memory or time
becomes an `IntakeError` naming the file, so one poisoned workbook cannot take a batch or the
watcher down with it.

`fork` is used because it costs a few milliseconds: the child already has the reader imported.
Two things keep it that cheap. The child does not collect cyclic garbage (a collection walks
every object the parent has, copying each page it touches; one read makes little garbage and
the memory limit still holds). And a long-lived process that forks many readers (a batch
worker) first reads a workbook of our own in process (`warm_up`), so the interpreter's
specialised bytecode and the reader's caches are made once, in the parent, instead of in every
child: in all, a read in a child went from about 30 ms to about 11 ms (3.8 ms in process).
Where there is no `fork` (Windows), or when `CLINIC_BUDGET_SANDBOX=0`, the read happens in
process, with only the reader's own limits (`workbook.py`).
"""

from __future__ import annotations

import functools
import os
import pickle
import resource
import select
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, TypeVar

from generator.errors import IntakeError
from generator.lifecycle import at_exit
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
        return read_intake_served(path)
    from generator.intake.reader import read_intake

    return read_intake(Path(path))


def warm_up() -> None:
    """Read one of the shipped example workbooks in this process, so that the children forked to
    read untrusted ones start warm (see the module's docstring). Trusted input: we write it."""
    import tempfile

    from generator.intake.blank import EXAMPLES, write_example
    from generator.intake.reader import read_intake

    with tempfile.TemporaryDirectory(prefix="clinic-budget-warm-") as folder:
        sample = Path(folder) / "warm-up.xlsx"
        write_example(sample, next(iter(EXAMPLES)))
        read_intake(sample)


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


def run_bounded(work: Callable[[], T], name: str, *, memory_mb: int, deadline: float, messages: Messages) -> T:
    """`work()` in a forked child that may hold at most `memory_mb` and must answer before
    `deadline` (a time.monotonic() value; the child is killed and reaped by then).

    Returns what `work` returned (it must pickle), re-raises an IntakeError's problems or any
    other exception `work` raised, and turns a child that ran out of memory or time, or died,
    into an IntakeError naming `name`.
    """
    rfd, wfd = os.pipe()
    seconds = max(0.0, deadline - KILL_MARGIN - time.monotonic())
    pid = os.fork()
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


# ---------------------------------------------------------------- a reader that stays

SERVE_READS = 500  # a reader process is replaced after this many workbooks...
SERVE_GROWTH = 64 * MB  # ...or once it holds this much more memory than when it started
_HEADER = 8  # bytes of length before each message on the reader's pipes


class _Server:
    """A child forked once that reads workbook after workbook, with the same limits as a child
    forked per read: the fork, and the first-run work of every child, are paid once.

    Its memory limit is set when it starts; its CPU backstop is moved forward before each read.
    A read that runs out of memory is tried again in a child of its own (a reader that has read
    other workbooks may have less room left); one that runs out of time, or kills the reader,
    ends it, and the next read starts a new one.
    """

    def __init__(self, memory_mb: int) -> None:
        requests_in, self.requests = os.pipe()
        self.replies, replies_out = os.pipe()
        self.owner = os.getpid()
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - the reader; checked through the parent
            os.close(self.requests)
            os.close(self.replies)
            _let_go_of_inherited_files(keep=(requests_in, replies_out))
            _serve(requests_in, replies_out, memory_mb)
        os.close(requests_in)
        os.close(replies_out)
        self.reads = 0
        self.start_size = _size_of(self.pid)

    def read(self, path: str | Path, seconds: float) -> tuple[bytes, bool]:
        """The reader's answer for `path` (b"" if it died first), and whether time ran out."""
        message = pickle.dumps((str(path), seconds))
        try:
            _write_all(self.requests, len(message).to_bytes(_HEADER, "big") + message)
        except OSError:
            return b"", False
        deadline = time.monotonic() + seconds
        header, timed_out = _read_exactly(self.replies, _HEADER, deadline)
        if len(header) < _HEADER or timed_out:
            return b"", timed_out
        payload, timed_out = _read_exactly(self.replies, int.from_bytes(header, "big"), deadline)
        self.reads += 1
        return payload, timed_out

    def worn(self) -> bool:
        return self.reads >= SERVE_READS or _size_of(self.pid) - self.start_size > SERVE_GROWTH

    def close(self, kill: bool = True) -> int:
        """End the reader (closing its pipe lets it finish by itself); its wait status."""
        for fd in (self.requests, self.replies):
            try:
                os.close(fd)
            except OSError:
                pass
        if kill:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            return os.waitpid(self.pid, 0)[1]
        except ChildProcessError:
            return 0


_server: _Server | None = None


def read_intake_served(path: str | Path, *, memory_mb: int = MEMORY_MB, seconds: float = SECONDS) -> Intake:
    """`read_intake(path)` in this process's reader child (started on first use). `path` stays
    as given: no `Path` (which interns its names) per workbook in a long-lived process."""
    global _server
    name = os.path.basename(path)
    if _server is not None and _server.owner != os.getpid():
        _server = None  # inherited through a fork: that reader belongs to the parent
    if _server is None:
        _server = _Server(memory_mb)
        at_exit(_close_server)
    server = _server
    started = time.monotonic()
    payload, timed_out = server.read(path, seconds - KILL_MARGIN)
    messages = Messages(seconds, memory_mb)
    if timed_out or not payload:
        _server = None
        status = server.close(kill=True)
        if timed_out:
            raise IntakeError.single(name, messages.timed_out())
        _outcome(name, b"", status, messages)  # raises: no payload is a dead reader
    if pickle.loads(payload)[0] == "memory":  # room left by earlier reads, or the workbook's own?
        _server = None
        server.close(kill=True)
        return read_intake_bounded(Path(path), memory_mb=memory_mb, seconds=seconds - (time.monotonic() - started))
    if server.worn():
        _server = None
        server.close(kill=False)
    intake = _outcome(name, payload, 0, messages)
    assert isinstance(intake, Intake)
    return intake


def _close_server() -> None:
    global _server
    if _server is not None and _server.owner == os.getpid():
        _server.close(kill=False)
    _server = None


def _size_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _write_all(fd: int, data: bytes) -> None:
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
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                return b"".join(chunks), True
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks), False


def _serve(requests: int, replies: int, memory_mb: int) -> NoReturn:  # pragma: no cover - a child
    import gc

    from generator.intake.reader import read_intake

    gc.freeze()  # the parent's objects are never scanned (nor copied) by this process's collections
    code = 0
    try:
        _limit_memory(memory_mb)
        while True:
            header, _ = _read_exactly(requests, _HEADER, None)
            if len(header) < _HEADER:
                break  # the parent closed the pipe (or died): done
            name, seconds = pickle.loads(_read_exactly(requests, int.from_bytes(header, "big"), None)[0])
            _limit_cpu(seconds)
            data = pickle.dumps(_message(functools.partial(read_intake, Path(name))), protocol=pickle.HIGHEST_PROTOCOL)
            _write_all(replies, len(data).to_bytes(_HEADER, "big") + data)
    except BaseException:  # noqa: BLE001 - a reader that stops answering tells the parent enough
        code = 70
    finally:
        os._exit(code)


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
    except OSError:
        return  # no /proc: keep them (the lock is then held until the reader is replaced)
    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    for fd in inherited:
        if fd > 2 and fd != null and fd not in keep:
            try:
                os.dup2(null, fd, inheritable=False)  # (the one listdir used becomes /dev/null too)
            except OSError:
                pass
    os.close(null)


def _resident_bytes() -> tuple[int, int]:
    """(address space, resident set) of this process, from /proc; (0, 0) where there is none."""
    try:
        with open("/proc/self/statm") as fh:
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
    size, resident = _resident_bytes()
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
    """Everything the child writes, and whether it ran past the deadline first."""
    chunks: list[bytes] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return b"", True
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks), False
        chunks.append(chunk)


def _outcome(name: str, payload: bytes, status: int, messages: Messages) -> object:
    if not payload or status != 0:  # a child that failed while it wrote leaves part of a payload
        if os.WIFSIGNALED(status):
            how = signal.Signals(os.WTERMSIG(status)).name
        else:
            how = f"exit status {os.WEXITSTATUS(status)}"
        raise IntakeError.single(name, messages.died(how))
    kind, value = pickle.loads(payload)  # written by our own child, never by the workbook
    if kind == "ok":
        return value
    if kind == "intake":
        raise IntakeError(value)
    if kind == "memory":
        raise IntakeError.single(name, messages.out_of_memory())
    raise value
