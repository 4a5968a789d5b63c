"""Reading an untrusted workbook with bounded resources.

Workbooks arrive from strangers and are read unattended, so the read runs in a forked child
process with an address-space limit (`RLIMIT_AS`) and a CPU-time backstop, while the parent
enforces a wall-clock timeout and kills the child when it runs over. The child sends back the
pickled `Intake` (or the `IntakeError`'s problems); a child that runs out of memory or time
becomes an `IntakeError` naming the file, so one poisoned workbook cannot take a batch or the
watcher down with it.

`fork` is used because it costs a few milliseconds: the child already has the reader imported.
Workbook after workbook, the read runs in a child that stays (`Served`, forked on first use,
with the same bounds and replaced when it dies, runs over or is worn), so the fork and each
child's first-run work (specialised bytecode, the reader's caches) are paid once per process,
not per workbook; the per-workbook job (`run.job`) is served the same way. A forked child does
not collect the garbage its parent made (`gc.freeze`, or no collection at all in a child forked
for one read): a collection walks every object the parent has, copying each page it touches.
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
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

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


# ---------------------------------------------------------------- a child that stays

SERVE_JOBS = 500  # a served child is replaced after this many answers...
SERVE_GROWTH = 64 * MB  # ...or once it holds this much more memory than after its first answer
_HEADER = 8  # bytes of length before each message, and each frame of a reply, on a served child's pipes
_END = 0  # the frame that ends a reply
_ABANDON = (1 << 64) - 1  # the frame that abandons a reply: the child ran out of memory while sending it
_FRAME = 1 << 20  # a reply is sent in frames of about this size, as it is pickled
_OUT_OF_MEMORY = pickle.dumps(("memory", None))


class _Server:
    """A child forked once that answers request after request (`handle(argument)`), with the
    limits of a child forked per request: the fork, and the first-run work of every child
    (compiling templates, filling caches, specialising bytecode), are paid once.

    Its memory limit is set when it starts; its CPU backstop is moved forward before each request.
    A reply is pickled straight onto the pipe in frames, so a large one (the documents of the
    largest workbook within the limits) is never held twice in the child.
    """

    def __init__(self, handle: Callable[[Any], object], memory_mb: int) -> None:
        requests_in, self.requests = os.pipe()
        self.replies, replies_out = os.pipe()
        self.owner = os.getpid()
        self.memory_mb = memory_mb
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - the served child; checked through the parent
            os.close(self.requests)
            os.close(self.replies)
            _let_go_of_inherited_files(keep=(requests_in, replies_out))
            _serve(handle, requests_in, replies_out, memory_mb)
        os.close(requests_in)
        os.close(replies_out)
        self.jobs = 0
        self.warm_size = 0

    def ask(self, argument: object, deadline: float) -> tuple[bytes | None, bool]:
        """The child's pickled answer for `argument` (None if it died first), and whether
        `deadline` (a time.monotonic() value) passed first."""
        message = pickle.dumps((argument, deadline - time.monotonic()), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            _write_all(self.requests, len(message).to_bytes(_HEADER, "big") + message)
        except OSError:
            return None, False
        chunks: list[bytes] = []
        while True:
            header, timed_out = _read_exactly(self.replies, _HEADER, deadline)
            if timed_out or len(header) < _HEADER:
                return None, timed_out
            size = int.from_bytes(header, "big")
            if size == _END:
                break
            if size == _ABANDON:
                chunks = [_OUT_OF_MEMORY]
                continue
            chunk, timed_out = _read_exactly(self.replies, size, deadline)
            if timed_out or len(chunk) < size:
                return None, timed_out
            chunks.append(chunk)
        self.jobs += 1
        if self.jobs == 1:
            self.warm_size = _size_of(self.pid)
        return b"".join(chunks), False

    def worn(self) -> bool:
        return self.jobs >= SERVE_JOBS or _size_of(self.pid) - self.warm_size > SERVE_GROWTH

    def close(self, kill: bool = True) -> int:
        """End the child (closing its pipe lets it finish by itself); its wait status."""
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


class Served:
    """`handle(argument)` in a bounded child process of this process's that stays (started on
    first use, replaced when it dies, runs over, or is worn), for work done over and over: the
    reader's (`READER`) and the per-workbook job's (`run.job.JOBS`).

    A request that runs out of time, or kills the child, ends it and becomes the IntakeError a
    child forked for it alone would have given. One that runs out of memory is tried again by
    `alone` (in a child of its own, with the same bounds): a child that has served others may have
    less room left than a fresh one. The child runs `handle` as this process had it when the
    child was forked (a test that swaps a stage ends the child first); a child inherited through
    a fork belongs to the parent and is left alone.
    """

    def __init__(self, handle: Callable[[Any], object]) -> None:
        self.handle = handle
        self.server: _Server | None = None
        self._lock = threading.Lock()  # one request at a time: a child answers in order

    def __call__(self, argument: object, name: str, *, memory_mb: int, deadline: float, messages: Messages,
                 alone: Callable[[float], object]) -> object:
        """What `handle(argument)` returned in the child (or what `alone(deadline)` returned); an
        IntakeError naming `name` when the child ran out of time or died."""
        with self._lock:
            server = self._server(memory_mb)
            try:
                payload, timed_out = server.ask(argument, deadline - KILL_MARGIN)
            except BaseException:  # interrupted (Ctrl-C, SIGTERM): the child must not go on with it
                self.server = None
                server.close(kill=True)
                raise
            if payload is None:
                self.server = None
                status = server.close(kill=True)
                if timed_out:
                    raise IntakeError.single(name, messages.timed_out())
                _outcome(name, b"", status, messages)  # raises: no answer is a dead child
            assert payload is not None
            kind, value = pickle.loads(payload)  # written by our own child, never by the workbook
            if kind == "memory":  # room taken by earlier requests, or the request's own need?
                self.server = None
                server.close(kill=True)
            elif server.worn():
                self.server = None
                server.close(kill=False)
        if kind == "memory":
            return alone(deadline)
        return _unpack(name, kind, value, messages)

    def _server(self, memory_mb: int) -> _Server:
        server = self.server
        if server is not None and server.owner != os.getpid():
            server = None  # inherited through a fork: that child belongs to the parent
        elif server is not None and server.memory_mb != memory_mb:
            server.close(kill=False)
            server = None
        if server is None:
            server = _Server(self.handle, memory_mb)
            at_exit(self._end_at_exit)
        self.server = server
        return server

    def end(self, kill: bool = False) -> None:
        """End this process's child, if it has one (the next request starts another)."""
        with self._lock:
            server, self.server = self.server, None
            if server is not None and server.owner == os.getpid():
                server.close(kill=kill)

    def _end_at_exit(self) -> None:
        self.end()


def _read_named(path: str) -> Intake:
    from generator.intake import reader  # looked up when the child reads: tests swap read_intake

    return reader.read_intake(Path(path))


READER = Served(_read_named)


def read_intake_served(path: str | Path, *, memory_mb: int = MEMORY_MB, seconds: float = SECONDS) -> Intake:
    """`read_intake(path)` in this process's reader child (started on first use). `path` stays
    as given: no `Path` (which interns its names) per workbook in a long-lived process."""
    started = time.monotonic()

    def alone(deadline: float) -> Intake:
        return read_intake_bounded(Path(path), memory_mb=memory_mb, seconds=deadline - time.monotonic())

    intake = READER(str(path), os.path.basename(path), memory_mb=memory_mb, deadline=started + seconds,
                    messages=Messages(seconds, memory_mb), alone=alone)
    assert isinstance(intake, Intake)
    return intake


def _size_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


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
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                return b"".join(chunks), True
        chunk = os.read(fd, min(left, _FRAME))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks), False


class _Frames:
    """A file for `pickle.dump` that sends what it is given in frames on a served child's pipe."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = bytearray()

    def write(self, data: bytes | memoryview) -> int:
        size = len(data)
        if size >= _FRAME:  # large bytes (a document) go as they are, not copied into the buffer
            self.flush()
            _write_all(self.fd, size.to_bytes(_HEADER, "big"))
            _write_all(self.fd, data)
        else:
            self.buffer += data
            if len(self.buffer) >= _FRAME:
                self.flush()
        return size

    def flush(self) -> None:
        if self.buffer:
            _write_all(self.fd, len(self.buffer).to_bytes(_HEADER, "big") + self.buffer)
            self.buffer = bytearray()

    def end(self) -> None:
        self.flush()
        _write_all(self.fd, _END.to_bytes(_HEADER, "big"))

    def abandon(self) -> None:
        self.buffer = bytearray()
        _write_all(self.fd, _ABANDON.to_bytes(_HEADER, "big") + _END.to_bytes(_HEADER, "big"))


def _serve(handle: Callable[[Any], object], requests: int, replies: int,
           memory_mb: int) -> NoReturn:  # pragma: no cover - a child
    import gc

    gc.freeze()  # the parent's objects are never scanned (nor copied) by this process's collections
    code = 0
    try:
        _limit_memory(memory_mb)
        while True:
            header, _ = _read_exactly(requests, _HEADER, None)
            if len(header) < _HEADER:
                break  # the parent closed the pipe (or died): done
            argument, seconds = pickle.loads(_read_exactly(requests, int.from_bytes(header, "big"), None)[0])
            _limit_cpu(seconds)
            message: tuple[str, object] | None = _message(functools.partial(handle, argument))
            frames = _Frames(replies)
            try:
                pickle.dump(message, frames, protocol=pickle.HIGHEST_PROTOCOL)
            except MemoryError:
                frames.abandon()
            else:
                frames.end()
            message = argument = None  # not held while waiting for the next request
    except BaseException:  # noqa: BLE001 - a child that stops answering tells the parent enough
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
