"""budget.xlsx: the budget as a working model the consultant can adjust.

An Inputs sheet holds every input and assumption; the calculation sheets (Components, Run
costs, Cash flow, Ownership, Summary) are live formulas that reference it, each written together
with its computed value (equal to budget.json). The formulas repeat the planner's arithmetic
step for step, with ROUND wherever the planner rounds to whole dollars, so a spreadsheet that
recalculates shows the same figures. User text is only ever written with `write_string`.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import TYPE_CHECKING, Any

import xlsxwriter
from xlsxwriter.utility import quote_sheetname, xl_rowcol_to_cell

from generator.model import (
    CUSTOM,
    SCOPE_FEATURES,
    Category,
    GuidePrice,
    Hosting,
    LineItem,
    Plan,
    Records,
    ScenarioPlan,
)
from generator.render.xlsx_charts import add_charts
from generator.render.xlsx_model import decision_block
from generator.render.xlsx_quotes import quotes_sheets
from generator.render.xlsx_run import beyond_inputs, cash_sheet, run_sheet
from generator.render.xlsx_sheet import Book, Sheet, sheet_names

if TYPE_CHECKING:
    from generator.settings import Settings

# ------------------------------------------------------------------ inputs


def _input_rows(sp: ScenarioPlan) -> list[tuple[str, str, float, str, str]]:
    """(name, label, value, format, source) for the Inputs sheet."""
    sc = sp.scenario
    card, clinic = sc.card, sc.clinic
    def c(key: str, label: str, fmt: str) -> tuple[str, str, float, str, str]:
        return key, label, card.value(key), fmt, card.entry(key).cited

    team = "us" if sp.labor.team.startswith("US") else "offshore"
    rows = [
        ("physicians", "Physicians", clinic.physicians, "num", "workbook"),
        ("staff_users", "Staff users", sp.staff_users, "num", "workbook or rate card"),
        ("rate", f"Hourly rate, {sp.labor.team}", sp.labor.rate, "rate",
         "workbook" if clinic.hourly_rate is not None else card.entry(f"rate.{team}").cited),
        ("overhead", "Overhead on the team's rate", sp.labor.overhead_rate, "pct",
         card.entry(f"overhead.{team}").cited),
        c("clinic.staff_users_per_physician", "Staff users per physician (sets the size the training range covers)",
          "num"),
        c("rate.offshore", "Offshore rate", "rate"),
        c("overhead.offshore", "Offshore overhead", "pct"),
        c("rate.us", "US rate", "rate"), c("overhead.us", "US overhead", "pct"),
        c("training.per_user", "Staff training per user", "money"),
        c("maintenance.low_pct", "Maintenance, low (share of build per year)", "pct"),
        c("maintenance.high_pct", "Maintenance, high", "pct"),
        c("maintenance.example.build", "The guide's worked maintenance example: the build", "money"),
        c("support.share_of_maintenance", "User-support part of that maintenance (grows with the staff users beyond "
          "the top of the guide's sizes)", "pct"),
        c("hosting.full_size_physicians", "Physicians at the top of the hosting range", "num"),
        c("training.updates_pct", "Training updates per year (share of training)", "pct"),
        c("underestimate.low_pct", "Underestimation of run costs, low", "pct"),
        c("underestimate.high_pct", "Underestimation of run costs, high", "pct"),
        c("offshelf.extras_pct.low", "Off-the-shelf extras, low (share of each product's subscription)", "pct"),
        c("offshelf.extras_pct.high", "Off-the-shelf extras, high", "pct"),
        c("decision.confidence", "Share of outcomes in which a path must be the cheaper one to be recommended", "pct"),
        c("payback.years", "Years within which custom must pay back to be recommended", "num"),
        c(f"offshelf.surcharge.{clinic.workflow_specificity.name.lower()}",
          f"Customization surcharge at {clinic.workflow_specificity.value} workflow specificity", "pct"),
        ("migrating", "Records to migrate on a switch (1 yes, 0 no)", int(clinic.records is not Records.NONE),
         "num", "workbook"),
        *(c(f"offshelf.{k}.{end}", f"Vendor {k} on a switch, {end}", "money")
          for k in ("migration", "onboarding") for end in ("low", "high")),
        c("offshelf.increase_pct", "Yearly escalation (subscriptions and custom running costs)", "pct"),
        ("phase1_quarters", "Quarters to build phase 1", sp.ownership.phase1_quarters,
         "num", card.entry("phase1.build_quarters").cited),
        c("tier.mid_min_systems", "Mid tier from (connected systems and specialty features)", "num"),
        c("tier.advanced_min_systems", "Advanced tier from (connected systems and specialty features)", "num"),
    ]
    if clinic.development_hours is not None:
        rows.append(("hours", "Development hours (workbook)", round(clinic.development_hours), "num", "workbook"))
    if clinic.hosting is Hosting.ONPREM:
        rows += [c("hosting.onprem.upfront.low", "On-premise servers up front, low", "money"),
                 c("hosting.onprem.upfront.high", "On-premise servers up front, high", "money"),
                 c("hosting.onprem.annual_pct", "On-premise upkeep per year (share of servers)", "pct")]
    else:
        rows += [c("hosting.cloud.monthly.low", "Cloud hosting per month, low", "money"),
                 c("hosting.cloud.monthly.high", "Cloud hosting per month, high", "money")]
    return rows + beyond_inputs(sp)


def inputs_sheet(book: Book, sp: ScenarioPlan, names: dict[str, str]) -> None:
    r = book.ref
    sh = Sheet(book, names["Inputs"], (42, 12, 34, 10, 10, 7, 22, 20), wrap=(0, 2, 7))
    sh.text(0, 0, f"Inputs and assumptions: {sp.name}", "title")
    sh.text(1, 0, "Yellow cells are inputs: change one and every calculation sheet follows.", "note")
    sh.head(3, ("Input", "Value", "Source"))
    row = 4
    for name, label, value, fmt, source in _input_rows(sp):
        sh.text(row, 0, label)
        sh.num(row, 1, value, "input_" + fmt if fmt in ("money", "rate", "pct") else "input", name=name)
        sh.text(row, 2, source)
        row += 1
    sh.text(row, 0, "Staff-training range scale (staff users beyond the top of the guide's size ranges)")
    sh.calc(row, 1, f"MAX(1,{r['staff_users']}/({r['hosting.full_size_physicians']}"
                    f"*{r['clinic.staff_users_per_physician']}))", sp.training_scale, "dec", name="training_scale")
    row += 2
    sh.text(row, 0, "Components at the guide's (offshore) prices", "bold")
    row += 1
    sh.head(row, ("Component", "Range low", "Range high", "Position in range", "Share paid", "Phase", "Category"))
    sh.ws.freeze_panes(4, 1)
    _component_inputs(sh, sp, row + 1)


def guide_prices(sp: ScenarioPlan) -> list[GuidePrice]:
    """How the planner priced each line at the guide's prices (the components are all priced so)."""
    out = [li.guide for li in sp.components if li.guide is not None]
    assert len(out) == len(sp.components)
    return out


def _component_inputs(sh: Sheet, sp: ScenarioPlan, row: int) -> None:
    """Each included module and integration: its range, where the estimate sits, and the share
    paid (below 1 for a certified component)."""
    for i, (li, g) in enumerate(zip(sp.components, guide_prices(sp), strict=True)):
        r = row + i
        sh.text(r, 0, li.name)
        sh.num(r, 1, g.range_low, "input_money", name=f"c{i}.low")
        sh.num(r, 2, g.range_high, "input_money", name=f"c{i}.high")
        if g.position is None:
            sh.text(r, 3, "per user", "note")
        else:
            sh.num(r, 3, g.position, "input_pct", name=f"c{i}.pos")
        sh.num(r, 4, g.share, "input_pct", name=f"c{i}.share")
        sh.num(r, 5, li.phase, "input", name=f"c{i}.phase")
        sh.text(r, 6, li.category)
        if g.scaled:
            sh.text(r, 7, "range x the staff-training scale", "note")


# ------------------------------------------------------------------ components and labour


def _bankers(x: str) -> str:
    """Excel's ROUND rounds halves away from zero; Python's round() (used for hours) to even."""
    return f"IF(ABS({x}-INT({x})-0.5)<1E-9,IF(ISEVEN(INT({x})),INT({x}),INT({x})+1),ROUND({x},0))"


def _labour(sh: Sheet, sp: ScenarioPlan, dc_range: str, dc: float) -> None:
    r, lab = sh.book.ref, sp.labor
    sh.head(2, ("Labour", "Amount"))
    rows = ("Guide-team cost (expected, at the guide's offshore prices)", "Effective hourly cost, this team",
            "Effective hourly cost the guide's prices assume (its offshore team, overhead included)",
            "Development hours", "Labour: hours x rate",
            "Overhead", "Build labour cost", "Scale from guide prices to this team")
    for i, label in enumerate(rows):
        sh.text(3 + i, 0, label)
    sh.calc(3, 1, f"SUM({dc_range})", dc, name="dc")
    eff = lab.rate * (1 + lab.overhead_rate)
    sh.calc(4, 1, f"{r['rate']}*(1+{r['overhead'].replace('$', '$')})", eff, "rate", name="eff")
    # A constant, not the workbook's rate.offshore: the guide priced its components at the shipped card's
    # offshore team, so a workbook that overrides that rate moves the build like any other rate.
    sh.num(5, 1, lab.guide_rate, "rate", name="geff")
    if lab.hours_source == "workbook":
        sh.calc(6, 1, r["hours"], lab.hours, "num", name="hours")
        sh.calc(7, 1, f"ROUND({r['hours']}*{r['rate']},0)", lab.raw_cost, name="raw")
        sh.calc(8, 1, f"ROUND({r['raw']}*{r['overhead']},0)", lab.overhead, name="overhead_cost")
        sh.calc(9, 1, f"{r['raw']}+{r['overhead_cost']}", lab.cost, "bold_money", name="cost")
    else:
        sh.calc(9, 1, f"ROUND({r['dc']}*{r['eff']}/{r['geff']},0)", lab.cost, "bold_money", name="cost")
        sh.calc(7, 1, f"ROUND({r['cost']}/(1+{r['overhead']}),0)", lab.raw_cost, name="raw")
        sh.calc(8, 1, f"{r['cost']}-{r['raw']}", lab.overhead, name="overhead_cost")
        sh.calc(6, 1, _bankers(f"{r['raw']}/{r['rate']}"), lab.hours, "num", name="hours")
    scale = lab.cost / dc if dc else 1.0
    sh.calc(10, 1, f"{r['cost']}/{r['dc']}", scale, "dec", name="scale")


def components_sheet(book: Book, sp: ScenarioPlan, names: dict[str, str]) -> None:
    from generator.money import apportion

    sh = Sheet(book, names["Components"], (30, 11, 20, 11, 11, 11, 11, 11, 10, 6, 11, 11, 11, 32), wrap=(0, 13))
    sh.fold(7, 9)  # the apportionment's working
    sh.text(0, 0, f"Components and labour: {sp.name}", "title")
    ds = guide_prices(sp)
    top = 13
    n = len(ds)
    sh.head(top, ("Component", "Phase", "Category", "Guide low", "Guide expected", "Guide high",
                  "Labour share", "Whole dollars", "Remainder", "Rank", "Low", "Expected", "High", "Source"))
    first, last = top + 1, top + n
    col = {k: (xl_rowcol_to_cell(first, c, True, True), xl_rowcol_to_cell(last, c, True, True))
           for k, c in (("phase", 1), ("cat", 2), ("gexp", 4), ("whole", 7), ("rem", 8), ("low", 10),
                        ("exp", 11), ("high", 12))}
    book.ref.update({f"range.{k}": f"{quote_sheetname(sh.name)}!{a}:{b}" for k, (a, b) in col.items()})
    dc = sum(d.expected for d in ds)
    _labour(sh, sp, f"{col['gexp'][0]}:{col['gexp'][1]}", dc)
    cost = sp.labor.cost
    shares = [cost * d.expected / dc if dc else cost / n for d in ds]
    wholes = [int(s // 1) for s in shares]
    rems = [s - w for s, w in zip(shares, wholes, strict=True)]
    expected = apportion(cost, [d.expected for d in ds])
    short_cell = xl_rowcol_to_cell(last + 2, 7, True, True)
    # each remainder's rank: how many are larger, or equal and earlier (what the sheet's SUMPRODUCTs count)
    ranks = [0] * n
    for rank, j in enumerate(sorted(range(n), key=lambda j: (-rems[j], j))):
        ranks[j] = rank
    for i, (d, li) in enumerate(zip(ds, sp.components, strict=True)):
        _component_row(sh, i, first + i, d, li, (shares[i], wholes[i], rems[i]), ranks, col, short_cell)
    assert expected == [li.cost.expected for li in sp.components]
    sh.text(last + 1, 0, "Total build", "bold")
    for k, c, v in (("low", 10, sp.build.low), ("exp", 11, sp.build.expected), ("high", 12, sp.build.high)):
        sh.calc(last + 1, c, f"SUM({col[k][0]}:{col[k][1]})", v, "bold_money", name=f"build.{k}")
    sh.text(last + 2, 0, "Dollars left after whole-dollar shares (given to the largest remainders)", "note")
    sh.calc(last + 2, 7, f"{book.ref['cost']}-SUM({col['whole'][0]}:{col['whole'][1]})",
            cost - sum(wholes), "num", name="short")
    _phases_and_teams(sh, sp, last + 4)
    sh.ws.freeze_panes(top + 1, 1)


def _component_row(sh: Sheet, i: int, row: int, d: GuidePrice, li: LineItem, split: tuple[float, int, float],
                   ranks: list[int], col: dict[str, tuple[str, str]], short_cell: str) -> None:
    r = sh.book.ref
    low, high, share = r[f"c{i}.low"], r[f"c{i}.high"], r[f"c{i}.share"]
    if d.scaled:
        low, high = f"{low}*{r['training_scale']}", f"{high}*{r['training_scale']}"
    sh.text(row, 0, li.name)
    sh.calc(row, 1, r[f"c{i}.phase"], li.phase, "num")
    sh.text(row, 2, li.category)
    sh.calc(row, 3, f"{low}*{share}", d.low, "money")
    if f"c{i}.pos" in r:
        gexp = f"({low}+({high}-{low})*{r[f'c{i}.pos']})*{share}"
    else:
        gexp = f"MIN(MAX({r['training.per_user']}*{r['staff_users']},{low}),{high})*{share}"
    sh.calc(row, 4, gexp, d.expected, "money")
    sh.calc(row, 5, f"{high}*{share}", d.high, "money")
    me = lambda c: xl_rowcol_to_cell(row, c)  # noqa: E731
    sh.calc(row, 6, f"{r['cost']}*{me(4)}/{r['dc']}", split[0], "dec")
    sh.calc(row, 7, f"INT({me(6)})", split[1], "num")
    sh.calc(row, 8, f"{me(6)}-{me(7)}", split[2], "dec")
    rank = ranks[i]
    before = f"+SUMPRODUCT(({col['rem'][0]}:{xl_rowcol_to_cell(row - 1, 8, True, True)}={me(8)})*1)" if i else ""
    sh.calc(row, 9, f"SUMPRODUCT(({col['rem'][0]}:{col['rem'][1]}>{me(8)})*1){before}", rank, "num")
    sh.calc(row, 11, f"{me(7)}+IF({me(9)}<{short_cell},1,0)", li.cost.expected, "money")
    sh.calc(row, 10, f"MIN(INT({me(3)}*{r['scale']}+1E-9),{me(11)})", li.cost.low, "money")
    sh.calc(row, 12, f"MAX(-INT(-({me(5)}*{r['scale']}-1E-9)),{me(11)})", li.cost.high, "money")
    sh.text(row, 13, li.source)


def _phases_and_teams(sh: Sheet, sp: ScenarioPlan, row: int) -> None:
    r = sh.book.ref
    sh.head(row, ("Phase", "", "", "", "", "", "", "", "", "", "Low", "Expected", "High"))
    for i, (phase, total) in enumerate(sp.phases):
        sh.text(row + 1 + i, 0, f"Phase {phase}")
        for c, k, v in ((10, "low", total.low), (11, "exp", total.expected), (12, "high", total.high)):
            sh.calc(row + 1 + i, c, f"SUMIF({r['range.phase']},{phase},{r[f'range.{k}']})", v,
                    name=f"phase{phase}.{k}")
    row += len(sp.phases) + 2
    sh.text(row, 0, "Connected systems and specialty features")
    kinds = ("specialty", *SCOPE_FEATURES, *(c.value for c in Category))
    count = "+".join(f'COUNTIF({r["range.cat"]},"{k}")' for k in kinds)
    systems = sum(1 for li in sp.components if li.category in kinds)  # what the COUNTIF counts
    sh.calc(row, 1, count, systems, "num", name="systems")
    sh.text(row + 1, 0, "Tier (by scope, as the guide defines it)")
    sh.calc(row + 1, 1, f'IF({r["systems"]}>={r["tier.advanced_min_systems"]},"advanced",IF({r["systems"]}>='
                        f'{r["tier.mid_min_systems"]},"mid","basic"))', sp.tier, "text", name="tier")
    row += 3
    sh.head(row, ("The same scope with each team", "Rate", "Overhead", "Effective rate", "", "", "", "", "",
                  "", "Low", "Expected", "High"))
    for i, t in enumerate(sp.teams):
        rr = row + 1 + i
        key = "us" if t.team == "US" else "offshore"
        sh.text(rr, 0, t.team)
        sh.calc(rr, 1, r[f"rate.{key}"], t.rate, "rate")
        sh.calc(rr, 2, r[f"overhead.{key}"], t.overhead_rate, "pct")
        eff = sh.calc(rr, 3, f"{xl_rowcol_to_cell(rr, 1)}*(1+{xl_rowcol_to_cell(rr, 2)})", t.effective_rate, "rate")
        for c, k, v in ((10, "low", t.build.low), (11, "exp", t.build.expected), (12, "high", t.build.high)):
            sh.calc(rr, c, f"ROUND({r[f'build.{k}']}*({eff}/{r['eff']}),0)", v)


# ------------------------------------------------------------------ ownership


def ownership_sheet(book: Book, sp: ScenarioPlan, names: dict[str, str]) -> None:
    r, own, sc = book.ref, sp.ownership, sp.scenario
    years = own.years
    sh = Sheet(book, names["Ownership"], (34, 11, 12, 11, 10, 11, 11, 11) + (11,) * years, wrap=(0,))
    sh.text(0, 0, f"Custom against off-the-shelf over {years} years: {sp.name}", "title")
    sh.head(2, ("Product", "Per provider per month", "Subscription per year", "Extras per year",
                "Yearly increase", "Surcharge", "Switching, going live and the old system",
                "Base per year (with fees both paths pay)")
            + tuple(f"Year {y + 1}" for y in range(years)))
    for i, p in enumerate(own.off_the_shelf):
        row = 3 + i
        cell = lambda c, row=row: xl_rowcol_to_cell(row, c)  # noqa: E731
        sh.text(row, 0, p.product)
        sh.num(row, 1, p.monthly_per_provider, "input_rate")
        sh.calc(row, 2, f"ROUND({cell(1)}*{r['physicians']}*12,0)", p.annual_subscription)
        if p.workbook_extras is None:
            lo, hi = r["offshelf.extras_pct.low"], r["offshelf.extras_pct.high"]
            sh.calc(row, 3, f"ROUND({cell(2)}*(({lo}+{hi})/2),0)", p.annual_extras)
        else:
            sh.calc(row, 3, f"ROUND({p.workbook_extras!r},0)", p.annual_extras)
        sh.num(row, 4, p.annual_increase, "input_pct")
        surcharge_key = f"offshelf.surcharge.{sc.clinic.workflow_specificity.name.lower()}"
        sh.calc(row, 5, f"ROUND({cell(2)}*{r[surcharge_key]},0)", p.customization_surcharge)
        onboard = f"MIN(MAX({r['training.per_user']}*{r['staff_users']},{r['offshelf.onboarding.low']}*{r['training_scale']}),{r['offshelf.onboarding.high']}*{r['training_scale']})"  # noqa: E501
        sh.calc(row, 6, f"ROUND({r['migrating']}*({r['offshelf.migration.low']}+{r['offshelf.migration.high']})/2+{onboard},0)+{r['golive.1']}+{r['legacy_sw']}", p.switching_cost + p.golive + p.legacy)  # noqa: E501
        base = p.annual_subscription + p.annual_extras + p.customization_surcharge + p.fees
        sh.calc(row, 7, f"{cell(2)}+{cell(3)}+{cell(5)}+{r['fees_both']}", base)
        for y in range(years):
            switch = f"+{cell(6)}" if y == 0 else ""
            sh.calc(row, 8 + y, f"ROUND({cell(7)}*(1+{cell(4)})^{y},0){switch}", p.yearly[y])
    _cumulative_block(sh, sp, 4 + len(own.off_the_shelf))
    decision_block(sh, sp, 10 + 2 * len(own.off_the_shelf))
    sh.ws.freeze_panes(3, 1)


def _cumulative_block(sh: Sheet, sp: ScenarioPlan, row: int) -> None:
    r, own = sh.book.ref, sp.ownership
    years, n = own.years, len(own.off_the_shelf)
    sh.head(row, ("Cumulative cost at the end of each year", "", "", "", "", "", "", "")
            + tuple(f"Year {y + 1}" for y in range(years)))
    sh.text(row + 1, 0, "Custom build", "bold")
    for y in range(years):
        prev = f"{xl_rowcol_to_cell(row + 1, 7 + y)}+" if y else ""
        sh.calc(row + 1, 8 + y, f"{prev}{r[f'year{y}']}", own.custom_cumulative[y], name=f"custom_cum{y}")
    for i, p in enumerate(own.off_the_shelf):
        rr = row + 2 + i
        sh.text(rr, 0, p.product)
        for y in range(years):
            prev = f"{xl_rowcol_to_cell(rr, 7 + y)}+" if y else ""
            sh.calc(rr, 8 + y, f"{prev}{xl_rowcol_to_cell(3 + i, 8 + y)}", p.cumulative[y])
    last = 8 + years - 1
    finals = f"{xl_rowcol_to_cell(row + 2, last, True, True)}:{xl_rowcol_to_cell(row + 1 + n, last, True, True)}"
    names = f"{xl_rowcol_to_cell(row + 2, 0, True, True)}:{xl_rowcol_to_cell(row + 1 + n, 0, True, True)}"
    pick = f"MATCH(MIN({finals}),{finals},0)"
    rr = row + 2 + n
    sh.text(rr, 0, "Cheapest product over the horizon", "bold")
    sh.calc(rr, 1, f"INDEX({names},{pick})", own.cheapest_product, "text", name="cheapest")
    cheapest = own.product(own.cheapest_product)
    for y in range(years):
        col = (xl_rowcol_to_cell(row + 2, 8 + y, True, False), xl_rowcol_to_cell(row + 1 + n, 8 + y, True, False))
        sh.book.ref[f"cheapest_cum{y}"] = sh.calc(rr, 8 + y, f"INDEX({col[0]}:{col[1]},{pick})",
                                                  cheapest.cumulative[y],
                                                  name="cheapest_final" if y == years - 1 else None)
    sh.text(rr + 1, 0, "Custom cheaper than the cheapest product (year)")
    for y in range(years):
        flag = y + 1 if own.custom_cumulative[y] < cheapest.cumulative[y] else ""
        sh.calc(rr + 1, 8 + y, f'IF({xl_rowcol_to_cell(row + 1, 8 + y)}<{xl_rowcol_to_cell(rr, 8 + y)},{y + 1},"")',
                flag, "num")
    flags = f"{xl_rowcol_to_cell(rr + 1, 8)}:{xl_rowcol_to_cell(rr + 1, last)}"
    sh.text(rr + 2, 0, "Break-even year", "bold")
    be = own.break_even_year if own.break_even_year is not None else "none"
    sh.calc(rr + 2, 1, f'IF(COUNT({flags})=0,"none",MIN({flags}))', be, "num", name="break_even")


# ------------------------------------------------------------------ summary, assumptions, risk


def summary_column(sh: Sheet, sp: ScenarioPlan, col: int) -> None:
    r, own = sh.book.ref, sp.ownership
    cheapest = own.product(own.cheapest_product)
    last = own.years - 1
    rows: list[tuple[str, float | str, str]] = [
        (f"{r['build.low']}", sp.build.low, "money"), (f"{r['build.exp']}", sp.build.expected, "bold_money"),
        (f"{r['build.high']}", sp.build.high, "money"), (r["tier"], sp.tier, "text"),
        (r["hours"], sp.labor.hours, "num"), (r["cost"], sp.labor.cost, "money"),
        (f"{r['p1']}+{r['up.1']}", own.year_one_capital, "money"),
        (f"{r['build.exp']}+{r['up.1']}", own.all_at_once_capital, "money"),
        (r["annual.exp"], sp.run.annual.expected, "money"), (r["total.exp"], sp.run.total.expected, "money"),
        (r[f"custom_cum{last}"], own.custom_cumulative[-1], "money"), (r["cheapest"], own.cheapest_product, "text"),
        (r["cheapest_final"], cheapest.cumulative[-1], "money"),
        (r["break_even"], own.break_even_year if own.break_even_year is not None else "none", "num"),
        (r["path"], own.recommendation.path, "text"), (r["headline"], own.recommendation.headline, "wrap"),
    ]
    sh.text(4, col, sp.name, "head")
    for i, (formula, value, fmt) in enumerate(rows):
        sh.calc(5 + i, col, formula, value, fmt)
    # what to budget, as the report's executive summary words it: the build (its P80 where the risk
    # analysis ran) on the custom path, the cheapest product's first year otherwise
    build = r["budget"] if sp.risk is not None else r["build.exp"]
    sh.calc(5 + len(rows), col, f'IF({r["path"]}="{CUSTOM}",{build},{r["cheapest_cum0"]})', sp.what_to_budget[0],
            "bold_money")
    if sp.risk is not None:
        sh.calc(6 + len(rows), col, r["budget"], sp.risk.recommended_budget, "money")
    else:
        sh.text(6 + len(rows), col, "not analysed", "note")


SUMMARY_LABELS = ("Build cost, low", "Build cost, expected", "Build cost, high", "Tier", "Development hours",
                  "Build labour cost", "Year-one capital (phased)", "Year-one capital (all at once)",
                  "Run costs per year, expected", "Running cost per year with the allowance and fees",
                  "Custom build, cost over the horizon",
                  "Cheapest off-the-shelf product", "Its cost over the horizon", "Break-even year",
                  "Recommended path", "Recommendation", "What to budget (as advised)", "Recommended budget (P80)")


def summary_sheet(book: Book, plan: Plan, logo: Any) -> Sheet:
    sh = Sheet(book, "Summary", (40,) + (30,) * len(plan.scenarios))
    clinic = plan.intake.base.clinic
    sh.text(0, 0, book.firm or "Custom EHR budget", "title")
    sh.text(1, 0, f"{clinic.name}: custom EHR budget")
    sh.text(2, 0, f"Report date {plan.generated.isoformat()}; source {plan.intake.source}", "note")
    sh.text(4, 0, "Figure", "head")
    for i, label in enumerate(SUMMARY_LABELS):
        sh.text(5 + i, 0, label)
    sh.ws.set_row(5 + SUMMARY_LABELS.index("Recommendation"), 45)  # the headline, wrapped: spreadsheets
    # do not grow a row for a formula's wrapped text
    if logo is not None and logo.suffix.lower() in (".png", ".jpg", ".jpeg"):
        sh.ws.insert_image(0, 2, str(logo), {"x_scale": 0.5, "y_scale": 0.5, "object_position": 3})
    sh.ws.freeze_panes(5, 1)
    return sh


def assumptions_sheet(book: Book, plan: Plan) -> None:
    sh = Sheet(book, "Assumptions", (34, 12, 34, 14, 50), wrap=(2, 4))
    sh.text(0, 0, "Assumptions and sources (the rate card)", "title")
    sh.head(2, ("Key", "Value", "Source", "Basis", "Note"))
    for i, e in enumerate(plan.intake.base.card):
        sh.text(3 + i, 0, e.key)
        sh.num(3 + i, 1, e.value, "dec")
        sh.text(3 + i, 2, e.cited)
        sh.text(3 + i, 3, "workbook" if e.is_override else ("our assumption" if e.is_assumption else "cited"))
        sh.text(3 + i, 4, e.note)
    sh.ws.freeze_panes(3, 1)


def risk_sheet(book: Book, sp: ScenarioPlan, names: dict[str, str]) -> None:
    risk = sp.risk
    assert risk is not None  # the sheet is written only for a scenario the risk stage analysed
    sh = Sheet(book, names["Risk"], (34, 12, 12, 12, 12, 12, 36), wrap=(0, 6))
    sh.text(0, 0, f"Uncertainty (Monte Carlo results, values): {sp.name}", "title")
    sh.head(2, ("Figure", "Build cost", "Cost over the horizon"))
    percentiles = (("P10", risk.p10, risk.tco_p10), ("P50", risk.p50, risk.tco_p50),
                   ("P80", risk.p80, risk.tco_p80), ("P90", risk.p90, risk.tco_p90))
    for i, (name, build, tco) in enumerate(percentiles):
        sh.text(3 + i, 0, name)
        sh.num(3 + i, 1, build)
        sh.num(3 + i, 2, tco)
    row = 8
    for label, value in (("Expected build", risk.point), ("Contingency", risk.contingency),
                         ("Recommended budget (P80)", risk.recommended_budget), ("NPV, custom", risk.npv_custom)):
        sh.text(row, 0, label)
        sh.num(row, 1, value, "bold_money" if label.startswith("Recommended") else "money",
               name="budget" if label.startswith("Recommended") else None)
        row += 1
    if risk.sensitivity:
        sh.head(row + 1, ("Input", "Build at low", "Build at high", "Swing", "Input low", "Input high", "Source"))
        for i, s in enumerate(risk.sensitivity):
            rr = row + 2 + i
            sh.text(rr, 0, s.name)
            for c, figure in ((1, s.low), (2, s.high), (3, s.swing)):
                sh.num(rr, c, figure)
            unit = {"share": "pct", "$ per hour": "rate", "$ per month": "money"}.get(s.unit, "money")
            sh.num(rr, 4, s.input_low, unit)
            sh.num(rr, 5, s.input_high, unit)
            sh.text(rr, 6, s.source)
    sh.ws.freeze_panes(3, 1)


# ------------------------------------------------------------------ the workbook


def render(plan: Plan, settings: Settings) -> bytes:
    from generator.render.document import accent

    out = io.BytesIO()
    wb = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                   "strings_to_numbers": False})
    created = dt.datetime.combine(plan.generated, dt.time(0, 0), tzinfo=dt.UTC)
    firm = settings.branding.firm
    wb.set_properties({"title": f"{plan.intake.base.clinic.name}: custom EHR budget", "author": firm or "clinic-budget",
                       "company": firm, "comments": f"clinic-budget {plan.version}", "created": created})
    book = Book(wb, accent(settings), firm)
    summary = summary_sheet(book, plan, settings.branding.logo)
    multi = len(plan.scenarios) > 1
    taken = {"summary", "assumptions"}
    for i, sp in enumerate(plan.scenarios):
        names = sheet_names(i, multi, sp.name, taken)
        book.ref = {}
        inputs_sheet(book, sp, names)
        components_sheet(book, sp, names)
        run_sheet(book, sp, names)
        cash_sheet(book, sp, names)
        ownership_sheet(book, sp, names)
        if sp.risk is not None:
            risk_sheet(book, sp, names)
        add_charts(book, sp, names)
        if i == 0:
            quotes_sheets(book, plan, sp)
        summary_column(summary, sp, 1 + i)
    assumptions_sheet(book, plan)
    wb.close()
    return out.getvalue()
