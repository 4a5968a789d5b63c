"""The work behind the page: the worker processes, the bounded queue, the output lock and the
manifest, and one upload from its saved file to its `batch.Outcome`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from generator.errors import OutputError
from generator.run.batch import CRASHED, Job, Ledger, Outcome, _failure, default_workers, process_pool, process_workbook
from generator.run.manifest import Manifest, Record, check_manifest, fingerprint, stored_records
from generator.run.outputs import OutputLock, remove_stale_temporaries, subpath
from generator.run.portfolio import Row, build_row
from generator.serve.files import UPLOADS_DIR, is_workbook_name
from generator.settings import Settings

INCOMING = ".incoming-"
DEFAULT_QUEUE = 16
LOCK_WAIT = 60.0  # seconds an upload waits for a batch or the watcher to let go of the output folder
WORKER_GRACE = 1.0  # seconds a worker gets to finish its workbook before it is terminated
MULTIPART_ROOM = 64 * 1024  # the form's boundaries and headers around the workbook


class Busy(Exception):
    """The output folder stayed locked by another run, or the queue is full."""


class Stopping(Exception):
    """The server was told to stop while this upload waited for its documents."""


Report = Callable[[Any], None]  # web.ServeEvent -> None: the CLI prints it


# ------------------------------------------------------------------ the work behind the page


@dataclass
class _Session:
    """The output lock and the manifest, held while any upload is being worked on."""

    lock: OutputLock
    ledger: Ledger
    fingerprint: str
    holders: int = 0


@dataclass
class Service:
    """Everything behind the page: the worker processes, the queue, the lock and the manifest.

    The manifest (an SQLite connection) and the lock are only touched from one thread, `io`."""

    settings: Settings
    workers: int = field(default_factory=default_workers)
    queue: int = DEFAULT_QUEUE
    max_upload: int = 0  # 0: the reader's own limit on a workbook's size, plus the form around it
    report: Report = lambda event: None  # noqa: E731 - the CLI prints what it is told
    lock_wait: float = LOCK_WAIT

    def __post_init__(self) -> None:
        from generator.intake.workbook import MAX_FILE

        if not self.max_upload:
            self.max_upload = MAX_FILE + MULTIPART_ROOM
        self.folder = self.settings.out
        self.folder_real = os.path.realpath(self.folder)
        self.uploads = subpath(self.folder, UPLOADS_DIR)
        self.io = ThreadPoolExecutor(1, thread_name_prefix="clinic-budget-ledger")
        self._pool: ProcessPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._session: _Session | None = None
        self._accepted = 0
        self._slugs: dict[str, tuple[asyncio.Lock, int]] = {}
        self._stopping = threading.Event()  # stop() has begun
        self.stop_requested = threading.Event()  # a signal arrived: uploads in progress answer at once
        self.examples: dict[str, bytes] = {}

    # -------------------------------------------------------------- starting and stopping

    def start(self) -> None:
        """Make the output and uploads folders, clear what a killed server left, start the workers."""
        check_manifest(self.folder)  # a newer version's manifest is refused before the page is up
        try:
            os.makedirs(self.uploads, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{self.uploads}: cannot create the uploads folder: {exc.strerror or exc}") from None
        for entry in os.scandir(self.uploads):
            if entry.name.startswith(INCOMING):
                shutil.rmtree(entry.path, ignore_errors=True)
        self.folder_real = os.path.realpath(self.folder)
        # The workers are started (the fork server imports the pipeline) before the page is up:
        # the first upload does not wait for them, and a stop never waits for a worker still
        # being started. A worker's first upload forks its reader and job children.
        pool = self.pool()
        for started in [pool.submit(os.getpid) for _ in range(self.workers)]:
            started.result()

    def pool(self) -> ProcessPoolExecutor:
        with self._pool_lock:
            if self._stopping.is_set():
                raise Stopping
            if self._pool is None:
                self._pool = process_pool(self.workers)
            return self._pool

    def _replace_pool(self, broken: ProcessPoolExecutor) -> None:
        with self._pool_lock:
            if self._pool is broken:
                self._pool = None
        broken.shutdown(wait=False, cancel_futures=True)

    def stop(self) -> None:
        """Stop the workers (a workbook in progress gets WORKER_GRACE seconds), then let go of
        the manifest and the lock. Within a few seconds, whatever was running."""
        self._stopping.set()
        self.stop_requested.set()
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            processes = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            deadline = time.monotonic() + WORKER_GRACE
            for process in processes:
                process.join(max(0.0, deadline - time.monotonic()))
            for process in processes:
                if process.is_alive():
                    process.terminate()
            for process in processes:
                process.join(1.0)
                if process.is_alive():
                    process.kill()
                    process.join(1.0)
        self.io.submit(self._close_session).result()
        self.io.shutdown(wait=True)

    # -------------------------------------------------------------- the lock and the manifest (io thread)

    def _open_session(self) -> _Session:
        if self._session is None:
            lock = OutputLock(self.folder)
            deadline = time.monotonic() + self.lock_wait
            while not lock.acquire(blocking=False):
                if time.monotonic() > deadline or self._stopping.wait(0.2):
                    lock.release()
                    raise Busy("another clinic-budget run (a batch or the watcher) is writing to the "
                               "output folder")
            try:
                remove_stale_temporaries(self.folder)
                self._session = _Session(lock, Ledger(self.folder, Manifest.load(self.folder)),
                                         fingerprint(self.settings))
            except BaseException:
                lock.release()
                raise
        self._session.holders += 1
        return self._session

    def _close_session(self, force: bool = True) -> None:
        session = self._session
        if session is None:
            return
        if not force:
            session.holders -= 1
            if session.holders > 0:
                return
        self._session = None
        try:
            with contextlib.suppress(OutputError):
                session.ledger.save()
            session.ledger.close()
        finally:
            session.lock.release()

    def _apply(self, outcome: Outcome, record: bool) -> Outcome:
        assert self._session is not None
        ledger = self._session.ledger
        if record:
            outcome = ledger.apply(outcome)
            ledger.save()
        return outcome

    def _previous(self, slug: str) -> Record | None:
        assert self._session is not None
        return self._session.ledger.manifest.get(slug)

    async def _in_io(self, func: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.io, partial(func, *args))

    # -------------------------------------------------------------- one upload

    @contextlib.asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        if self._accepted >= self.queue:
            raise Busy(f"{self._accepted} workbooks are being worked on, the most this server takes at once")
        self._accepted += 1
        try:
            yield
        finally:
            self._accepted -= 1

    @contextlib.asynccontextmanager
    async def _one_at_a_time(self, slug: str) -> AsyncIterator[None]:
        """Uploads of the same clinic (slug) take turns: they write the same folder."""
        lock, users = self._slugs.get(slug) or (asyncio.Lock(), 0)
        self._slugs[slug] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._slugs[slug]
            if users == 1:
                del self._slugs[slug]
            else:
                self._slugs[slug] = (lock, users - 1)

    async def generate(self, name: str, save: Callable[[str], Awaitable[None]]) -> Outcome:
        """Save the upload (`save(path)` writes it), then make its documents as a batch would.

        Raises Busy when the queue is full or the output folder stays locked."""
        from generator.intake.slug import slugify

        slug = slugify(name)
        async with self._slot():
            staging = os.path.join(self.uploads, INCOMING + secrets.token_hex(8))
            os.makedirs(staging)
            try:
                source = os.path.join(staging, name)
                await save(source)
                async with self._one_at_a_time(slug):
                    return await self._generate(source, slug, name)
            finally:
                shutil.rmtree(staging, ignore_errors=True)

    async def _generate(self, source: str, slug: str, name: str) -> Outcome:
        session: _Session = await self._in_io(self._open_session)
        try:
            previous = await self._in_io(self._previous, slug)
            job = Job(source, slug, self.settings, session.fingerprint, previous)
            outcome = await self._run(job)
            kept = subpath(self.uploads, name)
            if not outcome.failed:
                await asyncio.get_running_loop().run_in_executor(None, self._keep, source, kept, slug)
            record = outcome.record and replace(outcome.record, source=kept)
            outcome = replace(outcome, source=kept, record=record)
            outcome = await self._in_io(self._apply, outcome, is_workbook_name(name))
        finally:
            await self._in_io(self._close_session, False)
        self.report(outcome)
        return outcome

    async def _run(self, job: Job) -> Outcome:
        """`process_workbook(job)` in a worker; a crashed worker's job is tried once more."""
        for attempt in range(2):
            pool = self.pool()
            try:
                future: Future[Outcome] = pool.submit(process_workbook, job)
                waiting = asyncio.wrap_future(future)
                while not (await asyncio.wait({waiting}, timeout=0.1))[0]:
                    if self.stop_requested.is_set():
                        waiting.cancel()
                        raise Stopping
                return waiting.result()
            except BrokenProcessPool:
                self._replace_pool(pool)
                if self._stopping.is_set() or attempt:
                    break
        return _failure(job, [f"{job.name}: {CRASHED}"], cause="internal")

    def _keep(self, source: str, kept: str, slug: str) -> None:
        """The upload whose documents are now in the folder: kept in _uploads/, alone for its slug."""
        from generator.intake.slug import slugify

        for entry in os.scandir(self.uploads):
            if entry.is_file() and entry.name != os.path.basename(kept) and slugify(entry.name) == slug:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
        os.replace(source, kept)

    # -------------------------------------------------------------- what the page shows

    def portfolio(self) -> list[Row]:
        return [build_row(os.path.basename(r.source) or r.slug, r, self.folder)
                for r in sorted(stored_records(self.folder), key=lambda r: (os.path.basename(r.source), r.slug))]

    def record(self, slug: str) -> Record | None:
        return next((r for r in stored_records(self.folder) if r.slug == slug), None)

    def example(self, name: str) -> bytes:
        """The blank intake workbook (`name` "") or a shipped example, as `new` writes it."""
        import tempfile

        from generator.intake.blank import write_blank, write_example

        if name not in self.examples:
            with tempfile.TemporaryDirectory(prefix="clinic-budget-new-") as folder:
                path = Path(folder) / "intake.xlsx"
                write_example(path, name) if name else write_blank(path)
                self.examples[name] = path.read_bytes()
        return self.examples[name]


