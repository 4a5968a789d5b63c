"""The speed targets of issue 7, side by side in one run, for docs/performance.md ("Speed").

    python bench/bench_speed.py             # 40 workbooks, 5 repeats of the floor and batches
    python bench/bench_speed.py --count 20 --repeats 3

Measured on this machine, medians:
* floor: in one process, read every input with openpyxl (every cell of every sheet) and convert
  each produced budget.md with Python-Markdown (tables, attr_list, toc): the libraries a batch
  must call, doing nothing else;
* batch without PDF (md, html, xlsx, json), 1 and 2 workers, against that floor (target <= 2.0x);
* batch with PDF, 2 workers: workbooks per second (target >= 2; issue 14: at least 4.4 with
  Chromium), with each PDF engine installed (Chromium, the default where it is installed, a
  median of the repeats; WeasyPrint, one run);
* the unchanged re-run against the first run (target <= 1/4);
* `clinic-budget --help` (target < 300 ms);
* the drop folder, from the file settling to its documents (target < 1.5 s, without PDF);
* peak memory of a 2,000-workbook batch against a 20-workbook batch: bench_batch.py --parts memory.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_batch import latency, make_inputs  # noqa: E402

from tests.helpers import cli  # noqa: E402

NO_PDF = "md,html,xlsx,json"


def floor(inputs: Path, markdown_files: list[Path]) -> float:
    import markdown
    import openpyxl

    start = time.perf_counter()
    for book in sorted(inputs.glob("*.xlsx")):
        wb = openpyxl.load_workbook(book, data_only=True)
        for ws in wb.worksheets:
            for _ in ws.iter_rows(values_only=True):
                pass
        wb.close()
    for md in markdown_files:
        markdown.markdown(md.read_text(encoding="utf-8"), extensions=["tables", "attr_list", "toc"])
    return time.perf_counter() - start


def batch(inputs: Path, out: Path, formats: str, workers: int, *extra: str) -> float:
    start = time.perf_counter()
    r = subprocess.run([*cli(), "batch", str(inputs), "--out", str(out), "--formats", formats,
                        "--workers", str(workers), "--quiet", *extra], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if r.returncode != 0:
        raise SystemExit(f"batch failed ({r.returncode}): {r.stderr[-2000:]}")
    return seconds


def pdf_engines() -> list[str]:
    """The PDF engines this installation has, fastest first."""
    from generator.render import chromium
    from generator.render.pdf import weasyprint_available as pdf_available

    return [e for e, there in (("chromium", chromium.find() is not None), ("weasyprint", pdf_available())) if there]


def median_of(repeats: int, run: object) -> float:
    return statistics.median(run() for _ in range(repeats))  # type: ignore[operator]


def help_time(repeats: int = 10) -> float:
    def once() -> float:
        start = time.perf_counter()
        subprocess.run([*cli(), "--help"], capture_output=True, check=True)
        return time.perf_counter() - start

    return median_of(repeats, once)


def compiled() -> None:
    """Compile the package's bytecode first, as `pip install .` (the README's first command) does:
    an editable install run with PYTHONDONTWRITEBYTECODE=1 would otherwise compile every module
    again in every process, some 70 ms each, in the command, the fork server and each worker."""
    import compileall

    import generator

    compileall.compile_dir(Path(generator.__file__).parent, quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=40, help="workbooks per batch (default 40)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per median (default 5)")
    parser.add_argument("--no-pdf", action="store_true", help="skip the PDF batch")
    args = parser.parse_args()
    n, reps = args.count, args.repeats
    compiled()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        inputs = make_inputs(root / "inputs", n)
        print(f"{n} workbooks, {reps} repeats, cpu count {os.cpu_count()}, load {os.getloadavg()[0]:.1f}")
        first = batch(inputs, root / "first", NO_PDF, 2)
        rerun = median_of(reps, lambda: batch(inputs, root / "first", NO_PDF, 2))
        mds = sorted((root / "first").glob("*/budget.md"))
        base = median_of(reps, lambda: floor(inputs, mds))
        rows = [("floor: openpyxl read + Python-Markdown, one process", base, "")]
        for workers in (1, 2):
            seconds = median_of(reps, lambda w=workers: batch(inputs, root / f"o{w}-{time.time_ns()}", NO_PDF, w))
            rows.append((f"batch without PDF, {workers} worker(s)", seconds, f"{seconds / base:.2f}x the floor"))
        rows.append(("first batch without PDF, 2 workers", first, ""))
        rows.append(("unchanged re-run, 2 workers", rerun, f"{rerun / first:.3f} of the first run"))
        if not args.no_pdf:
            for engine in pdf_engines():
                seconds = median_of(reps if engine == "chromium" else 1, lambda e=engine: batch(
                    inputs, root / f"pdf-{e}-{time.time_ns()}", NO_PDF + ",pdf", 2, "--pdf-engine", e))
                rows.append((f"batch with PDF ({engine}), 2 workers", seconds, f"{n / seconds:.2f} workbooks/s"))
        print("\n| What | Seconds (median) | Against the target |\n|---|---:|---|")
        for what, seconds, note in rows:
            print(f"| {what} | {seconds:.2f} | {note} |")
        print(f"\n`clinic-budget --help`: {help_time() * 1000:.0f} ms (median of 10)")
        drops = latency(root)
        print(f"drop folder (settle 0.5 s, JSON): median {statistics.median(drops):.2f} s from the rename, "
              f"max {max(drops):.2f} s")


if __name__ == "__main__":
    main()
