"""Pausing Python's cycle collector around work that builds a large,
acyclic object graph (100,000 records and articles): each collection
would walk every object built so far, again and again."""

from __future__ import annotations

import contextlib
import gc
from typing import Iterator


@contextlib.contextmanager
def paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
