"""Every workbook in a folder, in parallel, skipping the ones whose documents are up to date.

* `process_workbook(job)` (generator.run.generate): the one step `run`, `batch`, `watch` and
  `serve` take per workbook, under the output lock, from and into the manifest.
* `WorkerPool`: runs jobs in processes and streams the outcomes back as they finish. A
  worker that dies (os._exit, the kernel's OOM killer) breaks the pool; the jobs that were in
  flight are retried one at a time in a fresh process, so only the culprit is marked failed.
* `run_batch`: the whole batch, as a stream of events (the CLI prints them).
* `run_files`: `clinic-budget run FILE...`, the same step for each named workbook.

Paths of single workbooks and their output folders are plain strings in jobs, outcomes and the
portfolio, never `pathlib.Path` objects in the batch process: pathlib interns every component
of a path, so each workbook's name and slug went through CPython's interned-string table, whose
resizes (a ~1 MiB block each, left resident by the allocator) made the batch's memory grow with
the number of workbooks.

Locking: a batch holds the output folder's lock (outputs.OutputLock) for its whole run, so a
second batch on the same folder waits and then finds everything up to date; the watcher takes
the lock for each round of work, `run` for its files, `serve` while uploads are worked on.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path

from generator.errors import UsageError
from generator.render import writers
from generator.run.generate import (  # noqa: F401 - the one per-workbook step, re-exported for its users
    UNSTABLE,
    Job,
    Outcome,
    _failure,
    process_workbook,
    quick_check,
    unchanged,
)
from generator.run.manifest import Manifest, fingerprint
from generator.run.outputs import ERRORS_DIR, OutputLock, remove_stale_temporaries, subpath
from generator.run.portfolio import Row, build_row, clear_error_report, how_to_fix, write_error_report, write_index
from generator.settings import Settings

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
SAVE_EVERY = 2.0  # seconds between manifest saves during a long batch
CRASHED = ("reading this workbook crashed the worker process (out of memory, or a bug in "
           "clinic-budget); the other workbooks were not affected")

NAMED_OTHERWISE = "{name}: an Excel workbook by its content, but not named .xlsx; rename it to .xlsx to include it"


def is_transient_name(name: str) -> bool:
    """Excel's `~$` owner file, an editor's backup or temporary, or a hidden file: never listed."""
    return name.startswith(("~$", ".")) or name.endswith(("~", ".tmp"))


def is_workbook_name(name: str) -> bool:
    """An Excel workbook, not Excel's `~$` owner file, a temporary or a hidden file."""
    return not is_transient_name(name) and os.path.splitext(name)[1].lower() in WORKBOOK_SUFFIXES


def is_listed_name(name: str) -> bool:
    """A file the portfolio lists: a workbook, or any other file someone put in the folder
    (a .ods, .xls or .csv is reported as not read, with what `validate` says about it)."""
    return not is_transient_name(name)


@dataclass(frozen=True)
class Ignored:
    """A file in the input folder that is not an Excel workbook: listed, not read."""

    source: str  # its path
    message: str  # the line `clinic-budget validate` gives for it, its name first


def ignored(source: str) -> Ignored:
    """What `validate` says about a file whose name is not a workbook's."""
    from generator.intake.workbook import file_message

    message = file_message(Path(source))
    return Ignored(source, message or NAMED_OTHERWISE.format(name=os.path.basename(source)))


@contextlib.contextmanager
def _listing(folder: Path) -> Iterator[Iterator[os.DirEntry[str]]]:
    try:
        with os.scandir(folder) as entries:
            yield entries
    except FileNotFoundError:
        raise UsageError(f"{folder}: no such folder") from None
    except NotADirectoryError:
        raise UsageError(f"{folder}: not a folder") from None


def check_folder(folder: Path) -> None:
    """Raise UsageError unless `folder` is a folder that can be listed."""
    with _listing(folder):
        pass


def scan(folder: Path, others: list[str] | None = None) -> Iterator[str]:
    """The names of the workbooks directly in `folder` (not recursive), in the order the
    file system gives them, as they are read; the other listed files' names go to `others`."""
    with _listing(folder) as entries:
        for e in entries:
            if is_workbook_name(e.name) and _is_file(e):
                yield e.name
            elif others is not None and is_listed_name(e.name) and _is_file(e):
                others.append(e.name)


def _is_file(entry: os.DirEntry[str]) -> bool:
    """Anything but a folder: a FIFO, a device, a symlink loop named `*.xlsx` is listed, so that
    its job reports it (it is refused before a byte is read: intake/rawfile.py), rather than
    skipped in silence; a listing never stops on one."""
    try:
        return not entry.is_dir()
    except OSError:
        return True


def discover(folder: Path, everything: bool = False) -> list[Path]:
    """The workbooks directly in `folder` (not recursive), sorted by name; with `everything`,
    the other listed files too."""
    others: list[str] = []
    names = list(scan(folder, others if everything else None))
    return [folder / name for name in sorted(names + others)]


def slug_for(name: str) -> str:
    """The output folder's name for the workbook file `name`."""
    from generator.intake.slug import slugify

    return slugify(name)


# ------------------------------------------------------------------ many workbooks in processes


def _worker_init(parent: int) -> None:
    """In each worker: leave Ctrl-C to the parent, and exit when the parent dies.

    A worker holds both ends of its task queue, so a parent killed with SIGKILL would leave it
    waiting forever; a pidfd becomes readable when the parent has exited.
    """
    import select
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        pidfd = os.pidfd_open(parent)
    except ProcessLookupError:
        os._exit(1)

    def orphaned() -> None:
        select.select([pidfd], [], [])
        os._exit(1)

    threading.Thread(target=orphaned, name="parent-watch", daemon=True).start()


# What every worker needs, imported in the fork server before it forks the workers: the stages,
# then what each writer asks for (Writer.preload; PDF's engine is left to the workers that need it).
PRELOAD = ["generator.run.batch", "generator.intake.reader", "generator.intake.sandbox", "generator.intake.served",
           "generator.plan.pricing", "generator.plan.risk", *writers.preload_modules()]


def default_workers() -> int:
    return os.cpu_count() or 1


def process_pool(workers: int) -> ProcessPoolExecutor:
    """Worker processes for `process_workbook` (the batch's, the watcher's and `serve`'s): forked
    from a server that has imported PRELOAD, each leaving Ctrl-C to its parent."""
    import multiprocessing

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)  # imported once, shared by every worker it forks
    return ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init, initargs=(os.getpid(),))


class WorkerPool:
    """Run jobs in `workers` processes (in this process when 1), streaming outcomes back.

    The pool is kept between calls to `run` (the watcher reuses it) and replaced when broken.
    At most twice `workers` jobs are in flight, so memory does not grow with the batch.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers or default_workers())
        self._executor: ProcessPoolExecutor | None = None

    def _pool(self, workers: int | None = None) -> ProcessPoolExecutor:
        return process_pool(workers or self.workers)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def run(self, jobs: Iterable[Job]) -> Iterator[Outcome]:
        if self.workers == 1:
            for job in jobs:
                yield quick_check(job) or process_workbook(job)
            return
        pending: deque[Job] = deque()
        source = iter(jobs)
        suspects: list[Job] = []
        while True:
            in_flight: dict[Future[Outcome], Job] = {}
            try:
                yield from self._stream(source, pending, in_flight)
                break
            except BrokenProcessPool:
                yield from self._salvage(in_flight, suspects)
                self.close()  # reap the broken pool; a fresh one starts on the next submit
        for job in suspects:
            yield self._isolated(job)

    def _stream(self, source: Iterator[Job], pending: deque[Job],
                in_flight: dict[Future[Outcome], Job]) -> Iterator[Outcome]:
        limit = 2 * self.workers
        while True:
            while len(in_flight) < limit:
                job = pending.popleft() if pending else next(source, None)
                if job is None:
                    break
                skipped = quick_check(job)
                if skipped is not None:  # no process needed (nor a pool, for a re-run)
                    yield skipped
                    continue
                if self._executor is None:
                    self._executor = self._pool()
                try:
                    in_flight[self._executor.submit(process_workbook, job)] = job
                except BrokenProcessPool:
                    pending.appendleft(job)
                    raise
            if not in_flight:
                return
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                outcome = future.result()  # BrokenProcessPool leaves the job in in_flight
                del in_flight[future]
                yield outcome

    @staticmethod
    def _salvage(in_flight: dict[Future[Outcome], Job], suspects: list[Job]) -> Iterator[Outcome]:
        """After a crash: keep the results that made it, suspect the rest."""
        for future, job in in_flight.items():
            if future.done() and not future.cancelled() and future.exception() is None:
                yield future.result()
            else:
                suspects.append(job)
        in_flight.clear()

    def _isolated(self, job: Job) -> Outcome:
        """A suspect alone in a fresh process: if that dies too, the workbook is the culprit."""
        with self._pool(1) as solo:
            try:
                return solo.submit(process_workbook, job).result()
            except BrokenProcessPool:
                return _failure(job, [f"{job.name}: {CRASHED}"])


# ------------------------------------------------------------------ the batch


@dataclass(frozen=True)
class Waiting:
    """Another run holds the output folder's lock; this one waits for it."""

    out: Path


@dataclass(frozen=True)
class Started:
    total: int


@dataclass(frozen=True)
class Summary:
    total: int
    generated: int
    unchanged: int
    failed: int
    seconds: float
    index: Path | None
    errors_dir: Path | None  # where the error reports are, when any failed
    ignored: int = 0  # files in the folder that are not workbooks (listed, not read)

    @property
    def line(self) -> str:
        return (f"{self.total} workbook{'' if self.total == 1 else 's'}: {self.generated} generated, "
                f"{self.unchanged} unchanged, {self.failed} failed in {self.seconds:.1f} s")

    @property
    def exit_code(self) -> int:
        if not self.failed:
            return 0
        return 2 if self.failed == self.total else 1


BatchEvent = Waiting | Started | Ignored | Outcome | Summary


@dataclass
class Ledger:
    """Applies outcomes to the manifest and the error reports; streams the portfolio's rows."""

    out: Path
    manifest: Manifest
    clashes: dict[str, str] = field(default_factory=dict)  # workbook name -> the earlier one with its slug
    others: list[Ignored] = field(default_factory=list)  # the files that are not workbooks, by name
    counts: dict[str, int] = field(default_factory=lambda: {"generated": 0, "unchanged": 0, "failed": 0})
    last_save: float = field(default_factory=time.monotonic)

    def apply(self, outcome: Outcome, report: bool = True) -> Outcome:
        self.counts[outcome.status] += 1
        if outcome.record is None and outcome.slug_taken:
            return outcome  # the folder and its record belong to the other workbook
        if outcome.record is not None:
            self.manifest.put(outcome.record)
            clear_error_report(self.out, outcome.slug)
        elif outcome.failed:
            page = write_error_report(self.out, outcome.slug, outcome.source, outcome.errors,
                                      outcome.problems, how_to_fix(outcome.cause, outcome.template)
                                      ) if report else None
            outcome = replace(outcome, report=page)
            self.manifest.note_failure(outcome.slug, outcome.source, outcome.errors)
        if time.monotonic() - self.last_save > SAVE_EVERY:
            self.save()
        return outcome

    def save(self) -> None:
        self.manifest.save()
        # Cyclic garbage left to the interpreter's own schedule piled up long enough in a long
        # batch to need a 17th pymalloc arena, which then stayed (0.4 MiB more resident memory
        # at 2,000 workbooks than at 20); a collection every save keeps it at 16.
        gc.collect()
        self.last_save = time.monotonic()

    def rows(self) -> Iterator[Row]:
        """The portfolio: one row per workbook in the folder that has been looked at, by name,
        streamed from the manifest."""
        others = iter(self.others)
        other = next(others, None)
        for name, slug, record in self.manifest.listing():
            while other is not None and os.path.basename(other.source) < name:
                yield ignored_row(other)
                other = next(others, None)
            if name in self.clashes:
                yield Row(name, slug, "failed", None, (collision_message(name, slug, self.clashes[name]),), (), None)
            elif record is not None:
                yield build_row(name, record, self.out)
        while other is not None:
            yield ignored_row(other)
            other = next(others, None)

    def close(self) -> None:
        """Close the manifest (what was not saved is dropped, as if the process had died)."""
        self.manifest.close()


def ignored_row(other: Ignored) -> Row:
    return Row(os.path.basename(other.source), "", "ignored", None, (other.message,), (), None)


def open_ledger(out: Path, folder: Path) -> Ledger:
    """The output folder's manifest, with the workbooks now in `folder` listed in it (under
    the output lock), and the folder's other files with what `validate` says about them."""
    manifest = Manifest.load(out)
    try:
        names: list[str] = []
        manifest.add_sources((name, slug_for(name)) for name in scan(folder, names))
        others = [ignored(subpath(folder, name)) for name in sorted(names)]
        return Ledger(out, manifest, manifest.clashes(), others)
    except BaseException:
        manifest.close()
        raise


def _jobs(folder: Path, settings: Settings, fp: str, ledger: Ledger, force: bool) -> Iterator[Job]:
    for name, slug in ledger.manifest.sources():
        if name not in ledger.clashes:
            yield Job(subpath(folder, name), slug, settings, fp, ledger.manifest.get(slug), force, os.fspath(folder))


def collision_message(name: str, slug: str, other: str) -> str:
    return (f"{name}: its documents would go to the same folder ({slug}/) as {other}'s; "
            "rename one of the two workbooks")


def collision_outcome(source: str, other: str, out: Path) -> Outcome:
    name = os.path.basename(source)
    slug = slug_for(name)
    return Outcome(source, slug, "failed", subpath(out, slug), errors=(collision_message(name, slug, other),),
                   slug_taken=True)


def run_batch(input_dir: Path, settings: Settings, workers: int | None = None,
              force: bool = False) -> Iterator[BatchEvent]:
    """Bring every workbook's documents in `input_dir` up to date; yields progress events.

    `workers` processes (default: one per core; 1 works in this process); `force` regenerates
    even the workbooks whose documents are current."""
    started = time.monotonic()
    check_folder(input_dir)  # the workbooks are listed once the lock is held
    lock = OutputLock(settings.out)
    if not lock.acquire(blocking=False):
        yield Waiting(settings.out)
        lock.acquire()
    pool = WorkerPool(workers)
    ledger: Ledger | None = None
    try:
        remove_stale_temporaries(settings.out)
        ledger = open_ledger(settings.out, input_dir)
        total = ledger.manifest.source_count
        yield Started(total)
        yield from ledger.others
        for name, other in ledger.clashes.items():
            yield ledger.apply(collision_outcome(subpath(input_dir, name), other, settings.out))
        fp = fingerprint(settings)
        for outcome in pool.run(_jobs(input_dir, settings, fp, ledger, force)):
            yield ledger.apply(outcome)
        ledger.save()
        seconds = time.monotonic() - started
        index = write_index(settings.out, ledger.rows, settings.templates, seconds, settings.branding.color)
        c = ledger.counts
        errors_dir = settings.out / ERRORS_DIR if c["failed"] else None
        yield Summary(total, c["generated"], c["unchanged"], c["failed"], seconds, index, errors_dir,
                      len(ledger.others))
    finally:
        pool.close()
        if ledger is not None:
            ledger.close()
        lock.release()


def run_files(paths: Iterable[str | Path], settings: Settings) -> Iterator[Waiting | Outcome]:
    """`clinic-budget run FILE...`: each workbook, in this process and in order, through the step
    a batch takes (`process_workbook`), always regenerated: under the output folder's lock (a
    `Waiting` event first when another run has it), its manifest record consulted and updated,
    its documents written atomically, documents of an older version removed, an error report
    written for a failure. The portfolio page is left to `batch` and `watch`, which know the
    input folder. A template error is raised (every workbook would fail the same way)."""
    lock = OutputLock(settings.out)
    if not lock.acquire(blocking=False):
        yield Waiting(settings.out)
        lock.acquire()
    ledger: Ledger | None = None
    try:
        remove_stale_temporaries(settings.out)
        ledger = Ledger(settings.out, Manifest.load(settings.out))
        fp = fingerprint(settings)
        for path in paths:
            source = os.fspath(path)
            slug = slug_for(os.path.basename(source))
            outcome = process_workbook(Job(source, slug, settings, fp, ledger.manifest.get(slug), force=True),
                                       strict=True)
            outcome = ledger.apply(outcome)
            ledger.save()
            yield outcome
    finally:
        if ledger is not None:
            ledger.close()
        lock.release()
