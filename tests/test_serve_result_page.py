"""The result page's headline rows read as sentences (found trying serve as a user would)."""
from __future__ import annotations

from pathlib import Path

import pytest

from generator.serve.files import Figures
from generator.serve.web import _templates
from generator.settings import Settings


def figures(break_even_year: int | None) -> Figures:
    return Figures(clinic="Ridgeview", physicians=4, build_low=1, build_expected=2, build_high=3, tier="basic",
                   year_one=2, break_even_year=break_even_year, recommendation="Subscribe to DrChrono")


@pytest.mark.parametrize(("year", "row"), [
    (None, "<th>Custom build becomes the cheaper path</th><td>not within the horizon</td>"),
    (3, "<th>Custom build becomes the cheaper path</th><td>in year 3</td>"),
])
def test_break_even_row_reads_as_a_sentence(tmp_path: Path, year: int | None, row: str) -> None:
    env = _templates(Settings(out=tmp_path, formats=("md",)))
    html = env.get_template("serve/result.html.j2").render(
        limit="50 MB", name="r.xlsx", slug="r", status="generated", figures=figures(year), warnings=(),
        documents=(), kept=())
    assert row in html
    assert "cheaper than a subscription from" not in html  # was: "... from not within the horizon"
