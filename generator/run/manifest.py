"""What is in an output folder: which workbook and settings each folder's documents were made from.

* `fingerprint(settings)`: a hash of everything besides the workbook that shapes its outputs
  (tool version, rate card, templates, formats, branding, the engines of the formats).
* `Manifest`: `<out>/.clinic-budget-manifest.sqlite`, one `Record` per output folder (slug):
  the workbook hash and fingerprint its documents were made from, the files, the headline
  figures for the portfolio page, and the last outcome. An SQLite database, so that a batch
  looks records up and writes them one at a time and its memory does not grow with the
  number of workbooks; a killed batch leaves it as of its last commit.

Writing into the folder (atomic writes, the lock, clean-up) is generator.run.outputs; the
manifest is only opened, changed and saved under that module's `OutputLock`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generator import __version__
from generator.errors import OutputError
from generator.run.outputs import MANIFEST_NAME, subpath

if TYPE_CHECKING:
    from generator.settings import Settings

SQLITE_SIDE_FILES = ("-journal", "-wal", "-shm")
# DELETE journal (one file beside the database while a transaction commits; works on network
# folders, unlike WAL), FULL sync (a commit every SAVE_EVERY seconds, so its fsyncs cost nothing
# measurable), and a page cache of 32 KiB so memory does not follow the number of records.
# temp_store comes first: changing it drops the temporary database, and with it the page-cache
# size set for it, which left the workbook list in memory (1.8 MiB of SQLite memory at 20,000
# workbooks, 156 KiB in this order).
MANIFEST_PRAGMAS = ("temp_store = FILE", "journal_mode = DELETE", "synchronous = FULL", "cache_size = -32",
                    "temp.cache_size = -32")
MANIFEST_SCHEMA = 2  # PRAGMA user_version of the database


# ------------------------------------------------------------------ hashing


def sha256_file(path: str | Path) -> str:
    """The file's SHA-256; IntakeError (before reading a byte) unless it is a regular file of at most
    the reader's limit (a FIFO, /dev/zero behind a symlink, a 20 GB sparse file: intake/rawfile.py)."""
    from generator.intake.rawfile import open_workbook_file

    digest = hashlib.sha256()
    with open_workbook_file(path) as fh:
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


def fingerprint(settings: Settings) -> str:
    """Everything except the workbook that decides the outputs' bytes.

    The templates count only for the formats rendered from them (`Writer.templated`): an edited
    template does not make a JSON-only batch redo its work. A format's engine (`Writer.engine`,
    e.g. the PDF printer's version) counts only when that format is asked for.
    """
    from generator.ratecard import card_digest
    from generator.render.document import shipped_templates
    from generator.render.writers import WRITERS

    brand = settings.branding
    chosen = set(settings.formats)
    templated = any(w.templated for w in WRITERS if w.name in chosen)
    parts = {
        "version": __version__,
        "ratecard": card_digest(),
        "templates": tree_digest(shipped_templates()) if templated else None,
        "override_templates": tree_digest(settings.templates) if templated else None,
        "formats": sorted(settings.formats),
        "firm": brand.firm,
        "color": brand.color,
        "logo": sha256_file(brand.logo) if brand.logo is not None else None,
        "docx_reference": (sha256_file(brand.docx_reference) if "docx" in chosen
                           and brand.docx_reference is not None else None),
        **{f"{w.name}_engine": w.engine(settings) if w.name in chosen else None
           for w in WRITERS if w.engine is not None},
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode("utf-8")).hexdigest()


def figures_digest() -> str:
    """What decides a budget's figures besides its workbook: the tool's version and the rate card.
    Documents kept from an earlier run must have been made with the same."""
    from generator.ratecard import card_digest

    return hashlib.sha256(f"{__version__}\0{card_digest()}".encode()).hexdigest()


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
    quotes: int = 0  # vendor quotes on the workbook's Quotes sheet
    lowest_quote_price: int | None = None
    lowest_quote_position: str | None = None  # below | within | above the simulated P10-P90 range
    recommended_budget: int | None = None  # the risk stage's P80 budget (None: it did not run, or an older record)
    advised_budget: int | None = None  # what the report's first screen says to budget (None: an older record)
    advised_basis: str = ""  # what that figure is: "build, P80", "build, expected" or "year one, <product>"

    @classmethod
    def from_budget(cls, budget: dict[str, Any]) -> Headline:
        """From the budget.json structure (writers.budget_json.budget_dict)."""
        base = budget["scenarios"][0]
        quotes = budget.get("quotes") or []
        lowest = min(quotes, key=lambda q: q["price"], default=None)
        advised = base["recommendation"].get("budget") or {}
        return cls(
            clinic=str(budget["clinic"]["name"]), physicians=int(budget["clinic"]["physicians"]),
            build_low=base["build"]["low"], build_expected=base["build"]["expected"],
            build_high=base["build"]["high"], tier=base["tier"],
            year_one_capital=base["capital"]["year_one"],
            recommendation=base["recommendation"]["headline"] or base["recommendation"]["path"],
            break_even_year=base["tco"]["break_even_year"],
            quotes=len(quotes), lowest_quote_price=lowest["price"] if lowest else None,
            lowest_quote_position=lowest["position"] if lowest else None,
            recommended_budget=(base.get("risk") or {}).get("recommended_budget"),
            advised_budget=advised.get("amount"), advised_basis=advised.get("basis", ""),
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
    # Documents of other formats in the folder, kept from an earlier run of this same workbook
    # (same hash) with the same figures (generate.settle_folder); listed as such by the portfolio.
    kept: tuple[str, ...] = ()
    figures: str = ""  # figures_digest() when the documents were made ("": an older record)

    def is_current(self, workbook_sha256: str, fp: str, folder: str | Path, files: Iterable[str]) -> bool:
        """True when the documents in `folder` were made from exactly these inputs and are all there."""
        return (
            bool(self.workbook_sha256)
            and self.workbook_sha256 == workbook_sha256
            and self.fingerprint == fp
            and all(os.path.isfile(subpath(folder, name)) for name in files)
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["files"] = list(self.files)
        data["errors"] = list(self.errors)
        data["kept"] = list(self.kept)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        """From `to_json`'s form; a value of the wrong kind raises TypeError or ValueError."""
        headline = data.get("headline")
        for key in ("files", "errors", "kept"):
            if not isinstance(data.get(key, []), list):
                raise TypeError(f"{key} must be a list")
        return cls(
            slug=str(data["slug"]), source=str(data.get("source", "")),
            workbook_sha256=str(data.get("workbook_sha256", "")),
            fingerprint=str(data.get("fingerprint", "")), files=tuple(data.get("files", ())),
            generated_at=str(data.get("generated_at", "")),
            headline=Headline(**headline) if isinstance(headline, dict) else None,
            status=str(data.get("status", "")), errors=tuple(data.get("errors", ())),
            checked_at=str(data.get("checked_at", "")), kept=tuple(data.get("kept", ())),
            figures=str(data.get("figures", "")),
        )


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


# ------------------------------------------------------------------ the manifest file


SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS records (slug TEXT PRIMARY KEY, record TEXT NOT NULL) WITHOUT ROWID;
CREATE TEMP TABLE IF NOT EXISTS sources (name BLOB PRIMARY KEY, slug TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS temp.sources_by_slug ON sources (slug, name);
"""
PAGE = 32  # sources fetched at a time


def _name_key(name: str) -> bytes:
    """A file name as a BLOB whose byte order is Python's `str` order (undecodable bytes too)."""
    return name.encode("utf-8", "surrogatepass")


def _name_of(key: bytes) -> str:
    return bytes(key).decode("utf-8", "surrogatepass")


def _connect(path: Path) -> sqlite3.Connection:
    """Open (creating with the documents' permissions) and check the manifest database."""
    if not path.exists():  # 0666 less the umask, like every other output, not SQLite's 0644
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o666))
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in MANIFEST_PRAGMAS:
            conn.execute(f"PRAGMA {pragma}")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'records'").fetchone()[0]
        if version != MANIFEST_SCHEMA and (version or tables):
            raise sqlite3.DatabaseError(f"schema version {version}, expected {MANIFEST_SCHEMA}")
        conn.executescript(SCHEMA_SQL)
        conn.execute(f"PRAGMA user_version = {MANIFEST_SCHEMA}")
        check = conn.execute("PRAGMA quick_check(1)").fetchone()
        if not check or check[0] != "ok":
            raise sqlite3.DatabaseError(f"damaged: {check[0] if check else 'no answer'}")
    except BaseException:
        conn.close()
        raise
    return conn


NEWER = ("{path}: this manifest was written by a newer clinic-budget (schema version {version}; this one "
         "reads version {ours}); it is left as it is: use the newer clinic-budget, or another --out folder")


def check_manifest(out: Path) -> None:
    """OutputError when `out`'s manifest has a schema version newer than this one reads: it is not
    ours to replace (an older or damaged one is rebuilt). Read-only: the file is not touched."""
    from urllib.parse import quote

    path = out / MANIFEST_NAME
    if not path.is_file():
        return
    try:
        conn = sqlite3.connect(f"file:{quote(os.path.abspath(path))}?mode=ro", uri=True, timeout=5.0)
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return  # not a database, damaged, locked: Manifest.load decides
    if version > MANIFEST_SCHEMA:
        raise OutputError(NEWER.format(path=path, version=version, ours=MANIFEST_SCHEMA))


@dataclass
class Manifest:
    """The records of one output folder, in `<out>/.clinic-budget-manifest.sqlite` (one row per
    slug, looked up as needed: nothing is held in memory). Open, update, save (commit), close:
    only under `OutputLock`.

    The folder's workbooks are listed into a temporary table (`add_sources`), so the batch's
    jobs, its collisions and the portfolio's rows are all queries in file-name order.
    """

    path: Path
    conn: sqlite3.Connection
    damaged: bool = False  # the file existed but could not be read; it was started afresh
    source_count: int = 0  # workbooks listed by `add_sources`

    @classmethod
    def load(cls, out: Path) -> Manifest:
        """Open the output folder's manifest; a damaged one (or one of an older schema) is replaced
        by an empty one (every workbook is then regenerated); one of a newer schema is refused."""
        path = out / MANIFEST_NAME
        check_manifest(out)
        try:
            out.mkdir(parents=True, exist_ok=True)
            try:
                manifest = cls(path, _connect(path))
            except sqlite3.OperationalError:
                raise  # locked, disk full, cannot open: for now, not damage; the manifest is kept
            except sqlite3.DatabaseError:  # not a database, malformed, failed its check: damage
                _remove_database(path)
                manifest = cls(path, _connect(path), damaged=True)
            manifest.conn.execute("BEGIN")
        except (OSError, sqlite3.Error) as exc:
            raise OutputError(f"{path}: cannot open the manifest: {getattr(exc, 'strerror', None) or exc}; "
                              "it is kept as it is, try again later") from None
        return manifest

    def get(self, slug: str) -> Record | None:
        row = self.conn.execute("SELECT record FROM records WHERE slug = ?", (slug,)).fetchone()
        return _load(row[0]) if row else None

    def put(self, record: Record) -> None:
        self.conn.execute("INSERT OR REPLACE INTO records VALUES (?, ?)", (record.slug, _dump(record)))

    def note_failure(self, slug: str, source: str, errors: tuple[str, ...]) -> None:
        """A failed attempt: keep what is known about the earlier documents."""
        old = self.get(slug) or Record(slug, source)
        self.put(replace(old, source=source, status="failed", errors=errors, checked_at=now_iso()))

    def __len__(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM records").fetchone()[0])

    def save(self) -> None:
        """Commit what was put so far (a killed run keeps everything up to its last save)."""
        try:
            self.conn.execute("COMMIT")
            self.conn.execute("BEGIN")
        except sqlite3.Error as exc:
            raise OutputError(f"{self.path}: cannot write: {exc}") from None

    def close(self) -> None:
        """Close without committing what was put since the last `save`."""
        self.conn.close()

    # ---------------------------------------------------------------- the folder's workbooks

    def add_sources(self, sources: Iterable[tuple[str, str]]) -> int:
        """List the input folder's workbooks, (file name, slug), consumed as they come; returns
        how many there are."""
        self.conn.execute("DELETE FROM temp.sources")
        self.conn.executemany("INSERT OR IGNORE INTO temp.sources VALUES (?, ?)",
                              ((_name_key(name), slug) for name, slug in sources))
        self.source_count = int(self.conn.execute("SELECT count(*) FROM temp.sources").fetchone()[0])
        return self.source_count

    def sources(self) -> Iterator[tuple[str, str]]:
        """(file name, slug) of every listed workbook, by name, a page at a time (writes to the
        records may come between two pages)."""
        after = b""
        while True:
            page = self.conn.execute("SELECT name, slug FROM temp.sources WHERE name > ? ORDER BY name LIMIT ?",
                                     (after, PAGE)).fetchall()
            for name, slug in page:
                yield _name_of(name), slug
            if len(page) < PAGE:
                return
            after = page[-1][0]

    def clashes(self) -> dict[str, str]:
        """Workbooks whose slug an earlier (by name) workbook already has: name -> that name.

        Each workbook looks up the first name of its slug in the (slug, name) index, kept as the
        sources are listed: no sort of all the workbooks, so SQLite's memory does not grow with
        the folder (a window function sorted them: +250 KiB at 2,000 workbooks)."""
        rows = self.conn.execute(
            "SELECT name, first FROM (SELECT s.name AS name, (SELECT min(t.name) FROM temp.sources t "
            "WHERE t.slug = s.slug) AS first FROM temp.sources s) WHERE name != first ORDER BY name")
        return {_name_of(name): _name_of(first) for name, first in rows}

    def listing(self) -> Iterator[tuple[str, str, Record | None]]:
        """(file name, slug, record or None) of every listed workbook, by name, streamed."""
        rows = self.conn.execute("SELECT s.name, s.slug, r.record FROM temp.sources AS s "
                                 "LEFT JOIN records AS r ON r.slug = s.slug ORDER BY s.name")
        for name, slug, record in rows:
            yield _name_of(name), slug, (_load(record) if record is not None else None)


def stored_records(out: Path) -> list[Record]:
    """Every record in `out`'s manifest, by slug, read without the output lock: a read-only
    connection sees the last committed state (SQLite's own locking keeps it consistent while
    a batch or the watcher writes). No manifest, or one this version cannot read: no records."""
    from urllib.parse import quote

    path = out / MANIFEST_NAME
    if not path.is_file():
        return []
    try:
        conn = sqlite3.connect(f"file:{quote(os.path.abspath(path))}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error:
        return []
    try:
        if conn.execute("PRAGMA user_version").fetchone()[0] != MANIFEST_SCHEMA:
            return []
        records = (_load(text) for (text,) in conn.execute("SELECT record FROM records ORDER BY slug"))
        return [r for r in records if r is not None]  # a damaged record is skipped
    except sqlite3.Error:
        return []
    finally:
        conn.close()


def _dump(record: Record) -> str:
    """The record as JSON text; ASCII, so a file name that is not UTF-8 (its bytes decoded to lone
    surrogates) is stored as `\\udcXX` escapes that load back to the same name."""
    return json.dumps(record.to_json(), ensure_ascii=True, separators=(",", ":"))


def _load(text: str) -> Record | None:
    """The record stored as `text`, or None when it is damaged (not JSON, an unknown key, a value
    of the wrong type): its workbook is then regenerated, as if it had no record, instead of
    every later batch failing on it."""
    try:
        record = Record.from_json(json.loads(text))
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return record if _well_typed(record) else None


def _well_typed(record: Record) -> bool:
    strings = (record.slug, record.source, record.workbook_sha256, record.fingerprint, record.generated_at,
               record.status, record.checked_at, *record.files, *record.errors, *record.kept)
    if not all(isinstance(s, str) for s in strings):
        return False
    h = record.headline
    if h is None:
        return True
    numbers = (h.physicians, h.build_low, h.build_expected, h.build_high, h.year_one_capital)
    return (isinstance(h.clinic, str) and isinstance(h.tier, str) and isinstance(h.recommendation, str)
            and all(isinstance(n, int) and not isinstance(n, bool) for n in numbers)
            and isinstance(h.advised_basis, str)
            and all(n is None or (isinstance(n, int) and not isinstance(n, bool))
                    for n in (h.break_even_year, h.recommended_budget, h.advised_budget)))


def _remove_database(path: Path) -> None:
    """Remove a damaged manifest and whatever journal SQLite left beside it."""
    for name in (path.name, *(path.name + s for s in SQLITE_SIDE_FILES)):
        with contextlib.suppress(FileNotFoundError):
            (path.parent / name).unlink()
