"""The chain watcher (``manage.py watch_chain``): every block, read once from the node, proves
the payments to the creators' addresses; an invoice turns ``processing`` when its payment is in a
block and ``settled`` once that block is solidified.

What it reads (java-tron's HTTP API: the devnet, a full node of our own, or TronGrid):

- ``wallet/getblockbynum`` (visible) for the block after the cursor; ``{}`` until it exists.
  TRX and TRC-10 transfers are transactions of their own, so they are found here.
- ``wallet/gettransactioninfobyblocknum``: the block's receipts, which hold the TRC-20
  ``Transfer`` logs. Asked only for blocks with a contract call or a transfer to a watched
  address.
- ``walletsolidity/getblock`` (header only): the solidified head, asked only when it matters:
  payments are waiting to settle, or the blocks being read are old enough to be solidified
  already (catching up, where each block is then read once and credited as settled at once).
- For payments waiting to settle whose block is now solidified: that block and its receipts
  from ``walletsolidity/*``. A transfer missing there is looked up by txid: in a later block
  it waits for that one; no longer on chain, it is dropped (``crediting.drop_transfer``).

Every transfer to a watched address is proven from its receipt
(``verification.verify_transfers``: success, the exact BTT contract or asset, recipient,
amount) before ``crediting.record_transfer`` credits it.

A ``Watcher`` is built in layers, one module each: ``scanning.Scanner`` reads and proves
blocks (``blocks`` parses them, ``matching`` picks the transactions worth proving),
``applying.BlockApplier`` credits them and keeps the cursor, ``settling.Settler`` settles and
drops what waits for solidification, and the ``Watcher`` here runs the loop, paced by
``pacing``.

Restarts, crashes and several watchers: a block's credits and the move of the cursor past it
commit in one database transaction, under a lock of the cursor row; a watcher that finds the
cursor already moved drops its copy of the block. Credits are idempotent as well ((txid, log
index) is unique), so scanning a block again (``--from-block``) changes nothing.

Fork switches: each block's ``parentHash`` must be the block scanned before it. If not, the
node's chain changed under the unsolidified blocks already scanned, and the watcher scans again
from the last block it knows to be solidified; what left the chain is dropped when its block
number is solidified, as above.

A node that is down, slow, rate-limiting (TronGrid's 429) or answering anything but java-tron's
JSON makes the watcher wait, exponentially longer up to ``TRON_WATCHER_BACKOFF_MAX_SECONDS``;
it never exits on its own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from btt_platform import heartbeats
from btt_platform.models import Heartbeat
from payments import reconciliation
from payments.chain.applying import Applied
from payments.chain.node import NodeClient, NodeUnavailable
from payments.chain.pacing import LIVE_SECONDS, Pacer, backoff
from payments.chain.settling import Settler
from payments.models import ChainCursor, Payment

# One log for the whole watcher, under the name its operators know.
log = logging.getLogger("payments.watcher")

# Blocks applied per round before the watcher looks at the solidified head and its pending
# payments again (while catching up).
ROUND_BLOCKS = 100
# The solidified head is asked at least this often while following the head, so that a fork
# switch never rewinds far (``ChainCursor.solid_block``).
SOLID_REFRESH_SECONDS = 60.0


class Watcher(Settler):
    """The chain watcher: scans, credits and settles, round after round, until stopped."""

    def __init__(
        self,
        node: NodeClient,
        network: str,
        *,
        poll_seconds: float = 0.5,
        backoff_max_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(node, network, clock=clock)
        self.backoff_max_seconds = backoff_max_seconds
        self.pacer = Pacer(poll_seconds)
        # Set by ``serve`` (the process): the name this watcher beats its heartbeat under.
        self._heartbeat: str | None = None
        self._next_beat = 0.0
        self._started_at = timezone.now()

    @classmethod
    def from_settings(cls) -> Watcher:
        return cls(
            NodeClient(settings.TRON_API_URL, settings.TRON_API_KEY),
            settings.TRON_NETWORK,
            poll_seconds=settings.TRON_WATCHER_POLL_SECONDS,
            backoff_max_seconds=settings.TRON_WATCHER_BACKOFF_MAX_SECONDS,
        )

    def _pending_count(self) -> int:
        payments = Payment.objects.filter(solidified_at__isnull=True, dropped_at__isnull=True)
        return payments.count() + reconciliation.pending_unmatched().count()

    def step(self) -> bool:
        """One round: apply the blocks there are (at most ``ROUND_BLOCKS``), then settle what
        is solidified. True when it reached the node's head."""
        cursor = self.cursor()
        pending = self._pending_count()
        solid: int | None = None
        applied = 0
        caught_up = False
        while applied < ROUND_BLOCKS:
            number = cursor.head_block + 1
            scanned = self.scan(number)
            if scanned is None:
                self.pacer.missed()
                caught_up = True
                break
            now = self.clock()
            if solid is None and (
                pending
                or now - scanned.block.timestamp_ms / 1000 > LIVE_SECONDS
                or now - self.solid_asked_at > SOLID_REFRESH_SECONDS
            ):
                solid = self.solid_head()
            outcome = self.apply(scanned, solidified=solid is not None and number <= solid)
            if outcome is Applied.APPLIED:
                applied += 1
                self.pacer.saw(scanned.block, now)
                cursor.head_block, cursor.head_block_id = number, scanned.block.block_id
                if self.pacer.newest(scanned.block, self.clock()):
                    caught_up = True  # following the head: asking now would be in vain
                    break
                continue
            if outcome is Applied.TAKEN:
                self.stats.taken += 1
            else:
                self.rewind(scanned.block)
            cursor = ChainCursor.objects.get(network=self.network)
        if self._pending_count():
            self.settle(solid if solid is not None else self.solid_head())
        elif solid is not None:
            self.raise_solid_floor(min(solid, cursor.head_block))
        return caught_up

    def serve(self, stop: threading.Event, *, until_caught_up: bool = False) -> None:
        """``run`` as the watcher process (what ``watch_chain`` does): beating its heartbeat from
        the loop itself, so that /healthz calls a watcher stuck in its loop stale, not only a dead
        one; marked stopped on the way out; this thread's database connection closed."""
        self._heartbeat = heartbeats.process_name()
        try:
            self.run(stop, until_caught_up=until_caught_up)
        finally:
            try:
                heartbeats.mark_stopped(Heartbeat.Kind.WATCHER, self._heartbeat)
            except DatabaseError:
                log.warning("marking the watcher's heartbeat stopped failed", exc_info=True)
            connection.close()

    def _beat(self) -> None:
        if self._heartbeat is None or time.monotonic() < self._next_beat:
            return
        self._next_beat = time.monotonic() + settings.HEARTBEAT_SECONDS
        try:
            heartbeats.beat(Heartbeat.Kind.WATCHER, self._heartbeat, started_at=self._started_at)
        except DatabaseError:
            # The next pass tries again; /healthz calls the watcher stale meanwhile.
            log.warning("writing the watcher's heartbeat failed", exc_info=True)

    def _wait(self, stop: threading.Event, seconds: float) -> None:
        # In slices, beating between them: a long back-off is a live watcher, not a dead one.
        end = time.monotonic() + seconds
        while not stop.is_set() and (left := end - time.monotonic()) > 0:
            stop.wait(min(left, settings.HEARTBEAT_SECONDS))
            self._beat()

    def run(self, stop: threading.Event, *, until_caught_up: bool = False) -> None:
        """Watch until ``stop`` is set (or, with ``until_caught_up``, until no block is left to
        read). Waits and tries again on any failure; never raises."""
        failures = 0
        while not stop.is_set():
            self._beat()
            try:
                caught_up = self.step()
            except NodeUnavailable as error:
                failures += 1
                delay = backoff(failures, self.backoff_max_seconds)
                log.warning("node %s: %s; again in %.1f s", self.node.url, error, delay)
            except DatabaseError as error:
                failures += 1
                delay = backoff(failures, self.backoff_max_seconds)
                log.warning("database: %s; again in %.1f s", error, delay)
                connection.close()  # a broken connection is opened afresh next time
            except Exception:
                failures += 1
                delay = backoff(failures, self.backoff_max_seconds)
                log.exception("watching failed; again in %.1f s", delay)
            else:
                if failures:
                    log.info("node %s answers again", self.node.url)
                failures = 0
                if caught_up and until_caught_up:
                    break
                delay = self.pacer.delay(self.clock()) if caught_up else 0.0
            if delay:
                self._wait(stop, delay)
        self.node.close()
