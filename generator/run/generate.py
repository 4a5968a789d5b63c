"""One workbook: read -> plan -> risk -> render -> write, atomically; and the one per-workbook
step every command takes.

* `generate(path, settings)`: the whole job for one workbook, written to `<out>/<slug>/` (the
  Python API's `generator.generate`; no lock, no manifest).
* `process_workbook(job)`: what `run`, `batch`, `watch` and `serve` do for each workbook, while
  their caller holds the output folder's lock (`outputs.OutputLock`) and its manifest (the job
  carries the workbook's manifest record, the outcome the new one): hash the workbook, decide
  from the record whether its documents are current, otherwise generate them atomically, then
  make the folder hold no document of an older version of the workbook (`settle_folder`). It
  never raises: every failure becomes an `Outcome`.

What shapes the outputs besides the workbook is `generator.settings.Settings`, and the formats
are `generator.render.writers.WRITERS`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from generator.errors import BudgetError, IntakeError, OutputError, Problem, TemplateError
from generator.model import Plan
from generator.run.manifest import Headline, Record, figures_digest, now_iso, sha256_file
from generator.run.outputs import remove_documents, subpath
from generator.settings import Settings

UNSTABLE = ("the file changed while it was being read (still being copied or saved?); "
            "it will be read again")
OUTSIDE = ("a symbolic link to a file outside the input folder; it is not followed: copy the workbook "
           "itself into the folder")


@dataclass(frozen=True)
class Result:
    source: str | Path  # as given to `generate`
    slug: str
    folder: str  # the output folder (a string: see `generate`)
    files: tuple[str, ...]
    warnings: tuple[str, ...]
    plan: Plan


def build_plan(path: str | Path, today: dt.date | None = None) -> Plan:
    """Read, validate and plan one workbook (no files written)."""
    from generator.intake.sandbox import read_untrusted
    from generator.plan import quotes, risk
    from generator.plan.pricing import plan_intake

    # The workbook is untrusted: read it in a child process with memory and time limits
    # (CLINIC_BUDGET_SANDBOX=0 reads it in process).
    return quotes.apply(risk.apply(plan_intake(read_untrusted(path), today)))


def generate(path: str | Path, settings: Settings, plan_hook: Callable[[Plan], None] | None = None) -> Result:
    """One workbook to its documents in `<out>/<slug>/`.

    No `Path` is made from the workbook's name or slug: pathlib interns every name it parses,
    and a process that generates workbook after workbook (a one-worker batch) saw its memory grow
    with the interned-string table (see generator.run.batch)."""
    from generator.intake.slug import slugify
    from generator.run.job import plan_and_render
    from generator.run.outputs import write_atomically

    plan, files = plan_and_render(path, settings)  # bounded in time and memory: see run/job.py
    if plan_hook is not None:
        plan_hook(plan)
    slug = slugify(os.path.basename(path))
    folder = subpath(settings.out, slug)
    write_atomically(folder, files)
    return Result(path, slug, folder, tuple(files), plan.intake.warnings, plan)


# ------------------------------------------------------------------ the one per-workbook step


@dataclass(frozen=True)
class Job:
    source: str  # the workbook's path (a string: see batch's docstring)
    slug: str
    settings: Settings
    fingerprint: str
    previous: Record | None = None  # the slug's manifest record
    force: bool = False  # regenerate even when the documents are current (`run`, `batch --force`)
    within: str = ""  # the input folder a symbolic link may lead into ("": no such bound, `run FILE`)

    @property
    def name(self) -> str:
        return os.path.basename(self.source)


@dataclass(frozen=True)
class Outcome:
    source: str  # the workbook's path
    slug: str
    status: str  # generated | unchanged | failed
    folder: str  # its output folder
    record: Record | None = None  # the manifest record, when the documents are current
    errors: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()
    warnings: tuple[str, ...] = ()
    unstable: bool = False  # the workbook changed while it was being read
    slug_taken: bool = False  # another workbook in the folder has the same slug
    seconds: float = 0.0
    report: str | None = field(default=None, compare=False)  # the error report, once written
    cause: str = "workbook"  # what to fix: workbook | templates | output | setup | internal
    template: str | None = None  # the template at fault, when cause is "templates"
    removed: tuple[str, ...] = ()  # documents of an older version of the workbook, removed

    @property
    def failed(self) -> bool:
        return self.status == "failed"


def _failure(job: Job, errors: list[str], problems: tuple[Problem, ...] = (), **kw: object) -> Outcome:
    return Outcome(job.source, job.slug, "failed", subpath(job.settings.out, job.slug),
                   errors=tuple(errors) or ("unknown error",), problems=problems, **kw)  # type: ignore[arg-type]


def settle_folder(folder: str, made: tuple[str, ...], previous: Record | None, digest: str,
                  figures: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """After `made` was written to `folder`: (kept, removed) among the documents of the other formats.

    A document is kept only when the manifest says it came from an earlier run of this same
    workbook (same content hash) with the same figures (tool version and rate card): the
    portfolio lists it as "kept from an earlier run". Any other document of ours (from an older
    version of the workbook, another workbook with the same slug, or of unknown origin) is removed,
    so the folder never holds documents with other figures beside the new ones. Only our file
    names (`budget.*`) are looked at; anything else in the folder is left alone."""
    from generator.render.writers import WRITERS

    same = previous is not None and previous.workbook_sha256 == digest and previous.figures == figures
    earlier = set(previous.files) | set(previous.kept) if same and previous is not None else set()
    kept: list[str] = []
    stale: list[str] = []
    for name in (w.file_name for w in WRITERS):
        if name in made or not os.path.lexists(subpath(folder, name)):
            continue
        (kept if name in earlier else stale).append(name)
    remove_documents(folder, stale)
    return tuple(kept), tuple(stale)


def _generate(job: Job, digest: str, strict: bool = False) -> Outcome:
    try:
        figures = figures_digest()
        result = generate(job.source, job.settings)
        kept, removed = settle_folder(result.folder, result.files, job.previous, digest, figures)
    except IntakeError as exc:
        return _failure(job, exc.lines(), exc.problems)
    except TemplateError as exc:
        if strict:
            raise
        return _failure(job, [f"{job.name}: {line}" for line in exc.lines()], cause="templates",
                        template=exc.template)
    except BudgetError as exc:
        return _failure(job, [f"{job.name}: {line}" for line in exc.lines()],
                        cause="output" if isinstance(exc, OutputError) else "setup")
    except Exception as exc:  # noqa: BLE001 - one workbook's crash must not stop the others
        return _failure(job, [f"{job.name}: internal error ({type(exc).__name__}: {exc}); "
                              "please report it together with the workbook"], cause="internal")
    from generator.render import budget_json

    try:
        headline: Headline | None = Headline.from_budget(budget_json.budget_dict(result.plan))
    except (KeyError, IndexError, TypeError, ValueError):
        headline = None
    stamp = now_iso()
    record = Record(job.slug, job.source, digest, job.fingerprint, result.files, stamp, headline,
                    "generated", (), stamp, kept=kept, figures=figures)
    return Outcome(job.source, job.slug, "generated", result.folder, record, warnings=result.warnings,
                   removed=removed)


def unchanged(job: Job, digest: str) -> Outcome | None:
    """The "unchanged" outcome when the job's documents are current, else None."""
    from generator.render import writers

    folder = subpath(job.settings.out, job.slug)
    expected = writers.file_names(job.settings.formats)
    prev = job.previous
    if job.force or prev is None or not prev.is_current(digest, job.fingerprint, folder, expected):
        return None
    record = replace(prev, source=job.source, status="unchanged", errors=(), checked_at=now_iso())
    return Outcome(job.source, job.slug, "unchanged", folder, record)


def quick_check(job: Job) -> Outcome | None:
    """`unchanged(job)` from a hash taken here; lets the parent skip a pool for unchanged work."""
    if job.force or job.previous is None or _outside(job):
        return None
    try:
        return unchanged(job, sha256_file(job.source))
    except (OSError, IntakeError):
        return None


def _outside(job: Job) -> bool:
    """The job's workbook is a symbolic link that leads out of its input folder."""
    if not job.within or not os.path.islink(job.source):
        return False
    with contextlib.suppress(OSError, ValueError):
        real = os.path.realpath(job.source)
        folder = os.path.realpath(job.within)
        return os.path.commonpath([real, folder]) != folder
    return False


def _hash(job: Job) -> str | Outcome:
    """The workbook's content hash, or the failure that says why it cannot be read."""
    if _outside(job):
        return _failure(job, [f"{job.name}: {OUTSIDE}"])
    try:
        return sha256_file(job.source)  # a FIFO, a device or a huge file is refused unread
    except IntakeError as exc:
        return _failure(job, exc.lines(), exc.problems)
    except FileNotFoundError:
        return _failure(job, [f"{job.name}: file not found ({job.source})"])
    except OSError as exc:
        return _failure(job, [f"{job.name}: cannot read the file: {exc.strerror or exc}"])


def process_workbook(job: Job, strict: bool = False) -> Outcome:
    """Bring one workbook's documents up to date; every failure is returned, never raised
    (with `strict`, a template error is raised: `run` stops at it, as every workbook would fail)."""
    started = time.monotonic()
    digest = _hash(job)
    if isinstance(digest, Outcome):
        return replace(digest, seconds=time.monotonic() - started)
    skipped = unchanged(job, digest)
    if skipped is not None:
        return replace(skipped, seconds=time.monotonic() - started)
    outcome = _generate(job, digest, strict)
    try:
        unstable = sha256_file(job.source) != digest
    except (OSError, IntakeError):
        unstable = True
    if unstable and outcome.failed:
        outcome = _failure(job, [f"{job.name}: {UNSTABLE}"], unstable=True)
    return replace(outcome, unstable=unstable, seconds=time.monotonic() - started)
