"""The payment block's QR code and wallet links carry the address, the exact amount still owed
and the token. No QR decoder is installed here, so the code is checked through segno: the SVG
on the page is segno's encoding of exactly the expected URI, byte mode, nothing else in it."""

from __future__ import annotations

import html
import json
import re
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import segno
from django.test import Client

from accounts.models import User
from creators.models import Creator
from payments import instructions, pricing
from payments.money import Amount, Token
from purchases import services as purchases
from tests.payments.factories import CREATOR_ADDRESS, FIRST_DUE, paid_content, with_wallet

pytestmark = pytest.mark.django_db


def test_the_qr_code_on_the_invoice_page_is_the_tron_uri_with_address_amount_and_token(
    fan: User, creator: Creator
) -> None:
    # given
    invoice, _ = purchases.create_purchase_invoice(fan, paid_content(with_wallet(creator)))
    client = Client()
    client.force_login(fan)

    # when
    page = html.unescape(client.get(f"/invoices/{invoice.pk}/").content.decode())

    # then: the URI names the address, the tagged amount in whole tokens, the BTT contract
    uri = f"tron:{CREATOR_ADDRESS}?amount=100.000001&token={pricing.btt_contract()}"
    parts = urlsplit(uri)
    assert (parts.scheme, parts.path) == ("tron", CREATOR_ADDRESS)
    assert parse_qs(parts.query) == {"amount": ["100.000001"], "token": [pricing.btt_contract()]}
    assert instructions.payment_uri(CREATOR_ADDRESS, FIRST_DUE) == uri
    # and the code on the page is exactly that URI (segno's own encoding of it)
    code = segno.make(uri, error="m")
    assert code.mode == "byte"
    title = f"QR code to pay {FIRST_DUE} to {CREATOR_ADDRESS}"
    assert html.unescape(instructions.qr_svg(uri, title)) in page
    svgs = re.findall(r"<svg .*?</svg>", page, re.S)
    assert len(svgs) == 2  # the payment code and the address-only one
    assert f"<title>{title}</title>" in svgs[0]


def test_after_a_partial_payment_the_code_asks_for_what_is_still_owed(
    fan: User, creator: Creator
) -> None:
    invoice, _ = purchases.create_purchase_invoice(fan, paid_content(with_wallet(creator)))
    invoice.amount_paid = 40 * 10**18  # as crediting records it; the block reads it only

    pay = instructions.payment_instruction(invoice, "https://example.test/invoices/x/")

    assert pay.amount == Amount.parse("60.000001", Token.BTT)
    assert pay.uri.endswith(f"amount=60.000001&token={pricing.btt_contract()}")


def test_the_wallet_links(fan: User, creator: Creator) -> None:
    invoice, _ = purchases.create_purchase_invoice(fan, paid_content(with_wallet(creator)))
    page_url = f"https://example.test/invoices/{invoice.pk}/"

    tronlink, trust, other = instructions.payment_instruction(invoice, page_url).links

    # TronLink: its documented "open DApp" deep link, opening this invoice page
    assert tronlink.url.startswith("tronlinkoutside://pull.activity?param=")
    param = json.loads(unquote(tronlink.url.split("param=", 1)[1]))
    assert param == {"url": page_url, "action": "open", "protocol": "tronlink", "version": "1.0"}
    # Trust Wallet: its documented send link, TRON's SLIP-44 coin 195 and the token contract
    parts = urlsplit(trust.url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "link.trustwallet.com", "/send")
    assert parse_qs(parts.query) == {
        "asset": [f"c195_t{pricing.btt_contract()}"],
        "address": [CREATOR_ADDRESS],
        "amount": ["100.000001"],
    }
    assert other.url == instructions.payment_uri(CREATOR_ADDRESS, FIRST_DUE)
