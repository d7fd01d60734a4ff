"""The one place dockyard waits on a py-rattler coroutine: `run(coro)`.

`asyncio.run(coro)` alone let dockyard abort at exit, 1 run in 10 to 50 after
a conda channel error (`Fatal Python error: PyGILState_Release: thread state
... must be current when releasing`, or a segfault in `method_dealloc`).
py-rattler completes a coroutine from one of its tokio threads by calling
`loop.call_soon_threadsafe(...)` with the GIL it took for that call. That call
writes to the loop's self-pipe, which releases the GIL and wakes the main
thread; the main thread takes the result, leaves `asyncio.run` and, when the
command ends there (the error path), finalizes the interpreter while the tokio
thread still waits to take the GIL back inside `call_soon_threadsafe`. A
thread that takes the GIL during finalization is terminated, in the middle of
Rust code: the abort.

So `run` returns only once no thread unknown to `threading` is inside Python
code any more: while it waits it releases the GIL, the tokio thread finishes
its call and lets go. Threads without a Python frame hold nothing of ours.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
SETTLE_TIMEOUT = 5.0


def run(coro: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(coro)`, then wait for py-rattler's threads to leave Python (see above)."""
    try:
        return asyncio.run(coro)
    finally:
        settle()


def foreign_threads_in_python() -> list[int]:
    """Idents of threads `threading` does not know (native ones) that run Python code now."""
    known = {t.ident for t in threading.enumerate()}
    return [ident for ident in sys._current_frames() if ident not in known]


def settle(timeout: float = SETTLE_TIMEOUT) -> bool:
    """Release the GIL until no native thread is inside Python; False if one still is."""
    deadline = time.monotonic() + timeout
    while foreign_threads_in_python():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


__all__ = ["foreign_threads_in_python", "run", "settle"]
