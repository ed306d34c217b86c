"""Block headers and the transaction root, written by hand: ``tron_pb2`` has no ``BlockHeader``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from tron_devnet.protocol import wire


@dataclass(frozen=True)
class BlockHeaderRaw:
    """``BlockHeader.raw``; the block ID is the number (8 bytes) + sha256(these bytes)[8:]."""

    timestamp: int
    tx_trie_root: bytes
    parent_hash: bytes
    number: int
    witness_address: bytes
    version: int

    def encode(self) -> bytes:
        w = wire.Writer()
        w.integer(1, self.timestamp)
        w.blob(2, self.tx_trie_root)
        w.blob(3, self.parent_hash)
        w.integer(7, self.number)
        w.blob(9, self.witness_address)
        w.integer(10, self.version)
        return bytes(w.buffer)

    @classmethod
    def decode(cls, data: bytes) -> BlockHeaderRaw:
        values: dict[int, int | bytes] = dict(wire.fields(data))
        wire.only(values, {1, 2, 3, 7, 9, 10}, "BlockHeader.raw")
        return cls(
            timestamp=wire.int64(values.get(1, 0)),
            tx_trie_root=wire.blob(values.get(2, b"")),
            parent_hash=wire.blob(values.get(3, b"")),
            number=wire.int64(values.get(7, 0)),
            witness_address=wire.blob(values.get(9, b"")),
            version=wire.int64(values.get(10, 0)),
        )

    @property
    def hash(self) -> bytes:
        return hashlib.sha256(self.encode()).digest()

    @property
    def block_id(self) -> bytes:
        return self.number.to_bytes(8, "big") + self.hash[8:]


def merkle_root(leaves: list[bytes]) -> bytes:
    """java-tron's txTrieRoot: pairwise sha256 up the tree, an odd last node moves up as is."""
    if not leaves:
        return bytes(32)
    level = leaves
    while len(level) > 1:
        paired = [
            hashlib.sha256(level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]
