"""``best_effort``: for clean-up that must not stop what it is part of, and must not
fail silently either.

A ``with best_effort(log, "destroy %s", cid):`` block swallows an ``Exception`` (never a
cancellation, KeyboardInterrupt or SystemExit) and logs it as a warning naming what was
being done, so that a failure leaves a trace in the log (``supervisor.log`` for the
supervisor) instead of vanishing.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator


@contextlib.contextmanager
def best_effort(log: logging.Logger, what: str, *args: object) -> Iterator[None]:
    try:
        yield
    except Exception as e:
        log.warning(f"{what}: %s: %s (going on)", *args, type(e).__name__, e)
