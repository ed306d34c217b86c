"""Faults for tests of what watches the chain (``/devnet/fault``).

A transaction not yet solidified can be dropped (it leaves its block, whose ID and every later
block's change as in a fork switch, and its balance changes are undone through the
per-transaction change log); a given txID or the next TRC-20 transfers can be made to revert;
and the memo fee of TIP-387 can be switched on (charged in ``execution``).
"""

from __future__ import annotations

from typing import Any

from tron_devnet import trc20
from tron_devnet.chain.balances import Balances
from tron_devnet.chain.blocks import now_ms
from tron_devnet.chain.errors import FaultError
from tron_devnet.chain.params import BTT_TRC20, FAUCET_ADDRESS
from tron_devnet.protocol.addresses import address_to_base58


class Faults(Balances):
    """The faults in force (in the ``meta`` table, so they survive a restart) and ``drop``."""

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
