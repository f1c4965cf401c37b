"""Long-lived objects kept out of the garbage collector's way in the server and the worker.

A full collection walks every tracked object: the imported modules, the ORM's metadata, the
bot's trained model. Under load in the API process that took up to 126 ms a time (every
request in flight waits) and about a fifth of the CPU. ``settle()`` collects once and then
freezes what is alive (``gc.freeze``), so later collections look only at objects made since.

Only process entry points (``relaydesk serve``, ``relaydesk worker``) switch it on: frozen
objects are never collected, which suits what lives as long as the process, not a test suite
that builds and drops a hub per test.
"""

from __future__ import annotations

import gc
import logging
import threading
import time

log = logging.getLogger(__name__)
_lock = threading.Lock()
_enabled = False


def enable() -> None:
    """Let ``settle`` freeze the heap in this process (called by the entry points)."""
    global _enabled
    _enabled = True


def settle(reason: str) -> None:
    """Collect, then freeze what is left: after start-up, and after a model was built."""
    if not _enabled:
        return
    with _lock:
        started = time.perf_counter()
        gc.collect()
        gc.freeze()
        log.debug(
            "heap settled after %s: %d objects frozen in %.0f ms",
            reason,
            gc.get_freeze_count(),
            (time.perf_counter() - started) * 1000,
        )
