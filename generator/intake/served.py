"""A bounded child process that stays: forked on first use, it answers request after request.

A child forked per workbook (`sandbox.run_bounded`) pays for every page it touches and does each
first-run job again (compiling templates, filling caches, specialising bytecode): about 70 ms a
workbook for the whole job. `Served` keeps one child per process and per kind of work, the read
(`READER`) and the per-workbook job (`run.job.JOBS`), with the bounds of a child forked per
request (`sandbox`): its memory limit set when it starts, its CPU backstop moved forward before
each request, the parent's deadline. Requests and replies are pickled, each reply straight onto
the pipe in length-prefixed frames, so that a large one (the largest workbook's 100 MB of
documents) is never held twice in the child.
"""

from __future__ import annotations

import functools
import os
import pickle
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from generator.errors import IntakeError
from generator.intake import sandbox
from generator.intake.sandbox import (
    KILL_MARGIN,
    MB,
    MEMORY_MB,
    SECONDS,
    STAYING_PIPES,
    Messages,
    _fork,
    _let_go_of_inherited_files,
    _limit_cpu,
    _limit_memory,
    _message,
    _read_exactly,
    _unpack,
    _write_all,
    died,
    memory_of,
)
from generator.lifecycle import at_exit
from generator.model import Intake

SERVE_JOBS = 500  # a served child is replaced after this many answers...
SERVE_GROWTH = 128 * MB  # ...or once it holds this much more memory than when it was forked
SERVE_GRACE = 1.0  # seconds a served child gets to end by itself once its pipes are closed
OUT_OF_MEMORY_EXIT = 71  # a served child that ran out of memory part way through a reply exits so
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
        self.pid = _fork(requests_in, self.requests, self.replies, replies_out)
        if self.pid == 0:  # pragma: no cover - the served child; checked through the parent
            os.close(self.requests)
            os.close(self.replies)
            _let_go_of_inherited_files(keep=(requests_in, replies_out))
            _serve(handle, requests_in, replies_out, memory_mb)
        os.close(requests_in)
        os.close(replies_out)
        STAYING_PIPES.update((self.requests, self.replies))
        self.jobs = 0
        self.start_size = memory_of(self.pid)[1]

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
        return b"".join(chunks), False

    def worn(self) -> bool:
        """Served enough, or holding too much: a job child grows about 50 MB on its first
        workbook (templates, caches) and 20 MB over the next ten, then holds level; one that
        served a large workbook keeps what it took."""
        return self.jobs >= SERVE_JOBS or memory_of(self.pid)[1] - self.start_size > SERVE_GROWTH

    def close(self, kill: bool = True) -> int:
        """End the child, its wait status. Without `kill`, closing its pipes lets an idle child
        end by itself, within SERVE_GRACE: a process forked from this one that kept a copy of
        the pipes (a library user's own fork) would otherwise keep it waiting for ever."""
        for fd in (self.requests, self.replies):
            STAYING_PIPES.discard(fd)
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            if not kill:
                deadline = time.monotonic() + SERVE_GRACE
                while time.monotonic() < deadline:
                    pid, status = os.waitpid(self.pid, os.WNOHANG)
                    if pid:
                        return status
                    time.sleep(0.005)
            os.kill(self.pid, signal.SIGKILL)
        except (ProcessLookupError, ChildProcessError):
            pass
        try:
            return os.waitpid(self.pid, 0)[1]
        except ChildProcessError:
            return 0


class Served:
    """`handle(argument)` in a bounded child process of this process's that stays (started on
    first use, replaced when it dies, runs over, or is worn), for work done over and over: the
    reader's (`READER`) and the per-workbook job's (`run.job.JOBS`).

    A request that runs out of time ends the child and becomes the IntakeError a child forked for
    it alone would have given. One that runs out of memory, or finds the child dead after it has
    served others, is tried again by `alone` (in a child of its own, with the same bounds), so
    that a workbook gets the answer a child forked for it would give: a child that has served
    others may have less room left than a fresh one, or may have died between requests (the
    kernel's out-of-memory killer favours a large idle process). A fresh child that dies on its
    first request is that request's error. The child runs `handle` as this process had it when the
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
                self._drop(server, kill=True)
                raise
            answer: tuple[str, Any] | None = None  # None: tried again alone
            if payload is None:
                status = self._drop(server, kill=True)
                if timed_out:
                    raise IntakeError.single(name, messages.timed_out())
                if server.jobs == 0 and not _ran_out_of_memory(status):
                    raise died(name, status, messages)  # a fresh child died on this request
                # else it died between requests, or ran out of memory part way through its answer
            else:
                answer = pickle.loads(payload)  # written by our own child, never by the workbook
                if answer[0] == "memory":  # room taken by earlier requests, or the request's own need?
                    self._drop(server, kill=True)
                    answer = None
                elif server.worn():
                    self._drop(server, kill=False)
        if answer is None:
            return alone(deadline)
        return _unpack(name, *answer, messages)

    def _drop(self, server: _Server, kill: bool) -> int:
        """This process has no child until the next request; `server` is ended (its wait status)."""
        self.server = None
        return server.close(kill=kill)

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
    name = os.path.basename(path)
    messages = Messages(seconds, memory_mb)

    def alone(deadline: float) -> object:
        from generator.intake import reader  # looked up now: tests swap read_intake

        return sandbox.run_bounded(lambda: reader.read_intake(Path(path)), name, memory_mb=memory_mb,
                                   deadline=deadline, messages=messages)

    intake = READER(str(path), name, memory_mb=memory_mb, deadline=time.monotonic() + seconds,
                    messages=messages, alone=alone)
    assert isinstance(intake, Intake)
    return intake


def _ran_out_of_memory(status: int) -> bool:
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == OUT_OF_MEMORY_EXIT


class _Frames:
    """A file for `pickle.dump` that sends what it is given in frames on a served child's pipe."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = bytearray()
        self.clean = True  # False while a frame is part written: it can no longer be abandoned

    def write(self, data: bytes | memoryview | pickle.PickleBuffer) -> int:
        view = memoryview(data).cast("B")  # a PickleBuffer, or a view of wider items, counted in bytes
        size = view.nbytes
        if size >= _FRAME:  # large bytes (a document) go as they are, not copied into the buffer
            self.flush()
            self._send(size.to_bytes(_HEADER, "big"), view)
        else:
            self.buffer += view
            if len(self.buffer) >= _FRAME:
                self.flush()
        return size

    def flush(self) -> None:
        if self.buffer:
            self._send(len(self.buffer).to_bytes(_HEADER, "big") + self.buffer)
            self.buffer = bytearray()

    def _send(self, *parts: bytes | memoryview) -> None:
        views = [memoryview(part) for part in parts]  # made before the first byte goes
        self.clean = False
        for view in views:
            _write_all(self.fd, view)
        self.clean = True

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
            frames = _Frames(replies)
            try:
                argument, seconds = pickle.loads(_read_exactly(requests, int.from_bytes(header, "big"), None)[0])
                _limit_cpu(seconds)
                message: tuple[str, object] | None = _message(functools.partial(handle, argument))
                pickle.dump(message, frames, protocol=pickle.HIGHEST_PROTOCOL)
                frames.end()
            except MemoryError:
                if not frames.clean:  # part of a frame is on the pipe: only the exit status can say it
                    code = OUT_OF_MEMORY_EXIT
                    break
                frames.abandon()
            message = argument = None  # not held while waiting for the next request
    except BaseException:  # noqa: BLE001 - a child that stops answering tells the parent enough
        code = 70
    finally:
        os._exit(code)
