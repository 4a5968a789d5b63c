"""Rewrite the example workbooks in `inputs/` (or FOLDER): `python -m tests.update_inputs [FOLDER]`.

They are `clinic-budget new --example NAME` for every example; tests/test_new.py checks that the
shipped ones are current.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from generator.intake.blank import write_all

ROOT = Path(__file__).resolve().parent.parent


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    folder = Path(args[0]) if args else ROOT / "inputs"
    for path in write_all(folder):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
