"""`clinic-budget run` and `assumptions` end to end: the budget.json contract, exit codes, and
outputs that survive a failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generator.ratecard import default_card
from tests.builders import BASE_CLINIC, clinic_workbook
from tests.helpers import run_cli

pytestmark = pytest.mark.slow  # every test here runs the installed command

CONTRACT = {
    "scenario": ["name", "tier", "build", "components", "phases", "labor", "annual", "off_the_shelf", "tco",
                 "warnings", "risk", "sensitivity"],
    "labor": ["hours", "rate", "raw_cost", "overhead_rate", "cost"],
    "tco": ["years", "custom", "off_the_shelf", "break_even_year"],
}


def _run_json(tmp_path: Path, **sheets: list[list[object]]) -> dict:
    book = clinic_workbook(tmp_path / "Ridgeview Family.xlsx", **sheets)
    result = run_cli("run", book, "--out", tmp_path / "out", "--formats", "json")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("(budget.json)")
    return json.loads((tmp_path / "out" / "ridgeview-family" / "budget.json").read_text())


def _ordered(r: dict) -> bool:
    return r["low"] <= r["expected"] <= r["high"]


def test_budget_json_has_the_contract_keys(tmp_path: Path) -> None:
    data = _run_json(tmp_path)
    assert data["schema_version"] == 1
    assert data["clinic"]["name"] == "Ridgeview Family Medicine"
    assert data["clinic"]["physicians"] == 3
    (base,) = data["scenarios"]
    assert base["name"] == "Baseline"
    for key in CONTRACT["scenario"]:
        assert key in base, key
    for key in CONTRACT["labor"]:
        assert key in base["labor"], key
    for key in CONTRACT["tco"]:
        assert key in base["tco"], key
    assert base["tier"] in ("basic", "mid", "advanced")
    assert set(base["annual"]["maintenance"]) >= {"low", "high"}
    assert set(base["annual"]["hosting"]) >= {"low", "high"}
    for product in base["off_the_shelf"]:
        assert product["annual_subscription"] == round(product["monthly_per_provider"] * 3 * 12)


def test_build_is_the_sum_of_its_lines_in_whole_dollars(tmp_path: Path) -> None:
    data = _run_json(tmp_path, Integrations=[["System", "Category"], ["Quest", "Lab"], ["Waystar", "Billing"]])
    (base,) = data["scenarios"]
    assert _ordered(base["build"])
    for end in ("low", "expected", "high"):
        assert base["build"][end] == sum(c[end] for c in base["components"])
        assert base["build"][end] == sum(p[end] for p in base["phases"])
        assert all(isinstance(c[end], int) for c in base["components"])
    assert all(_ordered(c) for c in base["components"])
    assert {c["name"]: c["phase"] for c in base["components"]}["Quest"] == 2
    card = default_card()
    quest = next(c for c in base["components"] if c["name"] == "Quest")
    assert (quest["low"], quest["high"]) == (card.money("integration.lab_imaging.low"),
                                             card.money("integration.lab_imaging.high"))
    assert len(base["tco"]["custom"]) == base["tco"]["years"] == 5


def test_scenarios_sheet_adds_one_scenario_per_row(tmp_path: Path) -> None:
    data = _run_json(tmp_path, Scenarios=[["Scenario", "Development team", "AI documentation"],
                                          ["US team", "US", None], ["With AI", None, "Yes"]])
    names = [s["name"] for s in data["scenarios"]]
    assert names == ["Baseline", "US team", "With AI"]
    base, us, ai = data["scenarios"]
    assert us["build"]["expected"] > base["build"]["expected"]
    assert any(c["name"] == "AI documentation" for c in ai["components"])
    assert not any(c["name"] == "AI documentation" for c in base["components"])


def test_assumption_override_is_listed_with_its_source(tmp_path: Path) -> None:
    data = _run_json(tmp_path, Assumptions=[["Key", "Value", "Source"], ["rate.offshore", "$45", "Vendor quote"]])
    entry = next(a for a in data["assumptions"] if a["key"] == "rate.offshore")
    assert (entry["value"], entry["source"], entry["override"]) == (45, "workbook override (Vendor quote)", True)
    assert data["overrides"]["Baseline"] == ["rate.offshore"]
    assert data["scenarios"][0]["labor"]["rate"] == 45


def test_a_failed_run_leaves_earlier_outputs_untouched(tmp_path: Path) -> None:
    book = clinic_workbook(tmp_path / "ridgeview.xlsx")
    out = tmp_path / "out"
    assert run_cli("run", book, "--out", out, "--formats", "json").returncode == 0
    before = (out / "ridgeview" / "budget.json").read_bytes()
    bad = [row if row[0] != "Physicians" else ["Physicians", "three"] for row in BASE_CLINIC]
    clinic_workbook(book, bad)
    result = run_cli("run", book, "--out", out, "--formats", "json")
    assert result.returncode == 2
    assert result.stderr == ("error: ridgeview.xlsx › Clinic!B3 (Physicians): expected a whole number from 1 to "
                             "200, got 'three'\n")
    assert (out / "ridgeview" / "budget.json").read_bytes() == before
    # `run` goes the way a batch does: the manifest records the failure, an error report says it
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".clinic-budget")) == ["_errors", "ridgeview"]
    assert sorted(p.name for p in (out / "_errors").iterdir()) == ["ridgeview.html", "ridgeview.txt"]


def test_run_with_one_good_and_one_bad_input_exits_1(tmp_path: Path) -> None:
    good = clinic_workbook(tmp_path / "good.xlsx")
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"")
    result = run_cli("run", good, bad, "--out", tmp_path / "out", "--formats", "json")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert (tmp_path / "out" / "good" / "budget.json").is_file()


def test_same_input_gives_byte_identical_json(tmp_path: Path) -> None:
    book = clinic_workbook(tmp_path / "ridgeview.xlsx")
    outputs = []
    for name in ("a", "b"):
        assert run_cli("run", book, "--out", tmp_path / name, "--formats", "json").returncode == 0
        outputs.append((tmp_path / name / "ridgeview" / "budget.json").read_bytes())
    assert outputs[0] == outputs[1]


def test_unknown_format_is_a_usage_error(tmp_path: Path) -> None:
    book = clinic_workbook(tmp_path / "ridgeview.xlsx")
    result = run_cli("run", book, "--formats", "json,odt")
    assert result.returncode == 2
    assert result.stderr == "error: --formats: unknown format 'odt'; choose from md,html,xlsx,pdf,docx,json\n"


def test_assumptions_prints_every_key_with_its_source() -> None:
    result = run_cli("assumptions")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    card = default_card()
    assert len(lines) == len(list(card))
    for line, entry in zip(lines, card, strict=True):
        assert line.split()[0] == entry.key
        assert line.endswith(entry.source)
    as_json = json.loads(run_cli("assumptions", "--format", "json").stdout)
    assert {row["key"] for row in as_json} == set(card.entries)


def test_help_lists_every_command() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for name in ("run", "batch", "watch", "validate", "new", "assumptions"):
        assert name in result.stdout


def test_asking_for_pdf_without_the_engine_is_a_one_line_usage_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from generator import cli
    from generator.render import docx, pdf
    from generator.settings import Settings

    monkeypatch.setattr(pdf, "weasyprint_available", lambda: False)
    monkeypatch.setattr(docx, "available", lambda: False)  # nor the docx extra
    monkeypatch.setenv("CLINIC_BUDGET_CHROMIUM", "0")  # and no browser either
    book = clinic_workbook(tmp_path / "ridgeview.xlsx")
    assert cli.main(["run", str(book), "--out", str(tmp_path / "out"), "--formats", "pdf"]) == 2
    assert capsys.readouterr().err == "error: PDF needs the optional engine: pip install 'clinic-budget[pdf]'\n"
    assert Settings.from_options(out=tmp_path).formats == ("md", "html", "xlsx", "json")
    assert not (tmp_path / "out").exists()


def test_asking_for_chromium_without_it_is_a_one_line_usage_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from generator import cli

    monkeypatch.setenv("CLINIC_BUDGET_CHROMIUM", str(tmp_path / "no-such-browser"))
    book = clinic_workbook(tmp_path / "ridgeview.xlsx")
    args = ["run", str(book), "--out", str(tmp_path / "out"), "--formats", "pdf", "--pdf-engine", "chromium"]
    assert cli.main(args) == 2
    assert capsys.readouterr().err == (
        f"error: --pdf-engine chromium: {tmp_path / 'no-such-browser'} (from CLINIC_BUDGET_CHROMIUM) "
        "is not Chromium 131 or newer\n")
    assert not (tmp_path / "out").exists()


def test_an_assumptions_override_wins_over_module_figures_that_repeat_the_rate_card(tmp_path: Path) -> None:
    """`clinic-budget new` pre-fills the Modules sheet with the rate card's figures; overriding the
    same keys in the Assumptions sheet must still move the budget (a new user found it did not)."""
    card = default_card()
    modules = [["Module", "Include", "Low cost", "High cost"],
               ["Patient records", "Yes", card.value("module.patient_records.low"),
                card.value("module.patient_records.high")]]
    data = _run_json(tmp_path, Modules=modules, Assumptions=[
        ["Key", "Value", "Source"], ["module.patient_records.low", 20_000, "Vendor quote"],
        ["module.patient_records.high", 30_000, "Vendor quote"]])
    line = next(c for c in data["scenarios"][0]["components"] if c["name"] == "Patient records")
    assert (line["low"], line["expected"], line["high"]) == (20_000, 25_000, 30_000)
    assert line["source"] == "workbook override (Vendor quote)"


def test_module_figures_of_its_own_are_the_workbooks(tmp_path: Path) -> None:
    data = _run_json(tmp_path, Modules=[["Module", "Low cost", "High cost"], ["Patient records", 9_000, 16_000]])
    line = next(c for c in data["scenarios"][0]["components"] if c["name"] == "Patient records")
    assert (line["low"], line["high"], line["source"]) == (9_000, 16_000, "workbook")
