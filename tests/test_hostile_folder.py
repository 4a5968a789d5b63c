"""Nothing a stranger puts in the drop folder stops the batch or the watcher, eats the machine
or touches what is not ours (issue 17, items 2-8, 11-13, 16-18, 20). Each case is a folder or
an operator input that broke a shipped version; the command now answers in one line per
problem, names the workbook, and finishes."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import time
from pathlib import Path

import pytest

from tests.batch_helpers import MANIFEST, summary
from tests.builders import clinic_rows, clinic_workbook
from tests.helpers import run_cli

pytestmark = pytest.mark.slow


def _batch(folder: Path, out: Path, *extra: str, timeout: float = 180):  # type: ignore[no-untyped-def]
    return run_cli("batch", folder, "--out", out, "--formats", "json,md", "--workers", "1", *extra,
                   env={"PYTHONIOENCODING": "utf-8"}, timeout=timeout)


def test_a_hostile_drop_folder_is_listed_and_answered_in_full(tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    clinic_workbook(folder / "good.xlsx")
    clinic_workbook(Path(os.fsdecode(bytes(folder) + b"/Cl\xednica.xlsx")))  # Latin-1 name: not UTF-8
    clinic_workbook(folder / ("L" * 240 + ".xlsx"))  # a 240-character slug
    clinic_workbook(folder / "=HYPERLINK(evil).xlsx", clinic_rows("@SUM(1+1) -2+3", 3))
    clinic_workbook(folder / "esc\x1b[2Jape.xlsx", clinic_rows("Escape", "three"))
    os.mkfifo(folder / "fifo.xlsx")
    os.symlink("/dev/zero", folder / "zero.xlsx")
    os.symlink("loop.xlsx", folder / "loop.xlsx")
    with (folder / "sparse.xlsx").open("wb") as fh:
        fh.truncate(20 * 1024 ** 3)  # 20 GB, no disk used
    out = tmp_path / "out"
    (out / ".vim.bak" / "x").mkdir(parents=True)  # hidden, two dots, old: not ours
    (out / ".thunderbird.profile.tmp").write_text("mail")
    old = time.time() - 3600
    for path in (out / ".vim.bak", out / ".thunderbird.profile.tmp"):
        os.utime(path, (old, old))

    result = _batch(folder, out)  # its timeout guards against a hang; timing is bench/'s
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "\x1b" not in result.stdout + result.stderr
    assert "esc\\x1b[2Jape.xlsx" in result.stdout + result.stderr
    total, generated, _unchanged, failed = summary(result.stdout)
    assert generated == 4  # good, the Latin-1 name, the long name, the =HYPERLINK name
    assert failed == 5  # the bad cell, the FIFO, /dev/zero, the 20 GB file, the symlink loop
    for name, message in (("fifo.xlsx", "this is a named pipe (FIFO), not an Excel workbook"),
                          ("zero.xlsx", "a symbolic link to a file outside the input folder; it is not followed"),
                          ("sparse.xlsx", "the file is 20,480 MB on disk, too large"),
                          ("loop.xlsx", "cannot read the file: Too many levels of symbolic links")):
        assert f"{name}: {message}" in result.stdout + result.stderr, result.stdout
    slugs = {p.name for p in out.iterdir() if not p.name.startswith((".", "_")) and p.is_dir()}
    long_slug = next(s for s in slugs if s.startswith("lll"))
    assert len(long_slug) == 100 and "clnica" in slugs
    with (out / "index.csv").open(encoding="utf-8", newline="") as fh:
        cells = [cell for row in csv.reader(fh) for cell in row]
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@"))], cells
    assert "'@SUM(1+1) -2+3" in cells
    assert (out / ".vim.bak" / "x").is_dir() and (out / ".thunderbird.profile.tmp").is_file()
    # the watcher's siblings: a second batch finds the good ones unchanged, the manifest intact
    again = _batch(folder, out)
    assert again.returncode == 1 and summary(again.stdout)[2] == 4, again.stdout


def test_run_with_several_files_exits_1_when_some_succeed_and_names_each(tmp_path: Path) -> None:
    good = clinic_workbook(tmp_path / "good.xlsx")
    bad = clinic_workbook(tmp_path / "bad.xlsx", clinic_rows("Bad", "three"))
    os.mkfifo(tmp_path / "fifo.xlsx")
    out = tmp_path / "out"
    (out / "fifo").mkdir(parents=True)
    (out / "fifo" / "budget.json").mkdir()  # an output that cannot be written: an OutputError
    result = run_cli("run", good, bad, tmp_path / "fifo.xlsx", "--out", out, "--formats", "json", timeout=120)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert all(line.startswith(("error: bad.xlsx", "error: fifo.xlsx")) for line in result.stderr.splitlines())
    assert (out / "good" / "budget.json").is_file()


def test_damaged_manifest_records_are_regenerated_not_fatal(tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    for n in range(3):
        clinic_workbook(folder / f"c{n}.xlsx")
    out = tmp_path / "out"
    assert _batch(folder, out).returncode == 0
    with sqlite3.connect(out / MANIFEST) as db:
        db.execute("UPDATE records SET record = 'not json' WHERE slug = 'c0'")
        db.execute("UPDATE records SET record = ? WHERE slug = 'c1'", (json.dumps({"slug": "c1", "files": 5}),))
        db.execute("UPDATE records SET record = ? WHERE slug = 'c2'",
                   (json.dumps({"slug": "c2", "headline": {"unknown": 1}}),))
    for _ in range(2):
        result = _batch(folder, out)
        assert result.returncode == 0, result.stderr
    assert summary(result.stdout)[2] == 3  # all unchanged on the second run after the repair


def test_a_locked_manifest_is_kept_and_the_batch_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    clinic_workbook(folder / "c0.xlsx")
    out = tmp_path / "out"
    assert _batch(folder, out).returncode == 0
    before = (out / MANIFEST).read_bytes()
    with sqlite3.connect(out / MANIFEST, isolation_level=None) as db:
        db.execute("BEGIN EXCLUSIVE")  # another process holds it: "database is locked"
        result = _batch(folder, out, timeout=120)
        db.execute("ROLLBACK")
    assert result.returncode == 2 and "cannot open the manifest" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert (out / MANIFEST).read_bytes() == before


def test_operator_inputs_are_checked_once_up_front(tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    clinic_workbook(folder / "c0.xlsx")
    fake = tmp_path / "logo.png"
    fake.write_text("not a picture")
    result = run_cli("batch", folder, "--out", tmp_path / "out", "--logo", fake)
    assert result.returncode == 2 and result.stderr.startswith(f"error: {fake}: the logo is named .png but is not")
    big = tmp_path / "big.png"
    with big.open("wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n")
        fh.truncate(200 * 1024 * 1024)
    result = run_cli("run", folder / "c0.xlsx", "--out", tmp_path / "out", "--logo", big)
    assert result.returncode == 2 and "the logo is 200.0 MB; at most 2 MB" in result.stderr
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "index.html.j2").write_text("{% for x in rows %}")
    result = run_cli("batch", folder, "--out", tmp_path / "out", "--templates", mine)
    assert result.returncode == 2 and "index.html.j2:1" in result.stderr, result.stderr
    assert not (tmp_path / "out" / "c0").exists()  # refused before any work
    (mine / "index.html.j2").unlink()
    (mine / "budget.md.j2").symlink_to("/etc/passwd")
    result = run_cli("run", folder / "c0.xlsx", "--out", tmp_path / "out", "--templates", mine)
    assert result.returncode == 2 and "outside the --templates folder" in result.stderr, result.stderr


def test_an_override_template_runs_sandboxed(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "budget.md.j2").write_text("{{ plan.__class__.__init__.__globals__['os'].popen('id').read() }}")
    book = clinic_workbook(tmp_path / "c0.xlsx")
    result = run_cli("run", book, "--out", tmp_path / "out", "--formats", "md", "--templates", mine)
    assert result.returncode == 2, result.stdout
    assert "unsafe" in result.stderr or "not safely" in result.stderr, result.stderr
    assert not (tmp_path / "out" / "c0" / "budget.md").exists()


def test_stale_chromium_profiles_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    from generator.render.chromium import PROFILE_PREFIX, remove_stale_profiles

    dead = tmp_path / f"{PROFILE_PREFIX}{2 ** 22 + 12345}-abc"  # above pid_max: no such process
    live = tmp_path / f"{PROFILE_PREFIX}{os.getpid()}-def"
    other = tmp_path / "clinic-budget-other"
    for path in (dead, live, other):
        (path / "Default").mkdir(parents=True)
    assert remove_stale_profiles(str(tmp_path)) == 1
    assert not dead.exists() and live.exists() and other.exists()
