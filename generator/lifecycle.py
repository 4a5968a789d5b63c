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

    def once() -> None:  # a main process runs both hooks; a pool worker only the second
        if key in _registered:
            _registered.discard(key)
            func()

    atexit.register(once)
    util.Finalize(None, once, exitpriority=10)
