"""The risk analysis stage (placeholder until the full analysis lands)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from generator.model import Plan


@dataclass(frozen=True)
class RiskResult:
    p10: int
    p50: int
    p80: int
    p90: int

    def to_dict(self) -> dict[str, Any]:
        return {"risk": {"p10": self.p10, "p50": self.p50, "p80": self.p80, "p90": self.p90},
                "sensitivity": []}


def apply(plan: Plan) -> Plan:
    """The plan with each scenario's risk analysis attached."""
    scenarios = tuple(
        replace(sp, risk=RiskResult(sp.build.low, sp.build.expected, sp.build.expected, sp.build.high))
        for sp in plan.scenarios)
    return replace(plan, scenarios=scenarios)
