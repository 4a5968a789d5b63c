"""`clinic-budget serve`: a local web page to upload an intake workbook and get its documents.

Starlette (the ASGI toolkit) served by uvicorn: small, typed, maintained, and with no template
engine or ORM of its own, so the pages are the project's Jinja templates (`templates/serve/`,
autoescaped, strict) and the work is the project's own one-workbook path.

An upload goes the way `batch` and `watch` send a workbook: `batch.process_workbook` in a worker
process (the bounded reader in its child, the documents written atomically), its outcome applied
to the manifest and the error reports by a `batch.Ledger`, all under the output folder's lock.

* The body is capped (`max_upload`): a larger Content-Length gets 413 before a byte of the body
  is read, and a body that runs past the cap while streaming (chunked, or lying) gets 413 there.
* The workbook is saved under a sanitised name in a staging folder of its own
  (`<out>/_uploads/.incoming-<random>/`); its name is only ever a file name, never a path. Once
  its documents are made it moves to `<out>/_uploads/`, replacing the earlier upload of the same
  clinic (same slug); a failed upload is deleted and the earlier documents stay.
* Generation runs in `workers` processes. At most `queue` uploads are accepted at a time (being
  generated or waiting for a worker); one more gets 503 with Retry-After. The event loop only
  waits, so the page answers while the workers work.
* The output lock is taken when the first upload starts and released when the last one ends, as
  the watcher holds it for a round: a batch on the same folder waits for the uploads, and an
  upload waits (up to LOCK_WAIT seconds, then 503) for a batch.
* Documents are served from the output folder only: a path with an empty, `.` or `..` segment
  (after percent-decoding), a hidden name, or `_uploads` is refused, and what the path resolves
  to (symbolic links followed) must lie inside the folder.
* Every response forbids scripts (Content-Security-Policy), frames and MIME sniffing; a POST from
  another site (Origin or Sec-Fetch-Site) is refused, and on a loopback address only a loopback
  Host header is answered (a web page elsewhere cannot use the browser to reach this one).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import re
import secrets
import shutil
import signal
import socket
import threading
import time
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator, MutableMapping
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generator.errors import OutputError, UsageError
from generator.run.batch import (
    CRASHED,
    WORKBOOK_SUFFIXES,
    Job,
    Ledger,
    Outcome,
    _failure,
    default_workers,
    process_pool,
    process_workbook,
)
from generator.run.manifest import Manifest, Record, fingerprint, stored_records
from generator.run.outputs import OutputLock, remove_stale_temporaries, subpath
from generator.run.portfolio import DOCUMENT_ORDER, Row, build_row, how_to_fix
from generator.settings import Settings

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

UPLOADS_DIR = "_uploads"  # beside _errors: no slug has an underscore, so neither is a clinic's folder
INCOMING = ".incoming-"
MB = 1024 * 1024
MULTIPART_ROOM = 64 * 1024  # the form's boundaries and headers around the workbook
DEFAULT_QUEUE = 16
LOCK_WAIT = 60.0  # seconds an upload waits for a batch or the watcher to let go of the output folder
RETRY_AFTER = 30  # seconds, in a 503's Retry-After
GRACE = 2.0  # seconds open requests get to finish once the server is told to stop
WORKER_GRACE = 1.0  # seconds a worker gets to finish its workbook before it is terminated
NAME_MAX = 120  # characters of an uploaded file name that are kept

CSP_PAGES = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
             "base-uri 'none'; frame-ancestors 'none'")
CSP_DOCUMENTS = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; "
                 "base-uri 'none'; frame-ancestors 'none'")
TEXT_TYPES = {".csv": "text/csv; charset=utf-8", ".txt": "text/plain; charset=utf-8",
              ".html": "text/html; charset=utf-8"}  # the portfolio's and the error reports' files


def media_type(name: str) -> str | None:
    """The Content-Type of a file in the output folder: the writer's, for a document."""
    from generator.render.writers import WRITERS

    for writer in WRITERS:
        if writer.file_name == name:
            kind = writer.media_type
            return f"{kind}; charset=utf-8" if kind.startswith("text/") and "charset" not in kind else kind
    return TEXT_TYPES.get(os.path.splitext(name)[1].lower())


@dataclass(frozen=True)
class Serving:
    """The page is up at `url`; `loopback` is False when others can reach it (there is no login)."""

    url: str
    out: Path
    host: str
    loopback: bool


@dataclass(frozen=True)
class Stopped:
    pass


ServeEvent = Serving | Outcome | Stopped
Report = Callable[[ServeEvent], None]


class Busy(Exception):
    """The output folder stayed locked by another run, or the queue is full."""


class Stopping(Exception):
    """The server was told to stop while this upload waited for its documents."""


class TooLarge(Exception):
    """The request body ran past the upload cap while it was being read."""


# ------------------------------------------------------------------ names and paths


def sanitise_name(raw: str) -> str:
    """An uploaded file's name as a file name only: the last component of any path (either
    slash), NFC; letters, digits, spaces and ``.-_()[]'&,+#@!=~`` kept (none is special to a file
    system or a shell's globbing), anything else made `-`; no leading dots, dashes or spaces; at
    most NAME_MAX characters, the suffix kept; "workbook.xlsx" when nothing is left."""
    name = re.split(r"[/\\]", raw)[-1]
    name = unicodedata.normalize("NFC", name)
    name = re.sub(r"\s+", " ", re.sub(r"[^\w .()\[\]'&,+#@!=~-]+", "-", name))
    stem, suffix = os.path.splitext(name)
    if len(suffix) > 10 or " " in suffix:  # not an extension: part of the name
        stem, suffix = name, ""
    stem = stem.strip(" .-")[:NAME_MAX - len(suffix)].rstrip(" .")
    return f"{stem}{suffix}" if stem else "workbook.xlsx"


def is_workbook_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in WORKBOOK_SUFFIXES


def document_path(out_real: str, relative: str) -> str | None:
    """The file `relative` (a URL path, already percent-decoded) names inside the output folder
    `out_real` (a real path), or None when it names anything else."""
    parts = relative.split("/")
    if any(p in ("", ".", "..") or p.startswith(".") or "\\" in p or "\0" in p for p in parts):
        return None
    if parts[0] == UPLOADS_DIR:
        return None
    full = os.path.realpath(os.path.join(out_real, *parts))
    if os.path.commonpath([full, out_real]) != out_real or full == out_real or not os.path.isfile(full):
        return None
    return full


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# ------------------------------------------------------------------ what a result page shows


@dataclass(frozen=True)
class Figures:
    """The headline of one budget, from its budget.json (or the manifest's headline without it)."""

    clinic: str
    physicians: int | None
    build_low: int | None
    build_expected: int | None
    build_high: int | None
    tier: str
    year_one: int | None
    break_even_year: int | None
    recommendation: str
    reasons: tuple[str, ...] = ()
    recommended_budget: int | None = None
    risk_summary: str = ""
    maintenance: tuple[int, int] | None = None
    hosting: tuple[int, int] | None = None
    scenarios: tuple[str, ...] = ()


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def read_figures(folder: str, record: Record | None) -> Figures | None:
    import json

    try:
        with open(os.path.join(folder, "budget.json"), encoding="utf-8") as fh:
            data = json.load(fh)
        base = data["scenarios"][0]
        rec = base.get("recommendation") or {}
        risk = base.get("risk") or {}
        annual = base.get("annual") or {}

        def pair(key: str) -> tuple[int, int] | None:
            low, high = _int((annual.get(key) or {}).get("low")), _int((annual.get(key) or {}).get("high"))
            return (low, high) if low is not None and high is not None else None

        return Figures(
            clinic=str(data["clinic"]["name"]), physicians=_int(data["clinic"].get("physicians")),
            build_low=_int(base["build"]["low"]), build_expected=_int(base["build"]["expected"]),
            build_high=_int(base["build"]["high"]), tier=str(base.get("tier", "")),
            year_one=_int((base.get("capital") or {}).get("year_one")),
            break_even_year=_int((base.get("tco") or {}).get("break_even_year")),
            recommendation=str(rec.get("headline") or rec.get("path") or ""),
            reasons=tuple(str(r) for r in rec.get("reasons") or ()),
            recommended_budget=_int(risk.get("recommended_budget")), risk_summary=str(risk.get("summary") or ""),
            maintenance=pair("maintenance"), hosting=pair("hosting"),
            scenarios=tuple(str(s.get("name", "")) for s in data["scenarios"][1:]),
        )
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError):
        pass
    h = record.headline if record is not None else None
    if h is None:
        return None
    return Figures(h.clinic, h.physicians, h.build_low, h.build_expected, h.build_high, h.tier,
                   h.year_one_capital, h.break_even_year, h.recommendation)


def documents_of(record: Record | None, folder: str) -> list[str]:
    """The documents in `folder`, in the portfolio's order, then any others the record names."""
    named = list(record.files) if record is not None else []
    order = [*DOCUMENT_ORDER, *(n for n in named if n not in DOCUMENT_ORDER)]
    return [n for n in order if os.path.isfile(os.path.join(folder, n))]


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
        try:
            os.makedirs(self.uploads, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{self.uploads}: cannot create the uploads folder: {exc.strerror or exc}") from None
        for entry in os.scandir(self.uploads):
            if entry.name.startswith(INCOMING):
                shutil.rmtree(entry.path, ignore_errors=True)
        self.folder_real = os.path.realpath(self.folder)
        # The workers are started (the fork server imports the pipeline, each worker reads a
        # sample workbook) before the page is up: the first upload does not wait for them, and
        # a stop never waits for a worker still being started.
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
        from generator.intake.reader import slugify

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
        from generator.intake.reader import slugify

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


# ------------------------------------------------------------------ the web application


def _templates(settings: Settings):  # type: ignore[no-untyped-def]
    import jinja2

    from generator.run.manifest import shipped_templates

    folders = [str(settings.templates)] if settings.templates is not None else []
    shipped = shipped_templates()
    if shipped is not None:
        folders.append(str(shipped))
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(folders), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["money"] = lambda v: "" if v is None else f"${v:,}"
    return env


def _size(n: int) -> str:
    return f"{n / MB:.0f} MB" if n >= MB else f"{n / 1024:.0f} KB"


class Guard:
    """ASGI middleware: security headers on every response, the body cap, and cross-site POSTs
    and foreign Host headers refused."""

    def __init__(self, app: Any, service: Service, page: Callable[..., Response], loopback: bool) -> None:
        self.app, self.service, self.page, self.loopback = app, service, page, loopback

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}

        async def secured(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                         (b"x-frame-options", b"DENY")]
                if not any(k.lower() == b"content-security-policy" for k, _ in message.get("headers", [])):
                    extra.append((b"content-security-policy", CSP_PAGES.encode()))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await refusal(scope, receive, secured)
            return
        if scope["method"] != "POST":
            await self.app(scope, receive, secured)
            return
        limit = self.service.max_upload
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:  # refused before a byte of the body is read
            await self.page(413, "too_large")(scope, receive, secured)
            return
        seen = 0

        async def capped() -> dict[str, Any]:
            nonlocal seen
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise TooLarge
            return message

        await self.app(scope, capped, secured)

    def _refusal(self, scope: dict[str, Any], headers: dict[str, str]) -> Response | None:
        from starlette.responses import PlainTextResponse

        host = headers.get("host", "")
        hostname = re.sub(r":\d+$", "", host)
        if self.loopback and not is_loopback(hostname):
            return PlainTextResponse("This server answers only to localhost.", 421)
        if scope["method"] == "POST":
            origin = headers.get("origin")
            site = headers.get("sec-fetch-site", "")
            if site in ("cross-site", "same-site") or (origin not in (None, "null") and
                                                        re.sub(r"^https?://", "", origin) != host):
                return PlainTextResponse("Uploads are accepted only from this server's own page.", 403)
        return None


def build_app(service: Service, loopback: bool = True) -> Starlette:
    from starlette.applications import Starlette
    from starlette.datastructures import UploadFile
    from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
    from starlette.routing import Route

    env = _templates(service.settings)
    for name in ("serve/base", "portfolio", *(f"serve/{n}" for n in ("home", "result", "problems", "message",
                                                                    "too_large"))):
        env.get_template(f"{name}.html.j2")  # compiled now (a second on a busy machine), not in a request
    limit_text = _size(service.max_upload - MULTIPART_ROOM)

    def page(code: int, template: str, **values: Any) -> Response:
        html = env.get_template(f"serve/{template}.html.j2").render(limit=limit_text, **values)
        headers = {"Retry-After": str(RETRY_AFTER)} if code == 503 else {}
        if code == 413:
            headers["Connection"] = "close"  # the rest of the body is not wanted: hang up, do not read it
        return HTMLResponse(html, code, headers=headers)

    def examples() -> list[tuple[str, str]]:
        from generator.intake.blank import EXAMPLES

        return [(name, example.description) for name, example in EXAMPLES.items()]

    async def home(request: Request) -> Response:
        rows = await asyncio.get_running_loop().run_in_executor(None, service.portfolio)
        counts = {"generated": 0, "unchanged": 0, "failed": 0}
        for row in rows:
            counts[row.status] = counts.get(row.status, 0) + 1
        return page(200, "home", rows=rows, counts=counts, total=len(rows), examples=examples(),
                    out=str(service.folder))

    async def upload(request: Request) -> Response:
        try:
            form = await request.form(max_files=1, max_fields=4)
        except TooLarge:
            return page(413, "too_large")
        try:
            upload = form.get("workbook")
            if not isinstance(upload, UploadFile) or not (upload.filename or "").strip():
                return page(400, "message", title="No workbook chosen",
                            lines=["Choose the intake workbook (.xlsx) with the button, then press Make the budget."])
            name = sanitise_name(upload.filename or "")

            async def save(path: str) -> None:
                await upload.seek(0)
                loop = asyncio.get_running_loop()
                with open(path, "wb") as fh:
                    while chunk := await upload.read(1 << 20):
                        await loop.run_in_executor(None, fh.write, chunk)

            try:
                outcome = await service.generate(name, save)
            except Busy as exc:
                return page(503, "message", title="Busy: please try again in a minute",
                            lines=[f"{exc}. Nothing was lost: upload the workbook again in a minute."])
            except Stopping:
                return page(503, "message", title="The server is stopping",
                            lines=["It was stopped before this workbook's documents were made; upload it "
                                   "again once the server is running again."])
        finally:
            await form.close()
        return result_page(outcome, name)

    def result_page(outcome: Outcome, name: str) -> Response:
        record = outcome.record
        if not outcome.failed:
            return page(200, "result", name=name, slug=outcome.slug, status=outcome.status,
                        figures=read_figures(outcome.folder, record), warnings=outcome.warnings,
                        documents=documents_of(record, outcome.folder))
        if outcome.cause == "workbook":
            return page(422, "problems", name=name, errors=outcome.errors, problems=outcome.problems,
                        kept=bool(documents_of(None, outcome.folder)), slug=outcome.slug)
        return page(500, "message", title=f"{name}: no budget was made", lines=list(outcome.errors),
                    advice=how_to_fix(outcome.cause, outcome.template))

    async def clinic(request: Request) -> Response:
        slug = request.path_params["slug"]
        record = await asyncio.get_running_loop().run_in_executor(None, service.record, slug)
        if record is None or not re.fullmatch(r"[a-z0-9-]+", slug):
            return page(404, "message", title="No such clinic", lines=["There is no budget of that name here."])
        folder = subpath(service.folder, slug)
        return page(200, "result", name=os.path.basename(record.source), slug=slug, status=record.status,
                    figures=read_figures(folder, record), warnings=(), documents=documents_of(record, folder))

    async def document(request: Request) -> Response:
        if request.path_params["path"] == "index.html":  # the error reports' "all clinics" link
            return RedirectResponse("/", 303)
        path = document_path(service.folder_real, request.path_params["path"])
        if path is None:
            return page(404, "message", title="Not found", lines=["There is no such document in the output folder."])
        return FileResponse(path, media_type=media_type(os.path.basename(path)),
                            headers={"Content-Security-Policy": CSP_DOCUMENTS, "Cache-Control": "no-cache"})

    async def workbook(request: Request) -> Response:
        from generator.intake.blank import EXAMPLES

        name = request.path_params["name"]
        if name != "intake" and name not in EXAMPLES:
            return page(404, "message", title="Not found", lines=["There is no such example workbook."])
        data = await asyncio.get_running_loop().run_in_executor(
            None, service.example, "" if name == "intake" else name)
        return Response(data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})

    async def favicon(request: Request) -> Response:
        return Response(status_code=204)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await asyncio.get_running_loop().run_in_executor(None, service.stop)

    routes = [
        Route("/", home),
        Route("/upload", upload, methods=["POST"]),
        Route("/upload", lambda request: RedirectResponse("/", 303)),
        Route("/clinic/{slug}", clinic),
        Route("/files/{path:path}", document),
        Route("/workbooks/{name}.xlsx", workbook),
        Route("/favicon.ico", favicon),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_middleware(Guard, service=service, page=page, loopback=loopback)  # type: ignore[arg-type]
    return app


# ------------------------------------------------------------------ the command


def _listen(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"--host {host}: {exc.strerror or exc}") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(False)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


@contextlib.contextmanager
def _stopped_by_signals(server: Any, service: Service) -> Iterator[None]:
    """Ctrl-C and SIGTERM ask uvicorn to stop (a second Ctrl-C: at once) and the uploads in
    progress to answer at once; unlike uvicorn's own handling the signal is not raised again
    afterwards, so the command ends with "stopped"."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(signum: int, frame: Any) -> None:
        service.stop_requested.set()
        server.handle_exit(signum, frame)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def serve(settings: Settings, host: str, port: int, report: Report, workers: int | None = None,
          queue: int = DEFAULT_QUEUE) -> None:
    """The page on host:port until SIGINT or SIGTERM; what happens is told to `report` (the CLI
    prints it): Serving once it is up, each upload's Outcome, Stopped."""
    import uvicorn

    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be from 0 to 65535, got {port}")
    if queue < 1:
        raise UsageError("--queue must be 1 or more")
    sock = _listen(host, port)
    url = url_of(sock)
    service = Service(settings, max(1, workers or default_workers()), queue, report=report)
    try:
        service.start()
        app = build_app(service, loopback=is_loopback(host))
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on",
                                timeout_graceful_shutdown=int(GRACE), timeout_keep_alive=5,
                                server_header=False)

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Generator[None, None, None]:
                yield  # _stopped_by_signals is in place already

        server = Server(config)
        with _stopped_by_signals(server, service):
            report(Serving(url, settings.out, host, is_loopback(host)))
            server.run(sockets=[sock])
    finally:  # also when Ctrl-C or SIGTERM (the CLI's Terminated) came before the server was up
        sock.close()
        if not service._stopping.is_set():
            service.stop()
    report(Stopped())
