"""Invoices for tests: a creator with a wallet of their own, priced paid content, a purchase."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from accounts.models import User
from creators.models import Creator
from payments import claims, invoices
from payments.chain.verification import ChainTransfer, Verified, verify_transfers
from payments.models import Invoice, TxClaim
from payments.money import Amount, Token
from purchases import services as purchases
from swarm.models import Content
from tests.payments.tron_json import address_of, at, signed_by, trc20_transfer

CREATOR_ADDRESS = address_of(1)
FAN_SEED = 2
FAN_ADDRESS = address_of(FAN_SEED)
STRANGER_ADDRESS = address_of(3)
OTHER_ADDRESS = address_of(4)
PRICE = Amount.parse("100", Token.BTT)
# What the first invoice at PRICE asks for: the price plus tag 1 in the sixth decimal.
FIRST_DUE = Amount.parse("100.000001", Token.BTT)


def with_wallet(creator: Creator, address: str = CREATOR_ADDRESS) -> Creator:
    """The shared persona's address is the BTT contract's own; here a creator has a wallet of
    their own, so "the token contract" and "the recipient" can never be confused in a test."""
    creator.payout_address = address
    creator.save(update_fields=["payout_address"])
    return creator


def paid_content(creator: Creator, title: str = "Album", price: Amount = PRICE) -> Content:
    content = Content.objects.create(
        creator=creator,
        title=title,
        name=f"{title.lower()}.flac",
        access=Content.Access.PAID,
        state=Content.State.SEEDING,
    )
    purchases.set_content_price(creator.user, content, price)
    return content


def purchase(fan: User, creator: Creator, title: str = "Album") -> Invoice:
    """A new invoice of ``fan`` for a new paid content of ``creator`` (given a wallet)."""
    with_wallet(creator)
    invoice, created = purchases.create_purchase_invoice(fan, paid_content(creator, title))
    assert created
    return invoice


def paying(
    invoice: Invoice,
    units: int | None = None,
    *,
    sender: str = FAN_ADDRESS,
    recipient: str = CREATOR_ADDRESS,
    contract: str | None = None,
    after: timedelta = timedelta(minutes=1),
    outcome: str = "SUCCESS",
    memo: str = "",
    seq: int = 0,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A transfer for ``invoice`` (its exact amount unless ``units``), ``after`` its creation."""
    kwargs: dict[str, Any] = {"contract": contract} if contract else {}
    return trc20_transfer(
        sender=sender,
        recipient=recipient,
        units=invoice.amount_due if units is None else units,
        block_time_ms=at(invoice.created_at + after),
        outcome=outcome,
        memo=memo,
        seq=seq,
        **kwargs,
    )


def proven(
    transaction: dict[str, Any], info: dict[str, Any], token: Token = Token.BTT
) -> ChainTransfer:
    """The one transfer a watcher would verify in these answers."""
    result = verify_transfers(
        transaction, info, token=token, recipients=invoices.watched_addresses()
    )
    assert isinstance(result, Verified), result
    (transfer,) = result.transfers
    return transfer


def proven_claim(
    user: User, invoice: Invoice, txid: str, signer_seed: int = FAN_SEED
) -> tuple[TxClaim, bool]:
    """``user`` claims ``txid`` for ``invoice``, signed by the key of ``signer_seed`` (by
    default the fan's wallet, which sends the fan's payments in these tests)."""
    message = claims.claim_message(invoice, txid.lower())
    return claims.claim_transaction(user, invoice, txid, signed_by(signer_seed, message))
