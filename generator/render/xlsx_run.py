"""budget.xlsx's Run costs and Cash flow sheets: the custom build's running costs (the guide's
upkeep, the underestimation allowance, the third-party fees), what going live costs (the
productivity dip, the old system until then), server replacement, and the quarter-by-quarter cash
flow, as live formulas restating plan/costs.py (`custom_quarters`), each written with its
computed value. The quotes' cash flow (xlsx_quotes.py) builds on the same formulas."""

from __future__ import annotations

from xlsxwriter.utility import xl_rowcol_to_cell

from generator.model import FEE_STARTS, TRAINING, Hosting, ScenarioPlan
from generator.render.xlsx_sheet import Book, Sheet

InputRow = tuple[str, str, float, str, str]


def beyond_inputs(sp: ScenarioPlan) -> list[InputRow]:
    """The Inputs sheet's rows for what the clinic pays beyond the build (name, label, value,
    format, source)."""
    sc = sp.scenario
    card, clinic = sc.card, sc.clinic

    def c(key: str, label: str, fmt: str) -> InputRow:
        return key, label, card.value(key), fmt, card.entry(key).cited

    rows = [
        c("golive.dip.low", "Go-live productivity dip per physician, low", "money"),
        c("golive.dip.high", "Go-live productivity dip per physician, high", "money"),
        ("legacy", "An old EHR runs until go-live (1 yes, 0 no)", int(sp.run.legacy > 0), "num", "workbook"),
        c("legacy.monthly", "Old EHR per provider per month", "money"),
        c("offshelf.golive_quarters", "Quarters to go live on a product", "num"),
    ]
    for key in dict.fromkeys(f.key for f in sp.run.fees):
        name = next(f.name for f in sp.run.fees if f.key == key)
        rows += [c(f"fees.{key}.{end}", f"{name} per year, {end}", "money") for end in ("low", "high")]
    if clinic.hosting is Hosting.ONPREM:
        rows.append(c("hosting.onprem.refresh_years", "On-premise servers replaced after (years)", "num"))
    return rows


# ------------------------------------------------------------------ run costs


def run_sheet(book: Book, sp: ScenarioPlan, names: dict[str, str]) -> None:
    r, run, sc = book.ref, sp.run, sp.scenario
    sh = Sheet(book, names["Run costs"], (40, 11, 11, 11, 8, 8, 10), wrap=(0,))
    sh.text(0, 0, f"Run costs per year: {sp.name}", "title")
    sh.head(2, ("Per year", "Low", "Expected", "High"))
    sh.text(10, 0, "Clinic size position in the guide's hosting ranges")
    sh.calc(10, 1, f"MIN(MAX(({r['physicians']}-1)/MAX({r['hosting.full_size_physicians']}-1,1),0),1)",
            run.size_position, "pct", name="size_pos")
    sh.text(11, 0, "Size scale beyond the top of the guide's hosting range")
    sh.calc(11, 1, f"MAX(1,{r['physicians']}/{r['hosting.full_size_physicians']})", run.size_scale, "dec",
            name="size_scale")
    sh.text(12, 0, "User support beyond the guide's sizes, as a build's maintenance (the guide's example build "
                   "x its support part x the staff users' scale less 1)")
    sh.calc(12, 1, f"{r['maintenance.example.build']}*{r['support.share_of_maintenance']}*({r['training_scale']}-1)",
            run.support_base, "money", name="support_base")
    hosting, upfront = (run.hosting[0], run.hosting_expected, run.hosting[1]), run.onprem_upfront
    sh.text(3, 0, "Maintenance (share of the expected build)")
    sh.calc(3, 1, f"ROUND({r['build.exp']}*{r['maintenance.low_pct']},0)", run.maintenance[0], name="m.low")
    sh.calc(3, 3, f"ROUND({r['build.exp']}*{r['maintenance.high_pct']},0)", run.maintenance[1], name="m.high")
    sh.calc(3, 2, f"ROUND(({r['m.low']}+{r['m.high']})/2,0)", run.maintenance_expected, name="m.exp")
    sh.text(4, 0, "User support beyond the guide's clinic size (grows with the staff users)")
    lo_m, hi_m = r["maintenance.low_pct"], r["maintenance.high_pct"]
    for c, (end, share, v) in enumerate(zip(("low", "exp", "high"), (lo_m, f"(({lo_m}+{hi_m})/2)", hi_m),
                                            (run.support[0], run.support_expected, run.support[1]), strict=True)):
        sh.calc(4, 1 + c, f"ROUND({r['support_base']}*{share},0)", v, name=f"s.{end}")
    sh.text(5, 0, f"Hosting ({sc.clinic.hosting.value})")
    sh.text(8, 0, "On-premise servers up front")
    k = r["size_scale"]
    if sc.clinic.hosting is Hosting.ONPREM:
        lo, hi, pct = r["hosting.onprem.upfront.low"], r["hosting.onprem.upfront.high"], r["hosting.onprem.annual_pct"]
        forms = (f"ROUND({lo}*{k},0)", f"ROUND(({lo}+({hi}-{lo})*{r['size_pos']})*{k},0)", f"ROUND({hi}*{k},0)")
        for c, (f, v) in enumerate(zip(forms, upfront, strict=True)):
            up = sh.calc(8, 1 + c, f, v, name=f"up.{c}")
            sh.calc(5, 1 + c, f"ROUND({up}*{pct},0)", hosting[c], name=f"h.{c}")
    else:
        lo, hi = r["hosting.cloud.monthly.low"], r["hosting.cloud.monthly.high"]
        forms = (f"ROUND({lo}*12*{k},0)", f"ROUND(({lo}+({hi}-{lo})*{r['size_pos']})*12*{k},0)",
                 f"ROUND({hi}*12*{k},0)")
        for c, (f, v) in enumerate(zip(forms, hosting, strict=True)):
            sh.calc(5, 1 + c, f, v, name=f"h.{c}")
            sh.num(8, 1 + c, 0, name=f"up.{c}")
    training = [f"SUMIF({r['range.cat']},\"{TRAINING}\",{r[f'range.{k}']})" for k in ("low", "exp", "high")]
    updates = (run.training_updates[0], run.training_updates_expected, run.training_updates[1])
    sh.text(6, 0, "Training updates (share of staff training)")
    for c, (f, v) in enumerate(zip(training, updates, strict=True)):
        sh.calc(6, 1 + c, f"ROUND({f}*{r['training.updates_pct']},0)", v, name=f"u.{c}")
    sh.text(7, 0, "Maintenance, user support, hosting and training updates", "bold")
    for c, (end, v) in enumerate(zip(("low", "exp", "high"), (run.annual.low, run.annual.expected, run.annual.high),
                                     strict=True)):
        sh.calc(7, 1 + c, f"{r[f'm.{end}']}+{r[f's.{end}']}+{r[f'h.{c}']}+{r[f'u.{c}']}", v, "bold_money",
                name=f"annual.{end}")
    lo_pct, hi_pct = (sc.card.value(f"underestimate.{e}_pct") * 100 for e in ("low", "high"))
    sh.text(13, 0, f"What a {lo_pct:g}-{hi_pct:g}% underestimate of run costs leaves out, per year")
    sh.calc(13, 1, f"ROUND({r['annual.exp']}*{r['underestimate.low_pct']},0)", run.underestimate[0])
    sh.calc(13, 3, f"ROUND({r['annual.exp']}*{r['underestimate.high_pct']},0)", run.underestimate[1])
    _beyond(sh, sp, 15)
    sh.ws.freeze_panes(3, 1)


def _beyond(sh: Sheet, sp: ScenarioPlan, row: int) -> None:
    """The allowance, the third-party fees, the all-in running cost, the go-live dip, the old
    system and server replacement."""
    r, run = sh.book.ref, sp.run
    lo, hi = r["underestimate.low_pct"], r["underestimate.high_pct"]
    sh.text(row, 0, "Allowance: that underestimation, costed (expected at its middle)")
    for c, (f, v) in enumerate(zip((f"{r['annual.low']}*{lo}", f"{r['annual.exp']}*(({lo}+{hi})/2)",
                                    f"{r['annual.high']}*{hi}"),
                                   (run.allowance.low, run.allowance.expected, run.allowance.high), strict=True)):
        sh.calc(row, 1 + c, f"ROUND({f},0)", v, name=f"allow.{c}")
    sh.text(row + 1, 0, "Starts: 0 in year one, 1 at phase 1's go-live, 2 at phase 2's; both paths: 1 when a "
                        "product's path pays the fee too", "note")
    sh.head(row + 2, ("Third-party fees per year", "Low", "Expected", "High", "Count", "Starts", "Both paths"))
    first = row + 3
    for i, fee in enumerate(run.fees):
        rr = first + i
        key = f"fees.{fee.key}"
        if fee.basis == "per provider":
            count = sh.calc(rr, 4, r["physicians"], fee.count, "num")
        else:
            count = sh.num(rr, 4, fee.count, "input")
        sh.text(rr, 0, f"{fee.name} ({fee.basis})")
        sh.calc(rr, 1, f"ROUND({r[key + '.low']}*{count},0)", fee.cost.low)
        sh.calc(rr, 2, f"ROUND(({r[key + '.low']}+{r[key + '.high']})/2*{count},0)", fee.cost.expected)
        sh.calc(rr, 3, f"ROUND({r[key + '.high']}*{count},0)", fee.cost.high)
        sh.num(rr, 5, FEE_STARTS.index(fee.start), "input")
        sh.num(rr, 6, int(fee.both_paths), "input")
    last = first + max(len(run.fees), 1) - 1
    col = {c: (xl_rowcol_to_cell(first, c, True, True), xl_rowcol_to_cell(last, c, True, True)) for c in range(7)}
    span = {c: f"{a}:{b}" for c, (a, b) in col.items()}
    row = last + 1
    sh.text(row, 0, "Third-party fees, all in use", "bold")
    for c, v in enumerate((run.fees_total.low, run.fees_total.expected, run.fees_total.high)):
        sh.calc(row, 1 + c, f"SUM({span[1 + c]})", v, "bold_money", name=f"fees.{c}")
    sh.text(row + 1, 0, "Running cost per year, all in use", "bold")
    for c, v in enumerate((run.total.low, run.total.expected, run.total.high)):
        end = ("low", "exp", "high")[c]
        sh.calc(row + 1, 1 + c, f"{r[f'annual.{end}']}+{r[f'allow.{c}']}+{r[f'fees.{c}']}", v, "bold_money",
                name=f"total.{end}")
    starts = [0.0, 0.0, 0.0]
    for fee in run.fees:
        starts[FEE_STARTS.index(fee.start)] += fee.cost.expected
    row += 3
    for s, label in enumerate(("Fees from year one", "Fees from phase 1's go-live", "Fees from phase 2's go-live")):
        sh.text(row + s, 0, label)
        sh.calc(row + s, 2, f"SUMIF({span[5]},{s},{span[2]})", starts[s], name=f"fees_from{s}")
    both = sum(f.cost.expected for f in run.fees if f.both_paths)
    sh.text(row + 3, 0, "Fees a product's path pays too")
    sh.calc(row + 3, 2, f"SUMIF({span[6]},1,{span[2]})", both, name="fees_both")
    row += 5
    sh.head(row, ("Going live and replacing", "Low", "Expected", "High"))
    sh.text(row + 1, 0, "Productivity dip per go-live (whole clinic)")
    for c, (key, v) in enumerate(zip(("low", "mid", "high"), (run.golive.low, run.golive.expected, run.golive.high),
                                     strict=True)):
        dip = (f"({r['golive.dip.low']}+{r['golive.dip.high']})/2" if key == "mid" else r[f"golive.dip.{key}"])
        sh.calc(row + 1, 1 + c, f"ROUND({dip}*{r['physicians']},0)", v, name=f"golive.{c}")
    sh.text(row + 2, 0, "Old EHR per year, until the new system is live")
    sh.calc(row + 2, 2, f"ROUND({r['legacy.monthly']}*12*{r['physicians']}*{r['legacy']},0)", run.legacy,
            name="legacy_y")
    sh.text(row + 3, 0, "Old EHR until a product is live (once, on a switch)")
    shelf = sp.ownership.off_the_shelf[0].legacy
    sh.calc(row + 3, 2, f"ROUND({r['legacy_y']}*{r['offshelf.golive_quarters']}/4,0)", shelf, name="legacy_sw")
    sh.text(row + 4, 0, "On-premise servers replaced after (years; 0: none)")
    refresh = r.get("hosting.onprem.refresh_years")
    sh.calc(row + 4, 2, f"MAX(1,ROUND({refresh},0))" if refresh else "0", run.refresh_years, "num", name="refresh")


# ------------------------------------------------------------------ cash flow


def build_formula(r: dict[str, str], qc: str, p1: str, p2: str, years: int) -> str:
    """The build paid in quarter `qc` (costs.schedule): phase 1 in equal whole dollars over its
    quarters, the servers in its last and again every `refresh` years, phase 2 over year two."""
    n1 = r["phase1_quarters"]
    out = (f"IF({qc}<{n1},INT({p1}/{n1})+IF({qc}<{p1}-{n1}*INT({p1}/{n1}),1,0),0)"
           f"+IF({qc}={n1}-1,{r['up.1']},0)"
           f"+IF(AND({r['refresh']}>0,{qc}>{n1}-1),IF(MOD({qc}-({n1}-1),4*MAX({r['refresh']},1))=0,{r['up.1']},0),0)")
    if years > 1:
        out += f"+IF(AND({qc}>=4,{qc}<8),INT({p2}/4)+IF({qc}-4<{p2}-4*INT({p2}/4),1,0),0)"
    return out


def run_formula(r: dict[str, str], qc: str, p1: str, p2: str, share: str) -> str:
    """The running cost in quarter `qc` (costs.custom_quarters): upkeep on what is live (maintenance
    with the user support beyond the guide's sizes) with the allowance, and the fees from their
    start, a quarter of a year's, escalating."""
    n1 = r["phase1_quarters"]
    allow = f"(1+({r['underestimate.low_pct']}+{r['underestimate.high_pct']})/2)"
    deliv = f"(IF({qc}>={n1},{p1},0)+IF({qc}>=8,{p2},0))"
    upkeep = f"IF({qc}>={n1},({r['fixed']}+{r['support_base']}*{share}+{deliv}*{share})*{allow},0)"
    fees = f"{r['fees_from0']}+IF({qc}>={n1},{r['fees_from1']},0)+IF({qc}>=8,{r['fees_from2']},0)"
    return f"ROUND(({upkeep}+{fees})/4*(1+{r['offshelf.increase_pct']})^INT({qc}/4),0)"


def cash_sheet(book: Book, sp: ScenarioPlan, names: dict[str, str]) -> None:
    r, own = book.ref, sp.ownership
    sh = Sheet(book, names["Cash flow"], (16, 8, 14, 14, 14, 14))
    sh.text(0, 0, f"Quarterly cash flow (expected): {sp.name}", "title")
    p1 = sum(li.cost.expected for li in sp.components if li.phase == 1)
    sh.text(1, 0, "Phase 1 build")
    sh.calc(1, 2, f"SUMIF({r['range.phase']},1,{r['range.exp']})", p1, name="p1")
    sh.text(2, 0, "Later phases")
    sh.calc(2, 2, f"{r['build.exp']}-{r['p1']}", sp.build.expected - p1, name="p2")
    sh.text(3, 0, "Maintenance share")
    sh.calc(3, 2, f"({r['maintenance.low_pct']}+{r['maintenance.high_pct']})/2", sp.run.maintenance_share, "pct",
            name="mpct")
    fixed = sp.run.hosting_expected + sp.run.training_updates_expected
    sh.text(4, 0, "Hosting and training updates per year")
    sh.calc(4, 2, f"{r['h.1']}+{r['u.1']}", fixed, name="fixed")
    sh.head(6, ("Quarter", "Index", "Build", "Run", "Going live", "Total"))
    n1, p1r, p2r = r["phase1_quarters"], r["p1"], r["p2"]
    golive = f"{r['golive.1']}"
    for q, quarter in enumerate(own.cash_flow):
        row = 7 + q
        sh.text(row, 0, quarter.label)
        sh.num(row, 1, q, "num")
        qc = xl_rowcol_to_cell(row, 1)
        sh.calc(row, 2, build_formula(r, qc, p1r, p2r, own.years), quarter.build)
        sh.calc(row, 3, run_formula(r, qc, p1r, p2r, r["mpct"]), quarter.run)
        sh.calc(row, 4, f"ROUND(IF({qc}<{n1},{r['legacy_y']}/4,0)+IF({qc}={n1},{golive},0)"
                        f"+IF(AND({qc}=8,{p2r}>0),{golive},0),0)", quarter.launch)
        sh.calc(row, 5, f"{xl_rowcol_to_cell(row, 2)}+{xl_rowcol_to_cell(row, 3)}+{xl_rowcol_to_cell(row, 4)}",
                quarter.total)
    row = 8 + len(own.cash_flow)
    sh.head(row, ("Year", "", "", "", "Going live", "Total"))
    for y in range(own.years):
        sh.text(row + 1 + y, 0, f"Year {y + 1}")
        cells = [(xl_rowcol_to_cell(7 + 4 * y, c), xl_rowcol_to_cell(10 + 4 * y, c)) for c in (4, 5)]
        sh.calc(row + 1 + y, 4, f"SUM({cells[0][0]}:{cells[0][1]})",
                sum(q.launch for q in own.cash_flow[4 * y: 4 * y + 4]), name=f"launch{y}")
        sh.calc(row + 1 + y, 5, f"SUM({cells[1][0]}:{cells[1][1]})", own.custom_yearly[y], name=f"year{y}")
    sh.ws.freeze_panes(7, 1)
