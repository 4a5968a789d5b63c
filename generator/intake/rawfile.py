"""Opening a workbook file that a stranger put in a folder: only a regular file, and only one
small enough to be a workbook, is ever read (issue 17, items 3, 4, 6, 7).

A FIFO named `*.xlsx` blocked `open` for ever, a symlink to /dev/zero was hashed for ever and
a 20 GB sparse file cost a minute of hashing before it was refused by size. The file is opened
without blocking and without following a symlink loop for ever (the kernel stops at 40 links),
and `fstat` on what was opened, not on the name (which may be swapped after a check), decides.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from generator.errors import IntakeError

MB = 1024 * 1024
MAX_FILE = 50 * MB  # on disk

TOO_BIG_FILE = ("the file is {size} on disk, too large for an intake workbook (the limit is {limit}); "
                "it is refused unread")


def size_text(n: int) -> str:
    return f"{n / MB:,.0f} MB" if n >= MB else f"{n:,} bytes"


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_workbook_file(path: str | os.PathLike[str]) -> BinaryIO:
    """The file at `path`, opened for reading, once it is known to be a regular file of at most
    MAX_FILE bytes; IntakeError (naming the file) otherwise; OSError when it cannot be opened."""
    name = os.path.basename(os.fspath(path))
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IntakeError.single(name, "this is a folder, not an Excel workbook")
        if not stat.S_ISREG(st.st_mode):
            raise IntakeError.single(name, f"this is {_kind(st.st_mode)}, not an Excel workbook; it is refused unread")
        if st.st_size > MAX_FILE:
            raise IntakeError.single(name, TOO_BIG_FILE.format(size=size_text(st.st_size), limit=size_text(MAX_FILE)))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
