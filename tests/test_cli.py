"""The command line: exact messages and exit codes, through the installed command."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.builders import clinic_workbook
from tests.helpers import run_cli

pytestmark = pytest.mark.slow  # every test here runs the installed command

FORMATS_ERROR = "error: --formats: unknown format none given; choose from md,html,xlsx,pdf,docx,json\n"


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    return clinic_workbook(tmp_path / "ridgeview.xlsx")


def broken_templates(tmp_path: Path) -> Path:
    """An override whose included section uses an undefined name on line 3."""
    folder = tmp_path / "tpl"
    (folder / "sections").mkdir(parents=True)
    (folder / "sections" / "questions.md.j2").write_text("## Our questions\n\n{{ clinc.name }}\n", encoding="utf-8")
    return folder


def test_a_template_error_names_the_included_template(workbook: Path, tmp_path: Path) -> None:
    r = run_cli("run", workbook, "--out", tmp_path / "out", "--formats", "md",
                "--templates", broken_templates(tmp_path))
    assert (r.returncode, r.stdout, r.stderr) == (2, "", "error: sections/questions.md.j2:3: 'clinc' is undefined\n")


def test_a_runtime_error_in_a_template_names_it_too(workbook: Path, tmp_path: Path) -> None:
    folder = tmp_path / "tpl"
    folder.mkdir()
    (folder / "budget.md.j2").write_text('{% extends "default:budget.md.j2" %}\n'
                                         "{% block questions %}\n{{ 1 // 0 }}\n{% endblock %}\n", encoding="utf-8")
    r = run_cli("run", workbook, "--out", tmp_path / "out", "--formats", "md", "--templates", folder)
    assert (r.returncode, r.stderr) == (
        2, "error: budget.md.j2:3: ZeroDivisionError: integer division or modulo by zero\n")


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_before_or_after_the_command(where: str, workbook: Path, tmp_path: Path) -> None:
    args = ["run", workbook, "--out", tmp_path / "out", "--formats", "md", "--templates", broken_templates(tmp_path)]
    r = run_cli(*(["--debug", *args] if where == "before" else [*args, "--debug"]))
    assert r.returncode == 2 and "Traceback (most recent call last)" in r.stderr
    assert r.stderr.startswith("error: sections/questions.md.j2:3: 'clinc' is undefined\n")


def test_no_traceback_without_debug(workbook: Path, tmp_path: Path) -> None:
    r = run_cli("run", workbook, "--out", tmp_path / "out", "--formats", "md",
                "--templates", broken_templates(tmp_path))
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("command", ["run", "batch", "watch"])
@pytest.mark.parametrize("value", ["", " , "])
def test_empty_formats_is_a_usage_error(command: str, value: str, workbook: Path, tmp_path: Path) -> None:
    target = workbook if command == "run" else tmp_path
    r = run_cli(command, target, "--out", tmp_path / "out", "--formats", value)
    assert (r.returncode, r.stdout, r.stderr) == (2, "", FORMATS_ERROR)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("command", "line"), [
    ("batch", "  INPUT_DIR             folder of intake workbooks (default: inputs)"),
    ("watch", "  INPUT_DIR             drop folder to watch for intake workbooks (default:"),
    ("run", "  FILE                  intake workbook(s) (.xlsx) to turn into documents"),
    ("validate", "  FILE        intake workbook(s) (.xlsx) to check"),
])
def test_help_describes_positional_arguments(command: str, line: str) -> None:
    r = run_cli(command, "--help")
    assert r.returncode == 0
    assert "positional arguments:" in r.stdout and line in r.stdout.splitlines(), r.stdout
    assert "--debug" in r.stdout


def test_brand_help_names_the_toml_keys() -> None:
    r = run_cli("run", "--help")
    assert "--brand BRAND         branding file (TOML with the keys firm, logo, color)" in r.stdout
    assert "colours" not in r.stdout
