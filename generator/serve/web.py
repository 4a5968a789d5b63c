"""The web application (Starlette, served by uvicorn) and `serve`, which the CLI calls."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import threading
from collections.abc import AsyncIterator, Callable, Generator, Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generator.errors import UsageError
from generator.render import writers
from generator.run.batch import Outcome, default_workers
from generator.run.outputs import subpath
from generator.run.portfolio import how_to_fix
from generator.serve.files import (
    MB,
    document_path,
    documents_of,
    is_loopback,
    media_type,
    read_figures,
    sanitise_name,
)
from generator.serve.service import DEFAULT_QUEUE, MULTIPART_ROOM, Busy, Service, Stopping
from generator.settings import Settings

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

RETRY_AFTER = 30  # seconds, in a 503's Retry-After
GRACE = 2.0  # seconds open requests get to finish once the server is told to stop

CSP_PAGES = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
             "base-uri 'none'; frame-ancestors 'none'")
CSP_DOCUMENTS = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; "
                 "base-uri 'none'; frame-ancestors 'none'")


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


class TooLarge(Exception):
    """The request body ran past the upload cap while it was being read."""


# ------------------------------------------------------------------ the web application


def _templates(settings: Settings):  # type: ignore[no-untyped-def]
    import jinja2

    from generator.render.document import shipped_templates

    folders = [str(settings.templates)] if settings.templates is not None else []
    folders.append(str(shipped_templates()))
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(folders), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["money"] = lambda v: "" if v is None else f"${v:,}"
    env.globals["writer_of"] = writers.by_file_name  # a document's label comes from its writer
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
                        documents=documents_of(record, outcome.folder), kept=record.kept if record else ())
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
                    figures=read_figures(folder, record), warnings=(), documents=documents_of(record, folder),
                    kept=record.kept)

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
