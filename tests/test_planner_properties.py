"""Property tests for the planner's arithmetic."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from generator.model import (
    KNOWN_MODULES,
    Category,
    Complexity,
    Hosting,
    Integration,
    Level,
    ModuleChoice,
    Scenario,
    Team,
)
from generator.money import apportion
from generator.plan.pricing import plan_scenario
from tests.builders import modules, scenario
from tests.conftest import examples

complexities = st.sampled_from([None, *Complexity])
integrations = st.lists(
    st.builds(lambda c, x, p: Integration(f"{c.value}", c, "", p, x),
              st.sampled_from(list(Category)), st.sampled_from(list(Complexity)), st.sampled_from([1, 2])),
    max_size=5,
).map(tuple)


@st.composite
def scenarios(draw: st.DrawFn, with_hours: bool = True) -> Scenario:
    include = {m.name: draw(st.booleans()) for m in KNOWN_MODULES}
    specialty = tuple(
        ModuleChoice(f"Feature {i}", True, 2, draw(complexities), lo, lo + draw(st.integers(0, 20_000)))
        for i, lo in enumerate(draw(st.lists(st.integers(0, 30_000), max_size=2)))
    )
    hours = draw(st.one_of(st.none(), st.integers(100, 5_000))) if with_hours else None
    return scenario(
        mods=modules([n for n, on in include.items() if on], [n for n, on in include.items() if not on],
                     complexity=draw(complexities), specialty=specialty),
        integrations=draw(integrations),
        physicians=draw(st.integers(1, 200)),
        team=draw(st.sampled_from(list(Team))),
        hosting=draw(st.sampled_from(list(Hosting))),
        workflow_specificity=draw(st.sampled_from(list(Level))),
        certified_components=draw(st.booleans()),
        horizon_years=draw(st.integers(3, 10)),
        development_hours=hours,
        hourly_rate=draw(st.one_of(st.none(), st.integers(20, 300).map(float))),
    )


@settings(max_examples=examples(150), deadline=None)
@given(scenarios())
def test_totals_equal_the_sum_of_their_rounded_lines(s: Scenario) -> None:
    plan = plan_scenario(s)
    for end in ("low", "expected", "high"):
        total = sum(getattr(li.cost, end) for li in plan.components)
        assert getattr(plan.build, end) == total
        assert sum(getattr(r, end) for _, r in plan.phases) == total
    own = plan.ownership
    assert list(own.custom_yearly) == [sum(q.total for q in own.cash_flow[4 * y: 4 * y + 4])
                                       for y in range(own.years)]
    assert sum(q.build for q in own.cash_flow) == (plan.build.expected
                                                   + plan.run.onprem_upfront[1] * (1 + plan.run.refreshes))
    assert plan.run.total == plan.run.annual + plan.run.allowance + plan.run.fees_total
    for p in own.off_the_shelf:
        assert p.cumulative[-1] == sum(p.yearly)
    assert plan.labor.cost == plan.labor.raw_cost + plan.labor.overhead == plan.build.expected


@settings(max_examples=examples(150), deadline=None)
@given(scenarios())
def test_low_never_exceeds_expected_nor_expected_high(s: Scenario) -> None:
    plan = plan_scenario(s)
    for li in plan.components:
        assert li.cost.low <= li.cost.expected <= li.cost.high
    assert plan.run.annual.low <= plan.run.annual.expected <= plan.run.annual.high
    assert plan.run.total.low <= plan.run.total.expected <= plan.run.total.high
    assert plan.run.maintenance[0] <= plan.run.maintenance[1]


def _totals(s: Scenario) -> tuple[int, ...]:
    plan = plan_scenario(s)
    return (plan.build.low, plan.build.expected, plan.build.high, plan.run.annual.expected,
            plan.ownership.custom_cumulative[-1])


@settings(max_examples=examples(150), deadline=None)
@given(scenarios(with_hours=False), st.sampled_from([m.name for m in KNOWN_MODULES]), integrations)
def test_adding_a_module_or_integration_never_lowers_any_total(s: Scenario, name: str, more: tuple) -> None:
    """Hours derived from the modules (a vendor's hour quote fixes the labour cost instead)."""
    fewer = replace(s, modules=tuple(replace(m, include=False) if m.name == name else m for m in s.modules))
    more_mods = replace(s, modules=tuple(replace(m, include=True) if m.name == name else m for m in s.modules))
    assert all(a <= b for a, b in zip(_totals(fewer), _totals(more_mods), strict=True))
    assert all(a <= b for a, b in zip(_totals(s), _totals(replace(s, integrations=s.integrations + more)),
                                      strict=True))


@settings(max_examples=examples(100), deadline=None)
@given(scenarios())
def test_a_longer_horizon_never_lowers_cumulative_cost(s: Scenario) -> None:
    years = s.clinic.horizon_years
    short = plan_scenario(replace(s, clinic=replace(s.clinic, horizon_years=max(3, years - 1)))).ownership
    long = plan_scenario(s).ownership
    assert short.custom_cumulative[-1] <= long.custom_cumulative[-1]
    for a, b in zip(short.off_the_shelf, long.off_the_shelf, strict=True):
        assert a.cumulative[-1] <= b.cumulative[-1]


@settings(max_examples=examples(100), deadline=None)
@given(scenarios(), st.integers(1, 50))
def test_more_physicians_never_lower_a_subscription(s: Scenario, more: int) -> None:
    bigger = replace(s, clinic=replace(s.clinic, physicians=min(200, s.clinic.physicians + more)))
    for a, b in zip(plan_scenario(s).ownership.off_the_shelf, plan_scenario(bigger).ownership.off_the_shelf,
                    strict=True):
        assert a.annual_subscription <= b.annual_subscription
        assert a.cumulative[-1] <= b.cumulative[-1]


@given(st.integers(0, 10_000_000), st.lists(st.floats(0, 1e6), min_size=1, max_size=30))
def test_apportion_never_loses_a_dollar(total: int, weights: list[float]) -> None:
    parts = apportion(total, weights)
    assert sum(parts) == total and all(p >= 0 for p in parts)
