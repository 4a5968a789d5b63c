"""What budget.docx costs per workbook, with and without its charts (issue 14).

    python bench/bench_docx.py                 # 12 workbooks, 5 rounds
    python bench/bench_docx.py --count 24 --rounds 7

In one process, after one warm-up render: each workbook is read and planned once (risk analysis
and quotes included, as a batch does), then every round renders, in turn, budget.md (the
Markdown the Word writer walks), budget.docx, and budget.docx with its charts left out, so that
the three alternate under the same load. Reports CPU time (process time), the figure that holds
on a shared machine, with the median wall time and the load average beside it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.batch_helpers import good_workbook  # noqa: E402


def timed(run: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    from generator.intake.reader import read_intake
    from generator.plan import quotes, risk
    from generator.plan.pricing import plan_intake
    from generator.render import document, docx, writers
    from generator.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=12, help="workbooks (default 12)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds over every workbook (default 5)")
    args = parser.parse_args()
    if not docx.available():
        raise SystemExit("the docx extra is not installed: pip install 'clinic-budget[docx]'")
    settings = Settings(Path("unused"), ("md", "docx"))
    with tempfile.TemporaryDirectory() as tmp:
        plans = [quotes.apply(risk.apply(plan_intake(read_intake(good_workbook(Path(tmp) / f"c{n}.xlsx", n)))))
                 for n in range(args.count)]
    markdowns = [document.render_markdown(p, settings) for p in plans]
    docx.render(plans[0], settings, markdowns[0])  # warm: imports, styles, the chart fonts

    pairs = list(zip(plans, markdowns, strict=True))
    chart = docx.Builder._chart
    results: dict[str, list[tuple[float, float]]] = {"md": [], "docx": [], "docx, no charts": []}
    load = []
    for _ in range(args.rounds):
        load.append(os.getloadavg()[0])
        results["md"].append(timed(lambda: [writers.render_md(p, settings) for p in plans]))
        results["docx"].append(timed(lambda: [docx.render(p, settings, m) for p, m in pairs]))
        docx.Builder._chart = lambda self, kind, index: None  # type: ignore[method-assign]
        try:
            results["docx, no charts"].append(
                timed(lambda: [docx.render(p, settings, m) for p, m in pairs]))
        finally:
            docx.Builder._chart = chart  # type: ignore[method-assign]
    n = len(plans)
    print(f"{n} workbooks, {args.rounds} rounds, cpu count {os.cpu_count()}, "
          f"load average {min(load):.1f}-{max(load):.1f}")
    print("\n| Per workbook | CPU ms (median) | wall ms (median) |\n|---|---:|---:|")
    for what, runs in results.items():
        cpu = statistics.median(c for _, c in runs) / n * 1000
        wall = statistics.median(w for w, _ in runs) / n * 1000
        print(f"| {what} | {cpu:.0f} | {wall:.0f} |")
    print("\nbudget.docx is rendered from the Markdown (not counted in its rows); the batch renders the "
          "Markdown once for md, html, pdf and docx.")


if __name__ == "__main__":
    main()
