"""Invoices and prices in the JSON API. Amounts are strings, always: decimal for people
(``value``), base units for wallets (``units``).

A fan buys a content with ``POST /invoices``, pays the invoice's ``amount_due`` of its token to
``pay_to`` from any wallet (the unique amount says which invoice it is), and the paying page
sends the wallet's txid to ``POST /invoices/{id}/claims`` so it is verified at once. Status
changes stream on ``/ws/invoice/<id>/``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from ninja import Field, Router, Schema

from accounts.http import AuthenticatedHttpRequest
from payments import claims, invoices, pricing
from payments.models import Invoice, TxClaim
from payments.money import BTT_TRC10_ASSET_ID, Amount, AmountJson, Standard, Token

router = Router(tags=["payments"])


class Error(Schema):
    detail: str


class MoneyOut(Schema):
    value: str = Field(description="decimal, exact: '100.000001'")
    units: str = Field(description="base units (the token's smallest unit), exact")
    token: str


class PriceIn(Schema):
    amount: str = Field(description="decimal string, e.g. '250' or '0.5'", max_length=100)
    token: Literal["BTT", "BTTOLD"] = Field("BTT", description="BTTOLD: TRC-10, if enabled")


class PriceOut(Schema):
    content_id: int
    price: MoneyOut


class InvoiceIn(Schema):
    content_id: int


class InvoiceOut(Schema):
    id: uuid.UUID
    kind: str
    state: str = Field(description="new, processing, settled, expired or invalid")
    partial: bool
    over: bool
    late: bool
    amount_due: MoneyOut = Field(description="pay exactly this: the low digits name the invoice")
    amount_paid: MoneyOut
    decimals: int
    pay_to: str = Field(description="the creator's own TRON address")
    token_contract: str | None = Field(description="TRC-20 contract of the token, if TRC-20")
    token_id: str | None = Field(description="TRC-10 asset id of the token, if TRC-10")
    memo: str = Field(description="for wallets that can set a memo; not required")
    content_id: int | None
    creator: str
    payer_address: str
    created_at: datetime
    expires_at: datetime
    settled_at: datetime | None
    txids: list[str]
    websocket: str
    claim_message: str = Field(
        description="what the sending wallet signs to claim a transaction for this invoice, "
        "with {txid} replaced by the transaction id"
    )


class ClaimIn(Schema):
    txid: str = Field(min_length=64, max_length=64, description="the transaction id, hex")
    signature: str = Field(
        "",
        max_length=200,
        description="the sending wallet's TIP-191 signature (TronWeb trx.signMessageV2) of the "
        "invoice's claim_message with {txid} replaced; optional if the sender is a wallet you "
        "verified",
    )


class ClaimOut(Schema):
    txid: str
    invoice_id: uuid.UUID
    state: str = Field(description="pending, verified or refused")
    detail: str
    created_at: datetime


def _money(amount: Amount) -> AmountJson:
    return amount.to_json()


def invoice_out(invoice: Invoice) -> dict[str, Any]:
    """An invoice as ``InvoiceOut`` (for every router that answers with invoices)."""
    token = Token(invoice.token)
    return {
        "id": invoice.pk,
        "kind": invoice.kind,
        "state": invoice.state,
        "partial": invoice.partial,
        "over": invoice.over,
        "late": invoice.late,
        "amount_due": _money(invoice.due),
        "amount_paid": _money(invoice.paid),
        "decimals": token.decimals,
        "pay_to": invoice.recipient,
        "token_contract": pricing.btt_contract() if token.standard is Standard.TRC20 else None,
        "token_id": BTT_TRC10_ASSET_ID if token.standard is Standard.TRC10 else None,
        "memo": invoice.memo,
        "content_id": invoice.content_id,
        "creator": invoice.creator.handle,
        "payer_address": invoice.payer_address,
        "created_at": invoice.created_at,
        "expires_at": invoice.expires_at,
        "settled_at": invoice.settled_at,
        "claim_message": claims.claim_message_template(invoice),
        "txids": invoice.txids(),
        "websocket": f"/ws/invoice/{invoice.pk}/",
    }


def _claim_out(claim: TxClaim) -> dict[str, Any]:
    return {
        "txid": claim.txid,
        "invoice_id": claim.invoice_id,
        "state": claim.state,
        "detail": claim.detail,
        "created_at": claim.created_at,
    }


def _viewable_invoice(request: AuthenticatedHttpRequest, invoice_id: uuid.UUID) -> Invoice | None:
    invoice = Invoice.objects.select_related("creator").filter(pk=invoice_id).first()
    if invoice is None or not invoices.may_view(request.user, invoice):
        return None
    return invoice


@router.get("/invoices/{invoice_id}", response={200: InvoiceOut, 404: Error})
def invoice_detail(request: AuthenticatedHttpRequest, invoice_id: uuid.UUID) -> tuple[int, Any]:
    """For the invoice's payer and creator; 404 for anyone else."""
    invoice = _viewable_invoice(request, invoice_id)
    if invoice is None:
        return 404, {"detail": "No such invoice."}
    return 200, invoice_out(invoice)


@router.post(
    "/invoices/{invoice_id}/claims",
    response={202: ClaimOut, 400: Error, 404: Error, 409: Error, 429: Error},
)
def claim_transaction(
    request: AuthenticatedHttpRequest, invoice_id: uuid.UUID, payload: ClaimIn
) -> tuple[int, Any]:
    """Say which transaction pays this invoice, with the sending wallet's signature of the
    invoice's ``claim_message`` (or from a wallet you verified). It is verified on chain and
    credited only if the transfer was sent from that wallet: watch ``state`` here or on the
    invoice's WebSocket. 400 without proof; 409 when it already paid another invoice."""
    invoice = _viewable_invoice(request, invoice_id)
    if invoice is None:
        return 404, {"detail": "No such invoice."}
    claim, _ = claims.claim_transaction(request.user, invoice, payload.txid, payload.signature)
    return 202, _claim_out(claim)
