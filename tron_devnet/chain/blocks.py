"""Blocks: production near wall-clock time, reads by number and ID, rebuilding after a drop."""

from __future__ import annotations

import hashlib
import json
import time

from tron_devnet.chain.params import BLOCK_VERSION, WITNESS_ADDRESS, WITNESS_KEY
from tron_devnet.chain.records import Block, Receipt, StoredTransaction
from tron_devnet.chain.schema import Store
from tron_devnet.protocol.blocks import BlockHeaderRaw, merkle_root
from tron_devnet.protocol.transactions import RawTransaction, SignedTransaction


def now_ms() -> int:
    """Wall-clock time in milliseconds, as block timestamps and expirations count it."""
    return int(time.time() * 1000)


class Blocks(Store):
    """The block store: a block holds every transaction broadcast since the previous one."""

    def _insert_block(self, timestamp: int, transactions: list[SignedTransaction]) -> Block:
        head = self.db.execute("SELECT num, id FROM blocks ORDER BY num DESC LIMIT 1").fetchone()
        number, parent = (head[0] + 1, head[1]) if head else (0, bytes(32))
        header, signature = signed_header(number, timestamp, parent, transactions)
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
            header, signature = signed_header(num, old.timestamp, parent, transactions)
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


def signed_header(
    number: int, timestamp: int, parent: bytes, transactions: list[SignedTransaction]
) -> tuple[BlockHeaderRaw, bytes]:
    """The header of a block of ``transactions`` and the block producer's signature of it."""
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
