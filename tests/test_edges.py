"""Numeric edges (issue 17, item 9): every value the intake contract accepts plans, simulates and
renders without an exception, and every figure it writes is finite and of sane size. The sweep
tries each rate-card key at both ends of its range (the range `clinic-budget assumptions` prints
and `validate` enforces), and the Clinic sheet's numbers at both ends of theirs, so a key added
to the rate card later is swept too."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from typing import Any

import pytest

from generator.model import Hosting, Scenario, Team
from generator.plan import risk
from generator.ratecard import default_card, is_low_end, partner
from generator.render.writers import render_all as render
from tests.builders import family, family_clinic, ortho
from tests.builders import plan as make_plan
from tests.conftest import settings

FAST = {"risk.draws": (1000.0, "test")}  # the sweep's own draws; risk.draws itself is swept below
LARGEST_FIGURE = 1e13  # no whole-dollar figure of a budget within the limits comes near this


def _figures(value: Any, path: str = "") -> list[str]:
    """Every number in budget.json that is not finite or is absurdly large, by its path."""
    if isinstance(value, dict):
        return [p for k, v in value.items() if k != "seed" for p in _figures(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _figures(v, f"{path}[{i}]")]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return []
    return [] if math.isfinite(value) and abs(value) < LARGEST_FIGURE else [f"{path} = {value!r}"]


def _whole_job(*scenarios: Scenario) -> None:
    plan = risk.apply(make_plan(*scenarios))
    files = render(plan, settings(formats=("md", "html", "xlsx", "json")))
    bad = _figures(json.loads(files["budget.json"]))
    assert not bad, bad


def _edges() -> list[tuple[str, float]]:
    return [(e.key, end) for e in default_card() for end in (e.minimum, e.maximum)]


def _pair_ok(key: str, value: float) -> dict[str, tuple[float, str]]:
    """The override, with its `.low`/`.high` partner moved along where the edge would cross it
    (intake refuses a crossed pair, so the planner never sees one)."""
    card = default_card()
    overrides = {key: (value, "edge"), **({} if key == "risk.draws" else FAST)}
    other = partner(key)
    if other is not None and other in card:
        there = card.value(other)
        if (is_low_end(key) and value > there) or (not is_low_end(key) and value < there):
            overrides[other] = (value, "edge")
    return overrides


@pytest.mark.slow
@pytest.mark.parametrize(("key", "value"), _edges(), ids=[f"{k}={v:g}" for k, v in _edges()])
def test_every_key_at_either_end_of_its_range_plans_and_renders(key: str, value: float) -> None:
    card = default_card().with_overrides(_pair_ok(key, value))
    base_scenario = family()
    ortho_scenario = ortho()
    _whole_job(replace(base_scenario, card=card), replace(ortho_scenario, name="Ortho", card=card))


@pytest.mark.slow
@pytest.mark.parametrize("clinic", [
    {"hourly_rate": 0.01}, {"hourly_rate": 1000.0}, {"development_hours": 0.01}, {"development_hours": 100_000.0},
    {"hourly_rate": 0.01, "development_hours": 0.01}, {"hourly_rate": 1000.0, "development_hours": 100_000.0},
    {"physicians": 1, "staff_users": 0}, {"physicians": 200, "staff_users": 2000, "horizon_years": 10},
    {"physicians": 200, "team": Team.US, "hosting": Hosting.ONPREM, "horizon_years": 3},
], ids=str)
def test_the_clinic_sheets_numbers_at_their_ends_plan_and_render(clinic: dict[str, Any]) -> None:
    fast = default_card().with_overrides(FAST)
    _whole_job(replace(family(clinic=family_clinic(**clinic)), card=fast))
