"""Wallets a fan has proved to control: TIP-191 signed messages, as TronLink signs them.

TronLink (TronWeb 6) signs a message with ``tronWeb.trx.signMessageV2(message)``: secp256k1
over ``keccak256("\\x19TRON Signed Message:\\n" + len(utf8) + utf8)``, 65 bytes r || s || v.
``signer_of`` recovers the address that signed with tronpy's implementation (``tronpy.keys``),
never hand-written curve code.

A wallet is verified once per account through a one-time challenge: ``wallet_challenge``
issues a message naming this site, the account and a random nonce (kept in the database for
``CHALLENGE_TTL``), ``verify_wallet`` checks that the address signed it and consumes it. A
signature made for one account's challenge therefore proves nothing for another account, and
cannot be used twice. Payments then use ``verified_addresses`` (a claim from one of them needs
no signature of its own) and ``signer_of`` (a claim from any other address must carry one).
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from tronpy.keys import BadSignature, Signature

from accounts.models import User, VerifiedWallet, WalletChallenge
from btt_platform.errors import Refused
from btt_platform.tron import is_tron_address

__all__ = [
    "CHALLENGE_TTL",
    "ChallengeUnknown",
    "NotATronAddress",
    "VerifiedWallet",
    "WalletRefused",
    "WrongSigner",
    "remove_wallet",
    "signer_of",
    "verified_addresses",
    "verify_wallet",
    "wallet_challenge",
]

CHALLENGE_TTL = timedelta(minutes=10)
# Open challenges kept per account: a few tabs or retries at once, never an unbounded pile.
MAX_OPEN_CHALLENGES = 5
# r || s || v, hex, optionally 0x-prefixed. Exactly this: bytes.fromhex alone would accept spaces.
_SIGNATURE_RE = re.compile(r"(?:0[xX])?([0-9a-fA-F]{130})")
# tronpy signs with v in {0, 1}, TronWeb with {27, 28}; anything else is not a TRON signature.
_RECOVERY_IDS = {0: 0, 1: 1, 27: 0, 28: 1}
# Bounds the hashing work a hostile caller can ask for; real messages are a few lines.
MAX_MESSAGE_CHARS = 4096


class WalletRefused(Refused):
    """A wallet could not be verified. ``code`` says why (for API clients), the message says it
    to a person; the subclasses are the reasons."""

    code = "refused"


class NotATronAddress(WalletRefused):
    """The address is not a base58check TRON address (T…, 34 characters)."""

    code = "not_an_address"


class ChallengeUnknown(WalletRefused):
    """There is no open challenge for this account: never asked, expired or already used."""

    status = 409
    code = "no_challenge"


class WrongSigner(WalletRefused):
    """The signature is malformed, or was made by another key or over another message."""

    code = "wrong_signer"


def signer_of(message: str, signature: str) -> str | None:
    """The base58 TRON address whose key signed ``message`` the TIP-191 way (TronWeb's
    ``trx.signMessageV2``, tronpy's ``PrivateKey.sign_msg``), or None.

    ``signature`` is 65 bytes in hex, with or without ``0x``, v in 0/1/27/28. None for anything
    else: wrong types, lengths or characters, v out of range, a point not on the curve, a
    message that is not encodable or too long. Never raises on such input.
    """
    if not isinstance(message, str) or not isinstance(signature, str):
        return None
    if len(message) > MAX_MESSAGE_CHARS:
        return None
    found = _SIGNATURE_RE.fullmatch(signature.strip())
    if found is None:
        return None
    raw = bytes.fromhex(found.group(1))
    recovery = _RECOVERY_IDS.get(raw[64])
    if recovery is None:
        return None
    try:
        data = message.encode("utf-8")
        public_key = Signature(raw[:64] + bytes([recovery])).recover_public_key_from_msg(data)
        address: str = public_key.to_base58check_address()
    except (BadSignature, ValueError, TypeError):
        return None
    return address


def _site_host() -> str:
    return urlsplit(settings.SITE_URL).netloc or "this site"


def wallet_challenge(user: User) -> str:
    """A new one-time message for ``user`` to sign with the wallet they want to verify.

    It names this site, the account and a random nonce, and is valid for ``CHALLENGE_TTL``.
    Each call makes a new one; the oldest open ones beyond ``MAX_OPEN_CHALLENGES`` lapse.
    """
    now = timezone.now()
    expires_at = now + CHALLENGE_TTL
    message = (
        f"{_site_host()} asks you to prove that this wallet belongs to the account "
        f'"{user.username}".\n'
        "Signing sends no transaction and costs nothing.\n"
        f"Nonce: {secrets.token_hex(16)}\n"
        f"Valid until: {expires_at:%Y-%m-%d %H:%M:%S} UTC"
    )
    with transaction.atomic():
        WalletChallenge.objects.filter(expires_at__lte=now).delete()
        WalletChallenge.objects.create(
            user=user, message=message, created_at=now, expires_at=expires_at
        )
        stale = WalletChallenge.objects.filter(user=user).values_list("pk", flat=True)[
            MAX_OPEN_CHALLENGES:
        ]
        WalletChallenge.objects.filter(pk__in=list(stale)).delete()
    return message


def verify_wallet(user: User, address: str, signature: str) -> VerifiedWallet:
    """Verify that ``user`` controls ``address``: ``signature`` must be that address's
    signature over one of the user's open challenges, which is then used up.

    Returns the ``VerifiedWallet`` (verified again, if it already was). Raises
    ``NotATronAddress``, ``ChallengeUnknown`` (none open: never asked, expired or used) or
    ``WrongSigner`` (another key, another message, or not a signature at all).
    """
    if not isinstance(address, str) or not is_tron_address(address.strip()):
        raise NotATronAddress(
            "That is not a TRON address: 34 characters starting with T, as your wallet shows it."
        )
    address = address.strip()
    now = timezone.now()
    open_challenges = list(WalletChallenge.objects.filter(user=user, expires_at__gt=now))
    if not open_challenges:
        raise ChallengeUnknown(
            "There is no open challenge for your account (it expired after "
            f"{int(CHALLENGE_TTL.total_seconds() // 60)} minutes or was already used): "
            "ask for a new one and sign it."
        )
    for challenge in open_challenges:
        if signer_of(challenge.message, signature) != address:
            continue
        with transaction.atomic():
            # Used once: of two requests with the same signature, only one deletes it.
            used, _ = WalletChallenge.objects.filter(pk=challenge.pk).delete()
            if used:
                return _record(user, address, now)
        raise ChallengeUnknown("That challenge was just used: ask for a new one and sign it.")
    raise WrongSigner(
        f"The signature was not made by {address} over your current challenge: sign the "
        "challenge with that wallet's account selected."
    )


def _record(user: User, address: str, now: datetime) -> VerifiedWallet:
    updated = VerifiedWallet.objects.filter(user=user, address=address).update(verified_at=now)
    if not updated:
        try:
            with transaction.atomic():
                return VerifiedWallet.objects.create(user=user, address=address, verified_at=now)
        except IntegrityError:
            pass  # verified by a concurrent request a moment ago
    return VerifiedWallet.objects.get(user=user, address=address)


def remove_wallet(user: User, address: str) -> bool:
    """Forget one of ``user``'s verified wallets; False when it was not theirs."""
    deleted, _ = VerifiedWallet.objects.filter(user=user, address=address).delete()
    return deleted > 0


def verified_addresses(user: User) -> set[str]:
    """The base58 addresses ``user`` has verified (empty for a user not saved or signed in)."""
    if user.pk is None:
        return set()
    return set(VerifiedWallet.objects.filter(user=user).values_list("address", flat=True))
