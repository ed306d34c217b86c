"""A broadcast checked in java-tron's order, then executed against the head state.

Signature sizes, the one-hour txID cache, expiry against the next slot, the signature against
the owner, TAPoS, size and expiry window, duplicates; then the contract (``execution``).
"""

from __future__ import annotations

import time

from tron_devnet.chain.errors import BroadcastError, ContractValidateError
from tron_devnet.chain.execution import Execution
from tron_devnet.chain.params import (
    MAX_TIME_UNTIL_EXPIRATION_MS,
    MAX_TRANSACTION_BYTES,
    SLOT_MS,
    TOTAL_SIGN_NUM,
    TXID_CACHE_SECONDS,
)
from tron_devnet.protocol.addresses import address_to_base58
from tron_devnet.protocol.signatures import SignatureError, recover_signer
from tron_devnet.protocol.transactions import RawTransaction, SignedTransaction


class Validation(Execution):
    """``broadcast``: java-tron's checks before a transaction is executed."""

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
