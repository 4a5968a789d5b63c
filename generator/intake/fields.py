"""Cell parsers: one per field kind of the intake contract (`schema.py`).

Each parser takes a cell's value (as openpyxl gives it) and returns the parsed value, or raises
`FieldError` whose text is the `expected ..., got ...` message. The intake stage pins that
message to a file, sheet and cell. Blank cells never reach a parser: blank means "use the
default" (or "required field is empty"), which only the intake stage can decide.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from typing import Any

from generator import model
from generator.errors import one_line
from generator.intake import schema
from generator.ratecard import suggest

MONEY_EXAMPLE = "such as 1,200 or $175"
PERCENT_PHRASE = "a percentage such as 5% or 0.05"
DATE_PHRASE = "a date such as 2026-03-02 or 03/02/2026"
YESNO_PHRASE = "Yes or No"
PHASE_PHRASE = "phase 1 or 2"
QUANTITY_PHRASE = "a number, 0 or more, or a percentage such as 5%"

_NUMBER = re.compile(r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+")
_ISO = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")
_US = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_PHASE_TEXT = re.compile(r"phase\s*([12])", re.IGNORECASE)

_ENUMS: dict[tuple[str, ...], type[model.Choice]] = {
    tuple(enum.labels()): enum
    for enum in (model.ClinicType, model.Records, model.Hosting, model.Team, model.Level,
                 model.Complexity, model.Category, model.FhirApproach)
}


class FieldError(ValueError):
    """A cell that does not hold what its field expects; `str()` is the whole message."""


def show(value: object, number_format: str = "General") -> str:
    """A found value as the message shows it: text quoted, numbers as written."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float) and "%" in number_format and math.isfinite(value):
        return f"{_plain(value * 100)}%"
    if isinstance(value, int | float):
        return _plain(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return f"'{shorten(str(value))}'"


SHOWN_CHARS = 60  # the most of a found value a message quotes


def shorten(text: str, limit: int = SHOWN_CHARS) -> str:
    """`text` as a message quotes it: at most `limit` characters (a long value ends in `...`
    and its length), control characters escaped, so a quoted value never floods a report nor
    breaks the message's one line."""
    cut = text if len(text) <= limit else f"{text[:limit - 3]}... ({len(text):,} characters)"
    return one_line(cut)


def _plain(x: float) -> str:
    if not isinstance(x, float):
        return str(x)
    if not math.isfinite(x):
        return repr(x)
    rounded = round(x, 10)
    if rounded == 0 and x != 0:
        return repr(x)  # 5e-324 is not 0
    if rounded.is_integer() and abs(rounded) < 1e15:
        return str(int(rounded))
    return repr(rounded)


def _number_text(text: str) -> float | None:
    """`1,200`, `$175`, `-$5`, `175.00` as a float; None when the text is not a number."""
    s = text.strip()
    sign = 1.0
    if s.startswith("-"):
        sign, s = -1.0, s[1:].lstrip()
    if s.startswith("$"):
        s = s[1:].lstrip()
    if sign > 0 and s.startswith("-"):
        sign, s = -1.0, s[1:].lstrip()
    if not _NUMBER.fullmatch(s):
        return None
    return sign * float(s.replace(",", ""))


def _real(value: object) -> float | None:
    """A finite number from a numeric cell or number text; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        x: float | None = float(value)
    elif isinstance(value, str):
        x = _number_text(value)
    else:
        return None
    return x if x is not None and math.isfinite(x) else None


def _fail(expected: str, value: object, number_format: str = "General",
          hint: str = "") -> FieldError:
    return FieldError(f"expected {expected}, got {show(value, number_format)}{hint}")


# ---------------------------------------------------------------- the parsers


def text(value: object, limit: float = schema.TEXT_LIMIT) -> str:
    """Any value as text: numbers as written, dates in ISO form, booleans as Yes/No; at most
    `limit` characters."""
    if isinstance(value, str):
        stripped = value.strip()
        if len(stripped) > limit:
            raise FieldError(f"expected text of at most {limit:,.0f} characters, got {len(stripped):,} characters "
                             f"('{shorten(stripped, 40)}')")
        return stripped
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, int | float):
        return _plain(value)
    if isinstance(value, dt.date | dt.time):
        return show(value)
    return str(value).strip()


def as_text(value: object) -> str:
    """Any value as text, whatever its length (for labels and headers matched against names)."""
    return text(value, math.inf)


def whole_phrase(minimum: float | None = None, maximum: float | None = None) -> str:
    if minimum is not None and maximum is not None:
        return f"a whole number from {minimum:g} to {maximum:g}"
    if minimum is not None:
        return f"a whole number, {minimum:g} or more"
    return "a whole number"


def whole(value: object, minimum: float | None = None, maximum: float | None = None) -> int:
    x = _real(value)
    too_low = x is not None and minimum is not None and x < minimum
    too_high = x is not None and maximum is not None and x > maximum
    if x is None or not x.is_integer() or too_low or too_high:
        raise _fail(whole_phrase(minimum, maximum), value)
    return int(x)


def bounds_phrase(minimum: float | None, maximum: float, more_than: float | None = None) -> str:
    """`0 to 10,000,000` or `more than 0 and at most 1,000`."""
    if more_than is not None:
        return f"more than {more_than:g} and at most {maximum:,.0f}"
    return f"{minimum or 0:g} to {maximum:,.0f}"


def _bounded(x: float | None, minimum: float | None, maximum: float, more_than: float | None) -> bool:
    if x is None:
        return False
    if more_than is not None and not x > more_than:
        return False
    return (minimum or 0) <= x <= maximum


def number(value: object, minimum: float | None = 0.0, maximum: float = schema.MONEY_LIMIT,
           more_than: float | None = None) -> float:
    """A number within the bounds, from a numeric cell or text such as `1,200`, to two decimals
    (so that a value such as 5e-324 is 0, and never reaches a division)."""
    x = _real(value)
    x = None if x is None else round(x, 2)
    if not _bounded(x, minimum, maximum, more_than):
        raise _fail(f"a number, {bounds_phrase(minimum, maximum, more_than)}", value)
    assert x is not None
    return x


def money_example(maximum: float) -> str:
    return MONEY_EXAMPLE if maximum >= 1200 else "such as 45 or $175.50"


def money(value: object, maximum: float = schema.MONEY_LIMIT, more_than: float | None = None) -> float:
    """An amount in USD within the bounds, to the cent: `1200`, `1,200`, `$175`, `175.00`."""
    x = _real(value)
    x = None if x is None else round(x, 2)
    if not _bounded(x, 0, maximum, more_than):
        raise _fail(f"an amount in USD, {bounds_phrase(0, maximum, more_than)}, {money_example(maximum)}", value)
    assert x is not None
    return x


def percent_points(value: object, number_format: str = "General") -> bool:
    """True when a percent cell holds a plain number above 1 (`5`), read as percent points."""
    if isinstance(value, str):
        value = None if value.strip().endswith("%") else _real(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or "%" in number_format:
        return False
    return 1 < value <= 100


def percent(value: object, number_format: str = "General") -> float:
    """A fraction from 0 to 1: `0.05`, `5%` text, a percent-formatted cell, or `5` meaning 5%.

    A plain number above 1 and at most 100 is read as percent points (a consultant who types
    5 means 5%); `percent_points` tells the caller so it can warn.
    """
    if isinstance(value, str) and value.strip().endswith("%"):
        x = _real(value.strip()[:-1])
        if x is None or not 0 <= x <= 100:
            raise _fail(PERCENT_PHRASE, value)
        return x / 100
    x = _real(value)
    if x is None or x < 0 or ("%" in number_format and x > 1) or x > 100:
        raise _fail(PERCENT_PHRASE, value, number_format)
    return x / 100 if percent_points(value, number_format) else x


def quantity(value: object) -> float:
    """A non-negative number that may also be written as a percentage (`90%` is 0.9)."""
    if isinstance(value, str) and value.strip().endswith("%"):
        x = _real(value.strip()[:-1])
        if x is not None and x >= 0:
            return x / 100
        raise _fail(QUANTITY_PHRASE, value)
    x = _real(value)
    if x is None or x < 0:
        raise _fail(QUANTITY_PHRASE, value)
    return x


def yes_no(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in schema.YES_WORDS:
            return True
        if word in schema.NO_WORDS:
            return False
    raise _fail(YESNO_PHRASE, value)


def date(value: object) -> dt.date:
    """A date cell, or text in ISO (`2026-03-02`) or US (`03/02/2026`, month first) form."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        s = value.strip()
        try:
            if _ISO.fullmatch(s):
                year, month, day = (int(p) for p in s.split("-"))
                return dt.date(year, month, day)
            match = _US.fullmatch(s)
            if match:
                month, day, year = (int(g) for g in match.groups())
                return dt.date(year, month, day)
        except ValueError:
            pass
    raise _fail(DATE_PHRASE, value)


def _squash(word: str) -> str:
    return re.sub(r"[\s\-_]+", "", word.lower())


def choice(value: object, options: Sequence[str]) -> str:
    """The option `value` names, in the spec's spelling; case, spaces and hyphens are ignored."""
    if isinstance(value, str):
        key = _squash(value)
        for option in options:
            if _squash(option) == key:
                return option
    hint = suggest(value.strip(), list(options)) if isinstance(value, str) else ""
    raise _fail("one of " + " | ".join(options), value, hint=hint)


def phase(value: object) -> int:
    x = _real(value)
    if x is None and isinstance(value, str):
        match = _PHASE_TEXT.fullmatch(value.strip())
        x = float(match.group(1)) if match else None
    if x in (1.0, 2.0):
        return int(x)  # type: ignore[arg-type]
    raise _fail(PHASE_PHRASE, value)


# ---------------------------------------------------------------- by field


def expectation(field: schema.Field) -> str:
    """What a field accepts, as the `expected ...` part of a message."""
    if field.kind == schema.WHOLE:
        return whole_phrase(field.minimum, field.maximum)
    return {
        schema.TEXT: "text",
        schema.NUMBER: f"a number, {bounds_phrase(field.minimum, field.limit, field.more_than)}",
        schema.MONEY: f"an amount in USD, {bounds_phrase(0, field.limit, field.more_than)}, "
                      f"{money_example(field.limit)}",
        schema.PERCENT: PERCENT_PHRASE,
        schema.YESNO: YESNO_PHRASE,
        schema.DATE: DATE_PHRASE,
        schema.CHOICE: "one of " + " | ".join(field.choices),
        schema.PHASE: PHASE_PHRASE,
    }[field.kind]


def parse(field: schema.Field, value: object, number_format: str = "General") -> Any:
    """The value of a non-blank cell for `field`; choices come back as their enum member."""
    kind = field.kind
    if kind == schema.TEXT:
        return text(value, field.limit)
    if kind == schema.WHOLE:
        return whole(value, field.minimum, field.maximum)
    if kind == schema.NUMBER:
        return number(value, field.minimum, field.limit, field.more_than)
    if kind == schema.MONEY:
        return money(value, field.limit, field.more_than)
    if kind == schema.PERCENT:
        return percent(value, number_format)
    if kind == schema.YESNO:
        return yes_no(value)
    if kind == schema.DATE:
        return date(value)
    if kind == schema.PHASE:
        return phase(value)
    label = choice(value, field.choices)
    enum = _ENUMS.get(tuple(field.choices))
    return enum(label) if enum is not None else label
