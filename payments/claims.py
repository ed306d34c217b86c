"""Claims: a payer says which transaction pays an invoice, and the node proves it.

A payment of the exact unique amount needs no claim; a claim covers the rest (a wallet that
rounds, an exchange that cannot send the exact amount). It counts only if its claimant proved
control of the sending address: a TIP-191 signature of ``claim_message(invoice, txid)``, or a
wallet verified in their settings. Anyone can read a stranger's txid off the chain; nobody else
can sign for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts import wallets
from accounts.models import User
from payments.chain.verification import Refused, verify_transfers
from payments.crediting import proves_sender, record_transfer, refuse_claim, resolve_claims
from payments.errors import ClaimConflict, NotFound, PaymentRefused, ProofRequired, TooManyClaims
from payments.invoices import log_event, may_view
from payments.models import Invoice, InvoiceEvent, Payment, TxClaim
from payments.money import Token
from payments.pricing import btt_contract

Event = InvoiceEvent.Kind

MAX_CLAIMS_PER_INVOICE = 10


def claim_message_template(invoice: Invoice) -> str:
    """What the sending wallet signs to claim a transaction for ``invoice``: this text with
    ``{txid}`` replaced by the transaction id (lowercase hex). It names the site, the invoice
    and the transaction, so a signature proves nothing about any other claim."""
    host = urlsplit(settings.SITE_URL).netloc or "this site"
    return f"{host}: transaction {{txid}} pays invoice {invoice.pk}"


def claim_message(invoice: Invoice, txid: str) -> str:
    return claim_message_template(invoice).replace("{txid}", txid)


def claim_transaction(
    user: User, invoice: Invoice, txid: str, signature: str = ""
) -> tuple[TxClaim, bool]:
    """Say that ``txid`` pays ``invoice`` (the paying page sends it once the wallet has sent
    the transaction, signed by the sending wallet) and queue its verification; the claim and
    whether it is new.

    The proof is ``signature``: the sending address's signature (TIP-191) of
    ``claim_message(invoice, txid)``; without one, the claimant's verified wallets stand in for
    it. A claim credits the transfer only if it was sent from a proven address, and it never
    stops anyone else's claim of the same txid.

    Raises NotFound (not the payer's or creator's invoice), PaymentRefused (not a txid, a
    signature that does not sign this claim), ProofRequired, ClaimConflict (the transaction
    already paid another invoice), TooManyClaims.
    """
    if not may_view(user, invoice):
        raise NotFound("No such invoice.")
    txid = txid.strip().lower()
    if len(txid) != 64 or not all(c in "0123456789abcdef" for c in txid):
        raise PaymentRefused("A txid is 64 hexadecimal characters.")
    signer = ""
    if signature:
        signer = wallets.signer_of(claim_message(invoice, txid), signature) or ""
        if not signer:
            raise PaymentRefused("The signature does not sign this claim.")
    elif not wallets.verified_addresses(user):
        raise ProofRequired(
            "Sign the claim with the wallet that sent the payment, or verify that wallet in "
            "your settings first. A payment of the exact amount needs no claim."
        )
    existing = TxClaim.objects.filter(txid=txid, invoice=invoice).first()
    if existing is not None:
        return existing, False
    if Payment.objects.filter(txid=txid).exclude(invoice=invoice).exists():
        raise ClaimConflict("This transaction already paid another invoice.")
    if invoice.claims.count() >= MAX_CLAIMS_PER_INVOICE:
        raise TooManyClaims("Too many transactions claimed for this invoice.")
    try:
        with transaction.atomic():
            claim = TxClaim.objects.create(
                txid=txid, invoice=invoice, claimed_by=user, signer=signer
            )
            log_event(invoice, Event.CLAIMED, actor=user, txid=txid, detail={"signer": signer})
            queue_claim_verification(claim.pk)
    except IntegrityError:  # the same claim, made concurrently
        return TxClaim.objects.get(txid=txid, invoice=invoice), False
    return claim, True


def queue_claim_verification(claim_id: int) -> None:
    """Verify the claim on a worker once this transaction commits (``payments.verify_claim``)."""
    from payments.tasks import verify_claim

    transaction.on_commit(lambda: verify_claim.delay(claim_id))


class ChainReader(Protocol):
    """What claim verification reads from a full node (java-tron's JSON answers)."""

    def transaction(self, txid: str) -> Mapping[str, Any]:
        """``wallet/gettransactionbyid``"""
        ...

    def transaction_info(self, txid: str) -> Mapping[str, Any]:
        """``wallet/gettransactioninfobyid`` (in a block, maybe not solidified)"""
        ...

    def solid_transaction_info(self, txid: str) -> Mapping[str, Any]:
        """``walletsolidity/gettransactioninfobyid`` (``{}`` until solidified)"""
        ...


def verify_claim(claim_id: int, reader: ChainReader) -> TxClaim:
    """Read the claimed transaction from the node (outside any database transaction) and apply
    the answer with ``check_claim``. Raises whatever the reader raises when the node is down."""
    claim = TxClaim.objects.get(pk=claim_id)
    found = reader.transaction(claim.txid)
    solid = reader.solid_transaction_info(claim.txid) if found else {}
    info = solid or (reader.transaction_info(claim.txid) if found else {})
    return check_claim(claim_id, found, info, solidified=bool(solid))


def check_claim(
    claim_id: int,
    transaction_json: Mapping[str, Any],
    info_json: Mapping[str, Any],
    *,
    solidified: bool,
) -> TxClaim:
    """Apply the node's answers about a claimed txid: credit what it proves, or refuse the claim
    with the reason. A transaction not in a block yet leaves the claim pending (ask again).
    Safe to call again, e.g. once the block is solidified."""
    claim = TxClaim.objects.select_related("invoice").get(pk=claim_id)
    invoice = claim.invoice
    result = verify_transfers(
        transaction_json,
        info_json,
        token=Token(invoice.token),
        recipients={invoice.recipient},
        btt_contract=btt_contract(),
        txid=claim.txid,
    )
    if isinstance(result, Refused):
        if result.reason.final:
            refuse_claim(claim, f"{result.reason.value}: {result.detail}")
        else:
            TxClaim.objects.filter(pk=claim.pk).update(checked_at=timezone.now())
        claim.refresh_from_db()
        return claim
    if not any(proves_sender(claim, transfer.sender) for transfer in result.transfers):
        # Someone else's transfer: it is left to whatever it pays (or to finance), untouched.
        refuse_claim(claim, "not_yours: the transfer was not sent from a wallet you proved")
        claim.refresh_from_db()
        return claim
    for transfer in result.transfers:
        record_transfer(transfer, solidified=solidified, claim=claim)
    with transaction.atomic():
        resolve_claims(claim.txid)
        if not Payment.objects.filter(txid=claim.txid, invoice_id=invoice.pk).exists():
            refuse_claim(
                claim,
                "not_credited: the invoice takes no more payments; the transfer is kept for "
                "the creator to return",
            )
    claim.refresh_from_db()
    return claim


def abandon_claim(claim_id: int) -> TxClaim:
    """Give up on a claim whose transaction never showed up in a block: refused, nothing
    credited. Safe to call twice; a claim already decided is left as it is."""
    claim = TxClaim.objects.get(pk=claim_id)
    refuse_claim(claim, "not_found: the transaction never appeared on chain")
    claim.refresh_from_db()
    return claim


def pending_claims() -> QuerySet[TxClaim]:
    """Claims still waiting for their transaction to be seen, oldest first."""
    return TxClaim.objects.filter(state=TxClaim.State.PENDING).order_by("created_at", "pk")
