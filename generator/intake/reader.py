"""The intake stage: an intake workbook (../shared/intake-spec.md) into a validated `Intake`.

Every sheet is read and every problem collected before anything is built, so one
`IntakeError` lists all of a workbook's problems. Warnings (unknown labels or columns, a
percentage typed as `5`) do not stop the run; they travel in `Intake.warnings`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.errors import IntakeError, one_line
from generator.intake import fields, schema
from generator.intake.report import INVALID, PLAUSIBLE, Report, _usable  # noqa: F401 - quote_sheet's too
from generator.intake.slug import slugify
from generator.intake.workbook import FORM, TABLE, Book, Cell, Sheet, Table, normalize, read_book, table
from generator.model import (
    KNOWN_MODULES,
    MODULES_BY_NAME,
    Clinic,
    Complexity,
    Intake,
    Integration,
    KnownModule,
    ModuleChoice,
    Records,
    Scenario,
    Subscription,
)
from generator.ratecard import Entry, RateCard, closest, default_card, is_low_end, partner, suggest

BASELINE = "Baseline"
SHEETS = (schema.CLINIC_SHEET, schema.MODULES_SHEET, schema.INTEGRATIONS_SHEET,
          schema.SUBSCRIPTIONS_SHEET, schema.QUOTES_SHEET, schema.SCENARIOS_SHEET, schema.ASSUMPTIONS_SHEET)
SPECIALTY_PHASE = 2
def is_percent_key(key: str) -> bool:
    """Whether a rate-card key holds a share (a fraction 0..1): its `unit` in the rate card says."""
    entry = default_card().entries.get(key)
    return entry is not None and entry.is_share


def _dollars(x: float) -> str:
    return f"${x:,.0f}"


# ---------------------------------------------------------------- sheets


def _locate(book: Book, rep: Report) -> dict[str, Sheet | None]:
    found: dict[str, Sheet | None] = {}
    for name in SHEETS:
        titles = book.matching(name)
        for extra in titles[1:]:
            message = f"another sheet ({fields.show(titles[0])}) is also named '{name}'; keep one"
            rep.on_sheet(extra, None, message)
        window = FORM if name == schema.CLINIC_SHEET else TABLE
        sheet = book.sheet(titles[0], window) if titles else None
        if sheet is not None and sheet.overflow:
            rep.on_sheet(sheet.title, None, window.outside(sheet.overflow))
        found[name] = sheet
    known = {normalize(n): n for n in SHEETS}
    for title in book.titles:
        close = difflib.get_close_matches(normalize(title), list(known), n=1, cutoff=0.85)
        if normalize(title) not in known and close and found[known[close[0]]] is None:
            rep.warn(title, None, None, f"this sheet is ignored; did you mean '{known[close[0]]}'?")
    if found[schema.CLINIC_SHEET] is None:
        hint = suggest(schema.CLINIC_SHEET, book.titles)
        rep.on_sheet(None, None, "the workbook has no 'Clinic' sheet; add one with the labels in "
                     f"column A and their values in column B{hint}")
    return found


def _clinic(sheet: Sheet, rep: Report) -> dict[str, Any]:
    """The Clinic form: attr -> value (None when blank, INVALID when wrong)."""
    by_label = {normalize(f.label): f for f in schema.CLINIC_FIELDS}
    seen: dict[str, Cell] = {}
    values: dict[str, Any] = {}
    unknown: list[Cell] = []  # labels that match no field but carry a value
    for row, cells in sheet.ordered():
        label = cells.get(1)
        if label is None or label.formula is not None:
            continue
        value_cell = sheet.cell(row, 2)
        fld = by_label.get(normalize(label.value))
        if fld is None:
            if not value_cell.blank:
                unknown.append(label)
            continue
        if fld.attr in seen:
            first = seen[fld.attr].coordinate
            rep.at(label, fld.label, f"the label appears twice (first at {first}); keep one row")
            continue
        seen[fld.attr] = label
        values[fld.attr] = rep.read(value_cell, fld)
    _unknown_labels(sheet, unknown, seen, rep)
    return values


def _unknown_labels(sheet: Sheet, unknown: list[Cell], seen: dict[str, Cell], rep: Report) -> None:
    """Unknown labels are warnings, unless one looks like a required field that is missing: then
    the error points at that label, which is almost surely a typo, rather than at a missing row."""
    labels = [f.label for f in schema.CLINIC_FIELDS]
    typo_for: dict[str, Cell] = {}
    for label in unknown:
        guess = closest(fields.as_text(label.value), labels)
        fld = next((f for f in schema.CLINIC_FIELDS if f.label == guess), None)
        if fld is not None and fld.required and fld.attr not in seen and fld.attr not in typo_for:
            typo_for[fld.attr] = label
            rep.at(label, fld.label, f"unknown label {fields.show(label.value)}; did you mean '{fld.label}'? "
                                     "It is a required field")
            continue
        rep.warn(sheet.title, label.coordinate, None, f"unknown label {fields.show(label.value)} "
                 f"(its value is ignored){suggest(fields.as_text(label.value), labels)}")
    for fld in schema.CLINIC_FIELDS:
        if fld.required and fld.attr not in seen and fld.attr not in typo_for:
            rep.on_sheet(sheet.title, fld.label, "required field is missing; add a row "
                         f"'{fld.label}' with its value in column B")


def _columns(tbl: Table, columns: tuple[schema.Field, ...], rep: Report) -> dict[str, int] | None:
    """attr -> column of a table's known headers; None when a required column is missing."""
    by_label = {normalize(f.label): f for f in columns}
    found: dict[str, int] = {}
    for col, cell in sorted(tbl.headers.items()):
        fld = by_label.get(normalize(cell.value))
        if fld is None:
            hint = suggest(fields.as_text(cell.value), [f.label for f in columns])
            rep.warn(cell.sheet, cell.coordinate, None,
                     f"unknown column {fields.show(cell.value)} (its values are ignored){hint}")
        elif fld.attr in found:
            first = tbl.sheet.cell(tbl.header_row, found[fld.attr]).coordinate
            rep.at(cell, fld.label, f"the column appears twice (first at {first}); keep one")
        else:
            found[fld.attr] = col
    missing = [f for f in columns if f.required and f.attr not in found]
    for fld in missing:
        names = ", ".join(f.label for f in columns)
        rep.on_sheet(tbl.sheet.title, fld.label, f"no '{fld.label}' column; the first row must be "
                     f"the header, naming the columns: {names}")
    return None if missing else found


def _rows(sheet: Sheet | None, columns: tuple[schema.Field, ...], rep: Report,
          unparsed: tuple[str, ...] = ()) -> Iterable[tuple[dict[str, Any], dict[str, Cell]]]:
    """Each non-empty row of a table sheet as (attr -> value, attr -> cell); the columns in
    `unparsed` are left for the caller to read from the cell."""
    tbl = table(sheet) if sheet is not None else None
    cols = _columns(tbl, columns, rep) if tbl is not None else None
    if tbl is None or cols is None:
        return
    for row, _cells in _limited(tbl, set(cols.values()), rep):
        cells = {attr: tbl.sheet.cell(row, col) for attr, col in cols.items()}
        values = {f.attr: rep.read(cells[f.attr], f) if f.attr in cells else None
                  for f in columns if f.attr not in unparsed}
        yield values, cells


def _limited(tbl: Table, columns: set[int], rep: Report) -> Iterable[tuple[int, dict[int, Cell]]]:
    """The table's non-empty rows, up to the sheet's row limit (intake-spec.md, "Limits"); a row
    past it is one error naming its first cell, and the rows after it are not read."""
    limit = schema.ROW_LIMITS.get(_canonical(tbl.sheet.title))
    for count, (row, cells) in enumerate(tbl.body(columns), start=1):
        if limit is not None and count > limit:
            first = min((c for c in cells if c in columns), default=1)
            what = "scenarios" if limit == schema.ROW_LIMITS[schema.SCENARIOS_SHEET] else "rows"
            rep.at(tbl.sheet.cell(row, first), None, f"the sheet holds more than {limit} {what}, the most an "
                   f"intake workbook may have; this row and those after it are not read")
            return
        yield row, cells


def _canonical(title: str) -> str:
    """The contract's name of a sheet (`Modules`) from its title (` modules: `)."""
    return next((name for name in SHEETS if normalize(name) == normalize(title)), title)


# ---------------------------------------------------------------- modules


@dataclass(frozen=True)
class ModuleRow:
    """A row of the Modules sheet; None in `values` means the cell was blank."""

    name: str
    known: KnownModule | None
    values: Mapping[str, Any]


def _modules(sheet: Sheet | None, card: RateCard, rep: Report) -> list[ModuleRow]:
    rows: list[ModuleRow] = []
    seen: dict[str, Cell] = {}
    for values, cells in _rows(sheet, schema.MODULE_COLUMNS, rep):
        name = values["name"]
        if name is None or name is INVALID:
            continue
        key = normalize(name)
        if key in seen:
            rep.at(cells["name"], "Module", f"module {fields.show(name)} is listed twice (first in row "
                   f"{seen[key].row}); keep one row")
            continue
        seen[key] = cells["name"]
        known = MODULES_BY_NAME.get(key)
        _check_costs(known, values, cells, card, rep)
        rows.append(ModuleRow(known.name if known else name, known, values))
    return rows


def _check_costs(known: KnownModule | None, values: Mapping[str, Any], cells: Mapping[str, Cell],
                 card: RateCard, rep: Report) -> None:
    low, high = values["low"], values["high"]
    if low is INVALID or high is INVALID:
        return
    if known is None:
        needs = f"a specialty feature ({fields.show(values['name'])}) needs its cost range"
        for attr, label in (("low", "Low cost"), ("high", "High cost")):
            if values[attr] is None and attr in cells:
                rep.at(cells[attr], label, f"{needs}; expected an amount in USD, 0 or more, "
                       f"{fields.MONEY_EXAMPLE}")
            elif values[attr] is None:
                rep.at(cells["name"], label, f"{needs}; add a '{label}' column")
        if low is None or high is None:
            return
        card_low, card_high = low, high
    else:
        card_low, card_high = card.pair(f"module.{known.key}")
    lo = card_low if low is None else low
    hi = card_high if high is None else high
    if lo <= hi:
        return
    if high is not None:
        whose = "the Low cost" if low is not None else "the rate card's low cost for this module"
        rep.at(cells["high"], "High cost", f"expected an amount of at least {whose} "
               f"({_dollars(lo)}), got {fields.show(high)}")
    else:
        rep.at(cells["low"], "Low cost", "expected an amount of at most the rate card's high cost "
               f"for this module ({_dollars(hi)}), got {fields.show(low)}")


def _module_choice(name: str, known: KnownModule | None, row: ModuleRow | None,
                   default: bool, include: bool | None) -> ModuleChoice:
    values: Mapping[str, Any] = row.values if row else {}
    if include is None:
        given = values.get("include")
        include = given if given is not None else (row is not None or default)
    low, high = values.get("low"), values.get("high")
    return ModuleChoice(
        name=name,
        include=include,
        phase=values.get("phase") or (known.phase if known else SPECIALTY_PHASE),
        complexity=values.get("complexity"),
        low=None if low is None else round(low),
        high=None if high is None else round(high),
        notes=values.get("notes") or "",
        known=known,
    )


def module_choices(rows: list[ModuleRow], records: Records,
                   includes: Mapping[str, bool] | None = None) -> tuple[ModuleChoice, ...]:
    """Every known module (in KNOWN_MODULES order), then the specialty rows in sheet order."""
    includes = includes or {}
    by_key = {normalize(r.name): r for r in rows}
    choices = []
    for known in KNOWN_MODULES:
        no_records = known.key == "data_migration" and records is Records.NONE
        key = normalize(known.name)
        row = by_key.get(key)
        choices.append(_module_choice(known.name, known, row, known.default_on and not no_records,
                                      includes.get(key)))
    for row in rows:
        if row.known is None:
            include = includes.get(normalize(row.name))
            choices.append(_module_choice(row.name, None, row, True, include))
    return tuple(choices)


# ---------------------------------------------------------------- integrations, subscriptions


def _integrations(sheet: Sheet | None, rep: Report) -> tuple[Integration, ...]:
    found = []
    for values, _cells in _rows(sheet, schema.INTEGRATION_COLUMNS, rep):
        if any(values[k] in (None, INVALID) for k in ("system", "category")):
            continue
        found.append(Integration(
            system=values["system"], category=values["category"], vendor=values["vendor"] or "",
            phase=values["phase"] or 2, complexity=values["complexity"] or Complexity.TYPICAL,
        ))
    return tuple(found)


def _subscriptions(sheet: Sheet | None, rep: Report) -> tuple[Subscription, ...]:
    found = []
    for values, _cells in _rows(sheet, schema.SUBSCRIPTION_COLUMNS, rep):
        if any(values[k] in (None, INVALID) for k in ("product", "monthly_per_provider")):
            continue
        found.append(Subscription(
            product=values["product"], monthly_per_provider=values["monthly_per_provider"],
            annual_extras=_usable(values).get("annual_extras"),
            annual_increase=_usable(values).get("annual_increase"),
        ))
    return tuple(found)


# ---------------------------------------------------------------- assumptions


def _key_value(entry: Entry, cell: Cell, rep: Report, required: bool = False) -> Any:
    """A rate-card value from a cell: percent keys as fractions 0..1, others 0 or more; to six
    decimals, and within the range the rate card states for the key (`clinic-budget assumptions`)."""
    key = entry.key
    if cell.formula is not None:
        rep.at(cell, key, cell.uncached_message())
        return INVALID
    if cell.blank:
        if required:
            expected = fields.PERCENT_PHRASE if is_percent_key(key) else fields.QUANTITY_PHRASE
            rep.at(cell, key, f"required field is empty; expected {expected}")
        return None
    try:
        if is_percent_key(key):
            value = fields.percent(cell.value, cell.number_format)
            rep.percent_warning(cell, key)
        else:
            value = fields.quantity(cell.value)
    except fields.FieldError as exc:
        rep.at(cell, key, str(exc))
        return INVALID
    value = round(value, 6)
    if not entry.within(value):
        shown = fields.show(cell.value, cell.number_format)
        rep.at(cell, key, f"expected a value from {entry.range_text} for this key (the range "
               f"`clinic-budget assumptions` states), got {shown}")
        return INVALID
    return value


def _check_pairs(card: RateCard, cells: Mapping[str, Cell], rep: Report) -> None:
    """A low/high pair (`x.low`/`x.high`, `x.low_pct`/`x.high_pct`) must stay in order after
    overrides; report it at the changed cell (the high one when both changed)."""
    for key, cell in cells.items():
        other = partner(key)
        if other is None or other not in card or (is_low_end(key) and other in cells):
            continue
        low_key, high_key = (key, other) if is_low_end(key) else (other, key)
        low, high = card.value(low_key), card.value(high_key)
        if low <= high:
            continue
        limit = f"at most {other} ({high:g})" if is_low_end(key) else f"at least {other} ({low:g})"
        rep.at(cell, key, f"expected a value of {limit}, got {fields.show(cell.value)}")


def _assumptions(sheet: Sheet | None, card: RateCard, rep: Report) -> RateCard:
    """The workbook's card: `card` with the Assumptions sheet's overrides."""
    keys = {k.lower(): k for k in card.entries}
    overrides: dict[str, tuple[float, str]] = {}
    cells: dict[str, Cell] = {}
    for values, row_cells in _rows(sheet, schema.ASSUMPTION_COLUMNS, rep, ("value",)):
        written, key_cell = values["key"], row_cells["key"]
        if written is None or written is INVALID:
            continue
        key = keys.get(normalize(written))
        if key is None:
            hint = suggest(written, list(keys.values()))
            rep.at(key_cell, "Key", f"unknown rate-card key {fields.show(written)}{hint} "
                   "(`clinic-budget assumptions` lists every key)")
        elif key in cells:
            first = cells[key].coordinate
            rep.at(key_cell, "Key", f"key '{key}' is set twice (first at {first}); keep one row")
        else:
            cells[key] = row_cells["value"]
            value = _key_value(card.entry(key), row_cells["value"], rep, required=True)
            if value is not None and value is not INVALID:
                overrides[key] = (value, values["source"] or "")
    result = card.with_overrides(overrides)
    _check_pairs(result, {k: c for k, c in cells.items() if k in overrides}, rep)
    return result


# ---------------------------------------------------------------- scenarios


@dataclass
class ScenarioRow:
    name: str
    clinic: dict[str, Any] = field(default_factory=dict)
    includes: dict[str, bool] = field(default_factory=dict)  # normalized module name -> include
    overrides: dict[str, tuple[float, str]] = field(default_factory=dict)
    cells: dict[str, Cell] = field(default_factory=dict)  # rate-card key -> its cell


Target = tuple[str, Any]  # ("clinic", Field) | ("module", name) | ("key", rate-card key)


def _vocabulary(modules: list[ModuleRow], card: RateCard) -> dict[str, tuple[str, Target]]:
    """Normalized header -> (spelling, target) for every column a Scenarios sheet may have."""
    vocab: dict[str, tuple[str, Target]] = {}
    for fld in schema.CLINIC_FIELDS:
        vocab[normalize(fld.label)] = (fld.label, ("clinic", fld))
    for name in [m.name for m in KNOWN_MODULES] + [r.name for r in modules if r.known is None]:
        vocab[normalize(name)] = (name, ("module", name))
    for key in card.entries:
        vocab[normalize(key)] = (key, ("key", key))
    return vocab


def _scenario_columns(tbl: Table, vocab: dict[str, tuple[str, Target]], rep: Report
                      ) -> tuple[int | None, dict[int, Target]]:
    name_col: int | None = None
    columns: dict[int, Target] = {}
    seen: dict[str, Cell] = {}
    for col, cell in sorted(tbl.headers.items()):
        header = normalize(cell.value)
        if header in seen:
            rep.at(cell, None, f"the column {fields.show(cell.value)} appears twice (first at "
                   f"{seen[header].coordinate}); keep one")
            continue
        seen[header] = cell
        if header == "scenario":
            name_col = col
        elif header in vocab:
            columns[col] = vocab[header][1]
        else:
            hint = suggest(fields.as_text(cell.value), [spelling for spelling, _ in vocab.values()])
            rep.at(cell, None, f"unknown column {fields.show(cell.value)}; expected a Clinic "
                   f"label, a module name or a rate-card key{hint}")
    if name_col is None:
        rep.on_sheet(tbl.sheet.title, "Scenario", "no 'Scenario' column; the first row must be the "
                     "header, with 'Scenario' in column A and one column per value to change")
    return name_col, columns


def _scenario_name(cell: Cell, seen: dict[str, Cell], rep: Report) -> str:
    if cell.blank:
        rep.at(cell, "Scenario", "required field is empty; expected the scenario's name")
        return ""
    name = rep.read(cell, schema.Field("Scenario", "name", schema.TEXT, True))
    if name is INVALID:
        return ""
    if normalize(name) == normalize(BASELINE):
        rep.at(cell, "Scenario", f"{fields.show(name)} is the name of the workbook's own values (the first "
               "scenario); give this scenario another name")
    elif normalize(name) in seen:
        rep.at(cell, "Scenario", f"scenario {fields.show(name)} appears twice (first at "
               f"{seen[normalize(name)].coordinate}); give each scenario its own name")
    seen[normalize(name)] = cell
    return str(name)


def _scenario_row(sheet: Sheet, row: int, name: str, columns: dict[int, Target], card: RateCard,
                  rep: Report) -> ScenarioRow:
    result = ScenarioRow(name)
    for col, (kind, target) in columns.items():
        cell = sheet.cell(row, col)
        if cell.blank:
            continue  # an empty cell keeps the base value
        if kind == "clinic":
            result.clinic[target.attr] = rep.read(cell, target)
        elif kind == "module":
            include = rep.read(cell, schema.Field(target, "include", schema.YESNO), target)
            if include is not None and include is not INVALID:
                result.includes[normalize(target)] = include
        else:
            value = _key_value(card.entry(target), cell, rep)
            result.cells[target] = cell
            if value is not None and value is not INVALID:
                result.overrides[target] = (value, f"scenario '{name}'")
    result.clinic = _usable(result.clinic)
    return result


def _scenarios(sheet: Sheet | None, modules: list[ModuleRow], card: RateCard, rep: Report
               ) -> list[ScenarioRow]:
    tbl = table(sheet) if sheet is not None else None
    if tbl is None:
        return []
    name_col, columns = _scenario_columns(tbl, _vocabulary(modules, card), rep)
    if name_col is None:
        return []
    rows: list[ScenarioRow] = []
    seen: dict[str, Cell] = {}
    for row, _cells in _limited(tbl, {name_col, *columns}, rep):
        name = _scenario_name(tbl.sheet.cell(row, name_col), seen, rep)
        result = _scenario_row(tbl.sheet, row, name, columns, card, rep)
        changed = {k: c for k, c in result.cells.items() if k in result.overrides}
        _check_pairs(card.with_overrides(result.overrides), changed, rep)
        rows.append(result)
    return rows


# ---------------------------------------------------------------- the whole workbook


def read_intake(path: Path, card: RateCard | None = None) -> Intake:
    """Read and validate an intake workbook; raise IntakeError listing every problem in it."""
    from generator.intake import quote_sheet  # it reads its table with this module's helpers

    path = Path(path)
    book = read_book(path)
    rep = Report(one_line(path.name))  # a name that is not UTF-8: its bytes as \xNN
    sheets = _locate(book, rep)
    clinic_sheet = sheets[schema.CLINIC_SHEET]
    clinic = _clinic(clinic_sheet, rep) if clinic_sheet is not None else {}
    base_card = _assumptions(sheets[schema.ASSUMPTIONS_SHEET], card or default_card(), rep)
    modules = _modules(sheets[schema.MODULES_SHEET], base_card, rep)
    integrations = _integrations(sheets[schema.INTEGRATIONS_SHEET], rep)
    subscriptions = _subscriptions(sheets[schema.SUBSCRIPTIONS_SHEET], rep)
    quotes = quote_sheet.read_quotes(sheets[schema.QUOTES_SHEET], rep)
    rows = _scenarios(sheets[schema.SCENARIOS_SHEET], modules, base_card, rep)
    rep.plausibility(base_card)
    if rep.problems:
        raise IntakeError(rep.all_problems())

    def scenario(name: str, values: Mapping[str, Any], includes: Mapping[str, bool],
                 scenario_card: RateCard) -> Scenario:
        facts = Clinic(**_usable(values))
        return Scenario(name, facts, module_choices(modules, facts.records, includes),
                        integrations, subscriptions, scenario_card)

    scenarios = [scenario(BASELINE, clinic, {}, base_card)]
    for row in rows:
        scenarios.append(scenario(row.name, {**clinic, **row.clinic}, row.includes,
                                  base_card.with_overrides(row.overrides)))
    return Intake(source=one_line(path.name), slug=slugify(path.name), scenarios=tuple(scenarios),
                  warnings=rep.all_warnings(), quotes=quotes)
