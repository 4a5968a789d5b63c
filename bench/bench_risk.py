"""What the risk analysis costs per scenario: CPU time of repeated runs, in milliseconds.

    python3 bench/bench_risk.py [--repeat 30]

Measures risk.analyse on planned scenarios of three sizes, and its parts: the Monte Carlo
(risk.draws draws), the tornado and the switching values (on the simulation's own draws).
Each figure is the best (lowest) CPU time of the repeats (time.process_time, so that other
processes on a loaded machine count less), with the median after it; the load average is printed.

The last column is the minor page faults per analysis: the memory glibc hands back to the system
after one analysis and takes again for the next (a few MB of arrays). They cost some 2 us each,
and their number depends on what the process allocated before, so the same analysis measures a
few milliseconds apart from one script or order of scenarios to another (docs/performance.md).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generator.model import (  # noqa: E402
    KNOWN_MODULES,
    Category,
    Clinic,
    ClinicType,
    Complexity,
    Integration,
    Level,
    ModuleChoice,
    Records,
    Scenario,
    ScenarioPlan,
)
from generator.plan import pricing as planner  # noqa: E402
from generator.plan import risk, sensitivity  # noqa: E402
from generator.ratecard import default_card  # noqa: E402


def scenario(physicians: int, integrations: tuple[Category, ...], specialty: int, level: Level) -> Scenario:
    clinic = Clinic("Bench clinic", ClinicType.SPECIALTY, physicians, Records.LEGACY, workflow_specificity=level)
    rows = tuple(ModuleChoice(m.name, True, m.phase, None, known=m) for m in KNOWN_MODULES)
    rows += tuple(ModuleChoice(f"Feature {i}", True, 2, None, 4000, 12000) for i in range(specialty))
    links = tuple(Integration(f"{c.value} {i}", c, "", 2, Complexity.TYPICAL) for i, c in enumerate(integrations))
    return Scenario("Baseline", clinic, rows, links, (), default_card())


SCENARIOS = {
    "small (8 modules)": scenario(2, (), 0, Level.LOW),
    "typical (8 modules, 3 integrations)": scenario(
        5, (Category.LAB, Category.BILLING, Category.EPRESCRIBING), 0, Level.MEDIUM),
    "large (8 modules, 6 integrations, 4 features)": scenario(
        12, (Category.LAB, Category.IMAGING, Category.BILLING, Category.EPRESCRIBING, Category.OTHER,
             Category.OTHER), 4, Level.HIGH),
}


def cpu_ms(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(best, median) CPU milliseconds of `repeat` calls after a warm-up."""
    fn()  # warm up
    times = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        times.append((time.process_time() - start) * 1000)
    return min(times), statistics.median(times)


def parts(sp: ScenarioPlan, repeat: int) -> dict[str, tuple[float, float]]:
    draws = round(sp.scenario.card.value("risk.draws"))
    model = sensitivity.cost_model(sp)
    seed = risk.seed_for(sp.scenario)
    rho = sp.scenario.card.value("risk.correlation")
    sim = risk.simulate(model, draws, seed, rho)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    analyse = cpu_ms(lambda: risk.analyse(sp), repeat)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    return {
        "analyse": analyse,
        "page faults": (faults / (repeat + 1), 0.0),
        "monte carlo": cpu_ms(lambda: risk.simulate(model, draws, seed, rho), repeat),
        "tornado": cpu_ms(lambda: sensitivity.tornado(sp, model), repeat),
        "switching": cpu_ms(lambda: sensitivity.switching(sp, model, sim), repeat),
        "plan_scenario": cpu_ms(lambda: planner.plan_scenario(sp.scenario), repeat),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    draws = round(default_card().value("risk.draws"))
    print(f"risk analysis, {draws:,} draws per scenario, CPU ms of {args.repeat} runs: best / median; "
          f"load average {os.getloadavg()[0]:.2f}")
    columns = ("analyse", "monte carlo", "tornado", "switching", "plan_scenario")
    print(f"{'scenario':46}" + "".join(f"{c:>16}" for c in columns) + f"{'page faults':>13}")
    for name, sc in SCENARIOS.items():
        row = parts(planner.plan_scenario(sc), args.repeat)
        print(f"{name:46}" + "".join(f"{row[c][0]:8.1f} /{row[c][1]:6.1f}" for c in columns)
              + f"{row['page faults'][0]:13.0f}")
    sp = planner.plan_scenario(replace(SCENARIOS["typical (8 modules, 3 integrations)"]))
    model = sensitivity.cost_model(sp)
    for n in (1000, 100_000):
        best, _ = cpu_ms(lambda n=n: risk.simulate(model, n, 1), max(3, args.repeat // 3))  # type: ignore[misc]
        print(f"monte carlo alone, typical scenario, {n:,} draws: {best:.1f} ms CPU (best)")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
