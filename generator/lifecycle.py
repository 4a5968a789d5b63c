"""Clean-up when a process ends, batch pool workers included (they skip `atexit`)."""

from __future__ import annotations

import os
from collections.abc import Callable

_registered: set[tuple[int, Callable[[], None]]] = set()


def at_exit(func: Callable[[], None]) -> None:
    """Call `func` when this process ends; once, however often it is asked for."""
    import atexit
    from multiprocessing import util

    key = (os.getpid(), func)
    if key in _registered:
        return
    _registered.add(key)
    atexit.register(func)
    util.Finalize(None, func, exitpriority=10)  # multiprocessing's workers run these, not atexit
