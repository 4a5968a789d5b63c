"""Run the installed command (the system tests; workbooks are built with tests.builders)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path


def cli() -> list[str]:
    """The installed console script, or `python -m generator` beside this interpreter."""
    exe = shutil.which("clinic-budget", path=str(Path(sys.executable).parent)) or shutil.which("clinic-budget")
    return [exe] if exe else [sys.executable, "-m", "generator"]


def run_cli(*args: object, cwd: Path | None = None, env: Mapping[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [*cli(), *map(str, args)], capture_output=True, text=True, cwd=cwd, env=full_env, timeout=timeout,
    )
