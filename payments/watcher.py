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
  it waits for that one; no longer on chain, it is dropped (``services.drop_transfer``).

Every transfer to a watched address is proven from its receipt
(``verification.verify_transfers``: success, the exact BTT contract or asset, recipient,
amount) before ``services.record_transfer`` credits it.

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
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import base58
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from btt_platform import heartbeats
from btt_platform.models import Heartbeat
from payments import reconciliation, services
from payments.models import ChainCursor, Payment
from payments.money import Token
from payments.tron import NodeClient, NodeUnavailable
from payments.verification import (
    TRANSFER_TOPIC,
    ChainTransfer,
    Refused,
    Verified,
    verify_transfers,
)

log = logging.getLogger("payments.watcher")

# Blocks applied per round before the watcher looks at the solidified head and its pending
# payments again (while catching up).
ROUND_BLOCKS = 100
# A block older than this when read is from catching up, not from following the head: it may
# be solidified already, which is worth one question to the node.
LIVE_SECONDS = 10.0
# The solidified head is asked at least this often while following the head, so that a fork
# switch never rewinds far (``ChainCursor.solid_block``).
SOLID_REFRESH_SECONDS = 60.0
BACKOFF_FIRST_SECONDS = 1.0
# Pacing once caught up (``Pacer``): how finely the wait for the next block is learnt, and
# how soon to ask again when a due block is not there yet.
OFFSET_STEP_SECONDS = 0.05
MAX_OFFSET_SECONDS = 2.0
RETRY_SECONDS = 0.1
RETRY_WINDOW_SECONDS = 1.0

TRIGGER = "TriggerSmartContract"
OWN_TRANSFERS = {"TransferContract": Token.TRX, "TransferAssetContract": Token.BTTOLD}


class MalformedAnswer(NodeUnavailable):
    """The node answered JSON, but not what java-tron answers (or answers disagree)."""


class ChainMismatch(NodeUnavailable):
    """The node's chain does not continue the solidified blocks already scanned: another
    network, or a devnet started afresh."""


# --- what a block holds ---------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    number: int
    block_id: str
    parent_id: str
    timestamp_ms: int
    transactions: tuple[Mapping[str, Any], ...]


def _hex32(value: object, what: str) -> str:
    if not isinstance(value, str) or len(value) != 64:
        raise MalformedAnswer(f"{what} is not 32 bytes of hex: {value!r:.80}")
    try:
        bytes.fromhex(value)
    except ValueError:
        raise MalformedAnswer(f"{what} is not hex: {value!r:.80}") from None
    return value.lower()


def parse_block(answer: Mapping[str, Any], number: int) -> Block | None:
    """The block in a ``getblockbynum`` answer, None for ``{}`` (not there yet). Raises
    MalformedAnswer for anything else than block ``number`` in java-tron's JSON."""
    if not answer:
        return None
    if "Error" in answer:
        raise MalformedAnswer(f"block {number}: the node said {str(answer['Error'])[:200]}")
    try:
        raw = answer["block_header"]["raw_data"]
        # java-tron leaves out fields holding their default: block 0 has no "number".
        found = raw.get("number", 0)
        stamp = raw["timestamp"]
        transactions = answer.get("transactions", [])
    except (KeyError, TypeError, AttributeError) as error:
        raise MalformedAnswer(f"block {number}: not a block ({error!r})") from None
    if type(found) is not int or found != number:
        raise MalformedAnswer(f"asked for block {number}, got {found!r:.40}")
    if type(stamp) is not int:
        raise MalformedAnswer(f"block {number}: timestamp {stamp!r:.40}")
    if not isinstance(transactions, list) or not all(
        isinstance(tx, dict) and isinstance(tx.get("txID"), str) for tx in transactions
    ):
        raise MalformedAnswer(f"block {number}: transactions are not a list of transactions")
    return Block(
        number=number,
        block_id=_hex32(answer.get("blockID"), f"block {number}'s blockID"),
        parent_id=_hex32(raw.get("parentHash"), f"block {number}'s parentHash"),
        timestamp_ms=stamp,
        transactions=tuple(transactions),
    )


def parse_receipts(answer: Iterable[Any], number: int) -> dict[str, Mapping[str, Any]]:
    """``gettransactioninfobyblocknum`` by txid; every receipt must be of block ``number``."""
    receipts: dict[str, Mapping[str, Any]] = {}
    for info in answer:
        if not isinstance(info, dict) or not isinstance(info.get("id"), str):
            raise MalformedAnswer(f"block {number}: a receipt is not a TransactionInfo")
        if info.get("blockNumber") != number:
            raise MalformedAnswer(
                f"block {number}: a receipt of block {info.get('blockNumber')!r:.40}"
            )
        receipts[info["id"].lower()] = info
    return receipts


def _contract(transaction: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    """The type and parameter value of a transaction's one contract ("", {} when unreadable:
    verification judges the transactions that matter, the rest are not ours to judge)."""
    try:
        contract = transaction["raw_data"]["contract"][0]
        value = contract["parameter"]["value"]
        kind = contract["type"]
    except (KeyError, IndexError, TypeError):
        return "", {}
    if not isinstance(kind, str) or not isinstance(value, dict):
        return "", {}
    return kind, value


def address_topic(address: str) -> str:
    """How an indexed ``address`` argument of an event appears in a log's topics."""
    return "0" * 24 + base58.b58decode_check(address)[1:].hex()


def _pays_a_watched_topic(info: Mapping[str, Any], topics: Collection[str]) -> bool:
    logs = info.get("log", [])
    if not isinstance(logs, list):
        return False
    for entry in logs:
        found = entry.get("topics") if isinstance(entry, dict) else None
        if (
            isinstance(found, list)
            and len(found) == 3
            and str(found[0]).lower() == TRANSFER_TOPIC
            and str(found[2]).lower() in topics
        ):
            return True
    return False


@dataclass(frozen=True)
class Candidate:
    transaction: Mapping[str, Any]
    token: Token


def candidates(
    block: Block,
    receipts: Mapping[str, Mapping[str, Any]] | None,
    watched: Collection[str],
    tokens: Collection[Token],
) -> list[Candidate]:
    """The transactions of ``block`` that may pay a watched address in an accepted token:
    a cheap look, before verification proves or refuses each. ``receipts`` None: the TRC-20
    part is left out (``needs_receipts`` said there is none to look at)."""
    topics = {address_topic(address) for address in watched}
    found: list[Candidate] = []
    for tx in block.transactions:
        kind, value = _contract(tx)
        if kind == TRIGGER and Token.BTT in tokens and receipts is not None:
            info = receipts.get(tx["txID"].lower())
            if info is None:
                raise MalformedAnswer(f"block {block.number}: no receipt for {tx['txID']:.64}")
            if _pays_a_watched_topic(info, topics):
                found.append(Candidate(tx, Token.BTT))
        elif (
            kind in OWN_TRANSFERS
            and OWN_TRANSFERS[kind] in tokens
            and value.get("to_address") in watched
        ):
            found.append(Candidate(tx, OWN_TRANSFERS[kind]))
    return found


def needs_receipts(block: Block, watched: Collection[str], tokens: Collection[Token]) -> bool:
    for tx in block.transactions:
        kind, value = _contract(tx)
        if kind == TRIGGER and Token.BTT in tokens:
            return True
        if kind in OWN_TRANSFERS and value.get("to_address") in watched:
            return True
    return False


@dataclass(frozen=True)
class ScannedBlock:
    """A block and the transfers it proves to the addresses watched when it was read."""

    block: Block
    transfers: tuple[ChainTransfer, ...]
    refused: tuple[tuple[str, Refused], ...] = ()

    @property
    def number(self) -> int:
        return self.block.number


@dataclass(frozen=True)
class Waiting:
    """A credited transfer (or one kept for finance staff, ``unmatched``) whose block was not
    solidified when it was seen."""

    txid: str
    log_index: int
    recipient: str
    token: str
    unmatched: bool = False


@dataclass(frozen=True)
class Verdict:
    """What the solidified chain says of a waiting transfer: settle it (``transfer``), drop
    it (``drop``, why), or neither yet."""

    transfer: ChainTransfer | None = None
    drop: str = ""


class Applied(Enum):
    APPLIED = "applied"
    TAKEN = "taken"  # another watcher applied it first
    FORKED = "forked"  # it does not follow the block scanned before it


@dataclass
class WatcherStats:
    blocks: int = 0
    transfers: int = 0  # proven transfers to watched addresses
    credited: int = 0  # of those, the ones that pay an invoice
    unmatched: int = 0  # and the ones that pay none (another token, amount, or address)
    refused: Counter[str] = field(default_factory=Counter)  # Refusal of transfers to us
    settled_checks: int = 0
    dropped: int = 0
    taken: int = 0
    forks: int = 0


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


# --- the watcher ----------------------------------------------------------------------------


class Watcher:
    def __init__(
        self,
        node: NodeClient,
        network: str,
        *,
        poll_seconds: float = 0.5,
        backoff_max_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.node = node
        self.network = network
        self.backoff_max_seconds = backoff_max_seconds
        self.clock = clock
        self.pacer = Pacer(poll_seconds)
        self.stats = WatcherStats()
        self.solid: int = -1  # the highest solidified head the node has told us
        self._solid_asked_at = 0.0
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

    # --- the node ----------------------------------------------------------------------------

    def solid_head(self) -> int:
        """Ask the node for its solidified head (never lower than one it said before: a
        TronGrid backend that lags behind another must not un-solidify a block)."""
        self._solid_header()
        return self.solid

    def _solid_header(self) -> tuple[int, str]:
        """The solidified head's number and blockID, as this node says them."""
        answer = self.node.block_header(solid=True)
        try:
            number = answer["block_header"]["raw_data"].get("number", 0)
        except (KeyError, TypeError, AttributeError):
            raise MalformedAnswer(f"the solidified head is not a block: {answer!r:.200}") from None
        if type(number) is not int or number < 0:
            raise MalformedAnswer(f"the solidified head's number is {number!r:.40}")
        block_id = _hex32(answer.get("blockID"), "the solidified head's blockID")
        self.solid = max(self.solid, number)
        self._solid_asked_at = self.clock()
        return number, block_id

    def scan(self, number: int) -> ScannedBlock | None:
        """Read block ``number`` and prove the transfers in it to the watched addresses; None
        while the node does not have it. No database transaction is open meanwhile."""
        block = parse_block(self.node.block(number), number)
        if block is None:
            return None
        # Read the addresses after the block: an invoice always exists before the transfer
        # that pays it, so it is in this set whenever its transfer is in this block.
        watched = services.watched_addresses()
        tokens = services.accepted_tokens()
        receipts = None
        if block.transactions and needs_receipts(block, watched, tokens):
            receipts = parse_receipts(self.node.block_transaction_infos(number), number)
        return self.prove(block, receipts, watched, tokens)

    def prove(
        self,
        block: Block,
        receipts: Mapping[str, Mapping[str, Any]] | None,
        watched: Collection[str],
        tokens: Collection[Token],
    ) -> ScannedBlock:
        transfers: list[ChainTransfer] = []
        refused: list[tuple[str, Refused]] = []
        contract = services.btt_contract()
        for candidate in candidates(block, receipts, watched, tokens):
            txid = candidate.transaction["txID"]
            info = (receipts or {}).get(txid.lower())
            if info is None:
                raise MalformedAnswer(f"block {block.number}: no receipt for {txid:.64}")
            result = verify_transfers(
                candidate.transaction,
                info,
                token=candidate.token,
                recipients=watched,
                btt_contract=contract,
                txid=txid,
            )
            if isinstance(result, Verified):
                transfers.extend(result.transfers)
            else:
                refused.append((txid, result))
                self.stats.refused[result.reason.value] += 1
                log.info(
                    "block %s: %s to a watched address is no payment: %s (%s)",
                    block.number,
                    txid,
                    result.reason.value,
                    result.detail,
                )
        return ScannedBlock(block, tuple(transfers), tuple(refused))

    # --- the database ------------------------------------------------------------------------

    def cursor(self) -> ChainCursor:
        """This network's cursor; on the very first start, at the node's solidified head (so
        the minute of blocks after it is scanned too)."""
        found = ChainCursor.objects.filter(network=self.network).first()
        if found is not None:
            return found
        start, start_id = self._solid_header()
        cursor, created = ChainCursor.objects.get_or_create(
            network=self.network,
            # With its ID, the first block scanned is checked to follow it like any other.
            defaults={"head_block": start, "head_block_id": start_id, "solid_block": start},
        )
        if created:
            log.info("%s: first start, scanning from block %s", self.network, start + 1)
        return cursor

    def start_from(self, number: int) -> ChainCursor:
        """Scan from block ``number`` on, whatever was scanned before (credits are idempotent,
        so going back only costs the time)."""
        cursor, _ = ChainCursor.objects.update_or_create(
            network=self.network,
            defaults={
                "head_block": number - 1,
                "head_block_id": "",
                "solid_block": number - 1,
                "updated_at": timezone.now(),
            },
        )
        return cursor

    def apply(self, scanned: ScannedBlock, *, solidified: bool) -> Applied:
        """Credit a scanned block's transfers and move the cursor past it, in one transaction
        under the cursor's row lock (the second of two racing watchers finds it moved)."""
        block = scanned.block
        with transaction.atomic():
            cursor = ChainCursor.objects.select_for_update().get(network=self.network)
            if cursor.head_block != block.number - 1:
                return Applied.TAKEN
            if cursor.head_block_id and cursor.head_block_id != block.parent_id:
                return Applied.FORKED
            for transfer in scanned.transfers:
                payment = services.record_transfer(transfer, solidified=solidified)
                if payment is None:
                    self.stats.unmatched += 1
                else:
                    self.stats.credited += 1
                    log.info(
                        "block %s: %s#%s (%s) pays invoice %s%s",
                        block.number,
                        transfer.txid,
                        transfer.log_index,
                        transfer.amount,
                        payment.invoice_id,
                        ", solidified" if solidified else "",
                    )
            cursor.head_block = block.number
            cursor.head_block_id = block.block_id
            if solidified:
                cursor.solid_block = max(cursor.solid_block, block.number)
            cursor.updated_at = timezone.now()
            cursor.save(update_fields=["head_block", "head_block_id", "solid_block", "updated_at"])
        self.stats.blocks += 1
        self.stats.transfers += len(scanned.transfers)
        return Applied.APPLIED

    def rewind(self, forked: Block) -> None:
        """``forked`` does not follow the block scanned before it: scan again from the last
        block known to be solidified (what no longer is on chain drops when its block number
        is solidified)."""
        cursor = ChainCursor.objects.get(network=self.network)
        if cursor.solid_block >= forked.number - 1:
            raise ChainMismatch(
                f"block {forked.number}'s parent is {forked.parent_id}, but block "
                f"{cursor.head_block} was {cursor.head_block_id} and is solidified: the node "
                f"at {self.node.url} is on another chain than {self.network} was scanned on "
                "(a devnet started afresh?). Start again with `watch_chain --from-block`."
            )
        self._scan_again_from_floor(cursor, forked)

    def _scan_again_from_floor(self, cursor: ChainCursor, changed: Block) -> None:
        """Back to the last block known to be solidified, unless another watcher moved first."""
        moved = ChainCursor.objects.filter(
            network=self.network, head_block=cursor.head_block, head_block_id=cursor.head_block_id
        ).update(head_block=cursor.solid_block, head_block_id="", updated_at=timezone.now())
        if moved:
            self.stats.forks += 1
            log.warning(
                "the chain changed under blocks %s-%s (block %s is %s, parent %s): scanning "
                "again from block %s",
                cursor.solid_block + 1,
                cursor.head_block,
                changed.number,
                changed.block_id,
                changed.parent_id,
                cursor.solid_block + 1,
            )

    def settle(self, solid: int) -> None:
        """Resolve the credited transfers waiting in blocks up to ``solid``: still there, they
        settle; gone, they drop. The node is asked first; then each block's outcome commits in
        one transaction."""
        pending = (
            Payment.objects.filter(
                solidified_at__isnull=True, dropped_at__isnull=True, block_number__lte=solid
            )
            .order_by("block_number")
            .values_list("txid", "log_index", "block_number", "recipient", "token")
        )
        kept = (
            reconciliation.pending_unmatched()
            .filter(block_number__lte=solid)
            .values_list("txid", "log_index", "block_number", "recipient", "token")
        )
        by_block: dict[int, list[Waiting]] = {}
        for txid, log_index, number, recipient, token in pending:
            by_block.setdefault(number, []).append(Waiting(txid, log_index, recipient, token))
        for txid, log_index, number, recipient, token in kept:
            unmatched = Waiting(txid, log_index, recipient, token, unmatched=True)
            by_block.setdefault(number, []).append(unmatched)
        by_block = dict(sorted(by_block.items()))
        for number, waiting in by_block.items():
            block = parse_block(self.node.block(number, solid=True), number)
            if block is None:
                continue  # this node is behind the one that said it was solidified: later
            receipts = parse_receipts(self.node.block_transaction_infos(number, solid=True), number)
            in_block = {tx["txID"].lower(): tx for tx in block.transactions}
            verdicts: list[tuple[Waiting, Verdict]] = []
            for payment in waiting:
                self.stats.settled_checks += 1
                found = in_block.get(payment.txid)
                if found is None:
                    verdicts.append((payment, self._moved_or_gone(payment, number, solid)))
                    continue
                info = receipts.get(payment.txid)
                if info is None:
                    raise MalformedAnswer(f"block {number}: no receipt for {payment.txid}")
                verdicts.append((payment, self._verdict(payment, found, info)))
            with transaction.atomic():
                for payment, verdict in verdicts:
                    if verdict.transfer is not None:
                        services.record_transfer(verdict.transfer, solidified=True)
                    elif verdict.drop and payment.unmatched:
                        if reconciliation.drop_unmatched(payment.txid, payment.log_index):
                            log.warning(
                                "unmatched %s#%s left the chain: %s",
                                payment.txid,
                                payment.log_index,
                                verdict.drop,
                            )
                    elif verdict.drop:
                        self._drop(payment.txid, payment.log_index, verdict.drop)
        cursor = ChainCursor.objects.get(network=self.network)
        self._raise_solid_floor(min(solid, cursor.head_block))

    def _raise_solid_floor(self, number: int) -> None:
        # Never above the blocks scanned: a rewind goes back to it, and must not go forward.
        cursor = ChainCursor.objects.get(network=self.network)
        if number <= cursor.solid_block:
            return
        if number >= cursor.head_block and cursor.head_block_id:
            # The floor would reach the block scanned last, which was read before it was
            # solidified: when the chain switched forks since, that block is not the solidified
            # one, and taking it as the floor would make the next block look like another
            # chain. Only the node's solidified block of that number can say.
            head = cursor.head_block
            solidified = parse_block(self.node.block(head, solid=True), head)
            if solidified is None:
                return  # this node's solidity view is behind: later
            if solidified.block_id != cursor.head_block_id:
                self._scan_again_from_floor(cursor, solidified)
                return
        ChainCursor.objects.filter(network=self.network, solid_block__lt=number).update(
            solid_block=number
        )

    def _verdict(
        self, payment: Waiting, found: Mapping[str, Any], info: Mapping[str, Any]
    ) -> Verdict:
        result = verify_transfers(
            found,
            info,
            token=Token(payment.token),
            recipients={payment.recipient},
            btt_contract=services.btt_contract(),
            txid=payment.txid,
        )
        if isinstance(result, Refused):
            # Final: in the solidified chain the transaction no longer proves the transfer.
            final = result.reason.final
            return Verdict(drop=f"{result.reason.value}: {result.detail}" if final else "")
        transfers = {transfer.log_index: transfer for transfer in result.transfers}
        if payment.log_index not in transfers:
            return Verdict(drop="its log is not in the solidified receipt")
        return Verdict(transfer=transfers[payment.log_index])

    def _moved_or_gone(self, payment: Waiting, number: int, solid: int) -> Verdict:
        now_in = self.node.transaction_info(payment.txid).get("blockNumber")
        if type(now_in) is not int:
            return Verdict(drop=f"not in block {number} once solidified, nor in another")
        if now_in > solid:
            log.info(
                "%s moved from block %s to %s; it settles with that one",
                payment.txid,
                number,
                now_in,
            )
            return Verdict()
        found = self.node.solid_transaction(payment.txid)
        info = self.node.solid_transaction_info(payment.txid)
        return self._verdict(payment, found, info) if found and info else Verdict()

    def _drop(self, txid: str, log_index: int, why: str) -> None:
        payment = services.drop_transfer(txid, log_index)
        if payment is not None and payment.dropped_at is not None:
            self.stats.dropped += 1
            log.warning(
                "%s#%s dropped from invoice %s: %s", txid, log_index, payment.invoice_id, why
            )

    # --- the loop ----------------------------------------------------------------------------

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
                or now - self._solid_asked_at > SOLID_REFRESH_SECONDS
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
            self._raise_solid_floor(min(solid, cursor.head_block))
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
