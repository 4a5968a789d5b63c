"""Whole-dollar arithmetic that never loses a dollar to rounding."""

from __future__ import annotations

import math
from collections.abc import Sequence


def dollars(x: float) -> int:
    """Round half up to whole dollars (not banker's rounding)."""
    return int(math.floor(x + 0.5))


def floor_dollars(x: float) -> int:
    return int(math.floor(x + 1e-9))


def ceil_dollars(x: float) -> int:
    return int(math.ceil(x - 1e-9))


def apportion(total: int, weights: Sequence[float]) -> list[int]:
    """Split `total` into whole dollars in proportion to `weights`, summing exactly to `total`
    (largest-remainder method). Zero weights get zero; all-zero weights split evenly."""
    n = len(weights)
    if n == 0:
        return []
    weight_sum = float(sum(weights))
    shares = [total * w / weight_sum for w in weights] if weight_sum > 0 else [total / n] * n
    parts = [math.floor(s) for s in shares]
    short = total - sum(parts)
    order = sorted(range(n), key=lambda i: (-(shares[i] - parts[i]), i))
    for i in order[:short]:
        parts[i] += 1
    return parts


def usd(amount: float) -> str:
    """`$64,999` (negative: `-$1,200`)."""
    whole = dollars(amount)
    return f"-${-whole:,}" if whole < 0 else f"${whole:,}"


def share_text(x: float) -> str:
    """A share of the simulated builds as the report says it: 37%, under 1%, over 99%."""
    if x < 0.005:
        return "under 1%"
    if x > 0.995:
        return "over 99%"
    return f"{x:.0%}"
