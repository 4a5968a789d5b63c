"""A real `clinic-budget serve` process on a free port, and plain HTTP requests to it."""

from __future__ import annotations

import http.client
import os
import re
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tests.helpers import cli

START_TIMEOUT = 60.0


@dataclass
class Reply:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Server:
    """`clinic-budget serve --port 0 ...` in `cwd`; `url` once it prints its address."""

    def __init__(self, cwd: Path, *extra: str) -> None:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # lines must arrive anyway
        self.proc = subprocess.Popen([*cli(), "serve", "--port", "0", *extra], cwd=cwd, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        self.out: list[str] = []
        self.err: list[str] = []
        self.threads = [threading.Thread(target=self._read, args=(stream, lines), daemon=True)
                        for stream, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for thread in self.threads:
            thread.start()
        match = self.wait_for(r"^serving (http://[^ ]+/) ")
        self.url = match.group(1)
        host_port = self.url.removeprefix("http://").rstrip("/")
        self.host, _, port = host_port.rpartition(":")
        self.port = int(port)

    @staticmethod
    def _read(stream: IO[bytes] | None, lines: list[str]) -> None:
        assert stream is not None
        for raw in stream:
            lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = START_TIMEOUT, stream: str = "out") -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            for line in list(self.out if stream == "out" else self.err):
                match = re.search(pattern, line)
                if match:
                    return match
            if time.monotonic() > deadline or self.proc.poll() is not None:
                time.sleep(0.2)
                raise AssertionError(f"no line matching {pattern!r}; stdout {self.out}, stderr {self.err}")
            time.sleep(0.05)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: Mapping[str, str] | None = None, timeout: float = 120) -> Reply:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=dict(headers or {}))
            response = conn.getresponse()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            conn.close()

    def get(self, path: str, **kw: object) -> Reply:
        return self.request("GET", path, **kw)  # type: ignore[arg-type]

    def upload(self, filename: str, data: bytes, **kw: object) -> Reply:
        body, content_type = multipart(filename, data)
        return self.request("POST", "/upload", body, {"Content-Type": content_type}, **kw)  # type: ignore[arg-type]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for thread in self.threads:
            thread.join(5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return self.proc.returncode


def multipart(filename: str, data: bytes, field: str = "workbook") -> tuple[bytes, str]:
    """A multipart/form-data body with one file, as a browser sends it."""
    boundary = "----clinic" + secrets.token_hex(8)
    quoted = filename.replace("\\", "\\\\").replace('"', "%22")
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{quoted}\"\r\n"
            "Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet\r\n\r\n").encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def raw_request(host: str, port: int, request: bytes, timeout: float = 30) -> bytes:
    """Send `request` exactly as given (no client-side path clean-up) and read the whole answer."""
    import socket

    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def status_of(raw: bytes) -> int:
    return int(raw.split(b" ", 2)[1])
