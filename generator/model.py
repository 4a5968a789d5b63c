"""The domain model: what the intake stage hands the planner, and what the planner hands
the writers. Every hand-off is a frozen dataclass; money is whole dollars (`int`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from generator.ratecard import RateCard

if TYPE_CHECKING:
    from generator.plan.risk import RiskResult


class Choice(StrEnum):
    """A case-insensitive choice field; `.value` is the spelling the spec uses."""

    @classmethod
    def labels(cls) -> list[str]:
        return [m.value for m in cls]


class ClinicType(Choice):
    FAMILY = "Family practice"
    URGENT = "Urgent care"
    SPECIALTY = "Specialty clinic"
    MULTI = "Multi-specialty"
    OTHER = "Other"


class Records(Choice):
    PAPER = "Paper"
    LEGACY = "Legacy EHR"
    NONE = "None"


class Hosting(Choice):
    CLOUD = "Cloud"
    ONPREM = "On-premise"


class Team(Choice):
    OFFSHORE = "Offshore"
    US = "US"


class Level(Choice):
    LOW = "Low"
    MEDIUM = "Medium"
    HIGH = "High"


class Complexity(Choice):
    LOW = "Low"
    TYPICAL = "Typical"
    HIGH = "High"


class Category(Choice):
    LAB = "Lab"
    IMAGING = "Imaging"
    BILLING = "Billing"
    EPRESCRIBING = "E-prescribing"
    OTHER = "Other"


class FhirApproach(Choice):
    CERTIFIED = "Certified components"
    SCRATCH = "Built from scratch"


@dataclass(frozen=True)
class KnownModule:
    name: str
    key: str  # rate card prefix: module.<key>.low / .high
    phase: int
    standard: bool = False  # a standard feature that certified components can replace
    default_on: bool = True


KNOWN_MODULES: tuple[KnownModule, ...] = (
    KnownModule("Patient records", "patient_records", 1, standard=True),
    KnownModule("Appointment scheduling", "appointment_scheduling", 1, standard=True),
    KnownModule("Clinical documentation", "clinical_documentation", 1, standard=True),
    KnownModule("HIPAA compliance layer", "hipaa_compliance_layer", 1),
    KnownModule("FHIR R4 API", "fhir_r4_api", 1),
    KnownModule("Data migration", "data_migration", 1),
    KnownModule("Staff training", "staff_training", 1),
    KnownModule("AI documentation", "ai_documentation", 2, default_on=False),
)
MODULES_BY_NAME = {m.name.lower(): m for m in KNOWN_MODULES}
TRAINING = "staff_training"  # priced per staff user when no complexity is given; its updates are a run cost
LAUNCH_ITEMS = ("data_migration", "staff_training")  # paid whichever way the clinic goes (switching cost)
SCOPE_FEATURES = ("ai_documentation",)  # known modules that count as a specialty feature for the tier

# Integration category -> rate card prefix
INTEGRATION_KEYS = {
    Category.LAB: "integration.lab_imaging",
    Category.IMAGING: "integration.lab_imaging",
    Category.BILLING: "integration.billing",
    Category.EPRESCRIBING: "integration.e_prescribing",
    Category.OTHER: "integration.other",
}


# ---------------------------------------------------------------- intake -> planner


@dataclass(frozen=True)
class Clinic:
    name: str
    clinic_type: ClinicType
    physicians: int
    records: Records
    specialty: str = ""
    staff_users: int | None = None
    hosting: Hosting = Hosting.CLOUD
    team: Team = Team.OFFSHORE
    hourly_rate: float | None = None
    development_hours: float | None = None
    workflow_specificity: Level = Level.MEDIUM
    certified_components: bool = False
    horizon_years: int = 5
    prepared_for: str = ""
    prepared_by: str = ""
    report_date: dt.date | None = None


@dataclass(frozen=True)
class ModuleChoice:
    """A row of the Modules sheet (or a known module's default)."""

    name: str
    include: bool
    phase: int
    complexity: Complexity | None = None  # None: not given, the planner picks
    low: int | None = None  # None: the rate card's figure
    high: int | None = None
    notes: str = ""
    known: KnownModule | None = None  # None: a specialty feature

    @property
    def is_specialty(self) -> bool:
        return self.known is None


@dataclass(frozen=True)
class Integration:
    system: str
    category: Category
    vendor: str = ""
    phase: int = 2
    complexity: Complexity = Complexity.TYPICAL


@dataclass(frozen=True)
class Subscription:
    product: str
    monthly_per_provider: float
    annual_extras: float | None = None  # None: the rate card's per-provider figure
    annual_increase: float | None = None  # None: the rate card's figure


@dataclass(frozen=True)
class Quote:
    """A row of the Quotes sheet: a development vendor's quote for the base scope, with its
    answers to the guide's five vendor questions (None: left blank)."""

    vendor: str
    price: int  # whole dollars, for the whole build
    maintenance: int | None = None  # per year; None: the guide's 15-20% of the price
    hours: float | None = None
    hourly_rate: float | None = None
    notes: str = ""
    hipaa_builds: bool | None = None
    fhir: FhirApproach | None = None
    maintenance_sla: bool | None = None
    code_ownership: bool | None = None
    migration_plan: bool | None = None
    row: int = 0  # its row on the Quotes sheet


@dataclass(frozen=True)
class Scenario:
    """One complete, validated set of inputs for the planner."""

    name: str
    clinic: Clinic
    modules: tuple[ModuleChoice, ...]
    integrations: tuple[Integration, ...]
    subscriptions: tuple[Subscription, ...]  # empty: the rate card's products
    card: RateCard


@dataclass(frozen=True)
class Intake:
    """A whole validated workbook: its scenarios (the base first) and its warnings."""

    source: str  # the file name as given
    slug: str
    scenarios: tuple[Scenario, ...]
    warnings: tuple[str, ...] = ()
    quotes: tuple[Quote, ...] = ()  # priced against the base scenario

    @property
    def base(self) -> Scenario:
        return self.scenarios[0]


# ---------------------------------------------------------------- planner -> writers


@dataclass(frozen=True)
class Range:
    low: int
    expected: int
    high: int

    def __post_init__(self) -> None:
        if not self.low <= self.expected <= self.high:
            raise ValueError(f"range out of order: {self.low} <= {self.expected} <= {self.high}")

    def __add__(self, other: Range) -> Range:
        return Range(self.low + other.low, self.expected + other.expected, self.high + other.high)

    @staticmethod
    def total(ranges: list[Range] | tuple[Range, ...]) -> Range:
        return Range(sum(r.low for r in ranges), sum(r.expected for r in ranges), sum(r.high for r in ranges))


@dataclass(frozen=True)
class GuidePrice:
    """How the planner priced a line at the guide's (offshore) prices, before scaling it to the
    scenario's team: the inputs of budget.xlsx's component formulas, and what they come to."""

    range_low: float  # the rate card's (or the workbook's) range, before the staff-training scale and the share
    range_high: float
    position: float | None  # where the estimate sits in the range (0: low end); None: staff training per user
    share: float  # the share paid (below 1 for a certified component)
    scaled: bool  # the range grows with the staff users (the scenario's training_scale)
    low: float  # the line at the guide's prices: scaled, at the share paid
    expected: float
    high: float


@dataclass(frozen=True)
class LineItem:
    name: str
    kind: str  # "module" | "specialty" | "integration" | "quote"
    phase: int
    cost: Range
    source: str
    note: str = ""
    category: str = ""  # integration category, module key
    guide: GuidePrice | None = None  # None: not priced from the guide (a vendor's quote)


# How a client document names each warning: codes are for budget.json and other tools, never shown raw.
WARNING_TITLES = {
    "FHIR_OMITTED": "FHIR R4 API left out",
    "HIPAA_OMITTED": "HIPAA compliance layer left out",
    "HIPAA_UNDERFUNDED": "HIPAA compliance layer under-funded",
    "MIGRATION_OMITTED": "Data migration left out",
    "TRAINING_OMITTED": "Staff training left out",
    "CERTIFIED_SAVING_CAPPED": "Certified-component saving capped",
    "NO_BREAK_EVEN": "No break-even within the horizon",
    "BEYOND_SCOPE": "Beyond the guide's small-clinic scope",
    "ON_PREMISE": "On-premise hosting",
    "DRAWS_REDUCED": "Fewer simulated outcomes",
}


@dataclass(frozen=True)
class Warning:
    code: str
    message: str

    @property
    def title(self) -> str:
        """The warning's name in a client document (its code, in words, when it has no title)."""
        return WARNING_TITLES.get(self.code, self.code.replace("_", " ").capitalize())


@dataclass(frozen=True)
class Labor:
    team: str
    hours: int
    rate: float
    raw_cost: int
    overhead_rate: float
    overhead: int
    cost: int
    hours_source: str  # "derived from the modules" | "workbook"
    guide_rate: float  # the effective hourly cost the guide's component prices assume (the shipped card's)


@dataclass(frozen=True)
class TeamOption:
    """The same build priced with another team, for the geography comparison."""

    team: str
    rate: float
    overhead_rate: float
    effective_rate: float
    build: Range


# How a report names each third-party fee (plan/costs.py `fees`), and when a fee starts.
FEE_NAMES = {
    "e_prescribing": "E-prescribing network",
    "drug_database": "Drug database",
    "code_sets": "ICD-10 and CPT code sets",
    "clearinghouse": "Claims clearinghouse",
    "interface": "Interface fees",
    "ai_scribe": "AI-scribe usage",
    "certified": "Certified-component licences",
}
FEE_STARTS = ("year one", "phase 1 go-live", "phase 2 go-live")


@dataclass(frozen=True)
class FeeCost:
    """A recurring third-party fee the clinic pays each year (plan/costs.py `fees`)."""

    key: str  # fees.<key> in the rate card
    name: str
    count: int  # the providers or connected systems it is paid for
    basis: str  # "per provider" | "per connected system"
    cost: Range  # per year, in full use (expected: the middle of the rate card's range)
    start: str  # "year one" | "phase 1 go-live" | "phase 2 go-live"
    both_paths: bool  # a product's path pays it too
    source: str


@dataclass(frozen=True)
class RunCosts:
    maintenance: tuple[int, int]  # per year, on the full build (low, high)
    maintenance_share: float  # the point share of the build per year (the midpoint of the guide's range)
    maintenance_expected: int  # per year, at the midpoint percentage
    support: tuple[int, int]  # user support beyond the guide's clinic size, per year (low, high): 0 up to it
    support_expected: int  # at the maintenance share's point
    support_base: float  # the build whose maintenance that support equals (costs.support_base)
    staff_beyond: int  # the staff users beyond what the guide's maintenance covers (costs.reference_staff)
    hosting: tuple[int, int]  # per year (low, high)
    hosting_expected: int  # per year, for a clinic of this size
    size_scale: float  # how many times the guide's top-of-range hosting the clinic needs (costs.size_scale)
    training_updates: tuple[int, int]
    training_updates_expected: int
    onprem_upfront: tuple[int, int, int]  # (low, expected, high); zeros on cloud
    size_position: float  # where the clinic's size sits in the guide's hosting ranges (0: one physician)
    annual: Range  # maintenance + user support + hosting + training updates, per year
    underestimate: tuple[int, int]  # what a 30-40% underestimate would leave out, per year
    allowance: Range = Range(0, 0, 0)  # that underestimation costed (expected: the middle), per year
    fees: tuple[FeeCost, ...] = ()  # recurring third-party fees
    fees_total: Range = Range(0, 0, 0)  # per year, all of them in use
    total: Range = Range(0, 0, 0)  # annual + allowance + fees: the running cost per year, all in use
    golive: Range = Range(0, 0, 0)  # one go-live's productivity dip, whole clinic
    golive_count: int = 1  # go-lives on the custom path (2 with a phase 2)
    legacy: int = 0  # the old system per year while it still runs (0: no legacy EHR)
    legacy_quarters: int = 0  # quarters it runs on the custom path (until phase 1 is live)
    refresh_years: int = 0  # on-premise servers replaced after this many years (0: cloud)
    refreshes: int = 0  # replacements within the horizon


@dataclass(frozen=True)
class OffShelf:
    product: str
    monthly_per_provider: float
    annual_subscription: int
    annual_extras: int
    annual_increase: float
    customization_surcharge: int
    switching_cost: int
    yearly: tuple[int, ...]  # cost in each year of the horizon
    cumulative: tuple[int, ...]
    workbook_extras: float | None = None  # the Subscriptions row's own extras; None: a share of the subscription
    fees: int = 0  # third-party fees a product's path pays too, per year before escalation
    golive: int = 0  # the productivity dip of going live on it, once
    legacy: int = 0  # the old system until it is live, once


@dataclass(frozen=True)
class Quarter:
    label: str  # "Y1 Q1"
    build: int
    run: int
    launch: int = 0  # going live: productivity dip, the old system until phase 1 is live

    @property
    def total(self) -> int:
        return self.build + self.run + self.launch


@dataclass(frozen=True)
class BudgetPhase:
    name: str  # build | launch | operation
    title: str
    items: tuple[tuple[str, int], ...]
    total: int


CUSTOM, SHELF, CLOSE = "custom", "off-the-shelf", "too-close"  # a Recommendation's paths (plan/decision.py)


@dataclass(frozen=True)
class Recommendation:
    path: str  # CUSTOM | SHELF | CLOSE
    headline: str
    reasons: tuple[str, ...]
    workflow_need: bool = False  # the guide's description of where custom pays (information, not a gate)
    product: str = ""  # the off-the-shelf product the custom build was compared with
    probability_custom_cheaper: float | None = None  # from the risk analysis; None before it
    payback_year: int | None = None  # the median year custom becomes the cheaper path, or None


@dataclass(frozen=True)
class Ownership:
    """Cost of ownership over the horizon: custom against each off-the-shelf product."""

    years: int
    off_the_shelf: tuple[OffShelf, ...]
    custom_yearly: tuple[int, ...]
    custom_cumulative: tuple[int, ...]
    cheapest_product: str
    break_even_year: int | None
    break_even_by_product: tuple[tuple[str, int | None], ...]
    cash_flow: tuple[Quarter, ...]
    phase1_quarters: int  # quarters to build phase 1, the cash flow's schedule
    year_one_capital: int  # phase 1 build plus up-front hardware
    all_at_once_capital: int  # everything built in year one, plus hardware
    budget_phases: tuple[BudgetPhase, ...]
    recommendation: Recommendation

    def product(self, name: str) -> OffShelf:
        return next(p for p in self.off_the_shelf if p.product == name)


@dataclass(frozen=True)
class QuoteAnswer:
    """A vendor's answer to one of the guide's five questions, scored against its strong answer."""

    column: str  # the Quotes sheet column ("Code ownership")
    question: str  # the guide's question
    answer: str  # as recorded: "Yes", "No", "Certified components", "Built from scratch", "" (blank)
    strong: bool  # the guide's strong answer
    strong_answer: str  # what the guide says a strong answer looks like
    reason: str  # the guide's reason for asking

    @property
    def shown(self) -> str:
        return self.answer or "not answered"


@dataclass(frozen=True)
class QuoteCheck:
    """What the quote's hours and rate say, checked against its price and the guide's rates."""

    code: str  # hours_rate_match | hours_rate_mismatch | rate_below_guide | rate_between | rate_above_guide | hours
    message: str
    flag: bool  # something to ask the vendor about


@dataclass(frozen=True)
class QuoteOwnership:
    """The custom path re-costed with the quote's price and maintenance, against the products."""

    maintenance: int  # per year, on the whole build
    maintenance_source: str  # "quote" | "guide" (15-20% of the price, at its midpoint)
    maintenance_share: float  # of the build per year
    phases: tuple[int, int]  # the price split: phase 1, later phases
    cash_flow: tuple[Quarter, ...]
    custom_yearly: tuple[int, ...]
    custom_cumulative: tuple[int, ...]
    product: str  # the off-the-shelf product compared with (the cheapest over the horizon)
    product_cumulative: tuple[int, ...]
    break_even_year: int | None  # first year custom is cheaper than `product`, or None
    path: str  # the recommendation rule's path with this quote
    headline: str
    sentence: str  # "With Vendor B's quote, custom pays back in year 3 against DrChrono."


@dataclass(frozen=True)
class QuoteResult:
    """One quote placed against the base scenario's simulated build cost."""

    quote: Quote
    percentile: float  # share of simulated build costs at or below the price (0 to 1)
    position: str  # below | within | above the simulated P10-P90 range
    advice: tuple[str, ...]  # what the position means and what to ask
    checks: tuple[QuoteCheck, ...]
    answers: tuple[QuoteAnswer, ...]  # the five questions, in the guide's order
    ownership: QuoteOwnership
    estimate_class: int  # AACE 18R-97 class of the build figure once this quote is in hand
    accuracy: tuple[float, float]  # widest band (e.g. -0.30, +0.50) around the quoted price
    band: tuple[int, int]  # the quoted price across that band

    @property
    def unanswered(self) -> tuple[QuoteAnswer, ...]:
        return tuple(a for a in self.answers if not a.strong)


@dataclass(frozen=True)
class QuoteAnalysis:
    """Every quote of a workbook against the base scenario, and what the quotes do to the estimate."""

    results: tuple[QuoteResult, ...]  # in Quotes-sheet order
    p10: int  # the base scenario's simulated build range
    p90: int
    point: int  # the base scenario's expected build
    draws: int
    intake_class: int  # the estimate's class from the intake alone (risk.estimate_class)
    estimate_class: int  # the best class any quote brings
    note: str  # how the quotes change the estimate class and its band

    @property
    def lowest(self) -> QuoteResult | None:
        return min(self.results, key=lambda r: r.quote.price, default=None)


@dataclass(frozen=True)
class ScenarioPlan:
    name: str
    scenario: Scenario
    tier: str
    build: Range
    components: tuple[LineItem, ...]
    phases: tuple[tuple[int, Range], ...]
    labor: Labor
    teams: tuple[TeamOption, ...]
    run: RunCosts
    ownership: Ownership
    certified_saving: int
    warnings: tuple[Warning, ...]
    staff_users: int  # the workbook's figure, or the rate card's per physician
    training_scale: float  # how many times the guide's staff-training range the staff users need
    risk: RiskResult | None = None  # filled by the risk stage (generator.plan.risk)

    @property
    def what_to_budget(self) -> tuple[int, str]:
        """What the executive summary says to budget, and what that figure is: on the custom path
        the build ("build, P80" where the risk analysis ran, else "build, expected"); otherwise
        the cheapest product's first year ("year one, <product>")."""
        own = self.ownership
        if own.recommendation.path == CUSTOM:
            if self.risk is not None:
                return self.risk.recommended_budget, "build, P80"
            return self.build.expected, "build, expected"
        return own.product(own.cheapest_product).yearly[0], f"year one, {own.cheapest_product}"


@dataclass(frozen=True)
class Plan:
    """Everything the documents show, for one workbook."""

    intake: Intake
    scenarios: tuple[ScenarioPlan, ...]
    generated: dt.date
    version: str
    contradictions: tuple[str, ...]
    quotes: QuoteAnalysis | None = None  # filled by the quote stage (generator.plan.quotes)

    @property
    def base(self) -> ScenarioPlan:
        return self.scenarios[0]
