"""The chain's SQLite file and the connection every layer of ``Chain`` shares.

One file (WAL, synchronous=FULL, one transaction per broadcast or block), so a restart, even
after ``kill -9``, finds exactly the committed chain.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tron_devnet.chain.params import ChainConfig

SCHEMA = """
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


class Store:
    """The connection, its write transactions, the ``meta`` table, the in-memory txID cache.

    ``Chain`` is built in layers over it, one module each (blocks, balances, faults, execution,
    validation, faucet); their underscore methods are the chain's own, shared by its layers and
    not for the API.
    """

    def __init__(self, path: Path, config: ChainConfig | None = None) -> None:
        self.config = config or ChainConfig()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        # The txID cache of a java-tron node lives in memory and starts empty after a restart:
        # txID -> when it leaves the cache (time.monotonic()). Broadcasts fill it, drops clear.
        self._recent_txids: dict[bytes, float] = {}

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

    def _meta(self, key: str, default: object) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def _set_meta(self, key: str, value: object) -> None:
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value)),
        )
