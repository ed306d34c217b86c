"""The creators API: public list and detail, onboarding and profile updates."""

from __future__ import annotations

from django.test import Client

from accounts.models import User
from accounts.services import issue_token
from creators.models import Creator
from tests.fixtures.personas import TRON_ADDRESS

NILE_BTT = "TNuoKL1ni8aoshfFL1ASca1Gou9RXwAzfn"


def as_user(user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(user, 'test').secret}"}


def test_list_and_detail_are_public(creator: Creator) -> None:
    listing = Client().get("/api/v1/creators")
    detail = Client().get("/api/v1/creators/MAKER")

    assert listing.status_code == 200
    assert listing.json()["count"] == 1
    assert listing.json()["items"][0]["handle"] == "maker"
    assert detail.json() == {
        "handle": "maker",
        "display_name": "The Maker",
        "bio": "",
        "avatar_url": None,
        "payout_address": TRON_ADDRESS,
        "page_url": "http://testserver/c/maker/",
    }
    assert Client().get("/api/v1/creators/nobody").status_code == 404


def test_become_creator_through_the_api(fan: User) -> None:
    response = Client().post(
        "/api/v1/creators/me",
        {"handle": "fanmade", "display_name": "Fan Made", "payout_address": TRON_ADDRESS},
        content_type="application/json",
        headers=as_user(fan),
    )

    assert response.status_code == 201
    assert Creator.objects.get(user=fan).handle == "fanmade"


def test_become_creator_with_a_bad_address_is_a_422_and_saves_nothing(fan: User) -> None:
    response = Client().post(
        "/api/v1/creators/me",
        {"handle": "fanmade", "display_name": "Fan Made", "payout_address": "T123"},
        content_type="application/json",
        headers=as_user(fan),
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "payout_address"]
    assert not Creator.objects.exists()


def test_becoming_a_creator_twice_is_a_conflict(creator: Creator) -> None:
    response = Client().post(
        "/api/v1/creators/me",
        {"handle": "again", "display_name": "Again", "payout_address": TRON_ADDRESS},
        content_type="application/json",
        headers=as_user(creator.user),
    )

    assert response.status_code == 409
    assert Creator.objects.get().handle == "maker"


def test_profile_update(creator: Creator) -> None:
    headers = as_user(creator.user)

    bad = Client().patch(
        "/api/v1/creators/me", {"payout_address": "nope"}, content_type="application/json",
        headers=headers,
    )  # fmt: skip
    creator.refresh_from_db()
    assert bad.status_code == 422
    assert creator.payout_address == TRON_ADDRESS

    good = Client().patch(
        "/api/v1/creators/me",
        {"display_name": "Renamed", "payout_address": NILE_BTT},
        content_type="application/json",
        headers=headers,
    )
    creator.refresh_from_db()
    assert good.status_code == 200
    assert good.json()["display_name"] == "Renamed"
    assert (creator.display_name, creator.payout_address, creator.bio) == (
        "Renamed",
        NILE_BTT,
        "",
    )


def test_profile_update_needs_a_profile_and_a_login(fan: User) -> None:
    assert (
        Client().patch("/api/v1/creators/me", {}, content_type="application/json").status_code
        == 401
    )
    missing = Client().patch(
        "/api/v1/creators/me", {"bio": "x"}, content_type="application/json", headers=as_user(fan)
    )
    assert missing.status_code == 404


def test_session_writes_need_csrf(creator: Creator) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(creator.user)

    response = client.patch(
        "/api/v1/creators/me", {"bio": "csrf?"}, content_type="application/json"
    )

    assert response.status_code == 403
    creator.refresh_from_db()
    assert creator.bio == ""


def test_openapi_schema_and_docs_page(db: None) -> None:
    schema = Client().get("/api/v1/openapi.json")
    docs = Client().get("/api/v1/docs")

    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/v1/me", "/api/v1/creators", "/api/v1/creators/{handle}"} <= set(paths)
    assert docs.status_code == 200
    assert b"/static/ninja/swagger-ui-bundle." in docs.content
    assert b"cdn." not in docs.content
