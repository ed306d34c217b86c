"""The checkout pages over HTTP: Buy makes (or finds) one invoice, its page tells what to pay,
where and by when, and nobody but its payer and creator learns it exists."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client

from accounts.models import User
from creators.models import Creator
from ledger import services as ledger
from ledger.models import Grant
from payments import crediting, invoices, pricing
from payments.instructions import payment_uri, qr_svg
from payments.models import Invoice
from purchases import services as purchases
from swarm.models import Content
from tests.payments.factories import (
    CREATOR_ADDRESS,
    FIRST_DUE,
    paid_content,
    paying,
    proven,
    with_wallet,
)

pytestmark = pytest.mark.django_db


def as_user(user: User, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


@pytest.fixture
def album(creator: Creator) -> Content:
    with_wallet(creator)
    return paid_content(creator)


def test_the_content_page_offers_buy_as_a_form(fan: User, album: Content) -> None:
    page = as_user(fan).get(f"/content/{album.pk}/").content.decode()

    assert f'<form method="post" action="/content/{album.pk}/buy/">' in page
    assert re.search(r'<button type="submit" class="button buy-button" data-buy>Buy</button>', page)


def test_unpriced_paid_content_is_not_on_sale(fan: User, creator: Creator) -> None:
    with_wallet(creator)
    content = Content.objects.create(
        creator=creator, title="Draft", name="d.bin", access="paid", state="seeding"
    )
    client = as_user(fan)

    page = client.get(f"/content/{content.pk}/").content.decode()
    refused = client.post(f"/content/{content.pk}/buy/")

    assert "Not on sale yet" in page
    assert refused.status_code == 409
    assert "The creator has not priced this content yet." in refused.content.decode()
    assert not Invoice.objects.exists()


def test_buy_makes_one_invoice_and_goes_to_its_page(fan: User, album: Content) -> None:
    client = as_user(fan)

    first = client.post(f"/content/{album.pk}/buy/")
    again = client.post(f"/content/{album.pk}/buy/")

    invoice = Invoice.objects.get()
    assert first.status_code == again.status_code == 302
    assert first["Location"] == again["Location"] == f"/invoices/{invoice.pk}/"
    # the content page and the checkout now lead back to that invoice, not to a second one
    assert f'href="/invoices/{invoice.pk}/"' in client.get(f"/content/{album.pk}/").content.decode()
    checkout = client.get(f"/content/{album.pk}/buy/").content.decode()
    assert "Continue with your payment" in checkout
    assert f'href="/invoices/{invoice.pk}/"' in checkout


def test_the_invoice_page_says_what_to_pay_where_and_by_when(fan: User, album: Content) -> None:
    invoice, _ = purchases.create_purchase_invoice(fan, album)

    response = as_user(fan).get(f"/invoices/{invoice.pk}/")

    page = response.content.decode()
    assert response.status_code == 200
    assert FIRST_DUE.decimal_string() == "100.000001"
    assert f'id="pay-amount-{invoice.pk}" data-amount' in page
    assert ">100.000001</code>" in page
    assert f">{CREATOR_ADDRESS}</code>" in page
    assert f'data-contract="{pricing.btt_contract()}"' in page
    assert f'data-remaining-units="{FIRST_DUE.units}"' in page
    assert f'data-websocket="/ws/invoice/{invoice.pk}/"' in page
    assert f'data-claim-url="/api/v1/invoices/{invoice.pk}/claims"' in page
    assert f'data-copy="pay-amount-{invoice.pk}"' in page
    assert f'data-copy="pay-address-{invoice.pk}"' in page
    assert "Pay with TronLink" in page
    assert (
        qr_svg(
            payment_uri(CREATOR_ADDRESS, FIRST_DUE),
            f"QR code to pay {FIRST_DUE} to {CREATOR_ADDRESS}",
        )
        in page
    )
    assert "Waiting for your payment." in page
    seconds = int(re.search(r'data-seconds-left="(\d+)"', page).group(1))  # type: ignore[union-attr]
    assert 14 * 60 < seconds <= 15 * 60
    assert "<script>" not in page  # CSP: the behaviour is in static/js/invoice.js


def test_the_address_only_qr_code_is_an_inert_svg() -> None:
    svg = qr_svg(CREATOR_ADDRESS, f"QR code of the address {CREATOR_ADDRESS}")

    assert svg.startswith('<svg viewBox="0 0 ')
    assert f"<title>QR code of the address {CREATOR_ADDRESS}</title>" in svg
    assert re.fullmatch(r'<svg viewBox="0 0 \d+ \d+" class="qr-code">.*</svg>', svg, re.S)
    assert "script" not in svg
    assert "style" not in svg


def test_a_partial_payment_asks_for_the_rest(fan: User, album: Content) -> None:
    # given: the fan's wallet sent 40 of the 100.000001 BTT, with the invoice's memo
    invoice, _ = purchases.create_purchase_invoice(fan, album)
    sent = 40 * 10**18
    crediting.record_transfer(
        proven(*paying(invoice, units=sent, memo=invoice.memo)), solidified=False
    )

    # when
    page = as_user(fan).get(f"/invoices/{invoice.pk}/").content.decode()

    # then: the amount to send is what is still owed
    rest = invoice.amount_due - sent
    assert f'data-remaining-units="{rest}"' in page
    assert ">60.000001</code>" in page
    assert "Only 40 BTT of 100.000001 BTT has arrived so far." in page


def test_nobody_else_learns_the_invoice_exists(fan: User, stranger: User, album: Content) -> None:
    invoice, _ = purchases.create_purchase_invoice(fan, album)

    assert as_user(stranger).get(f"/invoices/{invoice.pk}/").status_code == 404
    anonymous = Client().get(f"/invoices/{invoice.pk}/")
    assert (anonymous.status_code, anonymous["Location"]) == (
        302,
        f"/accounts/login/?next=/invoices/{invoice.pk}/",
    )
    # the creator sees it, without the wallet button (it is not theirs to pay)
    creators_view = as_user(album.creator.user).get(f"/invoices/{invoice.pk}/").content.decode()
    assert 'data-payer="false"' in creators_view
    assert "Pay with TronLink" not in creators_view


def test_those_who_have_it_are_sent_back_and_nothing_is_made(
    fan: User, creator: Creator, album: Content
) -> None:
    own = as_user(creator.user).post(f"/content/{album.pk}/buy/")
    ledger.grant(fan, album, Grant.Source.STAFF)
    owned = as_user(fan).post(f"/content/{album.pk}/buy/")

    # both already have it: back to the content page, where the downloads are
    assert (own.status_code, own["Location"]) == (302, f"/content/{album.pk}/")
    assert (owned.status_code, owned["Location"]) == (302, f"/content/{album.pk}/")
    assert not Invoice.objects.exists()


def test_buying_needs_the_csrf_token(fan: User, album: Content) -> None:
    client = as_user(fan, csrf=True)

    forged = client.post(f"/content/{album.pk}/buy/")

    assert forged.status_code == 403
    assert not Invoice.objects.exists()


def test_unpublished_content_cannot_be_bought(fan: User, album: Content) -> None:
    album.state = Content.State.HASHING
    album.save(update_fields=["state"])

    assert as_user(fan).post(f"/content/{album.pk}/buy/").status_code == 404
    assert not Invoice.objects.exists()


def test_the_creator_accepts_a_late_payment_and_the_fan_gets_the_content(
    fan: User, album: Content
) -> None:
    # given: an invoice that expired, then was paid in full (solidified) within the late window
    invoice, _ = purchases.create_purchase_invoice(fan, album)
    invoices.expire_invoices(now=invoice.expires_at)
    crediting.record_transfer(
        proven(*paying(invoice, after=invoice.expires_at - invoice.created_at + timedelta(1))),
        solidified=True,
    )
    invoice.refresh_from_db()
    assert (invoice.state, invoice.late) == ("expired", True)
    creator = as_user(album.creator.user)
    fans_page = as_user(fan).get(f"/invoices/{invoice.pk}/").content.decode()
    sales = creator.get("/studio/sales/").content.decode()

    # when: the fan tries to accept it, then the creator does
    by_fan = as_user(fan).post(f"/invoices/{invoice.pk}/accept-late/")
    by_creator = creator.post(f"/invoices/{invoice.pk}/accept-late/")

    # then
    assert "Your payment arrived after the invoice expired." in fans_page
    assert "Accept this late payment" not in fans_page
    assert "Late payments to review" in sales
    assert f'href="/invoices/{invoice.pk}/"' in sales
    assert by_fan.status_code == 404
    assert (by_creator.status_code, by_creator["Location"]) == (302, f"/invoices/{invoice.pk}/")
    invoice.refresh_from_db()
    assert invoice.state == "settled"
    assert Grant.objects.filter(user=fan, content=album, revoked_at__isnull=True).exists()
    assert "Late payments to review" not in creator.get("/studio/sales/").content.decode()


def test_only_a_late_payment_in_full_can_be_accepted(fan: User, album: Content) -> None:
    invoice, _ = purchases.create_purchase_invoice(fan, album)
    invoices.expire_invoices(now=invoice.expires_at)
    creator = as_user(album.creator.user)

    page = creator.get(f"/invoices/{invoice.pk}/").content.decode()
    refused = creator.post(f"/invoices/{invoice.pk}/accept-late/", follow=True)

    assert "Accept this late payment" not in page
    assert "Only an expired invoice paid in full can be accepted late." in refused.content.decode()
    invoice.refresh_from_db()
    assert invoice.state == "expired"
