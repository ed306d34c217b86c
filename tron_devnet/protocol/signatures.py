"""Transaction signatures: 65 bytes r||s||v over the txID, secp256k1, no message prefix."""

from __future__ import annotations

from tronpy.exceptions import BadSignature
from tronpy.keys import Signature


class SignatureError(ValueError):
    pass


def recover_signer(txid: bytes, signature: bytes) -> bytes:
    """The 21-byte address whose key made ``signature`` (r||s||v) over ``txid``.

    v is 0/1 (tronpy, java-tron) or 27/28 (TronWeb). java-tron also tolerates 29..34 (recovery
    ids 2 and 3, "compressed" flags) which no wallet produces; they are refused here.
    Raises SignatureError.
    """
    if len(signature) < 65:
        raise SignatureError(f"Signature size is {len(signature)}")
    v = signature[64]
    if v not in (0, 1, 27, 28):
        raise SignatureError(f"Header byte out of range: {v + 27 if v < 27 else v}")
    try:
        public_key = Signature(signature[:65]).recover_public_key_from_msg_hash(txid)
    except BadSignature as error:
        raise SignatureError(str(error)) from error
    address: bytes = public_key.to_address()
    return address
