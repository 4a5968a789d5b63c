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

import os
import pickle
import resource
import select
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from generator.errors import IntakeError
from generator.model import Intake

MEMORY_MB = 600
SECONDS = 10.0
ENV = "CLINIC_BUDGET_SANDBOX"
MB = 1024 * 1024
_FLOOR = 128 * MB  # the least a read may allocate, however large the process it forks from

TIMEOUT = "took more than {seconds:g} seconds to read; it may be damaged or hostile"
MEMORY = "needed more than {mb} MB to read; it may be damaged or hostile"
CRASHED = ("stopped the reader ({how}), most likely at the {mb} MB memory limit; "
           "it may be damaged or hostile")

Reader = Callable[[Path], Intake]


def enabled() -> bool:
    """Whether workbooks are read in a bounded child process (the default where fork exists)."""
    off = os.environ.get(ENV, "1").strip().lower() in ("0", "no", "false", "off")
    return hasattr(os, "fork") and not off


def read_untrusted(path: Path) -> Intake:
    """`read_intake(path)`, in a bounded child process unless the sandbox is off."""
    if enabled():
        return read_intake_bounded(path)
    from generator.intake import read_intake

    return read_intake(Path(path))


def warm_up() -> None:
    """Read one of the shipped example workbooks in this process, so that the children forked to
    read untrusted ones start warm (see the module's docstring). Trusted input: we write it."""
    import tempfile

    from generator.examples import EXAMPLES, write_example
    from generator.intake import read_intake

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
    """
    from generator.intake import read_intake

    path = Path(path)
    read: Reader = reader or read_intake
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; its outcome is checked through the parent
        os.close(rfd)
        _child(path, read, memory_mb, seconds, wfd)
    os.close(wfd)
    status: int | None = None
    try:
        payload, timed_out = _collect(rfd, seconds)
        if timed_out:
            os.kill(pid, signal.SIGKILL)
        status = os.waitpid(pid, 0)[1]
    finally:
        os.close(rfd)
        if status is None:  # interrupted (Ctrl-C): the child must not outlive the read
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    if timed_out:
        raise IntakeError.single(path.name, TIMEOUT.format(seconds=seconds))
    return _outcome(path.name, payload, status, memory_mb)


# ---------------------------------------------------------------- the child


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
    size, resident = _resident_bytes()
    if size:
        allowed = size + max(memory_mb * MB - resident, _FLOOR)
        resource.setrlimit(resource.RLIMIT_AS, (allowed, allowed))
    cpu = int(seconds) + 5
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))


def _message(path: Path, reader: Reader) -> tuple[str, object]:
    try:
        return "ok", reader(path)
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


def _child(path: Path, reader: Reader, memory_mb: int, seconds: float, wfd: int
           ) -> NoReturn:  # pragma: no cover - runs in the forked child
    import gc

    gc.disable()  # a collection would touch, and so copy, every page of the parent's heap
    code = 0
    try:
        _limit(memory_mb, seconds)
        data = pickle.dumps(_message(path, reader), protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(data)
        while view:
            view = view[os.write(wfd, view):]
    except BaseException:  # noqa: BLE001 - no payload tells the parent the read failed
        code = 70
    finally:
        os._exit(code)  # no atexit handlers, no flushing of the parent's buffered output


# ---------------------------------------------------------------- the parent


def _collect(fd: int, seconds: float) -> tuple[bytes, bool]:
    """Everything the child writes, and whether it ran past the deadline first."""
    deadline = time.monotonic() + seconds
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


def _outcome(name: str, payload: bytes, status: int, memory_mb: int) -> Intake:
    if not payload:
        if os.WIFSIGNALED(status):
            how = signal.Signals(os.WTERMSIG(status)).name
        else:
            how = f"exit status {os.WEXITSTATUS(status)}"
        raise IntakeError.single(name, CRASHED.format(how=how, mb=memory_mb))
    kind, value = pickle.loads(payload)  # written by our own child, never by the workbook
    if kind == "ok":
        assert isinstance(value, Intake)
        return value
    if kind == "intake":
        raise IntakeError(value)
    if kind == "memory":
        raise IntakeError.single(name, MEMORY.format(mb=memory_mb))
    raise value
