"""Build validated Scenarios directly (no workbook), for planner and risk tests."""

from __future__ import annotations

from dataclasses import replace

from generator.model import (
    KNOWN_MODULES,
    Category,
    Clinic,
    ClinicType,
    Complexity,
    Integration,
    ModuleChoice,
    Records,
    Scenario,
    Subscription,
)
from generator.ratecard import RateCard, default_card


def modules(include: dict[str, bool] | None = None, complexity: Complexity | None = None,
            extra: tuple[ModuleChoice, ...] = ()) -> tuple[ModuleChoice, ...]:
    """Every known module at its default (or `include[name]`), then `extra` specialty rows."""
    include = include or {}
    rows = tuple(
        ModuleChoice(m.name, include.get(m.name, m.default_on), m.phase, complexity, known=m)
        for m in KNOWN_MODULES
    )
    return rows + extra


def scenario(name: str = "Baseline", *, card: RateCard | None = None,
             mods: tuple[ModuleChoice, ...] | None = None,
             integrations: tuple[Integration, ...] = (),
             subscriptions: tuple[Subscription, ...] = (), **clinic: object) -> Scenario:
    base = Clinic(name="Ridgeview Family Medicine", clinic_type=ClinicType.FAMILY, physicians=3,
                  records=Records.PAPER)
    return Scenario(name, replace(base, **clinic), mods if mods is not None else modules(), integrations,
                    subscriptions, card or default_card())


def integration(category: Category, complexity: Complexity = Complexity.TYPICAL, phase: int = 2) -> Integration:
    return Integration(f"{category.value} system", category, "", phase, complexity)
