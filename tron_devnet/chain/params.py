"""The chain's parameters: tokens, genesis keys and supplies, java-tron's limits and defaults."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from tronpy.keys import PrivateKey

from tron_devnet import trc20

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


@dataclass(frozen=True)
class ChainConfig:
    block_seconds: float = 3.0
    solidify_blocks: int = 19
    # java-tron keeps the last 65,536 block IDs for TAPoS (RecentBlockStore, keyed by 2 bytes).
    tapos_blocks: int = 65536
