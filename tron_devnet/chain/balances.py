"""Balances and accounts, at the head or as of the solidified head, and read-only contract calls."""

from __future__ import annotations

from tron_devnet import trc20
from tron_devnet.chain.blocks import Blocks
from tron_devnet.chain.errors import ContractValidateError
from tron_devnet.chain.params import BTT_TRC10, BTT_TRC20, TRX
from tron_devnet.chain.records import Account


class Balances(Blocks):
    """TRX, TRC-10 and TRC-20 balances, each change logged with the transaction that made it."""

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
