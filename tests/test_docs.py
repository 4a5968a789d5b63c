"""The docs say what the code does: intake reference, commands, rate-card keys."""

from __future__ import annotations

from generator.cli import COMMANDS
from generator.intake import schema
from generator.ratecard import default_card
from tests.intake_doc import intake_text
from tests.update_docs import ROOT, ratecard_text, readme_text

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_intake_reference_matches_the_schema() -> None:
    assert readme_text(README) == README, "run: python -m tests.update_docs"


def test_ratecard_doc_lists_every_key_with_its_source() -> None:
    doc = (ROOT / "docs" / "ratecard.md").read_text(encoding="utf-8")
    assert doc == ratecard_text(), "run: python -m tests.update_docs"
    for entry in default_card():
        assert f"`{entry.key}`" in doc


def test_intake_contract_ships_and_matches_the_schema() -> None:
    doc = (ROOT / "docs" / "intake.md").read_text(encoding="utf-8")
    assert doc == intake_text(), "docs/intake.md is stale: run python -m tests.update_docs"
    for sheet in (schema.CLINIC_SHEET, *schema.TABLE_SHEETS, schema.SCENARIOS_SHEET):
        assert f"## Sheet `{sheet}`" in doc, sheet
    for fields in (schema.CLINIC_FIELDS, *schema.TABLE_SHEETS.values()):
        for f in fields:
            assert f"| {f.label} | " in doc, f.label
    assert "[docs/intake.md](docs/intake.md)" in README
    assert "shared/intake-spec" not in README  # not in a clone of the project


def test_readme_documents_every_command() -> None:
    for name in COMMANDS:
        assert f"clinic-budget {name}" in README, name


def test_readme_gives_the_two_commands() -> None:
    assert "pip install '.[pdf,docx]' && clinic-budget batch inputs --out output" in README
    assert "pip install -e '.[pdf,docx,test]' && python -m pytest" in README
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install -e '.[pdf,docx,test]' && python -m pytest" in ci
