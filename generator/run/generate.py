"""The whole job for one workbook: read -> plan -> risk -> render -> write, atomically.

`run`, `batch` and `watch` all call `generate`; what shapes the outputs besides the workbook is
`generator.settings.Settings`, and the formats are `generator.render.writers.WRITERS`.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from generator.model import Plan
from generator.settings import Settings


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
    from generator.intake.reader import slugify
    from generator.run.job import plan_and_render
    from generator.run.outputs import subpath, write_atomically

    plan, files = plan_and_render(path, settings)  # bounded in time and memory: see run/job.py
    if plan_hook is not None:
        plan_hook(plan)
    slug = slugify(os.path.basename(path))
    folder = subpath(settings.out, slug)
    write_atomically(folder, files)
    return Result(path, slug, folder, tuple(files), plan.intake.warnings, plan)
