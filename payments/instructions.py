"""The payment instruction: what a fan's wallet needs to pay an invoice (the creator's address,
the exact amount still owed, the token), as text to copy, a QR code and links that hand it to a
wallet app, so that a fan on a phone types no digit.

TRON has no payment URI that all wallets agree on (there is no BIP 21 for TRON). What each
wallet reads, and what could not be checked here, is in ARCHITECTURE.md ("Paying from a
phone"). In short: the QR holds a ``tron:`` URI with the address, the amount and the token
(the form payment processors use; wallets that do not read it may still take the address, or
may refuse it, so the address alone is one tap away); TronLink's documented deep link opens
this invoice page inside TronLink, whose "Pay with TronLink" button then fills in everything;
Trust Wallet's documented ``send`` link carries address, amount and token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import segno

from payments import pricing
from payments.models import Invoice
from payments.money import BTT_TRC10_ASSET_ID, Amount, Standard, Token

# SLIP-44 coin type of TRON: Trust Wallet names assets by it ("c195_t<contract>").
TRON_SLIP44 = 195


@dataclass(frozen=True)
class WalletLink:
    """A link that opens a wallet app with the payment (or this page) in it."""

    label: str
    url: str
    note: str


@dataclass(frozen=True)
class PaymentInstruction:
    """Everything the payment block shows for one invoice; amounts still owed, as strings."""

    invoice_id: str
    address: str
    amount: Amount  # what is still owed: the whole tagged amount until a partial payment
    token_label: str
    contract: str  # TRC-20 contract, or "" for TRC-10
    token_id: str  # TRC-10 asset id, or ""
    memo: str
    creator_name: str
    uri: str  # what the QR code holds
    qr_svg: str
    address_qr_svg: str
    links: tuple[WalletLink, ...]

    @property
    def amount_text(self) -> str:
        return self.amount.decimal_string()


def still_owed(invoice: Invoice) -> Amount:
    """What the fan still has to send: the tagged amount less what arrived (never below 0)."""
    if invoice.paid < invoice.due:
        return invoice.due - invoice.paid
    return Amount.zero(Token(invoice.token))


def token_reference(token: Token) -> tuple[str, str]:
    """(TRC-20 contract, TRC-10 asset id) of ``token`` on this network; one of them is ""."""
    if token.standard is Standard.TRC20:
        return pricing.btt_contract(), ""
    return "", BTT_TRC10_ASSET_ID


def payment_uri(address: str, amount: Amount) -> str:
    """``tron:<address>?amount=<decimal>&token=<contract or asset id>``: the amount in whole
    tokens as a person reads it (what wallets show in their send form), never base units."""
    contract, token_id = token_reference(amount.token)
    query = urlencode({"amount": amount.decimal_string(), "token": contract or token_id})
    return f"tron:{address}?{query}"


def tronlink_open_link(page_url: str) -> str:
    """TronLink's deep link (app 4.10.0 and later) that opens ``page_url`` in TronLink's own
    browser, where the page's "Pay with TronLink" button fills in address, amount and token.
    (TronLink's "transfer" deep link is only for DApps on TronLink's whitelist, with a callback
    server, so it is not used.)"""
    param = json.dumps(
        {"url": page_url, "action": "open", "protocol": "tronlink", "version": "1.0"},
        separators=(",", ":"),
    )
    return f"tronlinkoutside://pull.activity?param={quote(param, safe='')}"


def trust_wallet_link(address: str, amount: Amount) -> str:
    """Trust Wallet's documented ``send`` deep link, for a TRC-20 token ("" for others)."""
    contract, _ = token_reference(amount.token)
    if not contract:
        return ""
    query = urlencode(
        {
            "asset": f"c{TRON_SLIP44}_t{contract}",
            "address": address,
            "amount": amount.decimal_string(),
        }
    )
    return f"https://link.trustwallet.com/send?{query}"


def qr_svg(payload: str, title: str) -> str:
    """``payload`` as a QR code, inline SVG sized by the stylesheet."""
    code = segno.make(payload, error="m")
    return str(
        code.svg_inline(
            scale=4,
            border=2,
            dark="#000",
            light="#fff",
            omitsize=True,  # a viewBox instead of a fixed size: the stylesheet sizes it
            svgclass="qr-code",
            lineclass=None,
            title=title,
        )
    )


def payment_instruction(invoice: Invoice, page_url: str) -> PaymentInstruction:
    """The payment block of ``invoice``; ``page_url`` is its invoice page (absolute), which
    TronLink's link opens."""
    owed = still_owed(invoice)
    contract, token_id = token_reference(owed.token)
    uri = payment_uri(invoice.recipient, owed)
    links = [
        WalletLink(
            "Open in TronLink",
            tronlink_open_link(page_url),
            "opens this page inside TronLink, which fills in the payment",
        )
    ]
    trust = trust_wallet_link(invoice.recipient, owed)
    if trust:
        links.append(WalletLink("Send with Trust Wallet", trust, "address and amount filled in"))
    links.append(WalletLink("Other TRON wallet", uri, "if your wallet opens tron: links"))
    return PaymentInstruction(
        invoice_id=str(invoice.pk),
        address=invoice.recipient,
        amount=owed,
        token_label=owed.token.label,
        contract=contract,
        token_id=token_id,
        memo=invoice.memo,
        creator_name=invoice.creator.display_name,
        uri=uri,
        qr_svg=qr_svg(uri, f"QR code to pay {owed} to {invoice.recipient}"),
        address_qr_svg=qr_svg(invoice.recipient, f"QR code of the address {invoice.recipient}"),
        links=tuple(links),
    )
