"""Pacing the watcher: when to ask for the next block once caught up, and how long to wait after
a failure."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field

from payments.chain.blocks import Block

# A block older than this when read is from catching up, not from following the head: it may
# be solidified already, which is worth one question to the node.
LIVE_SECONDS = 10.0
BACKOFF_FIRST_SECONDS = 1.0
# Pacing once caught up (``Pacer``): how finely the wait for the next block is learnt, and
# how soon to ask again when a due block is not there yet.
OFFSET_STEP_SECONDS = 0.05
MAX_OFFSET_SECONDS = 2.0
RETRY_SECONDS = 0.1
RETRY_WINDOW_SECONDS = 1.0


@dataclass
class Pacer:
    """When to ask for the next block once caught up: when the chain can have made it.

    TronGrid counts every request against a daily quota, so asking every ``poll`` seconds for
    a block that comes every 3 s would spend most of it on ``{}``. The pacer learns the block
    interval (the smallest gap between blocks seen as they came) and how long after its
    timestamp a block can be read from the node (``offset``: a little earlier after a block
    that was there at the first ask, a little later after one that was not), sleeps until
    then, asks, and asks again every ``RETRY_SECONDS`` for a while if it is not there yet
    (then every ``poll``: a producer missed its slot).
    """

    poll: float
    gaps: deque[float] = field(default_factory=lambda: deque(maxlen=20))
    last_stamp: float | None = None
    offset: float = 0.0
    misses: int = 0  # asks for the next block that found nothing since the last block

    def saw(self, block: Block, now: float) -> None:
        stamp = block.timestamp_ms / 1000
        if now - stamp > LIVE_SECONDS:
            # Catching up: these blocks say nothing about the chain's rhythm.
            self.last_stamp, self.misses = None, 0
            return
        if self.last_stamp is not None and stamp > self.last_stamp:
            self.gaps.append(stamp - self.last_stamp)
            if self.misses:
                self.offset = min(self.offset + OFFSET_STEP_SECONDS, MAX_OFFSET_SECONDS)
            else:
                self.offset = max(self.offset - OFFSET_STEP_SECONDS, 0.0)
        self.last_stamp, self.misses = stamp, 0

    def missed(self) -> None:
        """The next block was asked for and is not there yet."""
        self.misses += 1

    def newest(self, block: Block, now: float) -> bool:
        """``block`` was made less than one block interval ago: the next one cannot be there
        yet. (A burst of blocks made at once, as a catching-up read sees them, never is.)"""
        return bool(self.gaps) and now - block.timestamp_ms / 1000 < min(self.gaps)

    def delay(self, now: float) -> float:
        if self.last_stamp is None or not self.gaps:
            return self.poll
        due = self.last_stamp + min(self.gaps) + self.offset
        if now < due:
            return min(due - now, LIVE_SECONDS)
        # Due: ask again soon for a while, since it comes any moment now.
        return min(RETRY_SECONDS, self.poll) if now - due < RETRY_WINDOW_SECONDS else self.poll


def backoff(failures: int, ceiling: float) -> float:
    """Seconds to wait after ``failures`` failures in a row: doubling, capped, with a little
    jitter so that several watchers do not knock on a recovering node at the same instant."""
    base: float = min(ceiling, BACKOFF_FIRST_SECONDS * 2 ** min(failures - 1, 30))
    return base * random.uniform(0.9, 1.0)  # noqa: S311  (not for secrets)
