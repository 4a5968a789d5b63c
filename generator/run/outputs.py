"""The output folder: writing into it safely while others may be writing too, and cleaning up.

* `write_atomically(folder, files)`: a workbook's documents, staged in a hidden folder beside
  `folder` and each moved into place with a rename.
* `remove_documents(folder, names)`: documents of an older version of a workbook
  (generate.settle_folder decides which).
* `write_text_atomically(path, text)`: one file (the portfolio, an error report) through a
  hidden temporary file in the same folder, fsync, then a rename.
* `OutputLock(out)`: an exclusive `fcntl.flock` on `<out>/.clinic-budget.lock`. A batch holds
  it for its whole run, the watcher for each round of work, so the manifest and the index are
  only ever changed by one process at a time. The kernel drops the lock when its holder dies.
* `remove_stale_temporaries(out)`: what a killed process left staged.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from generator.errors import OutputError

MANIFEST_NAME = ".clinic-budget-manifest.sqlite"  # generator.run.manifest; SQLite adds side files to it
LOCK_NAME = ".clinic-budget.lock"
ERRORS_DIR = "_errors"  # the error reports of failed workbooks
STALE_TEMP_SECONDS = 60.0  # a staging folder this old belongs to a process that died
TEMP_MARK = ".clinic-budget-tmp-"  # every temporary name we make starts so; clean-up removes only those


# ------------------------------------------------------------------ paths


def subpath(folder: str | Path, *names: str) -> str:
    """`str(Path(folder, *names))` for a folder as pathlib leaves it (`.` included), without
    making a `Path`: pathlib interns every name it parses, which a batch must not do for each
    workbook (see generator.run.batch)."""
    base = os.fspath(folder)
    return os.path.join(*names) if base in ("", ".") else os.path.join(base, *names)


# ------------------------------------------------------------------ writing


def write_atomically(folder: str | Path, files: dict[str, bytes]) -> None:
    """Write every file to a temporary folder beside `folder`, then move each into place with an
    atomic rename: a reader never sees a half-written file, and a failure before the moves
    leaves the earlier outputs untouched. (String paths: see `generate`.)"""
    parent, base = os.path.split(os.fspath(folder))
    parent = parent or "."
    try:
        os.makedirs(parent, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=f"{TEMP_MARK}{base}.", dir=parent)
    except OSError as exc:
        raise OutputError(f"{parent}: cannot write the output folder: {exc.strerror or exc}") from None
    try:
        for name, data in files.items():
            with open(os.path.join(staging, name), "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):
            os.mkdir(folder)
        for name in files:
            os.replace(os.path.join(staging, name), os.path.join(folder, name))
    except OSError as exc:
        raise OutputError(f"{folder}: cannot write outputs: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def remove_documents(folder: str, names: Iterable[str]) -> None:
    """Remove the documents `names` from `folder` (those already gone are no error)."""
    for name in names:
        path = os.path.join(folder, name)
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise OutputError(f"{path}: cannot remove this document of an older version of the workbook: "
                              f"{exc.strerror or exc}") from None


def _create_temporary(path: str | Path) -> tuple[int, str]:
    """A new hidden `.clinic-budget-tmp-<name>.<random>.tmp` beside `path`, opened for writing
    with mode 0666 less the umask."""
    folder, name = os.path.split(path)
    for _ in range(100):
        tmp = os.path.join(folder, f"{TEMP_MARK}{name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666), tmp
        except FileExistsError:
            continue
        except OSError as exc:
            raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    raise OutputError(f"{path}: cannot create a temporary file beside it")


def write_text_atomically(path: str | Path, text: str | Iterable[str]) -> None:
    """Write `path` (a string, or pieces of one streamed as they come) through a hidden
    temporary file in the same folder, fsync, and a rename. The file gets the permissions of
    every other output (0666 less the umask, as `open` gives the documents), not mkstemp's 0600.
    `path` may be a string (the batch keeps per-workbook paths as strings)."""
    folder = os.path.dirname(path) or "."
    try:
        os.makedirs(folder, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"{path}: cannot write: {folder} is a file, not a folder") from None
    except NotADirectoryError:
        raise OutputError(f"{path}: cannot write: part of {folder} is a file, not a folder") from None
    except OSError as exc:
        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    fd, tmp = _create_temporary(path)
    try:
        # backslashreplace: a file name that is not UTF-8 is shown with its bytes as \\xNN escapes
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace", newline="") as fh:
            fh.writelines([text] if isinstance(text, str) else text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None


# ------------------------------------------------------------------ the lock and clean-up


class OutputLock:
    """The output folder's exclusive lock (`fcntl.flock` on `<out>/.clinic-budget.lock`).

    The lock file is never deleted (deleting it would let two processes lock two different
    files); the kernel releases the lock when the holder closes it or dies.
    """

    def __init__(self, out: Path) -> None:
        self.path = out / LOCK_NAME
        self._fd: int | None = None

    def acquire(self, blocking: bool = True) -> bool:
        """Take the lock; with `blocking=False`, return False at once if another process has it."""
        if self._fd is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                raise OutputError(f"{self.path.parent}: cannot create the output folder: "
                                  f"{exc.strerror or exc}") from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            return False
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def remove_stale_temporaries(out: Path, older_than: float = STALE_TEMP_SECONDS) -> int:
    """Remove staging folders and temporary files left by a process that was killed: only names
    that carry our marker (`.clinic-budget-tmp-<slug>.<random>/` from `write_atomically`,
    `.clinic-budget-tmp-<name>.<random>.tmp` from `write_text_atomically`), older than
    `older_than` seconds. Anything else hidden in the folder (`.vim.bak/`, a mail client's
    profile) is not ours and is left alone.
    """
    removed, cutoff = 0, time.time() - older_than
    for folder in (out, out / ERRORS_DIR):
        removed += _remove_old_temporaries(folder, cutoff)
    return removed


def _remove_old_temporaries(folder: Path, cutoff: float) -> int:
    removed = 0
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for entry in os.scandir(folder):
            if not entry.name.startswith(TEMP_MARK):
                continue
            is_staging = entry.is_dir(follow_symlinks=False)
            if not (is_staging or entry.name.endswith(".tmp")):
                continue
            with contextlib.suppress(OSError):
                if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    shutil.rmtree(entry.path) if is_staging else os.unlink(entry.path)
                    removed += 1
    return removed
