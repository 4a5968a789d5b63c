"""One error hierarchy for the whole product; only the CLI reports it."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Control characters (newlines, tabs, terminal escapes, C1 codes), line and paragraph separators,
# bidirectional overrides, and the lone surrogates a file name that is not UTF-8 decodes to.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069"
                      "\ud800-\udfff]")


def one_line(text: str) -> str:
    """`text` with every control character written as an escape (`\\n`, `\\x1b`, `\\xe9` for a
    byte of a name that is not UTF-8), so that an error stays one plain, printable line: a cell
    value cannot forge log lines in cron mail, nor a file name reach the terminal raw."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape", "backslashreplace").decode("ascii")
                        if not 0xD800 <= ord(m.group()) <= 0xDFFF else f"\\x{ord(m.group()) & 0xFF:02x}", text)


class BudgetError(Exception):
    """Base of every error the product raises on purpose. `exit_code` is what the CLI returns."""

    exit_code = 2

    def lines(self) -> list[str]:
        return [str(self)]


class UsageError(BudgetError):
    """A command line that cannot be carried out (missing file, unknown format...)."""


class TemplateError(BudgetError):
    """A template that does not render: missing file, syntax error, undefined variable.
    `template` names the template file at fault, when known (`sections/questions.md.j2`)."""

    def __init__(self, message: str, template: str | None = None) -> None:
        super().__init__(message)
        self.template = template


class RateCardError(BudgetError):
    """The rate card (shipped or overridden) is not usable."""


class OutputError(BudgetError):
    """An output could not be written."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an intake workbook, pinned to its cell."""

    file: str
    sheet: str | None
    cell: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.sheet:
            where += f" › {self.sheet}"
            if self.cell:
                where += f"!{self.cell}"
        if self.field:
            where += f" ({self.field})"
        return one_line(f"{where}: {self.message}")


class IntakeError(BudgetError):
    """A workbook that cannot be read or does not follow the intake contract.

    Carries every problem found, so the user fixes them all in one pass.
    """

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def single(cls, file: str, message: str) -> IntakeError:
        return cls([Problem(file, None, None, None, message)])

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]
