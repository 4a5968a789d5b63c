"""Shared fixtures: the named document cases, the `--regen-golden` option that rewrites
tests/golden/ from the current output, and the guard that keeps the inner loop fast.

Regenerate every golden file with one command:

    python -m pytest tests/test_documents_golden.py --regen-golden
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from generator import model
from generator.model import Level, Plan, Team
from generator.settings import Branding, Settings
from tests.builders import HOSTILE, family, family_clinic, hostile, ortho, plan

GOLDEN = Path(__file__).parent / "golden"
__all__ = ["CASES", "GOLDEN", "HOSTILE", "examples", "settings"]


_INNER_LOOP = False


def pytest_configure(config: pytest.Config) -> None:
    global _INNER_LOOP
    _INNER_LOOP = " ".join(str(config.getoption("markexpr", "") or "").split()) == "not slow"


def examples(full: int) -> int:
    """Hypothesis examples for a property test: `full` in the full run, a fifth of them in the
    inner loop (`pytest -m "not slow"`), which must stay under 30 s."""
    return max(10, full // 5) if _INNER_LOOP else full


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--regen-golden", action="store_true", default=False,
                     help="rewrite tests/golden/ from the current output instead of comparing")


# ctypes.util.find_library runs these when WeasyPrint looks for its C libraries
_LIBRARY_HELPERS = {"ldconfig", "gcc", "cc", "objdump", "ld"}


class _UnmarkedSubprocess(subprocess.Popen):  # type: ignore[type-arg]
    def __init__(self, args: Any, *rest: Any, **kwargs: Any) -> None:
        program = Path(str(args if isinstance(args, str | bytes | Path) else args[0])).name
        if program not in _LIBRARY_HELPERS:
            self._child_created = False  # nothing for Popen.__del__ to reap
            raise AssertionError(f"this test starts a process ({program}): mark it @pytest.mark.slow")
        super().__init__(args, *rest, **kwargs)


@pytest.fixture(autouse=True)
def _processes_only_in_slow_tests(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test that starts a process (the installed command, a browser, LibreOffice) is a system
    test and must be marked `slow`, so that `pytest -m "not slow"` stays the fast inner loop.
    Forking the bounded workbook reader is not starting a process: it costs milliseconds."""
    if request.node.get_closest_marker("slow") is None:
        monkeypatch.setattr(subprocess, "Popen", _UnmarkedSubprocess)


@pytest.fixture
def regen(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--regen-golden"))


@dataclass(frozen=True)
class FakeSensitivity:
    name: str
    low: int
    high: int
    swing: int
    input_low: float
    input_high: float
    source: str
    unit: str = "$"


@dataclass(frozen=True)
class FakeSwitching:
    name: str
    value: float
    text: str


@dataclass(frozen=True)
class FakeRisk:
    """Stands in for generator.plan.risk.RiskResult with every attribute the documents read."""

    p10: int
    p50: int
    p80: int
    p90: int
    tco_p10: int
    tco_p50: int
    tco_p80: int
    tco_p90: int
    point: int
    contingency: int
    recommended_budget: int
    s_curve: tuple[tuple[float, int], ...]
    break_even_probability: tuple[tuple[str, float], ...]
    sensitivity: tuple[FakeSensitivity, ...]
    switching: tuple[FakeSwitching, ...]
    npv_custom: int
    npv_off_the_shelf: tuple[tuple[str, int], ...]
    discount_rate: float
    estimate_class: int
    accuracy_low: float
    accuracy_high: float
    accuracy_text: str
    draws: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return {"risk": {k: getattr(self, k) for k in (
                    "p10", "p50", "p80", "p90", "tco_p10", "tco_p50", "tco_p80", "tco_p90", "point",
                    "contingency", "recommended_budget", "npv_custom")},
                "npv_off_the_shelf": dict(self.npv_off_the_shelf),
                "sensitivity": [vars(s) for s in self.sensitivity]}


def fake_risk(sp: model.ScenarioPlan) -> FakeRisk:
    b, tco = sp.build, sp.ownership.custom_cumulative[-1]
    p = [b.low + (b.high - b.low) * f // 100 for f in (35, 52, 68, 76)]
    curve = tuple((i / 10, b.low + (b.high - b.low) * i // 10) for i in range(11))
    sens = (FakeSensitivity("Hourly rate", b.expected - 9000, b.expected + 12000, 21000, 32, 48, "guide",
                            "$ per hour"),
            FakeSensitivity("Offshore overhead", b.expected - 6000, b.expected + 8000, 14000, 0.7, 1.1, "ours",
                            "share"))
    return FakeRisk(p[0], p[1], p[2], p[3], tco - 20000, tco, tco + 15000, tco + 25000, b.expected,
                    p[2] - b.expected, p[2], curve, ((sp.ownership.cheapest_product, 0.62),), sens,
                    (FakeSwitching("Workflow specificity", 0.0, "the recommendation holds at any level"),),
                    tco - 30000, ((sp.ownership.cheapest_product, tco - 10000),), 0.07, 4, -0.2, 0.3,
                    "This is a Class 4 estimate: expected within -20% to +30% of the outcome.",
                    10000, 20260302)


def with_risk(plan: Plan) -> Plan:
    return replace(plan, scenarios=tuple(replace(sp, risk=fake_risk(sp)) for sp in plan.scenarios))


def settings(tmp: Path | None = None, formats: tuple[str, ...] = ("md", "html", "xlsx", "json"),
             templates: Path | None = None, branding: Branding | None = None) -> Settings:
    return Settings(tmp or Path("/nonexistent-out"), formats, templates, branding or Branding())


_BUILD = {
    "family": lambda: plan(family(), source="ridgeview.xlsx"),
    "ortho-risk": lambda: with_risk(plan(ortho(), source="summit.xlsx")),
    "scenarios": lambda: plan(
        family(),
        family("US team", family_clinic(team=Team.US)),
        family("Low specificity", family_clinic(workflow_specificity=Level.LOW)),
        source="ridgeview-scenarios.xlsx"),
    "hostile": lambda: plan(hostile(), source="hostile.xlsx"),
}

# Each named plan is built once per session (plans are frozen, so tests can share them);
# CASES[name].__wrapped__() builds a fresh one.
CASES = {name: cache(build) for name, build in _BUILD.items()}


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> tuple[str, Plan]:
    return request.param, CASES[request.param]()
