"""The decision sweep: clinics from 1 to 50 physicians, 0 to 6 integrations, both hostings and
teams, every workflow specificity, through the planner and the real risk analysis.

`python -m tests.update_docs` writes the table into docs/decision.md; test_decision's sweep test
checks that no answer contradicts its own figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from generator.model import Category, Hosting, Level, Records, ScenarioPlan, Team
from generator.money import usd
from generator.plan import decision
from tests.builders import analysed, integration, scenario

KINDS = (Category.LAB, Category.BILLING, Category.EPRESCRIBING, Category.IMAGING, Category.OTHER, Category.OTHER)
PHYSICIANS = (1, 2, 3, 4, 5, 7, 10, 15, 20, 30, 40, 50)


@dataclass(frozen=True)
class Clinic:
    physicians: int
    integrations: int
    hosting: Hosting
    team: Team
    level: Level

    @property
    def label(self) -> str:
        return (f"{self.physicians} phys., {self.integrations} integr., {self.hosting.value}, {self.team.value}, "
                f"{self.level.value}")


def clinics() -> tuple[Clinic, ...]:
    """36 clinics: each size at each workflow specificity, the other dimensions cycling."""
    out = []
    for i, physicians in enumerate(PHYSICIANS):
        for j, level in enumerate(Level):
            k = 3 * i + j
            out.append(Clinic(physicians, k % 7, (Hosting.CLOUD, Hosting.ONPREM)[k % 2 if k % 5 else 1],
                              (Team.OFFSHORE, Team.US)[(k // 2) % 2], level))
    return tuple(out)


@cache  # plans are frozen: the test and the docs table share one analysis per clinic
def plan_of(c: Clinic) -> ScenarioPlan:
    return analysed(scenario(name=f"Sweep clinic {c.label}", physicians=c.physicians, records=Records.LEGACY,
                             hosting=c.hosting, team=c.team, workflow_specificity=c.level,
                             integrations=[integration(kind) for kind in KINDS[:c.integrations]])).base


def contradictions(sp: ScenarioPlan) -> list[str]:
    """Where the answer disagrees with its own figures (none, when all is well)."""
    rec, card = sp.ownership.recommendation, sp.scenario.card
    wrong = []
    p, year = rec.probability_custom_cheaper, rec.payback_year
    if p is None:
        return ["no probability from the risk analysis"]
    if rec.path != decision.rule(card, p, year):
        wrong.append(f"path {rec.path}, the rule on p={p:.3f} and payback {year}: {decision.rule(card, p, year)}")
    if rec.product != sp.ownership.cheapest_product:
        wrong.append(f"compared with {rec.product}, the cheapest product is {sp.ownership.cheapest_product}")
    own = sp.ownership
    product = own.product(rec.product)
    from generator.plan.ownership import npv

    custom_pv, product_pv = npv(card, own.custom_yearly), npv(card, product.yearly)
    if rec.path == "custom" and custom_pv >= product_pv:
        wrong.append(f"custom recommended but its point cost {usd(custom_pv)} is not below {usd(product_pv)}")
    if rec.path == "off-the-shelf" and custom_pv <= product_pv:
        wrong.append(f"off-the-shelf recommended but custom's point cost {usd(custom_pv)} is not above "
                     f"{usd(product_pv)}")
    if rec.path == "custom" and (year is None or year > card.value("payback.years")):
        wrong.append(f"custom recommended with payback year {year}")
    return wrong


def table() -> str:
    lines = ["| Clinic | Custom over the horizon | Cheapest product over the horizon | Probability custom is cheaper "
             "| Payback year (median) | Advice |", "|---|---:|---:|---:|---:|---|"]
    for c in clinics():
        sp = plan_of(c)
        own, rec = sp.ownership, sp.ownership.recommendation
        product = own.product(rec.product)
        p = rec.probability_custom_cheaper or 0.0
        lines.append(f"| {c.label} | {usd(own.custom_cumulative[-1])} | {rec.product} {usd(product.cumulative[-1])} "
                     f"| {p:.0%} | {rec.payback_year or 'none'} | {rec.path} |")
    return "\n".join(lines)
