"""The largest workbook within the intake limits: how long it takes and how much memory it needs.

    python bench/bench_limits.py                  # stages in this process, then the whole job
    python bench/bench_limits.py --stages-only    # only the stage breakdown (no subprocess)
    python bench/bench_limits.py --job-only --pdf-engine weasyprint

Issue 17 item 1: any workbook within the limits finishes in under 90 s and 1 GB on the 2-core
machine, with every format. The workbook is `tests.hostile_corpus.largest_within_limits` (every
table at its row limit, 50 scenarios, 500-character texts, the largest risk.draws, a ten-year
horizon).

First each stage is run in this process and timed (CPU and wall seconds, and the peak RSS of
this process after it); then the whole job, `clinic-budget run` with every format, runs under
`/usr/bin/time -v` as a user would run it (bounded: the job is stopped past its 85 s), and its
wall time, CPU time and peak RSS are printed. With `--unbounded` the job runs with
CLINIC_BUDGET_SANDBOX=0, so a job over the bound still shows how long it would take. Run it
under `nice -n 10`; report the load average printed with the figures.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FORMATS = "md,html,xlsx,pdf,docx,json"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stage(name: str, call: Callable[..., Any], *args: Any) -> Any:
    wall, cpu = time.perf_counter(), time.process_time()
    result = call(*args)
    print(f"  {name:28} {time.process_time() - cpu:7.2f} s CPU {time.perf_counter() - wall:7.2f} s wall  "
          f"peak RSS {peak_mb():6.0f} MB", flush=True)
    return result


def stages(book: Path, pdf_engine: str, formats: str) -> None:
    from generator.intake.reader import read_intake
    from generator.plan import quotes, risk
    from generator.plan.pricing import plan_intake
    from generator.render import writers
    from generator.settings import Settings

    print(f"stages in one process (load average {os.getloadavg()[0]:.2f})")
    settings = Settings.from_options(book.parent / "out", tuple(formats.split(",")), pdf_engine=pdf_engine)
    intake = stage("read", read_intake, book)
    plan = stage(f"plan ({len(intake.scenarios)} scenarios)", plan_intake, intake)
    plan = stage("risk analysis", risk.apply, plan)
    plan = stage("quotes", quotes.apply, plan)
    for w in writers.selected(settings.formats):
        stage(f"render {w.file_name}", w.render, plan, settings)
    print(f"load average {os.getloadavg()[0]:.2f}")


def job(book: Path, pdf_engine: str, unbounded: bool, formats: str) -> None:
    env = dict(os.environ)
    if unbounded:
        env["CLINIC_BUDGET_SANDBOX"] = "0"
    out = book.parent / "job-out"
    command = ["/usr/bin/time", "-v", sys.executable, "-m", "generator", "run", str(book), "--out", str(out),
               "--formats", formats, "--pdf-engine", pdf_engine]
    print(f"whole job, {'unbounded' if unbounded else 'bounded'}, {pdf_engine} PDF "
          f"(load average {os.getloadavg()[0]:.2f})", flush=True)
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    report = done.stderr
    figure = {key: re.search(rf"{re.escape(key)}: (.*)", report) for key in
              ("User time (seconds)", "System time (seconds)", "Elapsed (wall clock) time (h:mm:ss or m:ss)",
               "Maximum resident set size (kbytes)", "Exit status")}
    values = {k: (m.group(1).strip() if m else "?") for k, m in figure.items()}
    cpu = sum(float(values[k]) for k in ("User time (seconds)", "System time (seconds)") if values[k] != "?")
    rss = values["Maximum resident set size (kbytes)"]
    print(f"  exit {values['Exit status']}, wall {values['Elapsed (wall clock) time (h:mm:ss or m:ss)']}, "
          f"CPU {cpu:.1f} s, peak RSS of the largest process {int(rss) / 1024:.0f} MB" if rss != "?"
          else f"  {report[-2000:]}")
    lines = [line for line in done.stdout.splitlines() + report.splitlines()
             if line.strip() and not line.startswith("\t")]
    for line in lines[:6]:
        print(f"  | {line[:200]}")
    files = sorted(out.glob("*/*")) if out.exists() else []
    print(f"  files: {', '.join(f'{p.name} ({p.stat().st_size // 1024} KB)' for p in files) or 'none'}")
    print(f"  load average {os.getloadavg()[0]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stages-only", action="store_true")
    parser.add_argument("--job-only", action="store_true")
    parser.add_argument("--unbounded", action="store_true", help="the job with CLINIC_BUDGET_SANDBOX=0")
    parser.add_argument("--pdf-engine", default="chromium", choices=("chromium", "weasyprint"))
    parser.add_argument("--formats", default=FORMATS, help=f"default {FORMATS}")
    args = parser.parse_args()
    from tests.hostile_corpus import largest_within_limits

    with tempfile.TemporaryDirectory(prefix="bench-limits-") as folder:
        book = largest_within_limits(Path(folder) / "largest.xlsx")
        print(f"{book.name}: {book.stat().st_size // 1024} KB")
        if not args.job_only:
            stages(book, args.pdf_engine, args.formats)
        if not args.stages_only:
            job(book, args.pdf_engine, args.unbounded, args.formats)


if __name__ == "__main__":
    main()
