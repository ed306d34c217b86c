"""The devnet's chain: accounts, TRX / TRC-10 BTT / TRC-20 BTT balances, blocks, receipts.

State lives in one SQLite file (WAL, synchronous=FULL, one transaction per broadcast or block),
so a restart, even after ``kill -9``, finds exactly the committed chain.

The rules are java-tron's where a client can observe them (framework ``Wallet``,
``db.Manager``, the ``Transfer*Actuator`` classes): a broadcast is checked in java-tron's order
(signature sizes, the one-hour txID cache, expiry against the next slot, signature against the
owner, TAPoS, size and expiry window, duplicates, contract validation), then executed at once
against the head state and kept pending until the next block includes it, as a real node
applies pending transactions before producing. A transaction therefore shows up in
``gettransactionbyid`` / ``gettransactioninfobyid`` only once a block holds it. As on
java-tron, a txID once broadcast is refused for an hour even when the first attempt failed
(the node's in-memory txID cache): a corrected signature does not change the txID, so a wallet
must rebuild the transaction (new timestamp) to try again. Blocks are
produced every ``block_seconds`` near wall-clock time (``/devnet/mine`` produces more at once);
a block is solidified ``solidify_blocks`` blocks later, and ``walletsolidity`` reads see the
state as of the solidified head.

Faults for tests of what watches the chain (``/devnet/fault``): a transaction not yet
solidified can be dropped (it leaves its block, whose ID and every later block's change as in a
fork switch, and its balance changes are undone through the per-transaction change log); a
given txID or the next TRC-20 transfers can be made to revert; and the memo fee of TIP-387 can
be switched on, charged in TRX to the payer before the contract runs, as java-tron's
``Manager.consumeMemoFee`` does, and reported in the receipt's ``fee``.

Not modelled yet: bandwidth, energy and new-account fees (all zero), multi-sig permissions,
TRC-20 approve/transferFrom.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tronpy.keys import PrivateKey

from payments.devnet import trc20
from payments.tron_protocol import (
    BlockHeaderRaw,
    Contract,
    RawTransaction,
    SignatureError,
    SignedTransaction,
    TransferAssetContract,
    TransferContract,
    TriggerSmartContract,
    address_to_base58,
    is_valid_address,
    merkle_root,
    recover_signer,
    type_url,
)

TRX = "TRX"
BTT_TRC10 = "1002000"
BTT_TRC20 = trc20.BTT_ADDRESS
TOKENS = (TRX, BTT_TRC10, BTT_TRC20)

# Deterministic devnet keys: anyone may sign with them, which is the point of a devnet faucet.
FAUCET_KEY = PrivateKey(hashlib.sha256(b"btt-creators tron devnet faucet").digest())
WITNESS_KEY = PrivateKey(hashlib.sha256(b"btt-creators tron devnet witness").digest())
FAUCET_ADDRESS: bytes = FAUCET_KEY.public_key.to_address()
WITNESS_ADDRESS: bytes = WITNESS_KEY.public_key.to_address()

GENESIS_TRX = 10_000_000_000 * 1_000_000  # 10 billion TRX in sun
TRC10_PRECISION = 6
TRC10_TOTAL_SUPPLY = 990_000_000_000 * 10**TRC10_PRECISION

BLOCK_VERSION = 30
MAX_FEE_LIMIT = 15_000_000_000  # getMaxFeeLimit on mainnet: 15,000 TRX
MAX_TRANSACTION_BYTES = 500 * 1024  # Constant.TRANSACTION_MAX_BYTE_SIZE
MAX_TIME_UNTIL_EXPIRATION_MS = 24 * 3600 * 1000  # Constant.MAXIMUM_TIME_UNTIL_EXPIRATION
TOTAL_SIGN_NUM = 5  # getTotalSignNum
TXID_CACHE_SECONDS = 3600.0  # Manager.transactionIdCache expires after one hour
DEFAULT_EXPIRATION_MS = 60_000  # trxExpirationTimeInMilliseconds
SLOT_MS = 3000  # mainnet's block interval
# TIP-387's memo fee as mainnet's committee set it (getMemoFee): 1 TRX per transaction.
MAINNET_MEMO_FEE = 1_000_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (
    num INTEGER PRIMARY KEY,
    id BLOB NOT NULL UNIQUE,
    header BLOB NOT NULL,
    witness_signature BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS transactions (
    seq INTEGER PRIMARY KEY,
    txid BLOB NOT NULL UNIQUE,
    block_num INTEGER,
    raw BLOB NOT NULL,
    signatures TEXT NOT NULL,
    contract_ret TEXT NOT NULL,
    receipt TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS transactions_by_block ON transactions (block_num, seq);
CREATE TABLE IF NOT EXISTS accounts (
    address BLOB PRIMARY KEY,
    is_contract INTEGER NOT NULL DEFAULT 0,
    create_time INTEGER NOT NULL,
    created_seq INTEGER
);
-- Amounts as decimal text: TRC-20 balances go far past 64 bits.
CREATE TABLE IF NOT EXISTS balances (
    address BLOB NOT NULL,
    token TEXT NOT NULL,
    amount TEXT NOT NULL,
    PRIMARY KEY (address, token)
);
-- Every balance change with its transaction, so the solidified state can be derived.
CREATE TABLE IF NOT EXISTS changes (
    tx_seq INTEGER NOT NULL,
    address BLOB NOT NULL,
    token TEXT NOT NULL,
    delta TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS changes_by_holder ON changes (address, token);
"""


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class ChainConfig:
    block_seconds: float = 3.0
    solidify_blocks: int = 19
    # java-tron keeps the last 65,536 block IDs for TAPoS (RecentBlockStore, keyed by 2 bytes).
    tapos_blocks: int = 65536


class BroadcastError(Exception):
    """A refusal as java-tron words it: ``code`` is GrpcAPI.Return.response_code."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ContractValidateError(Exception):
    pass


class FaultError(Exception):
    """A fault that cannot be injected (unknown or solidified transaction, spent effects)."""


@dataclass(frozen=True)
class Receipt:
    """What ``gettransactioninfobyid`` reports besides the block fields."""

    net_usage: int = 0
    fee: int = 0
    contract_result: bytes = b""
    contract_address: bytes = b""
    energy_usage_total: int = 0
    vm_result: str = ""  # ResourceReceipt.result for contract calls: SUCCESS, REVERT, ...
    failed: bool = False
    res_message: str = ""
    logs: tuple[trc20.Log, ...] = ()

    def to_record(self) -> str:
        return json.dumps(
            {
                "net_usage": self.net_usage,
                "fee": self.fee,
                "contract_result": self.contract_result.hex(),
                "contract_address": self.contract_address.hex(),
                "energy_usage_total": self.energy_usage_total,
                "vm_result": self.vm_result,
                "failed": self.failed,
                "res_message": self.res_message,
                "logs": [
                    [log.address.hex(), [t.hex() for t in log.topics], log.data.hex()]
                    for log in self.logs
                ],
            }
        )

    @classmethod
    def from_record(cls, text: str) -> Receipt:
        record = json.loads(text)
        return cls(
            net_usage=record["net_usage"],
            fee=record["fee"],
            contract_result=bytes.fromhex(record["contract_result"]),
            contract_address=bytes.fromhex(record["contract_address"]),
            energy_usage_total=record["energy_usage_total"],
            vm_result=record["vm_result"],
            failed=record["failed"],
            res_message=record["res_message"],
            logs=tuple(
                trc20.Log(
                    bytes.fromhex(address),
                    tuple(bytes.fromhex(t) for t in topics),
                    bytes.fromhex(data),
                )
                for address, topics, data in record["logs"]
            ),
        )


@dataclass(frozen=True)
class StoredTransaction:
    transaction: SignedTransaction
    receipt: Receipt
    block_num: int | None
    block_timestamp: int | None

    @property
    def txid(self) -> bytes:
        return self.transaction.txid


@dataclass(frozen=True)
class Block:
    header: BlockHeaderRaw
    block_id: bytes
    witness_signature: bytes
    transactions: tuple[StoredTransaction, ...] = ()

    @property
    def num(self) -> int:
        return self.header.number

    @property
    def timestamp(self) -> int:
        return self.header.timestamp


@dataclass(frozen=True)
class Account:
    address: bytes
    is_contract: bool
    create_time: int
    balance: int
    assets: dict[str, int] = field(default_factory=dict)


class Chain:
    """The whole node state. Not thread-safe: the server uses it from its event loop only."""

    def __init__(self, path: Path, config: ChainConfig | None = None) -> None:
        self.config = config or ChainConfig()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)
        # The txID cache of a java-tron node lives in memory and starts empty after a restart.
        self._recent_txids: dict[bytes, float] = {}
        if self.db.execute("SELECT 1 FROM blocks LIMIT 1").fetchone() is None:
            self._create_genesis()

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _write(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- genesis and blocks --------------------------------------------------------------

    def _create_genesis(self) -> None:
        timestamp = now_ms()
        with self._write():
            for address in (FAUCET_ADDRESS, WITNESS_ADDRESS):
                self._create_account(address, timestamp, seq=None)
            self.db.execute(
                "INSERT INTO accounts (address, is_contract, create_time) VALUES (?, 1, ?)",
                (trc20.BTT_CONTRACT, timestamp),
            )
            self._set_balance(FAUCET_ADDRESS, TRX, GENESIS_TRX)
            self._set_balance(FAUCET_ADDRESS, BTT_TRC10, TRC10_TOTAL_SUPPLY)
            self._set_balance(FAUCET_ADDRESS, BTT_TRC20, trc20.TOTAL_SUPPLY)
            self.db.execute(
                "INSERT INTO meta (key, value) VALUES ('genesis_timestamp', ?)", (str(timestamp),)
            )
            self._insert_block(timestamp, [])

    def _meta(self, key: str, default: object) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def _set_meta(self, key: str, value: object) -> None:
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value)),
        )

    def _insert_block(self, timestamp: int, transactions: list[SignedTransaction]) -> Block:
        head = self.db.execute("SELECT num, id FROM blocks ORDER BY num DESC LIMIT 1").fetchone()
        number, parent = (head[0] + 1, head[1]) if head else (0, bytes(32))
        header, signature = _signed_header(number, timestamp, parent, transactions)
        self.db.execute(
            "INSERT INTO blocks (num, id, header, witness_signature) VALUES (?, ?, ?, ?)",
            (number, header.block_id, header.encode(), signature),
        )
        return Block(header, header.block_id, signature)

    def _rebuild_blocks(self, start: int) -> None:
        """Re-derive the headers from block ``start`` to the head after their contents changed.

        The transaction root of ``start`` changes, so its ID does, and every later block's
        parent hash with it: what a fork switch looks like to a client.
        """
        parent_row = self.db.execute("SELECT id FROM blocks WHERE num = ?", (start - 1,)).fetchone()
        parent = bytes(parent_row[0]) if parent_row else bytes(32)
        rows = self.db.execute(
            "SELECT num, header FROM blocks WHERE num >= ? ORDER BY num", (start,)
        ).fetchall()
        for num, old_header in rows:
            old = BlockHeaderRaw.decode(old_header)
            transactions = [stored.transaction for stored in self.transactions_in_block(num)]
            header, signature = _signed_header(num, old.timestamp, parent, transactions)
            self.db.execute(
                "UPDATE blocks SET id = ?, header = ?, witness_signature = ? WHERE num = ?",
                (header.block_id, header.encode(), signature, num),
            )
            parent = header.block_id

    def produce_block(self, timestamp: int | None = None) -> Block:
        """Include every pending transaction in a new block at (about) wall-clock time."""
        with self._write():
            head = self.head()
            # Timestamps strictly increase even when blocks are mined faster than the clock.
            stamp = max(timestamp or now_ms(), head.timestamp + 1)
            pending = self.db.execute(
                "SELECT seq, raw, signatures, contract_ret FROM transactions "
                "WHERE block_num IS NULL ORDER BY seq"
            ).fetchall()
            transactions = [
                self._signed(raw, signatures, ret) for _, raw, signatures, ret in pending
            ]
            block = self._insert_block(stamp, transactions)
            self.db.execute(
                "UPDATE transactions SET block_num = ? WHERE block_num IS NULL", (block.num,)
            )
        return block

    def head(self) -> Block:
        row = self.db.execute(
            "SELECT header, witness_signature FROM blocks ORDER BY num DESC LIMIT 1"
        ).fetchone()
        return self._block(row[0], row[1], with_transactions=False)

    @property
    def solid_num(self) -> int:
        return max(0, self.head().num - self.config.solidify_blocks)

    def block_by_num(self, num: int, solid: bool = False) -> Block | None:
        if solid and num > self.solid_num:
            return None
        row = self.db.execute(
            "SELECT header, witness_signature FROM blocks WHERE num = ?", (num,)
        ).fetchone()
        return self._block(row[0], row[1]) if row else None

    def block_by_id(self, block_id: bytes, solid: bool = False) -> Block | None:
        row = self.db.execute("SELECT num FROM blocks WHERE id = ?", (block_id,)).fetchone()
        return self.block_by_num(row[0], solid) if row else None

    def _block(self, header: bytes, signature: bytes, with_transactions: bool = True) -> Block:
        parsed = BlockHeaderRaw.decode(header)
        transactions: tuple[StoredTransaction, ...] = ()
        if with_transactions:
            transactions = tuple(self.transactions_in_block(parsed.number))
        return Block(parsed, parsed.block_id, signature, transactions)

    def transactions_in_block(self, num: int) -> list[StoredTransaction]:
        rows = self.db.execute(
            "SELECT raw, signatures, contract_ret, receipt, block_num FROM transactions "
            "WHERE block_num = ? ORDER BY seq",
            (num,),
        ).fetchall()
        timestamp = self._block_timestamp(num)
        return [
            StoredTransaction(
                self._signed(raw, signatures, ret), Receipt.from_record(receipt), block, timestamp
            )
            for raw, signatures, ret, receipt, block in rows
        ]

    def _block_timestamp(self, num: int) -> int | None:
        row = self.db.execute("SELECT header FROM blocks WHERE num = ?", (num,)).fetchone()
        return BlockHeaderRaw.decode(row[0]).timestamp if row else None

    def transaction(self, txid: bytes, solid: bool = False) -> StoredTransaction | None:
        """A transaction once a block (a solidified one, if asked) holds it."""
        row = self.db.execute(
            "SELECT raw, signatures, contract_ret, receipt, block_num FROM transactions "
            "WHERE txid = ? AND block_num IS NOT NULL",
            (txid,),
        ).fetchone()
        if row is None or (solid and row[4] > self.solid_num):
            return None
        raw, signatures, ret, receipt, block = row
        return StoredTransaction(
            self._signed(raw, signatures, ret),
            Receipt.from_record(receipt),
            block,
            self._block_timestamp(block),
        )

    @staticmethod
    def _signed(raw: bytes, signatures: str, contract_ret: str) -> SignedTransaction:
        return SignedTransaction(
            RawTransaction.decode(raw),
            tuple(bytes.fromhex(s) for s in json.loads(signatures)),
            contract_ret,
        )

    # --- balances ------------------------------------------------------------------------

    def balance(self, address: bytes, token: str, solid: bool = False) -> int:
        row = self.db.execute(
            "SELECT amount FROM balances WHERE address = ? AND token = ?", (address, token)
        ).fetchone()
        amount = int(row[0]) if row else 0
        if solid:
            # Undo what the blocks above the solidified head (and pending transactions) did.
            rows = self.db.execute(
                "SELECT c.delta FROM changes c JOIN transactions t ON t.seq = c.tx_seq "
                "WHERE c.address = ? AND c.token = ? "
                "AND (t.block_num IS NULL OR t.block_num > ?)",
                (address, token, self.solid_num),
            ).fetchall()
            amount -= sum(int(delta) for (delta,) in rows)
        return amount

    def account(self, address: bytes, solid: bool = False) -> Account | None:
        row = self.db.execute(
            "SELECT a.is_contract, a.create_time, a.created_seq, t.block_num FROM accounts a "
            "LEFT JOIN transactions t ON t.seq = a.created_seq WHERE a.address = ?",
            (address,),
        ).fetchone()
        if row is None:
            return None
        is_contract, create_time, created_seq, created_in = row
        # Genesis accounts have no creating transaction; others exist once it is solidified.
        if (
            solid
            and created_seq is not None
            and (created_in is None or created_in > self.solid_num)
        ):
            return None
        trc10 = self.balance(address, BTT_TRC10, solid)
        return Account(
            address=address,
            is_contract=bool(is_contract),
            create_time=create_time,
            balance=self.balance(address, TRX, solid),
            assets={BTT_TRC10: trc10} if trc10 else {},
        )

    def _set_balance(self, address: bytes, token: str, amount: int) -> None:
        self.db.execute(
            "INSERT INTO balances (address, token, amount) VALUES (?, ?, ?) "
            "ON CONFLICT (address, token) DO UPDATE SET amount = excluded.amount",
            (address, token, str(amount)),
        )

    def _change(self, seq: int, address: bytes, token: str, delta: int) -> None:
        self._set_balance(address, token, self.balance(address, token) + delta)
        self.db.execute(
            "INSERT INTO changes (tx_seq, address, token, delta) VALUES (?, ?, ?, ?)",
            (seq, address, token, str(delta)),
        )

    def _create_account(self, address: bytes, timestamp: int, seq: int | None) -> None:
        self.db.execute(
            "INSERT INTO accounts (address, create_time, created_seq) VALUES (?, ?, ?)",
            (address, timestamp, seq),
        )

    def _is_account(self, address: bytes) -> bool:
        return (
            self.db.execute("SELECT 1 FROM accounts WHERE address = ?", (address,)).fetchone()
            is not None
        )

    def _is_contract(self, address: bytes) -> bool:
        row = self.db.execute(
            "SELECT is_contract FROM accounts WHERE address = ?", (address,)
        ).fetchone()
        return bool(row and row[0])

    # --- contract calls without a transaction ---------------------------------------------

    def constant_call(
        self, owner: bytes, contract: bytes, data: bytes, solid: bool = False
    ) -> trc20.CallResult:
        if contract != trc20.BTT_CONTRACT:
            raise ContractValidateError("No contract or not a valid smart contract")
        return trc20.call(lambda holder: self.balance(holder, BTT_TRC20, solid), owner, data)

    # --- faults --------------------------------------------------------------------------

    def memo_fees(self) -> list[tuple[int, int]]:
        """(since, fee in sun) pairs, oldest first, as java-tron's ``getMemoFeePrices``."""
        return [(since, fee) for since, fee in self._meta("memo_fees", [[0, 0]])]

    @property
    def memo_fee(self) -> int:
        return self.memo_fees()[-1][1]

    def set_memo_fee(self, fee: int) -> None:
        if fee < 0:
            raise FaultError("the memo fee cannot be negative")
        if fee != self.memo_fee:
            with self._write():
                history = self.memo_fees()
                history.append((max(now_ms(), history[-1][0] + 1), fee))
                self._set_meta("memo_fees", history)

    def revert_orders(self) -> dict[str, Any]:
        """What will revert: these txIDs, and this many of the next TRC-20 transfers."""
        orders: dict[str, Any] = self._meta("revert_orders", {"txids": [], "next_trc20": 0})
        return orders

    def order_revert(self, txid: bytes | None = None, next_trc20: int = 0) -> dict[str, Any]:
        with self._write():
            orders = self.revert_orders()
            if txid is not None and txid.hex() not in orders["txids"]:
                orders["txids"].append(txid.hex())
            orders["next_trc20"] += next_trc20
            self._set_meta("revert_orders", orders)
        return orders

    def _take_revert_order(self, txid: bytes, owner: bytes, data: bytes) -> bool:
        orders = self.revert_orders()
        if txid.hex() in orders["txids"]:
            orders["txids"].remove(txid.hex())
        # The faucet's own transfers are the devnet's machinery, not payments: funding a test
        # wallet must not use up an order meant for the payment that follows.
        elif orders["next_trc20"] and trc20.is_transfer(data) and owner != FAUCET_ADDRESS:
            orders["next_trc20"] -= 1
        else:
            return False
        self._set_meta("revert_orders", orders)
        return True

    def drop(self, txid: bytes) -> int | None:
        """Take a transaction out of the chain as if it had never been broadcast.

        It may be pending or in a block that is not solidified yet; its balance changes are
        undone and an account it created disappears unless later transactions touched it. A
        block that held it is rebuilt without it (new ID, and new IDs for every block after).
        The node forgets the txID too, so the signed transaction can be broadcast again until
        it expires. Returns the block number it was in (None when pending).

        Raises FaultError when the transaction is unknown or solidified, or when undoing it
        would leave a balance negative (a later transaction spent what it brought: drop that
        one first).
        """
        row = self.db.execute(
            "SELECT seq, block_num FROM transactions WHERE txid = ?", (txid,)
        ).fetchone()
        if row is None:
            raise FaultError(f"no transaction {txid.hex()}")
        seq, block_num = row
        if block_num is not None and block_num <= self.solid_num:
            raise FaultError(f"transaction {txid.hex()} is solidified in block {block_num}")
        with self._write():
            net: dict[tuple[bytes, str], int] = {}
            for address, token, delta in self.db.execute(
                "SELECT address, token, delta FROM changes WHERE tx_seq = ?", (seq,)
            ).fetchall():
                key = (bytes(address), token)
                net[key] = net.get(key, 0) + int(delta)
            for (address, token), delta in net.items():
                balance = self.balance(address, token) - delta
                if balance < 0:
                    raise FaultError(
                        f"undoing {txid.hex()} leaves {address_to_base58(address)} with "
                        f"{balance} {token}: a later transaction spent it, drop that one first"
                    )
                self._set_balance(address, token, balance)
            self.db.execute("DELETE FROM changes WHERE tx_seq = ?", (seq,))
            self.db.execute("DELETE FROM transactions WHERE seq = ?", (seq,))
            for (address,) in self.db.execute(
                "SELECT address FROM accounts WHERE created_seq = ?", (seq,)
            ).fetchall():
                # TRC-20 tokens live in the contract's storage: receiving them creates no
                # account, so only TRX and TRC-10 movements keep one alive.
                first = self.db.execute(
                    "SELECT MIN(tx_seq) FROM changes WHERE address = ? AND token != ?",
                    (address, BTT_TRC20),
                ).fetchone()[0]
                if first is None:
                    self.db.execute(
                        "DELETE FROM balances WHERE address = ? AND token != ?",
                        (address, BTT_TRC20),
                    )
                    self.db.execute("DELETE FROM accounts WHERE address = ?", (address,))
                else:
                    self.db.execute(
                        "UPDATE accounts SET created_seq = ? WHERE address = ?", (first, address)
                    )
            if block_num is not None:
                self._rebuild_blocks(block_num)
        self._recent_txids.pop(txid, None)
        result: int | None = block_num
        return result

    # --- broadcast -----------------------------------------------------------------------

    def broadcast(self, transaction: SignedTransaction) -> None:
        """Validate and execute a signed transaction; it waits for the next block.

        Raises BroadcastError with java-tron's response code and message.
        """
        txid = transaction.txid
        for signature in transaction.signatures:
            if len(signature) != 65:
                raise BroadcastError(
                    "SIGERROR", f"Validate signature error: Signature size is {len(signature)}"
                )
        self._expire_recent_txids()
        if txid in self._recent_txids:
            raise BroadcastError("DUP_TRANSACTION_ERROR", "Transaction already exists.")
        self._recent_txids[txid] = time.monotonic() + TXID_CACHE_SECONDS
        raw = transaction.raw
        if not raw.contracts:
            raise BroadcastError(
                "CONTRACT_VALIDATE_ERROR", "Contract validate error : No contract!"
            )
        head = self.head()
        # TransactionCapsule.checkExpiration against the next 3-second slot; a devnet set to
        # slower blocks still mines on demand, so its slot is never taken as longer than that.
        next_slot = head.timestamp + min(int(self.config.block_seconds * 1000), SLOT_MS)
        if raw.expiration < next_slot:
            raise BroadcastError("TRANSACTION_EXPIRATION_ERROR", "Transaction expired")
        try:
            self._check_signature(transaction)
        except SignatureError as error:
            raise BroadcastError("SIGERROR", f"Validate signature error: {error}") from None
        if len(raw.contracts) != 1:
            raise BroadcastError(
                "OTHER_ERROR", "Error: act size should be exactly 1, this is extend feature"
            )
        if not self._tapos_ok(raw, head.num):
            raise BroadcastError("TAPOS_ERROR", "Tapos check error.")
        size = len(transaction.encode())
        if size > MAX_TRANSACTION_BYTES:
            raise BroadcastError(
                "TOO_BIG_TRANSACTION_ERROR", f"Too big transaction, the size is {size} bytes"
            )
        if (
            raw.expiration <= head.timestamp
            or raw.expiration > head.timestamp + MAX_TIME_UNTIL_EXPIRATION_MS
        ):
            raise BroadcastError("TRANSACTION_EXPIRATION_ERROR", "Transaction expired")
        if self.db.execute("SELECT 1 FROM transactions WHERE txid = ?", (txid,)).fetchone():
            raise BroadcastError("DUP_TRANSACTION_ERROR", "Dup transaction.")
        try:
            with self._write():
                self._execute(transaction, head)
        except ContractValidateError as error:
            raise BroadcastError(
                "CONTRACT_VALIDATE_ERROR", f"Contract validate error : {error}"
            ) from None

    def _expire_recent_txids(self) -> None:
        now = time.monotonic()
        for txid in [t for t, until in self._recent_txids.items() if until < now]:
            del self._recent_txids[txid]

    def _check_signature(self, transaction: SignedTransaction) -> None:
        """TransactionCapsule.validateSignature with the owner's default permission."""
        raw = transaction.raw
        signatures = transaction.signatures
        if not signatures:
            raise SignatureError("miss sig or contract")
        if len(signatures) > TOTAL_SIGN_NUM:
            raise SignatureError("too many signatures")
        if raw.contracts[0].permission_id != 0:
            raise SignatureError("permission isn't exit")
        if len(signatures) > 1:
            # The default owner permission has one key.
            raise SignatureError(
                f"Signature count is {len(signatures)} more than key counts of permission : 1"
            )
        txid = raw.txid
        signer = recover_signer(txid, signatures[0])
        if signer != raw.owner_address:
            raise SignatureError(
                f"{txid.hex()} is signed by {address_to_base58(signer)} "
                "but it is not contained of permission."
            )

    def _tapos_ok(self, raw: RawTransaction, head_num: int) -> bool:
        """Manager.validateTapos: the referenced block must be one of the recent ones."""
        if len(raw.ref_block_bytes) != 2 or len(raw.ref_block_hash) != 8:
            return False
        low = int.from_bytes(raw.ref_block_bytes, "big")
        row = self.db.execute(
            "SELECT id FROM blocks WHERE num > ? AND (num & 65535) = ? ORDER BY num DESC LIMIT 1",
            (head_num - self.config.tapos_blocks, low),
        ).fetchone()
        return row is not None and bytes(row[0])[8:16] == raw.ref_block_hash

    def _execute(self, transaction: SignedTransaction, head: Block) -> None:
        contract = transaction.raw.contracts[0]
        parameter = contract.parameter
        seq = self._next_seq()
        receipt: Receipt
        contract_ret = "SUCCESS"
        # Manager.consumeMemoFee runs before the contract: its validation sees the fee paid.
        fee = self._charge_memo_fee(seq, transaction.raw)
        if isinstance(parameter, TransferContract):
            self._validate_trx_transfer(parameter)
            self._ensure_account(parameter.to_address, head.timestamp, seq)
            self._change(seq, parameter.owner_address, TRX, -parameter.amount)
            self._change(seq, parameter.to_address, TRX, parameter.amount)
            receipt = Receipt(net_usage=_net_usage(transaction), fee=fee)
        elif isinstance(parameter, TransferAssetContract):
            token = self._validate_asset_transfer(parameter)
            self._ensure_account(parameter.to_address, head.timestamp, seq)
            self._change(seq, parameter.owner_address, token, -parameter.amount)
            self._change(seq, parameter.to_address, token, parameter.amount)
            receipt = Receipt(net_usage=_net_usage(transaction), fee=fee)
        else:
            self._validate_trigger(parameter, transaction.raw)
            result = trc20.call(
                lambda holder: self.balance(holder, BTT_TRC20),
                parameter.owner_address,
                parameter.data,
                parameter.call_value or parameter.call_token_value,
            )
            if result.success and self._take_revert_order(
                transaction.txid, parameter.owner_address, parameter.data
            ):
                # An injected revert: the call fails as a require() would, after the same work.
                result = trc20.CallResult(success=False, energy=result.energy)
            if result.success:
                for holder, delta in result.balance_changes:
                    self._change(seq, holder, BTT_TRC20, delta)
            else:
                contract_ret = "REVERT"
            receipt = Receipt(
                net_usage=_net_usage(transaction),
                fee=fee,
                contract_result=result.output,
                contract_address=parameter.contract_address,
                energy_usage_total=result.energy,
                vm_result=contract_ret,
                failed=not result.success,
                res_message="" if result.success else "REVERT opcode executed",
                logs=tuple(result.logs),
            )
        signatures = json.dumps([s.hex() for s in transaction.signatures])
        self.db.execute(
            "INSERT INTO transactions (seq, txid, block_num, raw, signatures, contract_ret, "
            "receipt) VALUES (?, ?, NULL, ?, ?, ?, ?)",
            (
                seq,
                transaction.txid,
                transaction.raw.encode(),
                signatures,
                contract_ret,
                receipt.to_record(),
            ),
        )

    def _charge_memo_fee(self, seq: int, raw: RawTransaction) -> int:
        fee = self.memo_fee
        owner = raw.owner_address
        if not raw.data or not fee or not self._is_account(owner):
            return 0
        if self.balance(owner, TRX) < fee:
            # AccountResourceInsufficientException, as Wallet.broadcastTransaction words it.
            raise BroadcastError("BANDWITH_ERROR", "Account resource insufficient error.")
        # Burnt (mainnet's supportBlackHoleOptimization), so no account receives it.
        self._change(seq, owner, TRX, -fee)
        return fee

    def _next_seq(self) -> int:
        row = self.db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM transactions").fetchone()
        seq: int = row[0]
        return seq

    def _ensure_account(self, address: bytes, timestamp: int, seq: int) -> None:
        if not self._is_account(address):
            self._create_account(address, timestamp, seq)

    def _validate_trx_transfer(self, contract: TransferContract) -> None:
        """TransferActuator.validate."""
        if not is_valid_address(contract.owner_address):
            raise ContractValidateError("Invalid ownerAddress!")
        if not is_valid_address(contract.to_address):
            raise ContractValidateError("Invalid toAddress!")
        if contract.to_address == contract.owner_address:
            raise ContractValidateError("Cannot transfer TRX to yourself.")
        if not self._is_account(contract.owner_address):
            raise ContractValidateError("Validate TransferContract error, no OwnerAccount.")
        if contract.amount <= 0:
            raise ContractValidateError("Amount must be greater than 0.")
        if self._is_contract(contract.to_address):
            raise ContractValidateError("Cannot transfer TRX to a smartContract.")
        if self.balance(contract.owner_address, TRX) < contract.amount:
            raise ContractValidateError(
                "Validate TransferContract error, balance is not sufficient."
            )

    def _validate_asset_transfer(self, contract: TransferAssetContract) -> str:
        """TransferAssetActuator.validate; returns the token id."""
        if not is_valid_address(contract.owner_address):
            raise ContractValidateError("Invalid ownerAddress")
        if not is_valid_address(contract.to_address):
            raise ContractValidateError("Invalid toAddress")
        if contract.amount <= 0:
            raise ContractValidateError("Amount must be greater than 0.")
        if contract.to_address == contract.owner_address:
            raise ContractValidateError("Cannot transfer asset to yourself.")
        if not self._is_account(contract.owner_address):
            raise ContractValidateError("No owner account!")
        token = contract.asset_name.decode(errors="replace")
        if token != BTT_TRC10:
            raise ContractValidateError("No asset!")
        balance = self.balance(contract.owner_address, token)
        if balance <= 0:
            raise ContractValidateError("assetBalance must be greater than 0.")
        if contract.amount > balance:
            raise ContractValidateError("assetBalance is not sufficient.")
        if self._is_contract(contract.to_address):
            raise ContractValidateError("Cannot transfer asset to smartContract.")
        return token

    def _validate_trigger(self, contract: TriggerSmartContract, raw: RawTransaction) -> None:
        if not is_valid_address(contract.owner_address):
            raise ContractValidateError("Invalid ownerAddress!")
        if contract.contract_address != trc20.BTT_CONTRACT:
            raise ContractValidateError("No contract or not a valid smart contract")
        if not 0 <= raw.fee_limit <= MAX_FEE_LIMIT:
            raise ContractValidateError(f"feeLimit must be >= 0 and <= {MAX_FEE_LIMIT}")

    # --- the faucet ----------------------------------------------------------------------

    def faucet(self, to: bytes, token: str, amount: int) -> bytes:
        """Send from the genesis faucet account, as a signed transaction like any other."""
        head = self.head()
        parameter: TransferContract | TransferAssetContract | TriggerSmartContract
        fee_limit = 0
        if token == TRX:
            parameter = TransferContract(FAUCET_ADDRESS, to, amount)
        elif token == BTT_TRC10:
            parameter = TransferAssetContract(BTT_TRC10.encode(), FAUCET_ADDRESS, to, amount)
        elif token == BTT_TRC20:
            call = trc20.selector("transfer(address,uint256)") + bytes(12) + to[1:]
            parameter = TriggerSmartContract(
                FAUCET_ADDRESS, trc20.BTT_CONTRACT, call + amount.to_bytes(32, "big")
            )
            fee_limit = 100_000_000
        else:
            raise ValueError(f"unknown token {token!r}; use one of {', '.join(TOKENS)}")
        stamp = max(now_ms(), head.timestamp)
        raw = RawTransaction(
            contracts=(Contract(parameter, type_url(parameter.TYPE)),),
            ref_block_bytes=head.block_id[6:8],
            ref_block_hash=head.block_id[8:16],
            expiration=stamp + DEFAULT_EXPIRATION_MS,
            timestamp=stamp,
            fee_limit=fee_limit,
        )
        signature = FAUCET_KEY.sign_msg_hash(raw.txid).to_bytes()
        self.broadcast(SignedTransaction(raw, (signature,)))
        return raw.txid


def _signed_header(
    number: int, timestamp: int, parent: bytes, transactions: list[SignedTransaction]
) -> tuple[BlockHeaderRaw, bytes]:
    root = merkle_root([hashlib.sha256(tx.encode()).digest() for tx in transactions])
    header = BlockHeaderRaw(
        timestamp=timestamp,
        tx_trie_root=root,
        parent_hash=parent,
        number=number,
        witness_address=WITNESS_ADDRESS,
        version=BLOCK_VERSION,
    )
    return header, WITNESS_KEY.sign_msg_hash(header.hash).to_bytes()


def _net_usage(transaction: SignedTransaction) -> int:
    # Bandwidth: the transaction's size plus the 64 bytes java-tron reserves for its result.
    return len(transaction.encode()) + 64
