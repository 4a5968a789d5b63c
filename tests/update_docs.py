"""Regenerate the generated parts of the docs: `python -m tests.update_docs`.

- README.md: the intake reference between the intake-reference markers;
- docs/ratecard.md: every rate-card key, its value and its source;
- docs/intake.md: the intake workbook contract (tests/intake_doc.py).
- docs/decision.md: the decision sweep's table (tests/sweep.py).
"""

from __future__ import annotations

import re
from pathlib import Path

from generator.intake.schema import reference_markdown
from generator.ratecard import default_card
from tests.intake_doc import intake_text

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- intake-reference:start -->", "<!-- intake-reference:end -->"


def readme_text(current: str) -> str:
    block = f"{START}\n{reference_markdown()}\n{END}"
    return re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, current, flags=re.S)


def ratecard_text() -> str:
    lines = [
        "# The rate card",
        "",
        "Every figure the planner uses, with its source. Generated from `generator/data/ratecard.toml` by",
        "`python -m tests.update_docs`; `clinic-budget assumptions` prints the same. Override any key for one",
        "workbook in its Assumptions sheet, or per scenario as a Scenarios column, within its range (our",
        "assumption, from the key's unit or the key itself: the `[limits]` of the rate card).",
        "",
        "| Key | Value | Range | Unit | Source | Note |",
        "|---|---|---|---|---|---|",
    ]
    for e in default_card():
        lines.append(f"| `{e.key}` | {e.formatted()} | {e.range_text} | {e.unit} | {e.source} | {e.note} |")
    return "\n".join(lines) + "\n"


SWEEP_START, SWEEP_END = "<!-- decision-sweep:start -->", "<!-- decision-sweep:end -->"


def decision_text(current: str) -> str:
    from tests.sweep import table

    block = f"{SWEEP_START}\n{table()}\n{SWEEP_END}"
    return re.sub(re.escape(SWEEP_START) + ".*?" + re.escape(SWEEP_END), lambda _: block, current, flags=re.S)


def main() -> None:
    readme = ROOT / "README.md"
    readme.write_text(readme_text(readme.read_text(encoding="utf-8")), encoding="utf-8")
    (ROOT / "docs" / "ratecard.md").write_text(ratecard_text(), encoding="utf-8")
    (ROOT / "docs" / "intake.md").write_text(intake_text(), encoding="utf-8")
    decision = ROOT / "docs" / "decision.md"
    decision.write_text(decision_text(decision.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":
    main()
