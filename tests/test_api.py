"""The Python API: `import generator` is cheap, and the README's example runs as written."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import generator

ROOT = Path(__file__).resolve().parent.parent


def readme_example() -> str:
    """The ```python block of the README's "Python API" section."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Python API\n(.*?)(?=^## )", text, re.S | re.M)
    assert section, "README.md has no 'Python API' section"
    blocks = re.findall(r"^```python\n(.*?)^```", section.group(1), re.S | re.M)
    assert len(blocks) == 1
    return str(blocks[0])


def test_every_exported_name_is_there() -> None:
    for name in generator.__all__:
        assert getattr(generator, name) is not None, name
    with pytest.raises(AttributeError):
        generator.no_such_name  # noqa: B018


@pytest.mark.slow
def test_importing_the_package_and_the_cli_imports_nothing_heavy() -> None:
    code = ("import sys, generator, generator.cli; "
            "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('generator', 'jinja2', 'openpyxl', 'numpy', 'tqdm', 'markdown', 'xlsxwriter', 'watchdog'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == ["generator", "generator.cli", "generator.errors", "generator.render", "generator.render.writers"]


@pytest.mark.slow
def test_a_batchs_main_process_lists_and_slugs_workbooks_without_the_reader() -> None:
    """The main process of a batch never reads a workbook: importing the reader (and openpyxl
    with it) only to name each workbook's folder cost 0.28 s of every batch's start."""
    code = ("import sys; from generator.run.batch import slug_for; "
            "assert slug_for('Ridgeview Family.xlsx') == 'ridgeview-family'; "
            "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] == 'openpyxl' "
            "or m == 'generator.intake.reader')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == []


@pytest.mark.slow
def test_the_readme_example_runs_as_written(tmp_path: Path) -> None:
    """Run in a copy of the repository root's inputs/, so the example's output/ lands in tmp_path."""
    shutil.copytree(ROOT / "inputs", tmp_path / "inputs")
    script = tmp_path / "example.py"
    script.write_text(readme_example(), encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Maple Grove Family Medicine: build $")
    assert lines[2].startswith("['budget.json', 'budget.md'] ") and lines[2].endswith(" bytes of Markdown")
    n = len(list((ROOT / "inputs").glob("*.xlsx")))
    assert f"{n} workbooks: {n} generated, 0 unchanged, 0 failed in" in done.stdout
    assert lines[-1] == "missing.xlsx: file not found (inputs/missing.xlsx)"
    assert sorted(p.name for p in (tmp_path / "output" / "orthopedic").iterdir()) == ["budget.json", "budget.md"]
    assert (tmp_path / "output" / "index.html").is_file()


@pytest.mark.slow
def test_the_readmes_example_error_is_what_validate_says(tmp_path: Path) -> None:
    """The README quoted Clinic!B4 for Physicians; the blank workbook `new` writes has it in B5."""
    import openpyxl

    from tests.helpers import run_cli

    quoted = re.search(r"^error: ridgeview\.xlsx › .*$", (ROOT / "README.md").read_text(encoding="utf-8"), re.M)
    assert quoted is not None
    path = tmp_path / "ridgeview.xlsx"
    assert run_cli("new", path).returncode == 0
    wb = openpyxl.load_workbook(path)
    wb["Clinic"]["B5"] = "three"
    wb.save(path)
    assert quoted.group(0) in run_cli("validate", path).stderr.splitlines()
