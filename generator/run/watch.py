"""The drop folder: a loop around `batch.process_workbook`, run when a workbook has settled.

A file is *settled* when its size, modification time and content hash have stayed the same for
`settle` seconds, so a workbook still being copied, synced or saved is never read half-written.
A copy may pause for longer than that (a slow share, a sync client): a workbook that is then
found empty, damaged or incomplete while it was modified within `recent_window(settle)` seconds
is taken to be still arriving. Nothing is said; it is read again when it changes, or once it has
not changed for that long, and only then, if it is still damaged, reported (once).
File-system events (native, or polled with `poll=True` for network and synced folders) only
say which files to look at; Excel's save (a temporary file renamed over the workbook) arrives
as a move, which counts like a creation. The workbooks already there are checked at start
against the manifest, as a batch would. Each round of work holds the output folder's lock.
"""

from __future__ import annotations

import contextlib
import os
import queue
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from generator.errors import IntakeError, UsageError
from generator.run.batch import (
    Ignored,
    Job,
    Ledger,
    Outcome,
    Waiting,
    WorkerPool,
    collision_outcome,
    discover,
    is_listed_name,
    is_workbook_name,
    open_ledger,
    slug_for,
)
from generator.run.manifest import check_manifest, fingerprint, sha256_file
from generator.run.outputs import OutputLock
from generator.run.portfolio import write_index
from generator.settings import Settings

if TYPE_CHECKING:
    from watchdog.observers.api import BaseObserver

TICK = 0.1  # seconds between looks at the files waiting to settle
RECENT = 10.0  # seconds: a damaged or incomplete workbook modified this recently may still be arriving
CHECK_FOLDER = 1.0  # seconds between looks at whether the watched folder is still the same one


@dataclass(frozen=True)
class Watching:
    input_dir: Path
    out: Path
    polling: bool


@dataclass(frozen=True)
class FolderGone:
    """The watched folder was removed or renamed away; watching resumes when it is back."""

    input_dir: Path


@dataclass(frozen=True)
class Stopped:
    pass


WatchEvent = Watching | Waiting | Ignored | Outcome | FolderGone | Stopped


def _identity(folder: Path) -> tuple[int, int] | None:
    """Which folder `folder` names now (device, inode), or None when there is none."""
    try:
        st = os.stat(folder)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISDIR(st.st_mode) else None


# ------------------------------------------------------------------ settling


@dataclass
class _Seen:
    signature: tuple[int, int]  # size, mtime in ns
    since: float  # when the signature was first seen
    digest: str | None = None  # the content hash when the signature was first seen


def recent_window(settle: float) -> float:
    """How long after its last change a damaged or incomplete workbook is still taken for a copy
    in progress: RECENT seconds, or twice `--settle` where that is longer."""
    return max(RECENT, 2 * settle)


def still_arriving(outcome: Outcome, window: float, wall: Callable[[], float] = time.time) -> float | None:
    """When `outcome` failed because its file is empty, damaged or incomplete and the file was
    modified within `window` seconds: the wall-clock time to look at it again; else None."""
    from generator.intake.workbook import DAMAGED, EMPTY

    if not outcome.failed or not outcome.errors or not outcome.errors[0].endswith((DAMAGED, EMPTY)):
        return None
    try:
        modified = os.stat(outcome.source).st_mtime
    except OSError:
        return None
    due = modified + window
    return due if due > wall() else None


class Settler:
    """Files that changed, and when each has stopped changing.

    Every look is a `stat`; the content is hashed when a file's size and modification time are
    first seen, and again once they have held for `settle` seconds: the file is ready when the
    hash has held too (a write that keeps the size and lands within the mtime's resolution is
    still caught).
    """

    def __init__(self, settle: float, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self.settle = settle
        self.clock = clock
        self.wall = wall
        self._dirty: set[Path] = set()
        self._seen: dict[Path, _Seen] = {}
        self._held: dict[Path, float] = {}  # still arriving (`still_arriving`): when to look again

    def touch(self, path: Path) -> None:
        self._dirty.add(path)
        self._held.pop(path, None)  # it changed: it settles as any change does

    def hold(self, path: Path, until: float) -> None:
        """Look at `path` again once it changes (`touch`) or, at the latest, at wall-clock `until`."""
        if path not in self._dirty:
            self._held[path] = until

    def __len__(self) -> int:
        return len(self._dirty) + len(self._held)

    def _forget(self, path: Path) -> None:
        self._dirty.discard(path)
        self._seen.pop(path, None)

    def _settled(self, path: Path, now: float) -> bool | None:
        """True once settled, False while not, None when the file is gone or unreadable."""
        try:
            st = os.stat(path)
            signature = (st.st_size, st.st_mtime_ns)
            seen = self._seen.get(path)
            if seen is None or seen.signature != signature:
                self._seen[path] = _Seen(signature, now, sha256_file(path))
                return False
            if now - seen.since < self.settle:
                return False
            digest = sha256_file(path)
            again = os.stat(path)
            unchanged = (again.st_size, again.st_mtime_ns) == signature
        except OSError:  # gone (renamed away, deleted) or unreadable for now
            return None
        except IntakeError:  # a FIFO, a device, a huge file: never hashed; the job reports it, once
            return True
        if digest != seen.digest or not unchanged:
            self._seen[path] = _Seen(signature, now, digest if unchanged else None)
            return False
        return True

    def ready(self) -> list[Path]:
        """The dirty files that have settled, and the held ones whose time has come; they stop
        being dirty (or held)."""
        now, settled = self.clock(), []
        wall = self.wall()
        for path, until in sorted(self._held.items()):
            if wall >= until or not os.path.lexists(path):
                del self._held[path]
                if os.path.lexists(path):  # one removed meanwhile is forgotten, as a dirty one is
                    settled.append(path)
        for path in sorted(self._dirty):
            state = self._settled(path, now)
            if state is None or state:
                self._forget(path)
            if state:
                settled.append(path)
        return settled


# ------------------------------------------------------------------ events from the file system


def _handler(folder: Path, inbox: queue.SimpleQueue[Path]):  # type: ignore[no-untyped-def]
    from watchdog.events import FileSystemEvent, FileSystemEventHandler

    def relevant(raw: str | bytes) -> Path | None:
        path = Path(os.fsdecode(raw))
        return path if path.parent == folder and is_listed_name(path.name) else None

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            if event.is_directory or event.event_type in ("opened", "closed_no_write"):
                return
            for raw in (event.src_path, getattr(event, "dest_path", "")):
                path = relevant(raw) if raw else None
                if path is not None:
                    inbox.put(path)

    return Handler()


def _observer(folder: Path, poll: bool, inbox: queue.SimpleQueue[Path]) -> BaseObserver:
    observer: BaseObserver
    if poll:
        from watchdog.observers.polling import PollingObserver

        observer = PollingObserver(timeout=0.5)
    else:
        from watchdog.observers import Observer

        observer = Observer()
    observer.schedule(_handler(folder, inbox), str(folder), recursive=False)
    return observer


# ------------------------------------------------------------------ the loop


def _lock(out: Path, stop: threading.Event) -> Iterator[Waiting | OutputLock]:
    """Yield `Waiting` while another run has the folder, then the held lock (nothing if stopped)."""
    lock = OutputLock(out)
    told = False
    while not lock.acquire(blocking=False):
        if not told:
            told = True
            yield Waiting(out)
        if stop.wait(0.2):
            lock.release()
            return
    yield lock


def _round(paths: list[Path], input_dir: Path, settings: Settings, pool: WorkerPool,
           settler: Settler, stop: threading.Event) -> Iterator[WatchEvent]:
    """Process the settled workbooks under the lock; update the manifest and the index."""
    lock: OutputLock | None = None
    for item in _lock(settings.out, stop):
        if isinstance(item, OutputLock):
            lock = item
        else:
            yield item
    if lock is None:
        return
    ledger: Ledger | None = None
    try:
        ledger = open_ledger(settings.out, input_dir)
        clashes, fp = ledger.clashes, fingerprint(settings)
        others = {os.path.basename(o.source): o for o in ledger.others}
        yield from (others[p.name] for p in paths if p.name in others)  # reported once each time it settles
        jobs = [Job(str(p), slug_for(p.name), settings, fp, ledger.manifest.get(slug_for(p.name)),
                    within=str(input_dir)) for p in paths if p.name not in clashes and is_workbook_name(p.name)]
        for p in paths:
            if p.name in clashes and is_workbook_name(p.name):
                yield ledger.apply(collision_outcome(str(p), clashes[p.name], settings.out))
        for outcome in pool.run(jobs):
            if outcome.unstable:
                settler.touch(Path(outcome.source))  # still being written: look again once it settles
                if outcome.failed:
                    continue
            due = still_arriving(outcome, recent_window(settler.settle), settler.wall)
            if due is not None:
                settler.hold(Path(outcome.source), due)  # a copy that paused: nothing said yet
                continue
            yield ledger.apply(outcome)
            if stop.is_set():
                break
        ledger.save()
        write_index(settings.out, ledger.rows, settings.templates, accent=settings.branding.color)
    finally:
        if ledger is not None:
            ledger.close()
        lock.release()


def watch(input_dir: Path, settings: Settings, stop: threading.Event, settle: float = 0.5,
          poll: bool = False, workers: int | None = None) -> Iterator[WatchEvent]:
    """Generate each workbook in `input_dir` once it has settled, until `stop` is set (from
    another thread or a signal handler); yields what happens, as events.

    A folder removed and made again (or replaced by another of the same name) is not the one the
    file-system events were asked for: every CHECK_FOLDER seconds the folder's identity is
    compared, and watching starts afresh on the new one."""
    check_manifest(settings.out)  # a newer version's manifest: refused now, not at the first workbook
    inbox: queue.SimpleQueue[Path] = queue.SimpleQueue()
    first = _observer(input_dir, poll, inbox)
    settler = Settler(settle)
    pool = WorkerPool(workers)
    first.start()  # before listing the folder, so that no file falls between the two
    observer: BaseObserver | None = first
    try:
        identity, next_check = _identity(input_dir), time.monotonic() + CHECK_FOLDER
        for path in discover(input_dir, everything=True):
            settler.touch(path)
        yield Watching(input_dir, settings.out, poll)
        while not stop.is_set():
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + CHECK_FOLDER
                now = _identity(input_dir)
                if now != identity:
                    if observer is not None:
                        observer.stop()
                        observer.join(timeout=5)
                    observer = _started_observer(input_dir, poll, inbox) if now is not None else None
                    if observer is None:
                        if identity is not None:
                            yield FolderGone(input_dir)
                        identity = None
                        continue
                    identity = now
                    with contextlib.suppress(UsageError):  # gone again meanwhile: the next look says so
                        for path in discover(input_dir, everything=True):
                            settler.touch(path)
                    yield Watching(input_dir, settings.out, poll)
            while not inbox.empty():
                settler.touch(inbox.get())
            ready = settler.ready() if len(settler) else []
            if ready:
                yield from _round(ready, input_dir, settings, pool, settler, stop)
            stop.wait(TICK)
    finally:
        if observer is not None:
            observer.stop()
            observer.join(timeout=5)
        pool.close()
    yield Stopped()


def _started_observer(folder: Path, poll: bool, inbox: queue.SimpleQueue[Path]) -> BaseObserver | None:
    """A running observer of `folder`, or None when the folder has gone (again) meanwhile."""
    try:
        observer = _observer(folder, poll, inbox)
        observer.start()
    except OSError:
        return None
    return observer
