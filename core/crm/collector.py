"""Python's cyclic garbage collector during bulk work.

A bulk job (an import of 100,000 rows, its undo) keeps hundreds of thousands of objects alive
until it ends: the rows read, the records kept for undo, the session's objects. Python's full
collections walk every live object, and they come each time the younger generations have grown
by a quarter of the oldest one: during such a job they walk the same objects again and again and
find nothing to free (a third of an import of 100,000 products' time). :func:`bulk_work` makes
them a hundred times rarer while any bulk job of the process runs; the young generations, where
short-lived garbage goes, are collected as usual, and the thresholds come back when the last job
ends, whatever way it ends.
"""
from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_running = 0
_thresholds = gc.get_threshold()


@contextlib.contextmanager
def bulk_work() -> Iterator[None]:
    """Full collections a hundred times rarer for the duration of the block (threads of a process
    share the collector: it is relaxed while one of them is in such a block)."""
    global _running, _thresholds
    with _lock:
        if _running == 0:
            _thresholds = gc.get_threshold()
            young, middle, oldest = _thresholds
            gc.set_threshold(young, middle, oldest * 100)
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0:
                gc.set_threshold(*_thresholds)
