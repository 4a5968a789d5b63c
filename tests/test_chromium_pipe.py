"""The DevTools pipe to Chromium, without a browser: a browser that stops reading cannot hold the
process past the job's deadline (issue 17 item 1). Chromium stops reading a page of 150 MB; the
blocking write that sent it then waited for ever, in the process that runs the batch."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from types import FrameType

import pytest

from generator.render import chromium


@pytest.fixture
def deaf() -> Iterator[chromium.Browser]:
    """A Browser whose 'Chromium' never reads what it is sent, and has sent one message."""
    browser = object.__new__(chromium.Browser)
    to_browser, browser._send = os.pipe()
    browser._receive, from_browser = os.pipe()
    browser._buffer = b""
    os.write(from_browser, b'{"method": "Page.loadEventFired"}\0')

    def hung(signum: int, frame: FrameType | None) -> None:
        raise AssertionError("the write blocked past its deadline")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)  # turns a hang into a failure
    try:
        yield browser
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        for fd in (to_browser, browser._send, browser._receive, from_browser):
            os.close(fd)


def test_a_browser_that_stops_reading_is_an_error_at_the_deadline(deaf: chromium.Browser) -> None:
    message = {"id": 1, "method": "Page.setDocumentContent", "params": {"html": "x" * (4 << 20)}}
    with pytest.raises(chromium.BrowserError, match=r"^Chromium did not take the page in time \(the limit is 60 s "
                                                    r"a step, and the workbook's whole job has its own\)$"):
        deaf._write(message, time.monotonic() + 0.5)
    assert deaf._buffer == b'{"method": "Page.loadEventFired"}\0'  # what it sent meanwhile was read, and kept
