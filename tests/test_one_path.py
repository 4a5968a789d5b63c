"""One per-workbook path (issue 17 item 15, issue 14 "no stale documents"): `run`, `batch`,
`watch` and `serve` all take `generate.process_workbook` under the output lock, through the
manifest; a folder never holds documents of an older version of its workbook, and documents
kept from an earlier run of the same workbook are listed as such."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import pytest

from generator.run.batch import Outcome, Summary, run_batch, run_files
from generator.run.generate import OUTSIDE, settle_folder
from generator.run.manifest import Record, figures_digest
from generator.settings import Settings
from tests.batch_helpers import manifest_records, summary
from tests.builders import clinic_rows, clinic_workbook
from tests.helpers import run_cli


@pytest.fixture(autouse=True)
def _in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINIC_BUDGET_SANDBOX", "0")  # read and render in this process: no fork


def settings(out: Path, *formats: str) -> Settings:
    return Settings(out=out, formats=formats or ("md", "json"))


def batch(folder: Path, out: Path, *formats: str) -> tuple[list[Outcome], Summary]:
    events = list(run_batch(folder, settings(out, *formats), workers=1))
    return [e for e in events if isinstance(e, Outcome)], next(e for e in events if isinstance(e, Summary))


def run(paths: Iterable[Path], out: Path, *formats: str) -> list[Outcome]:
    return [e for e in run_files(paths, settings(out, *formats)) if isinstance(e, Outcome)]


def clinic(out: Path, slug: str) -> str:
    return str(json.loads((out / slug / "budget.json").read_text(encoding="utf-8"))["clinic"]["name"])


def test_a_run_of_another_workbook_with_the_same_slug_is_not_taken_for_unchanged(tmp_path: Path) -> None:
    inputs, other, out = tmp_path / "inputs", tmp_path / "other", tmp_path / "out"
    inputs.mkdir()
    other.mkdir()
    clinic_workbook(inputs / "north.xlsx", clinic_rows("North Clinic", 3))
    assert [o.status for o in batch(inputs, out)[0]] == ["generated"]
    clinic_workbook(other / "north.xlsx", clinic_rows("Another North", 5))
    [outcome] = run([other / "north.xlsx"], out)
    assert outcome.status == "generated" and clinic(out, "north") == "Another North"
    assert manifest_records(out)["north"]["source"] == str(other / "north.xlsx")  # run updates the manifest
    outcomes, done = batch(inputs, out)
    assert [o.status for o in outcomes] == ["generated"] and done.unchanged == 0  # not "unchanged"
    assert clinic(out, "north") == "North Clinic"


def test_fewer_formats_after_a_change_leave_no_older_document(tmp_path: Path) -> None:
    inputs, out = tmp_path / "inputs", tmp_path / "out"
    inputs.mkdir()
    clinic_workbook(inputs / "north.xlsx", clinic_rows("North Clinic", 3))
    batch(inputs, out, "md", "html", "json")
    assert (out / "north" / "budget.html").is_file()
    (out / "north" / "notes.txt").write_text("the consultant's own file", encoding="utf-8")
    clinic_workbook(inputs / "north.xlsx", clinic_rows("North Clinic, edited", 4))
    [outcome], _ = batch(inputs, out, "md", "json")
    assert outcome.removed == ("budget.html",)
    assert sorted(p.name for p in (out / "north").iterdir()) == ["budget.json", "budget.md", "notes.txt"]
    assert "north/budget.html" not in (out / "index.html").read_text(encoding="utf-8")
    assert manifest_records(out)["north"]["kept"] == []


def test_documents_of_the_same_workbook_are_kept_and_listed_as_kept(tmp_path: Path) -> None:
    inputs, out = tmp_path / "inputs", tmp_path / "out"
    inputs.mkdir()
    clinic_workbook(inputs / "north.xlsx", clinic_rows("North Clinic", 3))
    run([inputs / "north.xlsx"], out, "md", "html", "json")
    [outcome] = run([inputs / "north.xlsx"], out, "json")
    assert outcome.removed == () and outcome.record is not None
    assert (outcome.record.files, outcome.record.kept) == (("budget.json",), ("budget.md", "budget.html"))
    outcomes, _ = batch(inputs, out, "json")  # the same workbook and settings as that run: unchanged
    assert [o.status for o in outcomes] == ["unchanged"]
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "HTML, MD kept from an earlier run" in page or "MD, HTML kept from an earlier run" in page
    with (out / "index.csv").open(encoding="utf-8", newline="") as fh:
        [row] = list(csv.DictReader(fh))
    assert row["documents_kept"] == "north/budget.html north/budget.md"
    # a later run with those formats makes them again: nothing is listed as kept any more
    [again] = run([inputs / "north.xlsx"], out, "md", "html", "json")
    assert again.record is not None and again.record.kept == ()


def test_settle_folder_keeps_only_documents_of_the_same_workbook_and_figures(tmp_path: Path) -> None:
    folder = tmp_path / "north"
    folder.mkdir()

    def documents(*names: str) -> None:
        for name in names:
            (folder / name).write_bytes(b"x")

    earlier = Record("north", "north.xlsx", "aaa", "fp", ("budget.md", "budget.html"), kept=("budget.pdf",),
                     figures=figures_digest())
    documents("budget.md", "budget.html", "budget.pdf", "budget.xlsx", "keep-me.txt")
    # budget.xlsx is not in the record: of unknown origin, so removed
    assert settle_folder(str(folder), ("budget.json",), earlier, "aaa", figures_digest()) == (
        ("budget.md", "budget.html", "budget.pdf"), ("budget.xlsx",))
    for previous, digest in ((earlier, "bbb"),  # another version of the workbook
                             (replace(earlier, figures="older rate card"), "aaa"),  # other figures
                             (None, "aaa")):  # no record at all
        documents("budget.md", "budget.html")
        kept, removed = settle_folder(str(folder), ("budget.json",), previous, digest, figures_digest())
        assert kept == () and "budget.md" in removed and "budget.html" in removed
        assert not (folder / "budget.md").exists()
    assert (folder / "keep-me.txt").is_file()


def test_a_link_out_of_the_input_folder_is_not_followed(tmp_path: Path) -> None:
    inputs, elsewhere, out = tmp_path / "inputs", tmp_path / "elsewhere", tmp_path / "out"
    inputs.mkdir()
    elsewhere.mkdir()
    outside = clinic_workbook(elsewhere / "private.xlsx", clinic_rows("Private Clinic", 2))
    clinic_workbook(inputs / "real.xlsx", clinic_rows("Real Clinic", 2))
    os.symlink(outside, inputs / "linked-out.xlsx")
    os.symlink("real.xlsx", inputs / "linked-in.xlsx")  # within the folder: followed
    outcomes, done = batch(inputs, out)
    status = {os.path.basename(o.source): (o.status, o.errors) for o in outcomes}
    assert status["linked-out.xlsx"] == ("failed", (f"linked-out.xlsx: {OUTSIDE}",))
    assert status["linked-in.xlsx"][0] == status["real.xlsx"][0] == "generated"
    assert not (out / "linked-out").exists() and done.failed == 1
    # `run` is given the file by its operator: the link is followed (with the file checks)
    assert [o.status for o in run([inputs / "linked-out.xlsx"], out)] == ["generated"]


@pytest.mark.slow
def test_run_then_batch_through_the_command(tmp_path: Path) -> None:
    inputs, other = tmp_path / "inputs", tmp_path / "other"
    inputs.mkdir()
    other.mkdir()
    clinic_workbook(inputs / "north.xlsx", clinic_rows("North Clinic", 3))
    assert run_cli("batch", "--formats", "md,html,json", cwd=tmp_path).returncode == 0
    clinic_workbook(other / "north.xlsx", clinic_rows("Another North", 5))
    r = run_cli("run", "other/north.xlsx", "--formats", "json", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (
        0, "other/north.xlsx -> output/north (budget.json); removed, from an older version: budget.md, "
           "budget.html\n")
    r = run_cli("batch", "--formats", "json", cwd=tmp_path)
    assert summary(r.stdout) == (1, 1, 0, 0), r.stdout
    assert clinic(tmp_path / "output", "north") == "North Clinic"


def test_a_manifest_of_a_newer_version_is_refused_and_left_as_it_is(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import sqlite3
    import threading

    from generator.cli import main
    from generator.errors import OutputError
    from generator.run.manifest import MANIFEST_NAME
    from generator.run.watch import watch

    inputs, out = tmp_path / "inputs", tmp_path / "out"
    inputs.mkdir()
    out.mkdir()
    clinic_workbook(inputs / "north.xlsx", clinic_rows("North Clinic", 3))
    with sqlite3.connect(out / MANIFEST_NAME) as db:
        db.execute("CREATE TABLE records (slug TEXT PRIMARY KEY, record TEXT, shape TEXT)")
        db.execute("INSERT INTO records VALUES ('north', '{}', 'of the future')")
        db.execute("PRAGMA user_version = 3")
    before = (out / MANIFEST_NAME).read_bytes()
    message = (f"{out / MANIFEST_NAME}: this manifest was written by a newer clinic-budget (schema version 3; "
               "this one reads version 2); it is left as it is: use the newer clinic-budget, or another --out folder")
    assert main(["batch", str(inputs), "--out", str(out), "--formats", "json"]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"
    assert main(["run", str(inputs / "north.xlsx"), "--out", str(out), "--formats", "json"]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"
    with pytest.raises(OutputError) as refused:
        next(iter(watch(inputs, settings(out), threading.Event())))
    assert str(refused.value) == message
    assert (out / MANIFEST_NAME).read_bytes() == before
    assert {p.name for p in out.iterdir()} == {MANIFEST_NAME, ".clinic-budget.lock"}  # nothing written
    assert not (out / "north").exists()
