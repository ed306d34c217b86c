"""The platform's one clock for decisions that depend on time.

Access decisions, grant ends, invoice expiry and the swarm's ``until`` checks ask ``now()`` rather
than ``timezone.now()`` or ``time.time()``, so tests can move time for all of them at once.

Production reads the wall clock and nothing else. In development and tests (DEBUG) the setting
``CLOCK_OFFSET_FILE`` may name a file holding an offset in seconds; ``now()`` adds it on every
call, so a test moves the clock of the web server, tracker and engine processes it started (they
inherit the variable) by writing one file: months pass in a moment, with no sleeps. Wall-clock
things (heartbeats, rate limits, log times) keep ``timezone.now()``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone


def offset() -> timedelta:
    """How far this clock runs ahead of the wall clock: always zero in production."""
    path: str | None = settings.CLOCK_OFFSET_FILE
    if not path:
        return timedelta(0)
    try:
        text = Path(path).read_text().strip()
    except FileNotFoundError:
        return timedelta(0)
    return timedelta(seconds=float(text or 0))


def now() -> datetime:
    """The current time (aware, UTC) for every decision that depends on time."""
    if not settings.CLOCK_OFFSET_FILE:
        return timezone.now()
    return timezone.now() + offset()


def timestamp() -> float:
    """``now()`` as seconds since the epoch, for the swarm's integer ``until`` values."""
    return now().timestamp()
