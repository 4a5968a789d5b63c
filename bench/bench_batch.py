"""Batch and watch figures for docs/performance.md ("Batch and watch").

    python bench/bench_batch.py            # everything (a few minutes)
    python bench/bench_batch.py --quick    # smaller counts, for a smoke run

Runs the installed `clinic-budget` as a subprocess, as cron or a person would:
* throughput: 200 workbooks with 1 and 2 workers, JSON only, and the unchanged re-run; then
  every format this installation makes (PDF when WeasyPrint and the PDF writer are there) on
  40 workbooks by default (`--all-formats-count 200` for the full 200: PDF takes seconds each);
* latency: a workbook dropped into a watched folder until its budget.json appears;
* memory: peak RSS of the batch process (the parent: it must not grow with the workbook count)
  and of its largest worker, for 20 and 2,000 workbooks (`--memory-counts 20,2000,20000` for more).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.batch_helpers import good_workbook, wait_for  # noqa: E402
from tests.builders import (
    clinic_rows,  # noqa: E402
    clinic_workbook,  # noqa: E402
)
from tests.helpers import cli  # noqa: E402


def make_inputs(folder: Path, count: int, template: Path | None = None) -> Path:
    """`count` workbooks; the first few are built, the rest are copies with other names."""
    folder.mkdir(parents=True, exist_ok=True)
    seeds = [good_workbook(folder / f"clinic-{n:04d}.xlsx", n) for n in range(min(count, 24))]
    for n in range(len(seeds), count):
        shutil.copyfile(seeds[n % len(seeds)], folder / f"clinic-{n:04d}.xlsx")
    return folder


def batch(inputs: Path, out: Path, *args: str) -> tuple[float, str]:
    start = time.perf_counter()
    r = subprocess.run([*cli(), "batch", str(inputs), "--out", str(out), *args],
                       capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if r.returncode != 0:
        raise SystemExit(f"batch failed ({r.returncode}): {r.stderr[-2000:]}")
    return seconds, r.stdout.strip().splitlines()[-1]


def working_formats(root: Path) -> str:
    """The formats this installation actually makes (each tried on one workbook): a format is
    listed by the pipeline as soon as its engine is installed, even while its writer is missing."""
    from generator.settings import available_formats

    sample = good_workbook(root / "probe.xlsx", 3)
    working = []
    for fmt in available_formats():
        r = subprocess.run([*cli(), "run", str(sample), "--out", str(root / "probe-out"), "--formats", fmt],
                           capture_output=True, text=True, check=False)
        if r.returncode == 0:
            working.append(fmt)
    return ",".join(working)


def throughput(root: Path, count: int, formats: str, all_count: int) -> Iterator[str]:
    inputs = make_inputs(root / "inputs", count)
    plans = [("json", "1"), ("json", "2")]
    if formats != "json":
        plans += [(formats, "1"), (formats, "2")]
    for fmt, workers in plans:
        if fmt != "json" and all_count != count:
            count = all_count
            inputs = make_inputs(root / f"inputs-{count}", count)
        out = root / f"out-{fmt.replace(',', '-')}-{workers}"
        seconds, line = batch(inputs, out, "--formats", fmt, "--workers", workers)
        yield f"| {count} | {fmt} | {workers} | {seconds:.1f} s | {count / seconds:.1f} | {line} |"
        if (fmt, workers) == ("json", "2"):
            seconds, line = batch(inputs, out, "--formats", fmt, "--workers", workers)
            yield (f"| {count} (unchanged re-run) | {fmt} | {workers} | {seconds:.2f} s | "
                   f"{count / seconds:.0f} | {line} |")


def latency(root: Path, drops: int = 5, settle: float = 0.5) -> list[float]:
    inputs, out = root / "watch-in", root / "watch-out"
    inputs.mkdir()
    proc = subprocess.Popen([*cli(), "watch", str(inputs), "--out", str(out), "--formats", "json",
                             "--settle", str(settle), "--quiet"], stdout=subprocess.DEVNULL)
    try:
        time.sleep(2.0)  # the observer is up
        figures = []
        for n in range(drops):
            staged = clinic_workbook(root / f"drop-{n}.xlsx", clinic_rows(f"Drop {n}", 2 + n))
            target = out / f"drop-{n}" / "budget.json"
            start = time.perf_counter()
            os.replace(staged, inputs / staged.name)
            wait_for(target.is_file, timeout=30, what=str(target))
            figures.append(time.perf_counter() - start)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    return figures


MEASURE = """
import resource, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
parent = anon = 0
while proc.poll() is None:
    try:
        for line in open(f"/proc/{proc.pid}/status"):
            if line.startswith("VmHWM:"):
                parent = max(parent, int(line.split()[1]))
            elif line.startswith("RssAnon:"):
                anon = max(anon, int(line.split()[1]))
    except OSError:
        pass
    time.sleep(0.05)
children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(proc.returncode, parent, children, time.perf_counter() - start, anon)
"""


def peak_memory(root: Path, count: int, workers: int = 2) -> tuple[int, int, float, int]:
    """(peak RSS of the batch process, peak RSS of it or any descendant, in KiB; seconds; the
    largest anonymous memory of the batch process seen, in KiB).

    Measured from a separate process, so that RUSAGE_CHILDREN covers this batch alone; the batch
    process's own high-water mark (VmHWM) is polled from /proc while it runs, and so is its
    anonymous memory (RssAnon, sampled every 50 ms: the heap, without the pages of program and
    library files that VmHWM also counts).
    """
    inputs = root / f"mem-{count}"
    if not inputs.exists():
        make_inputs(inputs, count)
    out = Path(tempfile.mkdtemp(prefix=f"mem-out-{count}-", dir=root))  # a first run every time
    args = [*cli(), "batch", str(inputs), "--out", str(out), "--formats", "json", "--workers", str(workers)]
    probe = subprocess.run([sys.executable, "-c", MEASURE, *args], capture_output=True, text=True, check=True)
    code, parent, children, seconds, anon = probe.stdout.split()
    if code not in ("0",):
        raise SystemExit(f"batch of {count} exited {code}")
    return int(parent), int(children), float(seconds), int(anon)


def _spread(kib: Iterable[int]) -> str:
    """Median (min-max) of figures in KiB, in MiB."""
    values = sorted(kib)
    return f"{statistics.median(values) / 1024:.2f} MiB ({values[0] / 1024:.2f}-{values[-1] / 1024:.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    parser.add_argument("--all-formats-count", type=int, default=40,
                        help="workbooks for the every-format runs (PDF takes seconds each; default 40)")
    parser.add_argument("--memory-repeats", type=int, default=5,
                        help="runs per workbook count for the memory figures, reported as median and range (default 5)")
    parser.add_argument("--parts", default="throughput,latency,memory",
                        help="comma list of throughput, latency, memory (default: all)")
    parser.add_argument("--memory-counts", default=None,
                        help="comma list of workbook counts for the memory figures (default 20 and 2,000; "
                             "20,000 takes about 6 minutes a run)")
    parser.add_argument("--memory-workers", type=int, default=2,
                        help="--workers of the memory runs (default 2; with 1 the batch process generates too)")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    count, big = (40, 200) if args.quick else (200, 2000)
    all_count = min(count, args.all_formats_count)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print(f"cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}")
        if "throughput" in parts:
            formats = working_formats(root)
            print(f"formats this installation makes: {formats}\n")
            print("| workbooks | formats | workers | wall time | workbooks/s | summary |")
            print("|---|---|---|---|---|---|")
            for row in throughput(root, count, formats, all_count):
                print(row, flush=True)
        if "latency" in parts:
            figures = latency(root)
            print(f"\nwatch drop-to-output latency (settle 0.5 s): min {min(figures):.2f} s, "
                  f"median {sorted(figures)[len(figures) // 2]:.2f} s, max {max(figures):.2f} s")
        if "memory" in parts:
            # Peak RSS varies by a few hundred KiB from run to run (which thread allocates when),
            # so each count runs several times, interleaved, and the median is the figure.
            counts = [int(c) for c in args.memory_counts.split(",")] if args.memory_counts else [20, big]
            print(f"\n{args.memory_workers} worker(s)")
            print("\n| workbooks | batch process peak RSS, median (range) | its anonymous memory, largest "
                  "sampled, median (range) | largest process peak RSS, median | wall time |")
            print("|---|---|---|---|---|")
            runs: dict[int, list[tuple[int, int, float, int]]] = {n: [] for n in counts}
            for _ in range(args.memory_repeats):
                for n in runs:
                    runs[n].append(peak_memory(root, n, args.memory_workers))
            for n, figures in runs.items():
                print(f"| {n} | {_spread(f[0] for f in figures)} | {_spread(f[3] for f in figures)} | "
                      f"{statistics.median(f[1] for f in figures) / 1024:.2f} MiB | "
                      f"{statistics.median(f[2] for f in figures):.1f} s |", flush=True)
        print(f"\nthis process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
