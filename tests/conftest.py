"""Shared fixtures: the named document cases, the `--regen-golden` option that rewrites
tests/golden/ from the current output, and the guard that keeps the inner loop fast.

Regenerate every golden file with one command:

    python -m pytest tests/test_documents_golden.py --regen-golden
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

try:
    import openpyxl  # noqa: F401 - the first of the project's dependencies the tests import
except ModuleNotFoundError as missing:  # an interpreter without the project: say what to run
    pytest.exit(f"the tests need the project installed ({missing.name} is missing): python3 -m venv .venv && "
                ". .venv/bin/activate && pip install -e '.[pdf,docx,test]' && python -m pytest", returncode=4)

from generator.model import Level, Plan, Team
from generator.settings import Branding, Settings
from tests.builders import HOSTILE, analysed, family, family_clinic, hostile, ortho, plan

GOLDEN = Path(__file__).parent / "golden"
__all__ = ["CASES", "GOLDEN", "HOSTILE", "examples", "settings"]


_INNER_LOOP = False


def pytest_configure(config: pytest.Config) -> None:
    global _INNER_LOOP
    _INNER_LOOP = " ".join(str(config.getoption("markexpr", "") or "").split()) == "not slow"


def examples(full: int) -> int:
    """Hypothesis examples for a property test: `full` in the full run, a fifth of them in the
    inner loop (`pytest -m "not slow"`), which must stay under 30 s."""
    return max(10, full // 5) if _INNER_LOOP else full


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--regen-golden", action="store_true", default=False,
                     help="rewrite tests/golden/ from the current output instead of comparing")


# ctypes.util.find_library runs these when WeasyPrint looks for its C libraries
_LIBRARY_HELPERS = {"ldconfig", "gcc", "cc", "objdump", "ld"}


class _UnmarkedSubprocess(subprocess.Popen):  # type: ignore[type-arg]
    def __init__(self, args: Any, *rest: Any, **kwargs: Any) -> None:
        program = Path(str(args if isinstance(args, str | bytes | Path) else args[0])).name
        if program not in _LIBRARY_HELPERS:
            self._child_created = False  # nothing for Popen.__del__ to reap
            raise AssertionError(f"this test starts a process ({program}): mark it @pytest.mark.slow")
        super().__init__(args, *rest, **kwargs)


@pytest.fixture(autouse=True)
def _processes_only_in_slow_tests(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test that starts a process (the installed command, a browser, LibreOffice) is a system
    test and must be marked `slow`, so that `pytest -m "not slow"` stays the fast inner loop.
    Forking the bounded workbook reader is not starting a process: it costs milliseconds."""
    if request.node.get_closest_marker("slow") is None:
        monkeypatch.setattr(subprocess, "Popen", _UnmarkedSubprocess)


@pytest.fixture(autouse=True)
def _no_job_child_outlives_its_test() -> Iterator[None]:
    """The job child stays between workbooks (`run.job.JOBS`), and a child keeps what its parent
    had when it was forked: a test that swaps a stage for one that kills, hoards or hangs must
    get a child forked after the swap, and must not leave its child to the next test."""
    from generator.run import job

    job.JOBS.end(kill=True)
    yield
    job.JOBS.end(kill=True)


@pytest.fixture
def regen(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--regen-golden"))


def settings(tmp: Path | None = None, formats: tuple[str, ...] = ("md", "html", "xlsx", "json"),
             templates: Path | None = None, branding: Branding | None = None) -> Settings:
    return Settings(tmp or Path("/nonexistent-out"), formats, templates, branding or Branding())


_BUILD = {
    "family": lambda: plan(family(), source="ridgeview.xlsx"),
    "ortho-risk": lambda: analysed(ortho(), source="summit.xlsx"),  # the real, seeded risk analysis
    "scenarios": lambda: plan(
        family(),
        family("US team", family_clinic(team=Team.US)),
        family("Low specificity", family_clinic(workflow_specificity=Level.LOW)),
        source="ridgeview-scenarios.xlsx"),
    "hostile": lambda: plan(hostile(), source="hostile.xlsx"),
}

# Each named plan is built once per session (plans are frozen, so tests can share them);
# CASES[name].__wrapped__() builds a fresh one.
CASES = {name: cache(build) for name, build in _BUILD.items()}


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> tuple[str, Plan]:
    return request.param, CASES[request.param]()
