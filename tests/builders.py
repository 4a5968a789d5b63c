"""The one scenario builder and the one workbook builder every test uses.

Scenarios are built directly (no workbook) for the planner, risk and document tests:

    scenario(physicians=5, integrations=(integration(Category.LAB),))
    plan(family(), ortho())               # through the planner
    analysed(ortho(), source="summit.xlsx")  # and the real, seeded risk analysis

Workbooks are written inside the test from rows, for the intake, batch and command tests:

    write_workbook(tmp_path / "x.xlsx", {"Clinic": clinic_rows(physicians=4), "Modules": [...]})
    clinic_workbook(tmp_path / "x.xlsx")  # the minimal valid form, plus any other sheets
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from generator.model import (
    KNOWN_MODULES,
    Category,
    Clinic,
    ClinicType,
    Complexity,
    Hosting,
    Intake,
    Integration,
    Level,
    ModuleChoice,
    Plan,
    Records,
    Scenario,
    Subscription,
    Team,
)
from generator.plan import risk
from generator.plan.pricing import plan_intake
from generator.ratecard import RateCard, default_card

HOSTILE = "<script>alert(1)</script>"

# ------------------------------------------------------------------ scenarios


def modules(on: Iterable[str] = (), off: Iterable[str] = (), *, every: bool = False,
            complexity: Complexity | None = None, specialty: Iterable[ModuleChoice] = ()
            ) -> tuple[ModuleChoice, ...]:
    """Every known module, included at its default (or every one with `every`), switched `on` or
    `off` by name or rate-card key, then the `specialty` features."""
    on, off = set(on), set(off)
    rows = tuple(ModuleChoice(m.name, ((m.default_on or every) or bool({m.name, m.key} & on))
                              and not {m.name, m.key} & off, m.phase, complexity, known=m)
                 for m in KNOWN_MODULES)
    return rows + tuple(specialty)


def feature(name: str, low: int, high: int, *, complexity: Complexity | None = None, phase: int = 2,
            notes: str = "") -> ModuleChoice:
    """A specialty feature: a module the rate card does not know, with the workbook's own range."""
    return ModuleChoice(name, True, phase, complexity, low, high, notes)


def integration(category: Category, complexity: Complexity = Complexity.TYPICAL, phase: int = 2, *,
                system: str = "", vendor: str = "") -> Integration:
    return Integration(system or f"{category.value} system", category, vendor, phase, complexity)


def scenario(name: str = "Baseline", *, card: RateCard | None = None, overrides: Mapping[str, float] | None = None,
             mods: tuple[ModuleChoice, ...] | None = None, integrations: Iterable[Integration] = (),
             subscriptions: Iterable[Subscription] = (), clinic: Clinic | None = None, **fields: Any) -> Scenario:
    """A validated scenario: a three-physician family practice on paper records with the known
    modules at their defaults, changed by `fields` (Clinic's) and the keywords."""
    base = clinic or Clinic(name="Ridgeview Family Medicine", clinic_type=ClinicType.FAMILY, physicians=3,
                            records=Records.PAPER)
    card = card or default_card()
    if overrides:
        card = card.with_overrides({k: (v, "test") for k, v in overrides.items()})
    return Scenario(name, replace(base, **fields), mods if mods is not None else modules(), tuple(integrations),
                    tuple(subscriptions), card)


def plan(*scenarios: Scenario, source: str = "test.xlsx") -> Plan:
    """The scenarios through the planner (no risk analysis)."""
    return plan_intake(Intake(source, Path(source).stem, tuple(scenarios)))


def analysed(*scenarios: Scenario, source: str = "test.xlsx") -> Plan:
    """The scenarios through the planner and the real, seeded risk analysis."""
    return risk.apply(plan(*scenarios, source=source))


# The named cases the document tests and the golden files use.

def family_clinic(name: str = "Ridgeview Family Medicine", **fields: Any) -> Clinic:
    base = Clinic(name, ClinicType.FAMILY, 3, Records.PAPER, prepared_for="Dr. Ana Ruiz",
                  prepared_by="Northbridge Health Advisory", report_date=dt.date(2026, 3, 2))
    return replace(base, **fields)


def family(name: str = "Baseline", clinic: Clinic | None = None) -> Scenario:
    """The family practice of the intake spec, with a lab and a billing interface."""
    links = (integration(Category.LAB, system="Quest lab interface", vendor="Quest Diagnostics"),
             integration(Category.BILLING, Complexity.HIGH, system="Kareo billing", vendor="Kareo"))
    return scenario(name, clinic=clinic or family_clinic(), integrations=links)


def ortho(name: str = "Baseline") -> Scenario:
    """The guide's orthopedic practice: on premises, a US team, every module, four integrations."""
    clinic = Clinic("Summit Orthopedics", ClinicType.SPECIALTY, 5, Records.LEGACY, specialty="Orthopedics",
                    hosting=Hosting.ONPREM, team=Team.US, workflow_specificity=Level.HIGH,
                    certified_components=True, report_date=dt.date(2026, 4, 15))
    links = (integration(Category.LAB, system="LabCorp", vendor="LabCorp"),
             integration(Category.BILLING, phase=1, system="Athena billing", vendor="athenahealth"),
             integration(Category.EPRESCRIBING, Complexity.LOW, phase=1, system="Surescripts", vendor="Surescripts"),
             integration(Category.IMAGING, Complexity.HIGH, system="PACS imaging"))
    mods = modules(every=True, specialty=(feature("Surgical outcomes tracking", 9000, 16000,
                                                  notes="specialty workflow"),))
    return scenario(name, clinic=clinic, mods=mods, integrations=links)


def hostile() -> Scenario:
    """User text that would be markup, a formula or a script anywhere it is not escaped."""
    clinic = family_clinic(HOSTILE, prepared_for="=HYPERLINK(\"http://evil\")",
                           specialty="*bold* _x_ [link](http://evil) | pipe")
    mods = modules(off=("fhir_r4_api",), specialty=(feature("# heading <b>x</b>", 5000, 9000,
                                                            notes="specialty workflow"),))
    return scenario(clinic=clinic, mods=mods,
                    integrations=(integration(Category.OTHER, system="+cmd|' /C calc'!A0", vendor="@SUM(1+1)"),),
                    subscriptions=(Subscription("-2+3 <img src=x onerror=alert(1)>", 300.0),))


# ------------------------------------------------------------------ workbooks

Rows = Sequence[Sequence[object]]


def clinic_rows(name: str = "Ridgeview Family Medicine", physicians: object = 3,
                clinic_type: str = "Family practice") -> list[list[object]]:
    """The Clinic sheet's minimal valid form (row 3 holds Physicians)."""
    return [["Clinic name", name], ["Clinic type", clinic_type], ["Physicians", physicians],
            ["Current records", "Paper"], ["Report date", "2026-03-02"]]


BASE_CLINIC: list[list[object]] = clinic_rows()


def write_workbook(path: Path, sheets: Mapping[str, Rows], *, edit: Callable[[Workbook], None] | None = None
                   ) -> Path:
    """Write `{sheet name: rows}` as an .xlsx; a row is a list of cell values (None = empty).
    `edit` changes the workbook before it is saved, for what rows cannot say (hidden sheets,
    merged or far-away cells, number formats)."""
    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(list(row))
    if edit is not None:
        edit(wb)
    wb.save(path)
    return path


def clinic_workbook(path: Path, clinic: Rows | None = None, **sheets: Rows) -> Path:
    """A valid minimal workbook (the BASE_CLINIC form) plus any other sheets."""
    return write_workbook(path, {"Clinic": clinic if clinic is not None else BASE_CLINIC, **sheets})
