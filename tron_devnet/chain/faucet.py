"""The genesis state and the faucet: the genesis account holds every token and pays on request."""

from __future__ import annotations

from tron_devnet import trc20
from tron_devnet.chain.blocks import now_ms
from tron_devnet.chain.params import (
    BTT_TRC10,
    BTT_TRC20,
    DEFAULT_EXPIRATION_MS,
    FAUCET_ADDRESS,
    FAUCET_KEY,
    GENESIS_TRX,
    TOKENS,
    TRC10_TOTAL_SUPPLY,
    TRX,
    WITNESS_ADDRESS,
)
from tron_devnet.chain.validation import Validation
from tron_devnet.protocol.contracts import (
    Contract,
    TransferAssetContract,
    TransferContract,
    TriggerSmartContract,
    type_url,
)
from tron_devnet.protocol.transactions import RawTransaction, SignedTransaction


class Faucet(Validation):
    """The genesis block and accounts, and ``faucet``: transfers signed by the genesis account."""

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
