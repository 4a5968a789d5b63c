"""What each hostile file costs `validate` and `run`: wall seconds, CPU seconds and peak memory.

    python3 bench/bench_hostile.py [--command validate|run|both]

The corpus is `tests/hostile_corpus.py` (`python -m tests.hostile_corpus DIR` writes it). The
README promises an answer within 10 s (the read's bound) for every file; this reports the
figures, one command at a time, instead of asserting them in the tests, where a loaded machine
made them fail. Report the load average with the figures (`uptime`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests import hostile_corpus  # noqa: E402
from tests.builders import clinic_workbook  # noqa: E402
from tests.helpers import cli  # noqa: E402

BOUND = 10.0  # seconds: the README's bound for an answer on one file


def measure(*args: object) -> tuple[int, float, float, float]:
    """(exit status, wall seconds, CPU seconds, peak MB) of the command and every child it waited for."""
    started = time.monotonic()
    proc = subprocess.Popen([*cli(), *map(str, args)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "CLINIC_BUDGET_SANDBOX": "1"})
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - started
    return proc.returncode, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--command", choices=("validate", "run", "both"), default="both")
    args = parser.parse_args()
    commands = ("validate", "run") if args.command == "both" else (args.command,)
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as folder:
        root = Path(folder)
        corpus = hostile_corpus.build_corpus(root / "corpus")
        clinic_workbook(root / "ridgeview.xlsx")
        print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}; {len(corpus)} cases")
        for command in commands:
            extra = ("--out", root / "out", "--formats", "json,md") if command == "run" else ()
            print(f"\n{command}: wall s, CPU s, peak MB, exit, case")
            over = 0
            for case in corpus:
                code, wall, cpu, peak = measure(command, case.path, *extra)
                over += wall >= BOUND
                flag = "  OVER" if wall >= BOUND else ""
                print(f"  {wall:6.2f}  {cpu:6.2f}  {peak:6.0f}  {code}  {case.name}{flag}")
            print(f"{command}: {over} of {len(corpus)} cases at or over {BOUND:g} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
