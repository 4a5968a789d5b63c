"""Chromium as the PDF engine: one headless browser per process, driven over its DevTools pipe.

WeasyPrint lays a report out in about 1.4 s of CPU; a warm Chromium prints the same HTML in about
0.25 s, which is what lets a batch with PDF reach 2 workbooks a second on two cores. The browser
starts on the first PDF a process makes and stays up for the next; it exits with that process
(Chromium quits when its DevTools pipe closes, so even a killed worker leaves no browser behind).

The page gets nothing from outside: scripts are disabled, every request for a URL is refused
(the documents embed their charts and logo), and `about:blank` may not read `file:` URLs.
Chromium stamps the print time into the PDF; those dates are replaced by the report date so the
same input gives the same bytes.
"""

from __future__ import annotations

import base64
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

from generator.errors import OutputError, UsageError

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
ENV = "CLINIC_BUDGET_CHROMIUM"  # a browser binary, or "0" to never use one
MIN_MAJOR = 131  # @page margin boxes (running heads, "Page 1 of 9") arrived in Chromium 131
START_TIMEOUT = 30.0
PRINT_TIMEOUT = 60.0
CLOSE_GRACE = 3.0  # seconds Chromium gets to shut down by itself
FLAGS = ("--headless", "--remote-debugging-pipe", "--no-first-run", "--no-default-browser-check",
         "--disable-gpu", "--disable-extensions", "--disable-background-networking", "--disable-sync",
         "--disable-component-update", "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
         "--disable-dev-shm-usage", "--host-resolver-rules=MAP * ~NOTFOUND")
# Chromium builds the document outline (the PDF's bookmarks, one per heading) from the tagged
# structure: without generateTaggedPDF it writes no outline at all.
PRINT_OPTIONS = {"preferCSSPageSize": True, "printBackground": True, "generateTaggedPDF": True,
                 "generateDocumentOutline": True, "transferMode": "ReturnAsBase64"}
# Run by the interpreter before it becomes the browser: put our pipes where --remote-debugging-pipe
# expects them (3: commands in, 4: answers out). Moved high first, so neither overwrites the other.
PLACE_PIPES = """import fcntl, os, sys
high = [fcntl.fcntl(int(fd), fcntl.F_DUPFD, 10) for fd in sys.argv[1:3]]
for fd in map(int, sys.argv[1:3]):
    os.close(fd)
for wanted, fd in zip((3, 4), high):
    os.dup2(fd, wanted)
    os.close(fd)
os.execv(sys.argv[3], sys.argv[3:])
"""
NODE_ID = re.compile(rb"\(node(\d+)\)")  # a tagged PDF's structure element ids: the page's DOM node ids
PDF_DATE = re.compile(rb"(/(?:CreationDate|ModDate) \(D:)([0-9]{14})([0-9+\-Z']*)\)")


@dataclass(frozen=True)
class Found:
    path: str
    version: str  # "156.0.8078.108"

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    @property
    def label(self) -> str:
        return f"chromium {self.version}"


def find() -> Found | None:
    """The browser this machine offers, new enough for our running heads; None when there is none."""
    chosen = os.environ.get(ENV, "").strip()
    if chosen == "0":
        return None
    candidates = [chosen] if chosen else [p for p in map(shutil.which, NAMES) if p]
    for path in candidates:
        found = probe(path)
        if found is not None and found.major >= MIN_MAJOR:
            return found
    return None


@cache
def probe(path: str) -> Found | None:
    """`path --version` (about 80 ms), or None when it is not a runnable Chromium."""
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"(?:Chromium|Chrome)\D*(\d+\.\d+\.\d+\.\d+)", done.stdout)
    return Found(path, match.group(1)) if match and done.returncode == 0 else None


def require() -> Found:
    found = find()
    if found is None:
        chosen = os.environ.get(ENV, "").strip()
        if chosen and chosen != "0":
            raise UsageError(f"--pdf-engine chromium: {chosen} (from {ENV}) is not Chromium {MIN_MAJOR} or newer")
        raise UsageError(f"--pdf-engine chromium needs Chromium {MIN_MAJOR} or newer on the PATH "
                         "(Debian: apt-get install chromium)")
    return found


class BrowserError(OutputError):
    pass


PROFILE_PREFIX = "clinic-budget-chromium-"  # + the owner's process id + "-" + random


def remove_stale_profiles(folder: str | None = None) -> int:
    """Remove the profile folders of browsers whose process was killed (SIGKILL leaves them,
    about 2 MB each): ours (same user), named with an owner process id that no longer exists."""
    import shutil

    folder = folder or tempfile.gettempdir()
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        if not entry.name.startswith(PROFILE_PREFIX):
            continue
        owner = entry.name[len(PROFILE_PREFIX):].split("-", 1)[0]
        try:
            if not owner.isdigit() or entry.stat(follow_symlinks=False).st_uid != os.getuid() \
                    or not entry.is_dir(follow_symlinks=False):
                continue
            os.kill(int(owner), 0)
            continue  # its process is alive: not stale
        except ProcessLookupError:
            shutil.rmtree(entry.path, ignore_errors=True)
            removed += 1
        except OSError:
            continue
    return removed


SOCKET_PATH_MAX = 107  # bytes in a Unix socket's path on Linux (sun_path, less its closing NUL)
# what Chromium makes under TMPDIR: a folder named with six random characters, its socket inside
SINGLETON_SOCKET = "/org.chromium.Chromium.abcdef/SingletonSocket"


def browser_tmpdir() -> str:
    """The TMPDIR to give Chromium: it makes its singleton socket there and aborts ("Socket path
    too long") when the path passes SOCKET_PATH_MAX, which a deep TMPDIR (a CI runner's, a
    per-user one) does. The usual temporary folder where it is short enough, else the first of
    /tmp, /var/tmp and /dev/shm that is and can be written."""
    for folder in (tempfile.gettempdir(), "/tmp", "/var/tmp", "/dev/shm"):
        if len(os.fsencode(folder)) + len(SINGLETON_SOCKET) <= SOCKET_PATH_MAX \
                and os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK):
            return folder
    raise BrowserError(f"Chromium cannot start: the temporary folder's path is too long for its socket "
                       f"({tempfile.gettempdir()!r}); set TMPDIR to a shorter folder")


def browser_args(path: str, profile: str, euid: int | None = None) -> list[str]:
    """The browser's command line. Chromium's own sandbox is kept, except as root (`euid` 0), where
    Chromium refuses to start with it: there `--no-sandbox` is added, and what bounds the browser
    is ours (the README's "Untrusted workbooks"): it is given only our own HTML, every workbook
    value in it escaped as text; scripts are disabled; every request it would make is refused and
    every host name resolves to nothing; its profile is a fresh folder of its own; and it prints
    within the job's time bound, then exits with the process that started it."""
    args = [path, *FLAGS, f"--user-data-dir={profile}"]
    if (os.geteuid() if euid is None else euid) == 0:
        args.append("--no-sandbox")
    return args


class Browser:
    """One headless Chromium and one page in it, spoken to in DevTools messages over two pipes."""

    def __init__(self, found: Found) -> None:
        self.found = found
        remove_stale_profiles()
        environment = {**os.environ, "TMPDIR": browser_tmpdir()}
        self._profile = tempfile.mkdtemp(prefix=f"{PROFILE_PREFIX}{os.getpid()}-")
        to_browser, self._send = os.pipe()
        self._receive, from_browser = os.pipe()
        os.set_inheritable(to_browser, True)
        os.set_inheritable(from_browser, True)
        args = browser_args(found.path, self._profile)
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-c", PLACE_PIPES, str(to_browser), str(from_browser), *args],
                pass_fds=(to_browser, from_browser), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                env=environment)
        except OSError as exc:
            self.close()
            raise BrowserError(f"could not start Chromium ({found.path}): {exc}") from None
        finally:
            os.close(to_browser)
            os.close(from_browser)
        self._buffer = b""
        self._next_id = 0
        self._session = ""
        try:
            self._open_page(time.monotonic() + START_TIMEOUT)
        except BrowserError:
            self.close()  # a browser that cannot set up its page is not kept running
            raise

    def _open_page(self, deadline: float) -> None:
        target = self.call("Target.createTarget", {"url": "about:blank"}, deadline=deadline)["targetId"]
        self._session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                                  deadline=deadline)["sessionId"]
        self.call("Page.enable", deadline=deadline)
        self.call("Emulation.setScriptExecutionDisabled", {"value": True}, deadline=deadline)
        self.call("Fetch.enable", {"patterns": [{"urlPattern": "*"}]}, deadline=deadline)
        self._frame = self.call("Page.getFrameTree", deadline=deadline)["frameTree"]["frame"]["id"]

    # -------------------------------------------------------------- messages

    def _write(self, message: dict[str, Any], deadline: float) -> None:
        """Send one message by `deadline`. The pipe is written without blocking, and what Chromium
        sends meanwhile is read into the buffer: a browser that stops reading (it does, on a page
        of 150 MB) cannot hold the process past the deadline, and one that is itself waiting to
        write to us is not left waiting."""
        data = memoryview(json.dumps(message).encode("utf-8") + b"\0")
        os.set_blocking(self._send, False)
        try:
            while data:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BrowserError(f"Chromium did not take the page in time (the limit is {PRINT_TIMEOUT:.0f} s "
                                       "a step, and the workbook's whole job has its own)")
                readable, writable, _ = select.select([self._receive], [self._send], [], left)
                if readable:
                    self._take()
                if writable:
                    try:
                        data = data[os.write(self._send, data[:1 << 20]):]
                    except BlockingIOError:
                        pass
        except OSError as exc:
            raise BrowserError(f"Chromium stopped listening ({exc})") from None

    def _take(self) -> None:
        """Add what Chromium has sent to the buffer (the pipe is readable)."""
        chunk = os.read(self._receive, 1 << 20)
        if not chunk:
            raise BrowserError("Chromium exited unexpectedly")
        self._buffer += chunk

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._receive], [], [], left)[0]:
                raise BrowserError(f"Chromium did not answer in time (the limit is {PRINT_TIMEOUT:.0f} s a step, "
                                   "and the workbook's whole job has its own)")
            self._take()
        message, self._buffer = self._buffer.split(b"\0", 1)
        result: dict[str, Any] = json.loads(message)
        return result

    def call(self, method: str, params: dict[str, Any] | None = None, *, deadline: float | None = None,
             until: str | None = None) -> dict[str, Any]:
        """Send one command and wait for its answer (and, if `until` names one, for that event).

        Requests the page makes meanwhile are refused as they arrive."""
        self._next_id += 1
        ident = self._next_id
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if self._session:
            message["sessionId"] = self._session
        limit = time.monotonic() + PRINT_TIMEOUT
        deadline = limit if deadline is None else min(deadline, limit)
        self._write(message, deadline)
        answer: dict[str, Any] | None = None
        waiting = until
        while answer is None or waiting is not None:
            incoming = self._read(deadline)
            if incoming.get("id") == ident:
                if "error" in incoming:
                    raise BrowserError(f"Chromium refused {method}: {incoming['error'].get('message')}")
                answer = incoming.get("result", {})
            elif incoming.get("method") == "Fetch.requestPaused":
                self._refuse(incoming, deadline)
            elif incoming.get("method") == waiting:
                waiting = None
        return answer

    def _refuse(self, event: dict[str, Any], deadline: float) -> None:
        self._next_id += 1
        self._write({"id": self._next_id, "method": "Fetch.failRequest", "sessionId": self._session,
                     "params": {"requestId": event["params"]["requestId"], "errorReason": "BlockedByClient"}},
                    deadline)

    # -------------------------------------------------------------- printing

    def print_pdf(self, html: str, deadline: float | None = None) -> bytes:
        """The PDF of `html`; both steps together end by `deadline` (time.monotonic), when given."""
        self.call("Page.setDocumentContent", {"frameId": self._frame, "html": html}, until="Page.loadEventFired",
                  deadline=deadline)
        data = self.call("Page.printToPDF", PRINT_OPTIONS, deadline=deadline)["data"]
        return base64.b64decode(data)

    def alive(self) -> bool:
        return self._process.poll() is None

    def close(self) -> None:
        """End the browser and remove its profile folder.

        Closing the pipe lets Chromium shut down with its helper processes (renderer, zygote);
        whatever is left after a grace period is killed as a group, since a helper still running
        could write into the profile folder while it is being removed."""
        for fd in (getattr(self, "_send", -1), getattr(self, "_receive", -1)):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._send = self._receive = -1
        process = getattr(self, "_process", None)
        if process is not None:
            try:
                process.wait(timeout=CLOSE_GRACE)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(process.pid, signal.SIGKILL)  # its own session: the browser and helpers
            except (ProcessLookupError, PermissionError):
                pass
            process.wait()
        shutil.rmtree(self._profile, ignore_errors=True)


_browser: Browser | None = None


def _shared(found: Found) -> Browser:
    """This process's browser, started on first use and closed when the process ends."""
    global _browser
    if _browser is not None and (not _browser.alive() or _browser.found != found):
        close_shared()
    if _browser is None:
        from generator.lifecycle import at_exit

        _browser = Browser(found)
        at_exit(close_shared)
    return _browser


def close_shared() -> None:
    global _browser
    if _browser is not None:
        _browser.close()
        _browser = None


def html_to_pdf(html: str, found: Found, stamp: str, deadline: float | None = None) -> bytes:
    """The PDF of `html`, with Chromium's print time replaced by `stamp` ("20260302000000", UTC).

    The dates keep their length, so the cross-reference offsets stay right.
    A browser that fails is closed, and the next PDF starts a fresh one."""
    try:
        data = _shared(found).print_pdf(html, deadline)
    except BrowserError:
        close_shared()
        raise
    digits = stamp.encode("ascii")
    data = PDF_DATE.sub(lambda m: m.group(1) + digits + re.sub(rb"[0-9]", b"0", m.group(3)) + b")", data)
    return renumber_nodes(data)


def renumber_nodes(data: bytes) -> bytes:
    """The tagged PDF's structure ids (`/ID (node00002487)`) are the DOM node ids of the page,
    which grow with every document the browser has shown: number them in order of first
    appearance instead, at the same length (the cross-reference offsets stay right), and the
    same document gives the same bytes whatever was printed before it."""
    mapping: dict[bytes, bytes] = {}

    def renumber(match: re.Match[bytes]) -> bytes:
        old = match.group(1)
        new = mapping.setdefault(old, str(len(mapping) + 1).encode("ascii").zfill(len(old)))
        return b"(node" + (new if len(new) == len(old) else old) + b")"

    return NODE_ID.sub(renumber, data)
