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

from pathlib import Path

from tron_devnet.chain.faucet import Faucet
from tron_devnet.chain.params import ChainConfig


class Chain(Faucet):
    """The whole node state. Not thread-safe: the server uses it from its event loop only.

    Built in layers, lowest first: ``schema.Store`` (the SQLite file), ``blocks``,
    ``balances``, ``faults``, ``execution``, ``validation`` (``broadcast``), ``faucet``.
    """

    def __init__(self, path: Path, config: ChainConfig | None = None) -> None:
        super().__init__(path, config)
        if self.db.execute("SELECT 1 FROM blocks LIMIT 1").fetchone() is None:
            self._create_genesis()
