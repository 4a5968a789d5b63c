"""What is in an output folder, and how to change it safely while others may be writing too.

* `fingerprint(settings)`: a hash of everything besides the workbook that shapes its outputs
  (tool version, rate card, templates, formats, branding).
* `Manifest`: `<out>/.clinic-budget-manifest.json`, one `Record` per output folder (slug):
  the workbook hash and fingerprint its documents were made from, the files, the headline
  figures for the portfolio page, and the last outcome.
* `OutputLock(out)`: an exclusive `fcntl.flock` on `<out>/.clinic-budget.lock`. A batch holds
  it for its whole run, the watcher for each round of work, so the manifest and the index are
  only ever changed by one process at a time. The kernel drops the lock when its holder dies.
* `write_text_atomically`: a temporary file in the same folder, fsync, then a rename.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from generator import __version__
from generator.errors import OutputError

MANIFEST_NAME = ".clinic-budget-manifest.json"
LOCK_NAME = ".clinic-budget.lock"
ERRORS_DIR = "_errors"
MANIFEST_SCHEMA = 1
TEMPLATED_FORMATS = frozenset({"md", "html", "pdf"})  # xlsx and json are written from the plan
STALE_TEMP_SECONDS = 60.0  # a staging folder this old belongs to a process that died


# ------------------------------------------------------------------ hashing


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _tree_files(root: Traversable, prefix: str = "") -> Iterator[tuple[str, Traversable]]:
    for item in sorted(root.iterdir(), key=lambda t: t.name):
        if item.name == "__pycache__" or item.name.endswith((".pyc", "~")):
            continue
        name = f"{prefix}{item.name}"
        if item.is_dir():
            yield from _tree_files(item, name + "/")
        elif item.is_file():
            yield name, item


def tree_digest(root: Traversable | None) -> str:
    """A hash of every file's relative name and bytes under `root` (empty when None)."""
    digest = hashlib.sha256()
    if root is not None and root.is_dir():
        for name, item in _tree_files(root):
            digest.update(name.encode("utf-8") + b"\0")
            digest.update(hashlib.sha256(item.read_bytes()).digest())
    return digest.hexdigest()


def shipped_templates() -> Traversable | None:
    try:
        return resources.files("generator.templates")
    except ModuleNotFoundError:  # pragma: no cover - an installation without templates
        return None


def fingerprint(settings: Any) -> str:
    """Everything except the workbook that decides the outputs' bytes (`settings` is a
    pipeline.Settings; typed loosely so this module does not import the pipeline).

    The templates count only for the formats rendered from them: an edited template does not
    make a JSON-only batch redo its work.
    """
    from generator.ratecard import card_digest

    brand = settings.branding
    templated = bool(set(settings.formats) & TEMPLATED_FORMATS)
    parts = {
        "version": __version__,
        "ratecard": card_digest(),
        "templates": tree_digest(shipped_templates()) if templated else None,
        "override_templates": tree_digest(settings.templates) if templated else None,
        "formats": sorted(settings.formats),
        "firm": brand.firm,
        "color": brand.color,
        "logo": sha256_file(brand.logo) if brand.logo is not None else None,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode("utf-8")).hexdigest()


# ------------------------------------------------------------------ records


@dataclass(frozen=True, slots=True)
class Headline:
    """The figures of one budget the portfolio page shows (the base scenario of budget.json)."""

    clinic: str
    physicians: int
    build_low: int
    build_expected: int
    build_high: int
    tier: str
    year_one_capital: int
    recommendation: str
    break_even_year: int | None

    @classmethod
    def from_budget(cls, budget: dict[str, Any]) -> Headline:
        """From the budget.json structure (writers.budget_json.budget_dict)."""
        base = budget["scenarios"][0]
        return cls(
            clinic=str(budget["clinic"]["name"]), physicians=int(budget["clinic"]["physicians"]),
            build_low=base["build"]["low"], build_expected=base["build"]["expected"],
            build_high=base["build"]["high"], tier=base["tier"],
            year_one_capital=base["capital"]["year_one"],
            recommendation=base["recommendation"]["headline"] or base["recommendation"]["path"],
            break_even_year=base["tco"]["break_even_year"],
        )


@dataclass(frozen=True, slots=True)
class Record:
    """One output folder: what its documents were made from, and the last attempt."""

    slug: str
    source: str  # the workbook path as last given
    workbook_sha256: str = ""  # of the workbook the current documents were made from
    fingerprint: str = ""
    files: tuple[str, ...] = ()
    generated_at: str = ""
    headline: Headline | None = None
    status: str = ""  # generated | unchanged | failed: the last attempt
    errors: tuple[str, ...] = ()  # of the last attempt, when it failed
    checked_at: str = ""

    def is_current(self, workbook_sha256: str, fp: str, folder: Path, files: Iterable[str]) -> bool:
        """True when the documents in `folder` were made from exactly these inputs and are all there."""
        return (
            bool(self.workbook_sha256)
            and self.workbook_sha256 == workbook_sha256
            and self.fingerprint == fp
            and all((folder / name).is_file() for name in files)
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["files"] = list(self.files)
        data["errors"] = list(self.errors)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        headline = data.get("headline")
        return cls(
            slug=str(data["slug"]), source=str(data.get("source", "")),
            workbook_sha256=str(data.get("workbook_sha256", "")),
            fingerprint=str(data.get("fingerprint", "")), files=tuple(data.get("files", ())),
            generated_at=str(data.get("generated_at", "")),
            headline=Headline(**headline) if isinstance(headline, dict) else None,
            status=str(data.get("status", "")), errors=tuple(data.get("errors", ())),
            checked_at=str(data.get("checked_at", "")),
        )


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


# ------------------------------------------------------------------ the manifest file


@dataclass
class Manifest:
    """The records of one output folder. Load, update, save: only under `OutputLock`."""

    path: Path
    records: dict[str, Record] = field(default_factory=dict)
    damaged: bool = False  # the file existed but could not be read; everything is regenerated

    @classmethod
    def load(cls, out: Path) -> Manifest:
        path = out / MANIFEST_NAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(path)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return cls(path, damaged=True)
        try:
            if data.get("schema_version") != MANIFEST_SCHEMA:
                return cls(path, damaged=True)
            records = {slug: Record.from_json(r) for slug, r in data["workbooks"].items()}
        except (AttributeError, KeyError, TypeError, ValueError):
            return cls(path, damaged=True)
        return cls(path, records)

    def get(self, slug: str) -> Record | None:
        return self.records.get(slug)

    def put(self, record: Record) -> None:
        self.records[record.slug] = record

    def note_failure(self, slug: str, source: str, errors: tuple[str, ...]) -> None:
        """A failed attempt: keep what is known about the earlier documents."""
        old = self.records.get(slug) or Record(slug, source)
        self.put(replace(old, source=source, status="failed", errors=errors, checked_at=now_iso()))

    def save(self) -> None:
        write_text_atomically(self.path, self._lines())

    def _lines(self) -> Iterator[str]:
        """The manifest's JSON, one record at a time (no second copy of the whole file)."""
        head = {"schema_version": MANIFEST_SCHEMA, "generator": {"name": "clinic-budget", "version": __version__}}
        yield json.dumps(head, indent=1)[:-2] + ',\n "workbooks": {'
        for n, slug in enumerate(sorted(self.records)):
            record = json.dumps(self.records[slug].to_json(), indent=1, ensure_ascii=False)
            yield ("," if n else "") + f"\n  {json.dumps(slug)}: " + record.replace("\n", "\n  ")
        yield "\n }\n}\n"


# ------------------------------------------------------------------ files and locks


def _create_temporary(path: Path) -> tuple[int, str]:
    """A new hidden `.<name>.XXXXXXXX.tmp` beside `path`, opened for writing with mode 0666
    less the umask."""
    for _ in range(100):
        tmp = os.path.join(path.parent, f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666), tmp
        except FileExistsError:
            continue
        except OSError as exc:
            raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    raise OutputError(f"{path}: cannot create a temporary file beside it")


def write_text_atomically(path: Path, text: str | Iterable[str]) -> None:
    """Write `path` (a string, or pieces of one streamed as they come) through a hidden
    temporary file in the same folder, fsync, and a rename. The file gets the permissions of
    every other output (0666 less the umask, as `open` gives the documents), not mkstemp's 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temporary(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.writelines([text] if isinstance(text, str) else text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None


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
    """Remove staging folders and temporary files left by a process that was killed.

    Only hidden names made by `write_atomically` (`.<slug>.XXXXXXXX/`) or by
    `write_text_atomically` (`.<name>.XXXXXXXX.tmp`), older than `older_than` seconds.
    """
    removed, cutoff = 0, time.time() - older_than
    for folder in (out, out / ERRORS_DIR):
        removed += _remove_old_hidden(folder, cutoff)
    return removed


def _remove_old_hidden(folder: Path, cutoff: float) -> int:
    import shutil

    removed = 0
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(folder):
            name = entry.name
            if not name.startswith(".") or name in (MANIFEST_NAME, LOCK_NAME) or name.count(".") < 2:
                continue
            is_staging = entry.is_dir(follow_symlinks=False)
            if not (is_staging or name.endswith(".tmp")):
                continue
            with contextlib.suppress(OSError):
                if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    shutil.rmtree(entry.path) if is_staging else os.unlink(entry.path)
                    removed += 1
    return removed
