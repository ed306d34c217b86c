"""Rentals through the API (terms, the rental invoice), the studio form, the content page's Rent
button and the library's remaining time and "rental ended"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from accounts.models import User
from creators.models import Creator
from ledger import access
from payments.models import Invoice
from purchases import rentals
from purchases.models import RentalTerms
from swarm.models import Content
from tests.fixtures.api_clients import client_for as api_client
from tests.fixtures.clock import Clock
from tests.fixtures.rentals import RENT, rent, settle
from tests.fixtures.sessions import logged_in

pytestmark = pytest.mark.django_db


def test_a_creator_sets_rental_terms_and_anyone_reads_them(creator: Creator, film: Content) -> None:
    # when
    response = api_client(creator.user).put(
        f"/api/v1/contents/{film.pk}/rental",
        {"amount": "7.5", "token": "BTT", "window_hours": 72, "start_within_days": 14},
        content_type="application/json",
    )

    # then
    assert response.status_code == 200
    read = Client().get(f"/api/v1/contents/{film.pk}/rental").json()
    assert read == {
        "content_id": film.pk,
        "price": response.json()["price"],
        "window_hours": 72,
        "start_within_days": 14,
    }
    assert read["price"]["value"] == "7.5"


def test_a_window_out_of_bounds_is_refused_by_the_api(creator: Creator, film: Content) -> None:
    response = api_client(creator.user).put(
        f"/api/v1/contents/{film.pk}/rental",
        {"amount": "1", "window_hours": 24 * 31},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert RentalTerms.objects.get(content=film).window_hours == 48


def test_a_stranger_cannot_set_rental_terms(stranger: User, film: Content) -> None:
    response = api_client(stranger).put(
        f"/api/v1/contents/{film.pk}/rental", {"amount": "1"}, content_type="application/json"
    )
    assert response.status_code == 404
    assert RentalTerms.objects.get(content=film).units == RENT.units


def test_renting_through_the_api_and_again_while_it_runs(fan: User, film: Content) -> None:
    client = api_client(fan)
    created = client.post("/api/v1/rentals", {"content_id": film.pk}, "application/json")
    assert created.status_code == 201
    assert created.json()["kind"] == "rental"

    settle(Invoice.objects.get(pk=created.json()["id"]))
    again = client.post("/api/v1/rentals", {"content_id": film.pk}, "application/json")

    assert again.status_code == 409
    assert again.json() == {"detail": "Your rental of this content is still running."}


def test_the_content_page_offers_rent_beside_buy_and_the_buy_page_says_nothing_is_credited(
    fan: User, film: Content
) -> None:
    client = logged_in(fan)
    page = client.get(f"/content/{film.pk}/").content.decode()
    assert f'href="/content/{film.pk}/rent/"' in page
    assert "data-buy" in page
    buy = client.get(f"/content/{film.pk}/buy/").content.decode()
    assert "nothing paid to rent this content is credited" in buy
    rent_page = client.get(f"/content/{film.pk}/rent/").content.decode()
    assert "48 hours from the first play or download" in rent_page


def test_the_rent_button_makes_a_rental_invoice(fan: User, film: Content) -> None:
    response = logged_in(fan).post(f"/content/{film.pk}/rent/")
    invoice = Invoice.objects.get(kind=Invoice.Kind.RENTAL)
    assert response.status_code == 302
    assert response["Location"] == f"/invoices/{invoice.pk}/"


def test_the_library_shows_the_time_left_then_rental_ended_with_a_buy_option(
    fan: User, film: Content, clock: Clock
) -> None:
    # given a started rental
    rent(fan, film)
    access.decide_for_use(fan, film)
    client = logged_in(fan)

    # then
    page = client.get("/library/").content.decode()
    assert "Rental: 1\xa0day, 23\xa0hours left" in page
    assert "data-rental-ended" not in page

    # when the window ends
    clock.advance(timedelta(hours=49))

    # then
    page = client.get("/library/").content.decode()
    assert page.count(f'data-rental-ended="{film.pk}"') == 1  # in the page's body only
    assert "<title>Your library · BTT Creators</title>" in page
    assert f'href="/content/{film.pk}/buy/"' in page
    assert "data-rental-ends" not in page


def test_the_studio_form_sets_and_clears_the_rental_terms(creator: Creator, film: Content) -> None:
    client = logged_in(creator.user)
    form = {
        "title": film.title,
        "description": "",
        "access": "paid",
        "price": "100",
        "token": "BTT",
        "rent_price": "3",
        "rent_window_hours": "24",
        "rent_start_within_days": "7",
    }
    assert client.post(f"/studio/content/{film.pk}/", form).status_code == 302
    terms = rentals.rental_terms_of(film)
    assert terms is not None
    assert (terms.amount.decimal_string(), terms.window_hours, terms.start_within_days) == (
        "3",
        24,
        7,
    )

    form["rent_price"] = ""
    assert client.post(f"/studio/content/{film.pk}/", form).status_code == 302
    assert rentals.rental_terms_of(film) is None
