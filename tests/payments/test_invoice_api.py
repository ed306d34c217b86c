"""Invoices and prices in the JSON API: amounts as strings, payer and creator only, txid claims."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from creators.models import Creator
from payments import claims
from payments.models import Invoice, InvoiceEvent, TxClaim
from payments.money import BTT_TRC20_MAINNET_CONTRACT
from swarm.models import Content
from tests.fixtures.api_clients import client_for, numbers_in
from tests.payments.factories import (
    CREATOR_ADDRESS,
    FAN_ADDRESS,
    FAN_SEED,
    paid_content,
    purchase,
    with_wallet,
)
from tests.payments.tron_json import signed_by

TXID = "ab" * 32


def test_a_fan_creates_a_purchase_invoice(fan: User, creator: Creator) -> None:
    with_wallet(creator)
    content = paid_content(creator)

    response = client_for(fan).post(
        "/api/v1/invoices", {"content_id": content.pk}, content_type="application/json"
    )

    assert response.status_code == 201
    body = response.json()
    invoice = Invoice.objects.get()
    assert body["id"] == str(invoice.pk)
    assert body["amount_due"] == {
        "value": "100.000001",
        "units": "100000001000000000000",
        "token": "BTT",
    }
    assert body["amount_paid"] == {"value": "0", "units": "0", "token": "BTT"}
    assert (body["state"], body["kind"], body["decimals"]) == ("new", "purchase", 18)
    assert (body["pay_to"], body["token_contract"], body["token_id"]) == (
        CREATOR_ADDRESS,
        BTT_TRC20_MAINNET_CONTRACT,
        None,
    )
    assert (body["memo"], body["content_id"], body["creator"]) == (
        invoice.memo,
        content.pk,
        "maker",
    )
    assert (body["txids"], body["websocket"]) == ([], f"/ws/invoice/{invoice.pk}/")
    assert numbers_in(body) == []


def test_asking_again_returns_the_unpaid_invoice(fan: User, creator: Creator) -> None:
    with_wallet(creator)
    content = paid_content(creator)
    client = client_for(fan)

    first = client.post("/api/v1/invoices", {"content_id": content.pk}, "application/json")
    second = client.post("/api/v1/invoices", {"content_id": content.pk}, "application/json")

    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert Invoice.objects.count() == 1


@pytest.mark.parametrize(
    ("prepare", "status"),
    [
        (lambda content: Content.objects.filter(pk=content.pk).update(access="free"), 409),
        (lambda content: Content.objects.filter(pk=content.pk).update(state="hashing"), 404),
        (lambda content: Content.objects.filter(pk=content.pk).delete(), 404),
    ],
    ids=["free", "unpublished", "unknown"],
)
def test_what_cannot_be_bought_creates_nothing(
    fan: User, creator: Creator, prepare: Callable[[Content], object], status: int
) -> None:
    with_wallet(creator)
    content = paid_content(creator)
    prepare(content)

    response = client_for(fan).post(
        "/api/v1/invoices", {"content_id": content.pk}, content_type="application/json"
    )

    assert response.status_code == status
    assert "detail" in response.json()
    assert not Invoice.objects.exists()


def test_creating_an_invoice_needs_a_user(creator: Creator) -> None:
    with_wallet(creator)
    content = paid_content(creator)

    response = Client().post(
        "/api/v1/invoices", {"content_id": content.pk}, content_type="application/json"
    )

    assert response.status_code == 401
    assert not Invoice.objects.exists()


def test_only_the_payer_and_the_creator_read_an_invoice(
    fan: User, stranger: User, creator: Creator
) -> None:
    invoice = purchase(fan, creator)
    path = f"/api/v1/invoices/{invoice.pk}"

    assert client_for(fan).get(path).status_code == 200
    assert client_for(creator.user).get(path).json()["amount_due"]["units"] == str(
        invoice.amount_due
    )
    assert client_for(stranger).get(path).status_code == 404
    assert Client().get(path).status_code == 401
    assert client_for(fan).get("/api/v1/invoices/not-a-uuid").status_code == 422


def test_a_claim_binds_the_txid_and_queues_its_verification(
    fan: User, creator: Creator, django_capture_on_commit_callbacks: Any
) -> None:
    invoice = purchase(fan, creator)
    client = client_for(fan)

    signature = signed_by(FAN_SEED, claims.claim_message(invoice, TXID))
    with django_capture_on_commit_callbacks() as queued:
        response = client.post(
            f"/api/v1/invoices/{invoice.pk}/claims",
            {"txid": TXID.upper(), "signature": signature},
            "application/json",
        )

    assert response.status_code == 202
    body = response.json()
    assert (body["txid"], body["invoice_id"], body["state"], body["detail"]) == (
        TXID,
        str(invoice.pk),
        "pending",
        "",
    )
    assert len(queued) == 1  # payments.verify_claim, once the claim is committed
    assert (TxClaim.objects.get().claimed_by, TxClaim.objects.get().signer) == (fan, FAN_ADDRESS)
    assert InvoiceEvent.objects.filter(invoice=invoice, kind="claimed", txid=TXID).count() == 1

    # claiming it again for the same invoice changes nothing
    again = client.post(
        f"/api/v1/invoices/{invoice.pk}/claims",
        {"txid": TXID, "signature": signature},
        "application/json",
    )
    assert again.status_code == 202
    assert TxClaim.objects.count() == 1


def test_a_claim_without_proof_is_refused_and_stores_nothing(fan: User, creator: Creator) -> None:
    invoice = purchase(fan, creator)

    response = client_for(fan).post(
        f"/api/v1/invoices/{invoice.pk}/claims", {"txid": TXID}, "application/json"
    )

    assert response.status_code == 400
    assert "Sign the claim" in response.json()["detail"]
    assert not TxClaim.objects.exists()


def test_a_signature_replayed_from_another_claim_proves_nothing(
    fan: User, creator: Creator
) -> None:
    first = purchase(fan, creator, "First")
    second = purchase(fan, creator, "Second")
    # a signature made for the first invoice, replayed for the second
    signature = signed_by(FAN_SEED, claims.claim_message(first, TXID))

    response = client_for(fan).post(
        f"/api/v1/invoices/{second.pk}/claims",
        {"txid": TXID, "signature": signature},
        "application/json",
    )

    # then: it recovers to some other address, which sent nothing: the claim can never credit
    # the fan's transfer (verification compares the signer with the transfer's sender)
    assert response.status_code == 202
    assert second.claims.get().signer not in ("", FAN_ADDRESS)


def test_a_claim_of_a_txid_for_one_invoice_blocks_no_claim_for_another(
    fan: User, stranger: User, creator: Creator
) -> None:
    # given: an attacker's claim of a txid, signed by the attacker's own wallet, comes first
    theirs = purchase(stranger, creator, "First")
    mine = purchase(fan, creator, "Second")
    client_for(stranger).post(
        f"/api/v1/invoices/{theirs.pk}/claims",
        {"txid": TXID, "signature": signed_by(3, claims.claim_message(theirs, TXID))},
        "application/json",
    )

    # when: the real payer claims it
    response = client_for(fan).post(
        f"/api/v1/invoices/{mine.pk}/claims",
        {"txid": TXID, "signature": signed_by(FAN_SEED, claims.claim_message(mine, TXID))},
        "application/json",
    )

    # then: taken, not a 409
    assert response.status_code == 202
    assert mine.claims.get().signer == FAN_ADDRESS


@pytest.mark.parametrize(("txid", "status"), [("ab" * 31, 422), ("zz" * 32, 400)])
def test_a_malformed_txid_is_refused(fan: User, creator: Creator, txid: str, status: int) -> None:
    invoice = purchase(fan, creator)

    response = client_for(fan).post(
        f"/api/v1/invoices/{invoice.pk}/claims", {"txid": txid}, "application/json"
    )

    assert response.status_code == status
    assert not TxClaim.objects.exists()


def test_a_stranger_cannot_claim_for_an_invoice(
    fan: User, stranger: User, creator: Creator
) -> None:
    invoice = purchase(fan, creator)

    response = client_for(stranger).post(
        f"/api/v1/invoices/{invoice.pk}/claims", {"txid": TXID}, "application/json"
    )

    assert response.status_code == 404
    assert not TxClaim.objects.exists()


def test_the_creator_prices_content_and_anyone_reads_the_price(fan: User, creator: Creator) -> None:
    with_wallet(creator)
    content = Content.objects.create(
        creator=creator, title="Film", name="film.mkv", access="paid", state="seeding"
    )
    path = f"/api/v1/contents/{content.pk}/price"
    assert Client().get(path).status_code == 404  # not priced yet

    response = client_for(creator.user).put(
        path, {"amount": "0.000000000000000001"}, "application/json"
    )

    assert response.status_code == 200
    expected = {"value": "0.000000000000000001", "units": "1", "token": "BTT"}
    assert response.json() == {"content_id": content.pk, "price": expected}
    assert Client().get(path).json()["price"] == expected


def test_a_price_is_trimmed_as_the_studio_trims_it(creator: Creator) -> None:
    with_wallet(creator)
    content = paid_content(creator)

    response = client_for(creator.user).put(
        f"/api/v1/contents/{content.pk}/price", {"amount": "  12.5 \t"}, "application/json"
    )

    assert response.status_code == 200
    assert response.json()["price"]["value"] == "12.5"


@pytest.mark.parametrize(
    ("amount", "token", "status"),
    [
        ("990000000000000", "BTT", 400),  # with its tag, more than all the BTT there is
        ("1 2", "BTT", 422),
        ("1.5e3", "BTT", 422),
        ("-1", "BTT", 422),
        ("1.0000000000000000001", "BTT", 422),
        ("0", "BTT", 400),
        ("1", "BTTOLD", 422),  # TRC-10 is off unless the operator enables it
        ("1", "TRX", 422),
    ],
)
def test_bad_prices_are_refused(creator: Creator, amount: str, token: str, status: int) -> None:
    with_wallet(creator)
    content = paid_content(creator)
    path = f"/api/v1/contents/{content.pk}/price"

    response = client_for(creator.user).put(
        path, {"amount": amount, "token": token}, "application/json"
    )

    assert response.status_code == status
    assert Client().get(path).json()["price"]["value"] == "100"


def test_only_the_creator_prices_their_content(fan: User, creator: Creator) -> None:
    with_wallet(creator)
    content = paid_content(creator)

    response = client_for(fan).put(
        f"/api/v1/contents/{content.pk}/price", {"amount": "1"}, "application/json"
    )

    assert response.status_code == 404
    assert Client().get(f"/api/v1/contents/{content.pk}/price").json()["price"]["value"] == "100"


def test_the_schema_lists_the_payment_endpoints(db: None) -> None:
    paths = Client().get("/api/v1/openapi.json").json()["paths"]

    assert {
        "/api/v1/invoices",
        "/api/v1/invoices/{invoice_id}",
        "/api/v1/invoices/{invoice_id}/claims",
        "/api/v1/contents/{content_id}/price",
    } <= set(paths)
