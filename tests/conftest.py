"""Shared fixtures for the document tests: plans built in the test (no intake reader needed),
and the `--regen-golden` option that rewrites tests/golden/ from the current output.

Regenerate every golden file with one command:

    python -m pytest tests/test_documents_golden.py --regen-golden
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from generator import model
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
from generator.plan.pricing import plan_intake
from generator.ratecard import default_card
from generator.settings import Branding, Settings

GOLDEN = Path(__file__).parent / "golden"
HOSTILE = "<script>alert(1)</script>"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--regen-golden", action="store_true", default=False,
                     help="rewrite tests/golden/ from the current output instead of comparing")


@pytest.fixture
def regen(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--regen-golden"))


def modules(ai: bool = False, omit: tuple[str, ...] = (), specialty: tuple[tuple[str, int, int], ...] = ()
            ) -> tuple[ModuleChoice, ...]:
    rows = [ModuleChoice(m.name, (m.default_on or ai) and m.key not in omit, m.phase, known=m)
            for m in KNOWN_MODULES]
    rows += [ModuleChoice(name, True, 2, low=low, high=high, notes="specialty workflow")
             for name, low, high in specialty]
    return tuple(rows)


def family_clinic(name: str = "Ridgeview Family Medicine", **kw: Any) -> Clinic:
    values: dict[str, Any] = dict(name=name, clinic_type=ClinicType.FAMILY, physicians=3, records=Records.PAPER,
                                  prepared_for="Dr. Ana Ruiz", prepared_by="Northbridge Health Advisory",
                                  report_date=dt.date(2026, 3, 2))
    values.update(kw)
    return Clinic(**values)


def family_scenario(name: str = "Baseline", clinic: Clinic | None = None) -> Scenario:
    integrations = (Integration("Quest lab interface", Category.LAB, "Quest Diagnostics", 2),
                    Integration("Kareo billing", Category.BILLING, "Kareo", 2, Complexity.HIGH))
    return Scenario(name, clinic or family_clinic(), modules(), integrations, (), default_card())


def ortho_scenario(name: str = "Baseline") -> Scenario:
    clinic = Clinic("Summit Orthopedics", ClinicType.SPECIALTY, 5, Records.LEGACY, specialty="Orthopedics",
                    hosting=Hosting.ONPREM, team=Team.US, workflow_specificity=Level.HIGH,
                    certified_components=True, report_date=dt.date(2026, 4, 15))
    integrations = (Integration("LabCorp", Category.LAB, "LabCorp", 2),
                    Integration("Athena billing", Category.BILLING, "athenahealth", 1),
                    Integration("Surescripts", Category.EPRESCRIBING, "Surescripts", 1, Complexity.LOW),
                    Integration("PACS imaging", Category.IMAGING, "", 2, Complexity.HIGH))
    mods = modules(ai=True, specialty=(("Surgical outcomes tracking", 9000, 16000),))
    return Scenario(name, clinic, mods, integrations, (), default_card())


def make_plan(*scenarios: Scenario, source: str = "test.xlsx") -> Plan:
    return plan_intake(Intake(source, Path(source).stem, tuple(scenarios)))


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


CASES = {
    "family": lambda: make_plan(family_scenario(), source="ridgeview.xlsx"),
    "ortho-risk": lambda: with_risk(make_plan(ortho_scenario(), source="summit.xlsx")),
    "scenarios": lambda: make_plan(
        family_scenario(),
        family_scenario("US team", family_clinic(team=Team.US)),
        family_scenario("Low specificity", family_clinic(workflow_specificity=Level.LOW)),
        source="ridgeview-scenarios.xlsx"),
    "hostile": lambda: make_plan(Scenario(
        "Baseline", family_clinic(HOSTILE, prepared_for="=HYPERLINK(\"http://evil\")",
                                  specialty="*bold* _x_ [link](http://evil) | pipe"),
        modules(omit=("fhir_r4_api",), specialty=(("# heading <b>x</b>", 5000, 9000),)),
        (Integration("+cmd|' /C calc'!A0", Category.OTHER, "@SUM(1+1)"),),
        (Subscription("-2+3 <img src=x onerror=alert(1)>", 300.0),), default_card()), source="hostile.xlsx"),
}


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> tuple[str, Plan]:
    return request.param, CASES[request.param]()
