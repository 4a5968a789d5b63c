"""Where a workbook's time goes, stage by stage, in one warm process (as in a batch worker).

    python bench/bench_stages.py                 # 24 workbooks, 3 rounds
    python bench/bench_stages.py --count 8 --rounds 1

For docs/performance.md ("Speed against the floor"): each stage is called directly on the bench
workbooks, and the figure is the median per workbook over every round. The three ways of
reading a workbook are side by side: in this process (`CLINIC_BUDGET_SANDBOX=0`), in a one-shot
bounded child (a fork per workbook) and through the warm reader process a batch worker keeps;
the difference is what the sandbox costs per workbook. The whole job (`generate`: read, plan,
risk, render, write) is timed in this process and as a batch worker runs it, in the served
reader and job children.
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
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_batch import make_inputs  # noqa: E402


def timed(figures: dict[str, list[float]], stage: str, call: Callable[..., Any], *args: Any) -> Any:
    """`call(*args)`, its wall time added to `figures[stage]`."""
    started = time.perf_counter()
    result = call(*args)
    figures.setdefault(stage, []).append(time.perf_counter() - started)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=24, help="workbooks (default 24)")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the workbooks (default 3)")
    args = parser.parse_args()

    from generator.intake import sandbox, served
    from generator.intake.reader import read_intake, slugify
    from generator.plan import pricing as planner
    from generator.plan import risk
    from generator.render import budget_json, xlsx
    from generator.render import document as render
    from generator.run import generate as pipeline
    from generator.run.outputs import write_atomically
    from generator.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        books = sorted(make_inputs(root / "inputs", args.count).glob("*.xlsx"))
        settings = Settings.from_options(root / "out", ("md", "html", "xlsx", "json"))
        for book in books[:3]:  # warm caches (templates, the reader and job children)
            pipeline.generate(book, settings)
        figures: dict[str, list[float]] = {}
        for _ in range(args.rounds):
            for book in books:
                intake = timed(figures, "read, in process", read_intake, book)
                timed(figures, "read, one-shot bounded child", sandbox.read_intake_bounded, book)
                timed(figures, "read, warm reader process (batch default)", served.read_intake_served, book)
                plan = timed(figures, "plan", planner.plan_intake, intake)
                plan = timed(figures, "risk (10,000 draws)", risk.apply, plan)
                md = timed(figures, "Markdown (templates)", render.render_markdown, plan, settings)
                html = timed(figures, "HTML (Python-Markdown, charts, page)", render.render_html, md, plan, settings)
                files = {"budget.md": md.encode(), "budget.html": html.encode(),
                         "budget.xlsx": timed(figures, "XLSX", xlsx.render, plan, settings),
                         "budget.json": timed(figures, "JSON", budget_json.render, plan, settings)}
                timed(figures, "writing the files", write_atomically, settings.out / slugify(book.name),
                      files)
                timed(figures, "the whole job, in the served children (batch default)", pipeline.generate, book,
                      settings)
                os.environ[sandbox.ENV] = "0"
                timed(figures, "the whole job, in process", pipeline.generate, book, settings)
                del os.environ[sandbox.ENV]
        print(f"{len(books)} workbooks x {args.rounds} rounds, medians per workbook\n")
        print("| stage | ms |")
        print("|---|---:|")
        for stage, seconds in figures.items():
            print(f"| {stage} | {statistics.median(seconds) * 1000:.1f} |")
        plain = statistics.median(figures["read, in process"])
        for mode in ("read, one-shot bounded child", "read, warm reader process (batch default)"):
            extra = (statistics.median(figures[mode]) - plain) * 1000
            print(f"\nsandbox cost, {mode.split(', ', 1)[1]}: {extra:+.1f} ms per workbook", end="")
        extra = (statistics.median(figures["the whole job, in the served children (batch default)"])
                 - statistics.median(figures["the whole job, in process"])) * 1000
        print(f"\nsandbox cost, the whole job: {extra:+.1f} ms per workbook")


if __name__ == "__main__":
    main()
