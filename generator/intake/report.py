"""A workbook's problems and warnings, collected while it is read (`reader.py`), with the
intake contract's caps: at most PROBLEM_LIMIT problems and WARNING_LIMIT warnings are kept, the
rest counted (issue 17, item 10: 1,999 long module names made a 161 MB error report)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from generator.errors import Problem
from generator.intake import fields, schema
from generator.intake.workbook import Cell
from generator.ratecard import RateCard

# Clinic fields whose allowed values include implausible ones: attr -> the rate-card keys
# (`.low`, `.high`) outside which a value is accepted with a warning.
PLAUSIBLE = {"hourly_rate": "intake.plausible_rate", "development_hours": "intake.plausible_hours"}


class _Invalid:
    """A cell whose problem is already recorded; its value must not be used."""

    def __repr__(self) -> str:
        return "INVALID"


INVALID: Any = _Invalid()


@dataclass
class Report:
    """Collects a workbook's problems and warnings while it is read."""

    file: str
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    more_problems: int = 0  # found past schema.PROBLEM_LIMIT: counted, not kept
    more_warnings: int = 0
    to_check: list[tuple[Cell, str, float]] = field(default_factory=list)  # for `plausibility`

    def at(self, cell: Cell, name: str | None, message: str) -> None:
        self.add(Problem(self.file, cell.sheet, cell.coordinate, name, message))

    def on_sheet(self, sheet: str | None, name: str | None, message: str) -> None:
        self.add(Problem(self.file, sheet, None, name, message))

    def add(self, problem: Problem) -> None:
        if len(self.problems) < schema.PROBLEM_LIMIT:
            self.problems.append(problem)
        else:
            self.more_problems += 1

    def warn(self, sheet: str | None, cell: str | None, name: str | None, message: str) -> None:
        if len(self.warnings) < schema.WARNING_LIMIT:
            self.warnings.append(str(Problem(self.file, sheet, cell, name, message)))
        else:
            self.more_warnings += 1

    def all_problems(self) -> list[Problem]:
        """The problems kept, then one line counting those past the limit."""
        if not self.more_problems:
            return self.problems
        return [*self.problems, Problem(self.file, None, None, None, f"and {self.more_problems:,} more "
                                        f"problem{'s' if self.more_problems != 1 else ''} not listed (only "
                                        f"the first {schema.PROBLEM_LIMIT} are); fix these and validate again")]

    def all_warnings(self) -> tuple[str, ...]:
        if not self.more_warnings:
            return tuple(self.warnings)
        return (*self.warnings, str(Problem(self.file, None, None, None, f"and {self.more_warnings:,} more "
                                            f"warning{'s' if self.more_warnings != 1 else ''} not listed")))

    def read(self, cell: Cell, fld: schema.Field, name: str | None = None) -> Any:
        """The cell's value for `fld`: None when blank, INVALID (problem recorded) when wrong."""
        name = name or fld.label
        if cell.formula is not None:
            self.at(cell, name, cell.uncached_message())
            return INVALID
        if cell.blank:
            if fld.required:
                self.at(cell, name, f"required field is empty; expected {fields.expectation(fld)}")
            return None
        try:
            value = fields.parse(fld, cell.value, cell.number_format)
        except fields.FieldError as exc:
            self.at(cell, name, str(exc))
            return INVALID
        if fld.kind == schema.PERCENT:
            self.percent_warning(cell, name)
        if fld.attr in PLAUSIBLE and fld in schema.CLINIC_FIELDS:
            self.to_check.append((cell, fld.label, value))
        return value

    def plausibility(self, card: RateCard) -> None:
        """Warn about values the contract allows but no clinic is likely to mean (issue 13's
        input bounds): an hourly rate or a number of hours far outside what the guide prices."""
        for cell, label, value in self.to_check:
            key = PLAUSIBLE[next(f.attr for f in schema.CLINIC_FIELDS if f.label == label)]
            low, high = card.entry(f"{key}.low"), card.entry(f"{key}.high")
            if low.value <= value <= high.value:
                continue
            side, bound = ("low", low) if value < low.value else ("high", high)
            self.warn(cell.sheet, cell.coordinate, label, f"{fields.show(cell.value)} is unusually {side} "
                      f"(the report uses it; {bound.note[0].lower()}{bound.note[1:]}); check it")

    def percent_warning(self, cell: Cell, name: str) -> None:
        if fields.percent_points(cell.value, cell.number_format):
            shown = fields.show(cell.value)
            points = fields.percent(cell.value) * 100
            message = f"read {shown} as {points:g}%; type {points:g}% or {points / 100:g} to say so"
            self.warn(cell.sheet, cell.coordinate, name, message)


def _usable(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None and v is not INVALID}
