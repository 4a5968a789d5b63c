"""clinic-budget: a small clinic's intake workbook in, a custom-EHR budget out.

Library first: the command line is a thin layer over these functions, and a script can call them
directly (see the README's "Python API"):

    read_workbook(path)            -> Intake     read and validate (in a bounded child process)
    plan_budget(intake)            -> Plan       costs, phases, run costs, ownership, decision
    analyse_risk(plan)             -> Plan       Monte Carlo ranges, sensitivity, switching values
    render_documents(plan, settings) -> {file name: bytes}, one per format in settings.formats
    generate(path, settings)       -> Result     all of the above, written to <out>/<slug>/
    run_batch(folder, settings)    -> events     every workbook in a folder, skipping unchanged ones

`Settings` and `Branding` say what to write and how it looks; `FORMATS` lists the formats
(`generator.render.writers.WRITERS` has their details). Errors are `BudgetError`s; an
`IntakeError` carries every `Problem` found in the workbook, each pinned to its sheet and cell.

The stages, one subpackage each:

    intake/  read the workbook safely, parse its cells, validate it into frozen Scenarios
    plan/    price the build, cost ownership, decide, analyse the risk
    render/  one writer per format, from the registry in render/writers.py
    run/     one workbook (generate), batch, watch, the output folder and its manifest

Everything is imported when first used, so `import generator` (and `clinic-budget --help`)
stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:  # the names a type checker sees; at run time each is imported on first use
    import datetime as dt
    from collections.abc import Callable, Iterator
    from pathlib import Path
    from typing import Any

    from generator.errors import BudgetError, IntakeError, OutputError, Problem, TemplateError, UsageError
    from generator.model import Intake, Plan
    from generator.render.writers import FORMATS, WRITERS, Writer
    from generator.run.batch import BatchEvent, Outcome, Summary
    from generator.run.generate import Result
    from generator.settings import Branding, Settings

__all__ = [
    "FORMATS", "WRITERS", "BatchEvent", "Branding", "BudgetError", "Intake", "IntakeError", "Outcome",
    "OutputError", "Plan", "Problem", "Result", "Settings", "Summary", "TemplateError", "UsageError", "Writer",
    "__version__", "analyse_risk", "generate", "plan_budget", "read_workbook", "render_documents", "run_batch",
]

_LAZY = {
    "BudgetError": "generator.errors", "IntakeError": "generator.errors", "OutputError": "generator.errors",
    "Problem": "generator.errors", "TemplateError": "generator.errors", "UsageError": "generator.errors",
    "Intake": "generator.model", "Plan": "generator.model",
    "FORMATS": "generator.render.writers", "WRITERS": "generator.render.writers", "Writer": "generator.render.writers",
    "BatchEvent": "generator.run.batch", "Outcome": "generator.run.batch", "Summary": "generator.run.batch",
    "Result": "generator.run.generate",
    "Branding": "generator.settings", "Settings": "generator.settings",
}


def __getattr__(name: str) -> Any:
    import importlib

    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'generator' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def read_workbook(path: str | Path) -> Intake:
    """Read and validate an intake workbook: its scenarios (the base first) and warnings.

    The workbook is untrusted, so it is read in a child process with memory and time limits
    (`CLINIC_BUDGET_SANDBOX=0` reads it in this process). Raises `IntakeError` listing every
    problem in the workbook."""
    from generator.intake.sandbox import read_untrusted

    return read_untrusted(path)


def plan_budget(intake: Intake, today: dt.date | None = None) -> Plan:
    """The budget of every scenario: build cost, phases, labour, run costs, five-year ownership
    against off-the-shelf subscriptions, and the recommendation. Dated the workbook's report
    date, else `today`, else the current date. No risk analysis yet (`analyse_risk`)."""
    from generator.plan.pricing import plan_intake

    return plan_intake(intake, today)


def analyse_risk(plan: Plan) -> Plan:
    """The plan with each scenario's risk analysis attached (seeded from the scenario, so the
    same workbook gives the same figures): percentiles, the recommended budget, sensitivity."""
    from generator.plan import risk

    return risk.apply(plan)


def render_documents(plan: Plan, settings: Settings) -> dict[str, bytes]:
    """Every format in `settings.formats` as file name -> bytes ("budget.json": ...), nothing
    written. `settings.out` is not used."""
    from generator.render.writers import render_all

    return render_all(plan, settings)


def generate(path: str | Path, settings: Settings, plan_hook: Callable[[Plan], None] | None = None) -> Result:
    """Read, plan, analyse and render one workbook, and write its documents (atomically) to
    `<settings.out>/<slug>/`. `plan_hook` sees the plan before it is rendered. Errors are
    raised. Unlike `clinic-budget run`, it takes neither the output folder's lock nor its
    manifest: for a folder that `batch`, `watch` or `serve` also write, use `run_batch`."""
    from generator.run import generate as run

    return run.generate(path, settings, plan_hook)


def run_batch(folder: str | Path, settings: Settings, workers: int | None = None,
              force: bool = False) -> Iterator[BatchEvent]:
    """Bring the documents of every workbook in `folder` up to date, `workers` processes at a
    time (default: one per core), skipping workbooks whose documents are current unless `force`.
    Yields events as it goes (`Outcome` per workbook, then a `Summary`); a failed workbook is an
    `Outcome` with its errors and an error report, never an exception. Writes the portfolio
    (`index.html`, `index.csv`) and the manifest in `settings.out`."""
    from pathlib import Path

    from generator.run import batch

    return batch.run_batch(Path(folder), settings, workers, force)
