"""The cost rules, each stated once.

Every rule here works on plain floats and on NumPy arrays of draws alike (`Num`): the point
estimate (pricing.py, ownership.py) calls it with the plan's figures, the risk analysis
(risk.py) and the tornado (sensitivity.py) with arrays of simulated inputs. Nothing here rounds:
whole dollars are for presentation, done by the callers that build the report's tables. The
budget.xlsx formulas (render/xlsx.py) are the one permitted restatement of these rules.

To add a cost line, add it to the rule that owns it (a custom running cost to `custom_fixed`,
a one-time cost to `custom_quarters`, an off-the-shelf yearly cost to `product_base`, a one-time
cost of moving to a product to `switching_points`) and to the matching formula in render/xlsx.py.
The risk analysis and the decision then see it without further change.

Beyond the build and its upkeep, the clinic pays recurring third-party fees (`fees`, yearly from
the go-live that brings each, some on both paths), a productivity dip at each go-live (`golive`),
its old system until the new one goes live (`legacy_yearly`), replacement servers on a cycle
(`schedule`), and the guide's 30-40% underestimation of running costs as an allowance at its
middle (`allowance_points`): all in `custom_quarters` and, where a product's path pays them too,
in `product_base` and `switching_points`.

The build's upkeep grows with the clinic beyond the guide's sizes: hosting with the physicians
(`size_scale`), staff training and the user support with the staff users (`training_scale`, `support_base`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import NamedTuple, TypeVar

import numpy as np
import numpy.typing as npt

from generator.model import Complexity, Hosting, Level, Team
from generator.ratecard import RateCard, default_card

Array = npt.NDArray[np.float64]
Num = TypeVar("Num", float, Array)  # one figure, or an array of simulated draws


# ------------------------------------------------------------------ labour


def position(card: RateCard, complexity: Complexity | None) -> float:
    """Where a component's point estimate sits in its range (0: low end, 1: high end)."""
    level = (complexity or Complexity.TYPICAL).name.lower()
    return card.value(f"complexity.{level}.position")


def in_range(low: Num, high: Num, pos: float) -> Num:
    """The figure at `pos` between low and high."""
    return low + (high - low) * pos


def effective_rate(card: RateCard, team: Team, rate: float | None = None) -> tuple[float, float, float]:
    """(hourly rate, overhead rate, effective hourly cost) for a team."""
    key = "us" if team is Team.US else "offshore"
    hourly = card.value(f"rate.{key}") if rate is None else rate
    overhead = card.value(f"overhead.{key}")
    return hourly, overhead, hourly * (1 + overhead)


def guide_effective_rate() -> float:
    """What the guide's component figures are priced at: the guide's offshore team, overhead
    included. Taken from the shipped card, so that a workbook overriding `rate.offshore` or
    `overhead.offshore` moves the build like any other rate."""
    return effective_rate(default_card(), Team.OFFSHORE)[2]


def staff_users(card: RateCard, physicians: int, given: int | None) -> int:
    """The workbook's staff users, or the rate card's users per physician."""
    return given if given is not None else physicians * round(card.value("clinic.staff_users_per_physician"))


def tier(card: RateCard, systems: int) -> str:
    """The guide's development tier, 'based on feature scope and deployment complexity': by the
    number of connected systems and specialty features (`systems`), never by price (the guide's
    own 1,200-hour mid-tier build costs $48,000 offshore and $210,000 with a US team)."""
    if systems >= card.value("tier.advanced_min_systems"):
        return "advanced"
    if systems >= card.value("tier.mid_min_systems"):
        return "mid"
    return "basic"


def training_scale(card: RateCard, users: int) -> float:
    """How many times the component table's staff-training range a clinic needs: the table's range
    ('per-user cost scales with clinic size') holds up to the staff of a clinic at the top of the
    guide's size ranges (hosting.full_size_physicians at clinic.staff_users_per_physician), and
    grows in proportion to the staff users beyond it."""
    reference = reference_staff(card)
    return max(1.0, users / reference) if reference > 0 else 1.0


def reference_staff(card: RateCard) -> float:
    """The staff users of a clinic at the top of the guide's size ranges (hosting.full_size_physicians
    at clinic.staff_users_per_physician): what the guide's staff training and maintenance cover."""
    return card.value("hosting.full_size_physicians") * card.value("clinic.staff_users_per_physician")


def size_scale(card: RateCard, physicians: int) -> float:
    """How many times the guide's top-of-range hosting a clinic needs: 1 up to
    hosting.full_size_physicians, in proportion to the physicians beyond it (user support grows
    with the staff users instead: `support_base`)."""
    full = card.value("hosting.full_size_physicians")
    return max(1.0, physicians / full) if full > 0 else 1.0


# ------------------------------------------------------------------ running costs of the custom build


def maintenance_shares(card: RateCard) -> tuple[float, float, float]:
    """(low, point, high) yearly maintenance as a share of the build; the point is the midpoint."""
    low, high = card.value("maintenance.low_pct"), card.value("maintenance.high_pct")
    return low, (low + high) / 2, high


def maintenance(card: RateCard, build: Num, share: Num) -> Num:
    """Yearly maintenance of a delivered build, at a share of it (`maintenance_shares`)."""
    return build * share


def support_base(card: RateCard, users: int) -> float:
    """The user support beyond what the guide's maintenance covers, as the build whose maintenance
    it equals (the clinic pays it at the maintenance share, from phase 1's go-live: `user_support`).
    The guide's worked example, a $75,000 build at 15-20% a year (maintenance.example.build), is
    taken as the upkeep of a clinic with the staff of one at hosting.full_size_physicians (the
    reference staff of `training_scale`), a share of it (support.share_of_maintenance) as their
    user support. Each staff user beyond them adds a staff user's part of that support: 0 up to the
    reference staff, in proportion to the staff users beyond it, whatever the clinic's own build,
    team or vendor."""
    return (card.value("maintenance.example.build") * card.value("support.share_of_maintenance")
            * (training_scale(card, users) - 1))


def user_support(card: RateCard, base: float, share: Num) -> Num:
    """Yearly user support beyond the guide's clinic size at a maintenance share (`support_base`):
    the maintenance of that build."""
    return share * base


def size_position(card: RateCard, physicians: int) -> float:
    """Where a clinic of this size sits in the guide's hosting ranges (0: one physician)."""
    full = card.value("hosting.full_size_physicians")
    return min(max((physicians - 1) / max(full - 1, 1), 0.0), 1.0)


def hosting_points(card: RateCard, hosting: Hosting, physicians: int) -> tuple[float, float, float]:
    """(low, point, high) of the hosting input: cloud, the yearly bill; on-premise, the servers
    bought up front. The point moves with the clinic's size inside the guide's range, and the
    whole range scales beyond hosting.full_size_physicians (`size_scale`)."""
    pos, k = size_position(card, physicians), size_scale(card, physicians)
    if hosting is Hosting.ONPREM:
        lo, hi = card.pair("hosting.onprem.upfront")
        return lo * k, in_range(lo, hi, pos) * k, hi * k
    lo, hi = card.pair("hosting.cloud.monthly")
    return lo * 12 * k, in_range(lo, hi, pos) * 12 * k, hi * 12 * k


def onprem_upkeep(card: RateCard, servers: Num) -> Num:
    """Yearly upkeep of on-premise servers."""
    return servers * card.value("hosting.onprem.annual_pct")


def yearly_hosting(card: RateCard, hosting: Hosting, drawn: Num) -> tuple[Num, Num]:
    """(servers up front, hosting per year) from the hosting input (see `hosting_points`)."""
    if hosting is Hosting.ONPREM:
        return drawn, onprem_upkeep(card, drawn)
    return drawn * 0.0, drawn


def training_updates(card: RateCard, training: Num) -> Num:
    """Yearly training updates, as a share of the staff-training build."""
    return training * card.value("training.updates_pct")


def custom_fixed(hosting: Num, updates: Num) -> Num:
    """The custom build's yearly running cost that does not depend on what is delivered."""
    return hosting + updates


# ------------------------------------------------------------------ the custom build's cash flow


def phase1_quarters(card: RateCard) -> int:
    """Quarters to build and launch phase 1 (1 to 4: phase 1 is built in year one)."""
    return max(1, min(4, round(card.value("phase1.build_quarters"))))


def refresh_years(card: RateCard, hosting: Hosting = Hosting.ONPREM) -> int:
    """Years after which on-premise servers are replaced at their up-front cost (0: cloud, none)."""
    return max(1, round(card.value("hosting.onprem.refresh_years"))) if hosting is Hosting.ONPREM else 0


class Schedule(NamedTuple):
    """When the custom build's costs fall, quarter by quarter (each row (4Y,))."""

    build: Array  # (4, 4Y): the share of phase 1, phase 2 and the servers paid in each quarter; their replacements
    live: Array  # (3, 4Y): 1 from the start, 1 where phase 1 is in use, 1 where phase 2 is
    golive: Array  # (2, 4Y): 1 in the first quarter phase 1, phase 2 is in use


@cache
def schedule(n1: int, years: int, refresh: int = 0) -> Schedule:
    """Phase 1 spread over the first `n1` quarters (the servers bought in its last quarter and
    bought again every `refresh` years after), phase 2 over year two; each in use from the
    quarter after it is delivered."""
    q = np.arange(4 * years)
    again = (q > n1 - 1) & ((q - (n1 - 1)) % (4 * refresh) == 0) if refresh > 0 else q < 0
    build = np.stack([(q < n1) / n1, ((q >= 4) & (q < 8)) / 4.0, (q == n1 - 1) * 1.0, again * 1.0])
    live = np.stack([np.ones(4 * years), (q >= n1) * 1.0, (q >= 8) * 1.0])
    golive = np.stack([(q == n1) * 1.0, (q == 8) * 1.0])
    for a in (build, live, golive):
        a.flags.writeable = False
    return Schedule(build, live, golive)


class Quarters(NamedTuple):
    """The custom build's cost per quarter: each (4Y,) for figures, (4Y, N) for N draws (quarters
    first, so that spreading a figure over the quarters is one pass along the draws)."""

    build: Array  # the build, the servers and their replacements
    run: Array  # running costs: upkeep with the underestimation allowance, and third-party fees
    launch: Array  # going live: the productivity dip at each go-live, the old system until phase 1 is live

    @property
    def total(self) -> Array:
        return self.build + self.run + self.launch


def custom_quarters(card: RateCard, phase1: Num, phase2: Num, servers: Num, fixed: Num, share: Num,
                    escalation: Num, years: int, running: Num | float = 1.0,
                    fees: tuple[Num | float, Num | float, Num | float] = (0.0, 0.0, 0.0),
                    golive: Num | float = 0.0, legacy: Num | float = 0.0, refresh: int = 0,
                    phased: bool = False, support: float = 0.0, grown: Array | None = None) -> Quarters:
    """The build paid on the schedule (servers replaced every `refresh` years); from the quarter
    after each delivery, the fixed running cost and maintenance on what is in use, a quarter of the
    yearly figure each quarter, escalating each year like the subscriptions (`growth`). `running`
    scales those running costs (the guide's underestimation: `allowance_points`); `fees` are the
    yearly third-party fees starting in year one, at phase 1's and at phase 2's go-live (`fee_starts`),
    escalating alike; `golive` is one go-live's productivity dip, paid when phase 1 goes live and
    again when phase 2 does (`phased`: the plan has a phase 2, whatever its drawn cost); `legacy` the
    old system's yearly cost, paid until phase 1 is live; `support` the user support beyond the
    guide's clinic size (`support_base`), paid at the maintenance share with the fixed running cost.
    Any figure may be (N,) draws (a float: the same in every draw); each result is then (4Y, N).
    `grown`: `growth(escalation, years)`, when the caller has it already.

    Each quarter's figure is worked out once for all the quarters whose schedule is the same
    (`by_quarter`), with the same arithmetic quarter by quarter."""
    when = schedule(phase1_quarters(card), years, refresh)
    shape = np.broadcast(phase1, phase2, servers, fixed, share, escalation, running, golive, legacy, *fees).shape
    build = by_quarter(shape, np.stack([when.build[0], when.build[1], when.build[2] + when.build[3]]),
                       lambda b: phase1 * b[0] + phase2 * b[1] + servers * b[2])
    if support:
        fixed = fixed + user_support(card, support, share)

    def running_cost(live: Array) -> Num:  # a quarter of the yearly running cost, before escalation
        delivered = phase1 * live[1] + phase2 * live[2]
        upkeep = fixed * live[1] + maintenance(card, delivered, share)
        paid = sum((f * on for f, on in zip(fees, live, strict=True)), 0.0)
        return (upkeep * running + paid) / 4

    run = by_quarter(shape, when.live, running_cost)
    grown = np.moveaxis(growth(escalation, years) if grown is None else grown, -1, 0)  # (Y, ...)
    grown = grown.reshape(years, 1, *(1,) * (len(shape) - np.ndim(escalation)), *np.shape(escalation))
    run = (run.reshape(years, 4, *shape) * grown).reshape(run.shape)  # each year's quarters alike
    launch = by_quarter(shape, np.stack([when.golive[0] + when.golive[1] * phased, 1 - when.live[1]]),
                        lambda g: golive * g[0] + np.asarray(legacy) / 4 * g[1])
    return Quarters(build, run, launch)


def by_quarter(shape: tuple[int, ...], table: Array, figure: Callable[[Array], Num]) -> Array:
    """(4Y, *shape) `figure` of each quarter's column of `table` (K, 4Y): worked out once for each
    distinct column and copied to the quarters that share it."""
    out = np.empty((table.shape[1], *shape))
    for column, quarters in _distinct_columns(table.tobytes(), table.shape):
        out[quarters] = figure(column)
    return out


@cache
def _distinct_columns(table: bytes, shape: tuple[int, int]) -> tuple[tuple[Array, Array], ...]:
    """Each distinct column of a (K, 4Y) table and the quarters that have it."""
    columns = np.frombuffer(table).reshape(shape).T
    found: dict[bytes, list[int]] = {}
    for q, column in enumerate(columns):
        found.setdefault(column.tobytes(), []).append(q)
    return tuple((columns[at[0]].copy(), np.array(at)) for at in found.values())


def yearly(per_quarter: Array) -> Array:
    """(Y, ...) yearly sums of (4Y, ...) quarterly figures."""
    q = per_quarter.reshape(-1, 4, *per_quarter.shape[1:])
    return ((q[:, 0] + q[:, 1]) + q[:, 2]) + q[:, 3]  # as .sum(axis=1) adds them, ten times faster


# ------------------------------------------------------------------ off-the-shelf


def annual_subscription(monthly_per_provider: Num, physicians: int) -> Num:
    return monthly_per_provider * physicians * 12


def extras_shares(card: RateCard) -> tuple[float, float, float]:
    """(low, point, high) of the extras a product adds (support tiers, storage, connectors), as a
    share of its own subscription: the guide's $599 product's extras, scaled to each product."""
    lo, hi = card.pair("offshelf.extras_pct")
    return lo, (lo + hi) / 2, hi


def default_extras(share: Num, subscription: Num | float) -> Num:
    """A product's extras per year at a share of its subscription (`extras_shares`)."""
    return subscription * share


def escalation(card: RateCard) -> tuple[float, float, float]:
    """(low, point, high) yearly subscription escalation."""
    return (card.value("offshelf.increase_pct.low"), card.value("offshelf.increase_pct"),
            card.value("offshelf.increase_pct.high"))


def surcharge(card: RateCard, subscription: Num, level: Level) -> Num:
    """The customization surcharge at a workflow specificity, per year."""
    return subscription * card.value(f"offshelf.surcharge.{level.name.lower()}")


def product_base(subscription: Num, extras: Num, surcharge: Num, fees: Num | float) -> Num:
    """A product's yearly cost in year one, before escalation: with the third-party fees a
    product's path pays too (`fees`, both_paths)."""
    return subscription + extras + surcharge + fees


def per_user_training(card: RateCard, users: int, low: float, high: float) -> float:
    """Staff training at the rate card's figure per user, kept inside its range."""
    return min(max(card.value("training.per_user") * users, low), high)


def switching_points(card: RateCard, migrating: bool, users: int) -> tuple[float, float, float]:
    """(low, point, high) of what moving to a product costs once: the vendor's migration of the
    records (none without records) and the staff's onboarding, from the guide's ranges, priced on
    their own (never at the custom team's rate). The onboarding range is the guide's staff-training
    range, so it grows with the staff users beyond the guide's sizes as the custom build's staff
    training does (`training_scale`): the same staff cost the same to train on either path. The old
    system until the product is live and the go-live dip are apart (`switch_legacy`, `golive_points`)."""
    m_lo, m_hi = card.pair("offshelf.migration") if migrating else (0.0, 0.0)
    scale = training_scale(card, users)
    o_lo, o_hi = (end * scale for end in card.pair("offshelf.onboarding"))
    return m_lo + o_lo, (m_lo + m_hi) / 2 + per_user_training(card, users, o_lo, o_hi), m_hi + o_hi


def switch_legacy(card: RateCard, legacy: float) -> float:
    """The old system's cost until a product goes live (`offshelf.golive_quarters`), from its
    yearly cost (`legacy_yearly`)."""
    return legacy * max(0, round(card.value("offshelf.golive_quarters"))) / 4


def discounted(yearly_costs: Array, rate: float) -> Array:
    """(..., Y) each year's cost in today's dollars, paid at the end of its year (Excel's NPV)."""
    return yearly_costs / (1 + rate) ** np.arange(1, yearly_costs.shape[-1] + 1, dtype=np.float64)


def growth(increase: Num, years: int) -> Array:
    """(..., Y) how a yearly cost grows from year one at a yearly escalation."""
    return (1 + np.asarray(increase, dtype=np.float64))[..., None] ** np.arange(years, dtype=np.float64)


def escalated(base: Num, grown: Array) -> Array:
    """(..., Y) a product's yearly cost, escalated from year one (`growth`), without the one-time
    switching cost."""
    return np.asarray(base, dtype=np.float64)[..., None] * grown


# ------------------------------------------------------------------ beyond the build: fees, go-live, the old system


FROM_START, PHASE1, PHASE2 = 0, 1, 2  # when a yearly fee starts: year one, phase 1's go-live, phase 2's


class Fee(NamedTuple):
    """A recurring third-party fee: its rate-card key (`fees.<key>.low/.high`, per provider or per
    connected system a year), how many it is paid for, when it starts, and whether a product's path
    pays it too (a product includes the rest in its subscription, or in its extras' connectors)."""

    key: str
    number: int  # providers or connected systems
    start: int  # FROM_START, PHASE1 or PHASE2
    both_paths: bool


def _start(phase: int) -> int:
    return PHASE1 if phase == 1 else PHASE2


def fees(physicians: int, e_prescribing: int | None, billing: int | None, interfaces: tuple[int, ...],
         ai_scribe: int | None, certified: bool) -> tuple[Fee, ...]:
    """The third-party fees a clinic's scope brings; each argument is the phase that brings the
    function (None: not in scope; `interfaces`, the phase of each lab, imaging or other system).
    E-prescribing brings the network and the drug database; billing the code sets and the
    clearinghouse; AI documentation the scribe's usage; certified components their licences.
    Fees a product's path pays too (clearinghouse, scribe) run from year one on both paths."""
    out: list[Fee] = []
    if e_prescribing is not None:
        out += [Fee("e_prescribing", physicians, _start(e_prescribing), False),
                Fee("drug_database", physicians, _start(e_prescribing), False)]
    if billing is not None:
        out += [Fee("code_sets", physicians, _start(billing), False),
                Fee("clearinghouse", physicians, FROM_START, True)]
    for start in (PHASE1, PHASE2):
        count = sum(1 for phase in interfaces if _start(phase) == start)
        if count:
            out.append(Fee("interface", count, start, False))
    if ai_scribe is not None:
        out.append(Fee("ai_scribe", physicians, FROM_START, True))
    if certified:
        out.append(Fee("certified", physicians, PHASE1, False))
    return tuple(out)


def fee_points(card: RateCard, fee: Fee) -> tuple[float, float, float]:
    """(low, point, high) of a fee per year, at full use; the point is the middle of its range."""
    lo, hi = card.pair(f"fees.{fee.key}")
    return lo * fee.number, (lo + hi) / 2 * fee.number, hi * fee.number


def fee_starts(card: RateCard, lines: tuple[Fee, ...], both_only: bool = False) -> tuple[float, float, float]:
    """The fees' yearly points by when they start (year one, phase 1's go-live, phase 2's): the
    custom path's, or (`both_only`) the ones a product's path pays too."""
    out = [0.0, 0.0, 0.0]
    for fee in lines:
        if fee.both_paths or not both_only:
            out[fee.start] += fee_points(card, fee)[1]
    return out[0], out[1], out[2]


def fee_factors(card: RateCard, lines: tuple[Fee, ...]) -> tuple[float, float, float]:
    """(low, 1, high) the fees' total as a multiple of its point, for drawing them together."""
    points = [fee_points(card, f) for f in lines]
    total = sum(p[1] for p in points)
    if total <= 0:
        return 1.0, 1.0, 1.0
    return sum(p[0] for p in points) / total, 1.0, sum(p[2] for p in points) / total


def golive_points(card: RateCard, physicians: int) -> tuple[float, float, float]:
    """(low, point, high) of one go-live's productivity dip for the whole clinic."""
    lo, hi = card.pair("golive.dip")
    return lo * physicians, (lo + hi) / 2 * physicians, hi * physicians


def legacy_yearly(card: RateCard, physicians: int, legacy: bool) -> float:
    """The old EHR's yearly cost while it still runs (0 without a legacy EHR)."""
    return card.value("legacy.monthly") * 12 * physicians if legacy else 0.0


def allowance_points(card: RateCard) -> tuple[float, float, float]:
    """(low, point, high) multiple of the guide's running costs (maintenance, hosting, training
    updates) with its 30-40% underestimation costed: the point at the middle of the range."""
    lo, hi = card.value("underestimate.low_pct"), card.value("underestimate.high_pct")
    return 1 + lo, 1 + (lo + hi) / 2, 1 + hi
