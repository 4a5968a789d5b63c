"""The intake workbook contract (../shared/intake-spec.md) as data.

The reader, the blank-workbook writer (`clinic-budget new`) and the README's intake
reference all come from these tables, so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from generator.model import Category, ClinicType, Complexity, FhirApproach, Hosting, Level, Records, Team

# Field kinds the parsers in fields.py understand.
TEXT, WHOLE, NUMBER, MONEY, PERCENT, YESNO, DATE, CHOICE, PHASE = (
    "text", "whole", "number", "money", "percent", "yesno", "date", "choice", "phase",
)

# Limits, so that a workbook can never ask for unbounded work (intake-spec.md, "General rules").
TEXT_LIMIT = 500  # characters in a text cell
NOTES_LIMIT = 2000  # characters in a Notes cell
MONEY_LIMIT = 10_000_000  # USD in any amount a row gives (the rate card's own `usd` range)
MONTHLY_LIMIT = 100_000  # USD per provider per month (the rate card's `usd/month` range)
ROW_LIMITS = {"Modules": 200, "Integrations": 200, "Subscriptions": 200, "Quotes": 200, "Scenarios": 50}
PROBLEM_LIMIT = 100  # problems listed per workbook; the rest are counted
WARNING_LIMIT = 100  # warnings listed per workbook; the rest are counted


@dataclass(frozen=True)
class Field:
    label: str  # as the spec spells it
    attr: str  # attribute of model.Clinic / row object
    kind: str
    required: bool = False
    default: str = ""  # the spec's default, as prose
    help: str = ""  # shown beside the field in a blank workbook
    choices: tuple[str, ...] = ()
    minimum: float | None = None  # numbers: the least allowed (inclusive)
    maximum: float | None = None  # numbers: the most allowed
    positive: bool = False  # a number or amount that must be more than 0 (not merely 0 or more)
    max_length: int | None = None  # a text cell's limit in characters (default TEXT_LIMIT)

    @property
    def limit(self) -> float:
        """The largest value (numbers) or the most characters (text) this field takes."""
        if self.kind == TEXT:
            return self.max_length if self.max_length is not None else TEXT_LIMIT
        return self.maximum if self.maximum is not None else MONEY_LIMIT

    @property
    def more_than(self) -> float | None:
        return 0.0 if self.positive else None

    @property
    def type_text(self) -> str:
        if self.kind == CHOICE:
            return " | ".join(self.choices)
        if self.kind == WHOLE and self.minimum is not None:
            return f"whole number, {self.minimum:g} to {self.maximum:g}"
        if self.kind == TEXT:
            return f"text, at most {self.limit:,.0f} characters"
        if self.kind in (NUMBER, MONEY):
            unit = "number, USD" if self.kind == MONEY else "number"
            low = "more than 0" if self.positive else f"{self.minimum or 0:g}"
            joiner = " and at most " if self.positive else " to "
            return f"{unit}, {low}{joiner}{self.limit:,.0f}"
        return {
            TEXT: "text", WHOLE: "whole number", NUMBER: "number", MONEY: "number, USD",
            PERCENT: "percent", YESNO: "Yes/No", DATE: "date", PHASE: "1 | 2",
        }[self.kind]


def _choices(enum: type) -> tuple[str, ...]:
    return tuple(m.value for m in enum)  # type: ignore[attr-defined]


CLINIC_SHEET = "Clinic"
CLINIC_FIELDS: tuple[Field, ...] = (
    Field("Clinic name", "name", TEXT, True, help="The practice's name as it should appear on the report."),
    Field("Clinic type", "clinic_type", CHOICE, True, choices=_choices(ClinicType),
          help="Pick from the list."),
    Field("Specialty", "specialty", TEXT,
          help="For example Orthopedics, Dermatology. Leave blank for general practice."),
    Field("Physicians", "physicians", WHOLE, True, minimum=1, maximum=200,
          help="Providers who will use the system; subscriptions are priced per provider."),
    Field("Staff users", "staff_users", WHOLE, default="from the rate card, per physician",
          minimum=0, maximum=2000, help="Everyone who will log in (front desk, nurses, billing). Drives training."),
    Field("Current records", "records", CHOICE, True, choices=_choices(Records),
          help="Where patient records live today. Paper or Legacy EHR means data migration."),
    Field("Hosting", "hosting", CHOICE, default="Cloud", choices=_choices(Hosting),
          help="Cloud (monthly fee) or On-premise (servers bought up front)."),
    Field("Development team", "team", CHOICE, default="Offshore", choices=_choices(Team),
          help="Offshore: healthcare-experienced offshore team. US: US-based team."),
    Field("Hourly rate", "hourly_rate", MONEY, default="the team's rate from the rate card", positive=True,
          maximum=1000,
          help="USD per hour, if you have a quote. Leave blank for the rate card's figure."),
    Field("Development hours", "development_hours", NUMBER, default="derived from the modules", positive=True,
          maximum=100_000,
          help="Only if a vendor quoted hours. Leave blank to derive them from the modules."),
    Field("Workflow specificity", "workflow_specificity", CHOICE, default="Medium", choices=_choices(Level),
          help="How far your workflows differ from what standard EHR products do out of the box."),
    Field("Certified components", "certified_components", YESNO, default="No",
          help="Yes: use pre-built certified components for standard features."),
    Field("Horizon years", "horizon_years", WHOLE, default="5", minimum=3, maximum=10,
          help="Years over which custom and off-the-shelf costs are compared."),
    Field("Prepared for", "prepared_for", TEXT, help="Who the report is for (owner, practice manager)."),
    Field("Prepared by", "prepared_by", TEXT, help="Your name or firm."),
    Field("Report date", "report_date", DATE, default="the day the report is generated",
          help="Date printed on the report (YYYY-MM-DD)."),
)

MODULES_SHEET = "Modules"
MODULE_COLUMNS: tuple[Field, ...] = (
    Field("Module", "name", TEXT, True, help="A known module or your own specialty feature."),
    Field("Include", "include", YESNO, default="see below", help="Yes to build it."),
    Field("Phase", "phase", PHASE,
          default="1 for core, compliance, FHIR, migration and training; 2 for AI documentation and specialty features",
          help="1: year one. 2: year two."),
    Field("Complexity", "complexity", CHOICE, default="Typical", choices=_choices(Complexity),
          help="Picks the point estimate inside the cost range."),
    Field("Low cost", "low", MONEY, default="the rate card's figure", help="USD. Required for specialty features."),
    Field("High cost", "high", MONEY, default="the rate card's figure", help="USD. Required for specialty features."),
    Field("Notes", "notes", TEXT, help="Anything the report should mention.", max_length=NOTES_LIMIT),
)

INTEGRATIONS_SHEET = "Integrations"
INTEGRATION_COLUMNS: tuple[Field, ...] = (
    Field("System", "system", TEXT, True, help="The external system, e.g. Quest lab interface."),
    Field("Category", "category", CHOICE, True, choices=_choices(Category), help="Decides the price."),
    Field("Vendor", "vendor", TEXT, help="Vendor name, if known."),
    Field("Phase", "phase", PHASE, default="2", help="Integrations come in year two by default."),
    Field("Complexity", "complexity", CHOICE, default="Typical", choices=_choices(Complexity),
          help="Picks the point estimate inside the cost range."),
)

SUBSCRIPTIONS_SHEET = "Subscriptions"
SUBSCRIPTION_COLUMNS: tuple[Field, ...] = (
    Field("Product", "product", TEXT, True, help="The off-the-shelf product to compare against."),
    Field("Monthly per provider", "monthly_per_provider", MONEY, True, help="USD per provider per month.",
          maximum=MONTHLY_LIMIT),
    Field("Annual extras", "annual_extras", MONEY, default="the rate card's figure",
          help="USD per year: support tiers, storage, integration connectors."),
    Field("Annual increase", "annual_increase", PERCENT, default="the rate card's figure",
          help="Yearly price escalation, e.g. 5%."),
)

QUOTES_SHEET = "Quotes"
MAX_QUOTES = ROW_LIMITS[QUOTES_SHEET]  # rows of the Quotes sheet (the intake contract's limit)
# The largest price or hour count a quote may state: the Clinic sheet's own limits
# (Development hours at most 100,000; Hourly rate at most $1,000) multiplied.
MAX_HOURS = 100_000
MAX_RATE = 1_000
MAX_PRICE = MAX_HOURS * MAX_RATE
QUOTE_COLUMNS: tuple[Field, ...] = (
    Field("Vendor", "vendor", TEXT, True, max_length=TEXT_LIMIT,
          help="The development vendor's name, one quote a row."),
    Field("Build price", "price", MONEY, True, positive=True, maximum=MAX_PRICE,
          help="USD: the quoted price for the whole build of this workbook's scope."),
    Field("Annual maintenance", "maintenance", MONEY, maximum=MAX_PRICE,
          default="15-20% of the build price, as the guide says",
          help="USD per year, if the quote states it."),
    Field("Hours", "hours", NUMBER, positive=True, maximum=MAX_HOURS,
          help="Development hours the quote is based on, if stated."),
    Field("Hourly rate", "hourly_rate", MONEY, positive=True, maximum=MAX_RATE,
          help="USD per hour the quote is based on, if stated."),
    Field("Notes", "notes", TEXT, max_length=NOTES_LIMIT,
          help="What the quote includes or leaves out; shown in the report."),
    Field("HIPAA builds in production", "hipaa_builds", YESNO,
          help="Yes: the vendor named client references for HIPAA-compliant EHR builds in production."),
    Field("FHIR approach", "fhir", CHOICE, choices=_choices(FhirApproach),
          help="How the vendor handles FHIR R4 API compliance."),
    Field("Maintenance SLA", "maintenance_sla", YESNO,
          help="Yes: response times, security patch schedule and scope in writing."),
    Field("Code ownership", "code_ownership", YESNO,
          help="Yes: full source ownership transferred to the clinic at final payment."),
    Field("Migration plan", "migration_plan", YESNO,
          help="Yes: a defined migration protocol, test environment and rollback plan."),
)

SCENARIOS_SHEET = "Scenarios"
ASSUMPTIONS_SHEET = "Assumptions"
ASSUMPTION_COLUMNS: tuple[Field, ...] = (
    Field("Key", "key", TEXT, True, help="A rate-card key (see `clinic-budget assumptions`)."),
    Field("Value", "value", NUMBER, True, help="The new value. Percentages as 5% or 0.05."),
    Field("Source", "source", TEXT, help="Where the figure comes from; shown in the report."),
)

TABLE_SHEETS = {
    MODULES_SHEET: MODULE_COLUMNS,
    INTEGRATIONS_SHEET: INTEGRATION_COLUMNS,
    SUBSCRIPTIONS_SHEET: SUBSCRIPTION_COLUMNS,
    QUOTES_SHEET: QUOTE_COLUMNS,
    ASSUMPTIONS_SHEET: ASSUMPTION_COLUMNS,
}

YES_WORDS = ("yes", "y", "true", "1")
NO_WORDS = ("no", "n", "false", "0")


def reference_markdown() -> str:
    """The intake reference as Markdown tables (the README's copy is kept equal by a test)."""
    out = []
    for sheet, fields, intro in (
        (CLINIC_SHEET, CLINIC_FIELDS, "A form: labels in column A, values in column B, any row order. Required."),
        (MODULES_SHEET, MODULE_COLUMNS, "A table, header first, one module a row. Optional."),
        (INTEGRATIONS_SHEET, INTEGRATION_COLUMNS, "A table, header first, one connected system a row. Optional."),
        (SUBSCRIPTIONS_SHEET, SUBSCRIPTION_COLUMNS, "Off-the-shelf products to compare against. Optional."),
        (QUOTES_SHEET, QUOTE_COLUMNS, "Development vendors' quotes for this scope, one a row; blank answers to "
         "the guide's five questions count as not answered. Optional."),
        (ASSUMPTIONS_SHEET, ASSUMPTION_COLUMNS, "Rate-card overrides for this workbook. Optional."),
    ):
        out += [f"#### Sheet `{sheet}`", "", intro, "", "| Field | Type | Required | Default |", "|---|---|---|---|"]
        for f in fields:
            out.append(f"| {f.label} | {f.type_text.replace('|', '&#124;')} | {'yes' if f.required else 'no'} "
                       f"| {f.default} |")
        out.append("")
    out += [f"#### Sheet `{SCENARIOS_SHEET}`", "",
            "A table, header first. Column A is `Scenario` (the name); every other column is headed by a "
            "Clinic label, a module name (Yes/No) or a rate-card key. Each row is one more scenario; an empty "
            "cell keeps the base value. Optional.", ""]
    return "\n".join(out)
