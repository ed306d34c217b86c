"""The studio's content pages: new content, details, exact prices, covers, listing, access."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from pytest_django.fixtures import Settings

from accounts.models import User
from creators.models import Creator
from payments.models import ContentPrice
from payments.money import Amount, Token
from purchases.services import price_of, set_content_price
from swarm.models import Content
from swarm.webseed.serve import served_key
from tests.creators.studio import image, other_creator, uploading_content
from tests.fixtures.sessions import logged_in

# The total supply of BTT plus one base unit: past any float, past a 64-bit integer.
# Just under the supply (a price and its tag must stay below it), with every decimal in use.
NEAR_SUPPLY = "989999999999998.000000000000000001"


@pytest.fixture(autouse=True)
def media_in_tmp(settings: Settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def details(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "title": "Night Walks",
        "description": "Field recordings.",
        "access": "paid",
        "price": "12.5",
        "token": "BTT",
    }
    data.update(overrides)
    return data


def test_new_content_is_created_priced_and_goes_to_its_upload_page(creator: Creator) -> None:
    client = logged_in(creator.user)

    response = client.post("/studio/content/new/", details(price=NEAR_SUPPLY))

    content = Content.objects.get(creator=creator)
    assert response.status_code == 302
    assert response["Location"] == f"/studio/content/{content.pk}/upload/"
    assert content.state == Content.State.UPLOADING
    assert content.title == "Night Walks"
    assert price_of(content) == Amount(989_999_999_999_998 * 10**18 + 1, Token.BTT)
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert b"data-dropzone" in page.content
    assert b"989999999999998.000000000000000001 BTT" in page.content


@pytest.mark.parametrize(
    ("price", "message"),
    [
        ("", b"Paid content needs a price."),
        ("1.0000000000000000001", b"BTT has 18 decimals"),
        ("1e3", b"is not a decimal amount"),
        ("-5", b"is not a decimal amount"),
        ("0", b"A price is more than zero."),
        ("1,5", b"is not a decimal amount"),
    ],
)
def test_a_bad_price_is_refused_and_nothing_is_created(
    creator: Creator, price: str, message: bytes
) -> None:
    response = logged_in(creator.user).post("/studio/content/new/", details(price=price))

    assert response.status_code == 200
    assert message in response.content
    assert not Content.objects.exists()
    assert not ContentPrice.objects.exists()


def test_free_content_needs_no_price(creator: Creator) -> None:
    logged_in(creator.user).post("/studio/content/new/", details(access="free", price=""))

    content = Content.objects.get()
    assert content.access == Content.Access.FREE
    assert price_of(content) is None


def test_the_edit_form_shows_the_exact_price_and_saves_it_back_unchanged(creator: Creator) -> None:
    # given
    content = uploading_content(creator)
    set_content_price(creator.user, content, Amount.parse(NEAR_SUPPLY, Token.BTT))
    client = logged_in(creator.user)

    # when: the page is read, and its form sent back as it came
    page = client.get(f"/studio/content/{content.pk}/")
    response = client.post(f"/studio/content/{content.pk}/", details(price=NEAR_SUPPLY))

    # then
    assert f'value="{NEAR_SUPPLY}"'.encode() in page.content
    assert response.status_code == 302
    price = ContentPrice.objects.get(content=content)
    assert price.units == 989_999_999_999_998 * 10**18 + 1
    assert price.amount.decimal_string() == NEAR_SUPPLY


def test_details_listing_and_a_new_price_are_saved(creator: Creator) -> None:
    content = uploading_content(creator)
    set_content_price(creator.user, content, Amount.parse("3", Token.BTT))

    response = logged_in(creator.user).post(
        f"/studio/content/{content.pk}/",
        details(title="  Night Walks II ", price="0.000000000000000001", unlisted="on"),
    )

    assert response.status_code == 302
    content.refresh_from_db()
    assert content.title == "Night Walks II"
    assert content.description == "Field recordings."
    assert content.unlisted is True
    assert price_of(content) == Amount(1, Token.BTT)


def test_unlisted_content_is_published_but_not_listed(creator: Creator) -> None:
    seeding = Content.State.SEEDING
    shown = Content.objects.create(creator=creator, title="Shown", state=seeding)
    hidden = Content.objects.create(creator=creator, title="Hidden", state=seeding, unlisted=True)
    Content.objects.create(creator=creator, title="Draft")

    assert set(Content.objects.published()) == {shown, hidden}
    assert list(Content.objects.listed()) == [shown]


def test_access_is_fixed_once_published(creator: Creator) -> None:
    # given: a published paid content (its torrent is private)
    content = uploading_content(creator, access="paid")
    content.state = Content.State.SEEDING
    content.save()
    set_content_price(creator.user, content, Amount.parse("5", Token.BTT))

    # when: a forged form asks for free
    response = logged_in(creator.user).post(
        f"/studio/content/{content.pk}/", details(access="free", price="5")
    )

    # then: the locked field keeps its value; the rest is saved
    assert response.status_code == 302
    content.refresh_from_db()
    assert content.access == Content.Access.PAID
    page = logged_in(creator.user).get(f"/studio/content/{content.pk}/")
    assert b"Fixed once published" in page.content


def test_a_cover_is_stored_under_the_name_its_bytes_deserve_and_served(creator: Creator) -> None:
    content = uploading_content(creator)
    client = logged_in(creator.user)

    # when: a JPEG sent as .png
    response = client.post(
        f"/studio/content/{content.pk}/",
        {**details(), "cover": image("JPEG", name="holiday.png")},
    )

    # then
    assert response.status_code == 302
    content.refresh_from_db()
    assert content.cover.name.startswith(f"covers/{content.pk}/")
    assert content.cover.name.endswith(".jpg")
    served = client.get(content.cover_url)
    assert served.status_code == 200
    assert served["Content-Type"] == "image/jpeg"
    assert served["Cache-Control"] == "private, no-cache"
    # Unpublished: nobody else sees it.
    assert Client().get(content.cover_url).status_code == 404


def test_a_published_cover_is_public_and_a_replaced_one_is_gone(
    creator: Creator, django_capture_on_commit_callbacks
) -> None:
    content = uploading_content(creator)
    client = logged_in(creator.user)
    client.post(f"/studio/content/{content.pk}/", {**details(), "cover": image()})
    content.refresh_from_db()
    Content.objects.filter(pk=content.pk).update(state=Content.State.SEEDING)
    first_url, first_path = content.cover_url, Path(content.cover.path)

    public = Client().get(first_url)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/studio/content/{content.pk}/", {**details(), "cover": image("WEBP")})

    assert public.status_code == 200
    assert public["Cache-Control"] == "public, max-age=31536000, immutable"
    content.refresh_from_db()
    assert content.cover_url != first_url
    assert content.cover.name.endswith(".webp")
    assert not first_path.exists()
    assert Client().get(first_url).status_code == 404


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (image("TIFF", name="scan.tiff"), b"JPEG, PNG, WebP or GIF"),
        (SimpleUploadedFile("x.png", b"not an image"), b"Upload a valid image"),
    ],
)
def test_a_bad_cover_is_refused_and_nothing_changes(
    creator: Creator, upload: object, message: bytes
) -> None:
    content = uploading_content(creator, title="Before")

    response = logged_in(creator.user).post(
        f"/studio/content/{content.pk}/", {**details(title="After"), "cover": upload}
    )

    assert response.status_code == 200
    assert message in response.content
    content.refresh_from_db()
    assert content.title == "Before"
    assert not content.cover


def test_the_cover_can_be_removed(creator: Creator, django_capture_on_commit_callbacks) -> None:
    content = uploading_content(creator)
    client = logged_in(creator.user)
    client.post(f"/studio/content/{content.pk}/", {**details(), "cover": image()})
    content.refresh_from_db()
    stored = Path(content.cover.path)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/studio/content/{content.pk}/", {**details(), "cover-clear": "on"})

    content.refresh_from_db()
    assert not content.cover
    assert not stored.exists()


def test_the_content_list_shows_state_price_and_listing(creator: Creator) -> None:
    paid = uploading_content(creator, title="Paid one")
    set_content_price(creator.user, paid, Amount.parse("7.25", Token.BTT))
    Content.objects.create(creator=creator, title="Quiet one", access="free", unlisted=True)

    page = logged_in(creator.user).get("/studio/content/")

    assert page.status_code == 200
    assert b"Paid one" in page.content
    assert b"7.25 BTT" in page.content
    assert b"Quiet one" in page.content
    assert b"Unlisted" in page.content


def test_an_empty_content_list_says_what_to_do(creator: Creator) -> None:
    page = logged_in(creator.user).get("/studio/content/")

    assert b"Upload your first content" in page.content


# --- permissions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/studio/", "/studio/content/", "/studio/content/new/", "/studio/sales/", "/studio/sales.csv",
     "/studio/webhooks/"],
)  # fmt: skip
def test_a_fan_is_shown_the_way_to_become_a_creator(fan: User, path: str) -> None:
    response = logged_in(fan).get(path)

    assert response.status_code == 403
    assert b"Become a creator" in response.content


def test_an_anonymous_visitor_is_sent_to_log_in(client: Client) -> None:
    response = client.get("/studio/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_another_creator_gets_404_and_changes_nothing(creator: Creator) -> None:
    # given: the creator's content, priced
    content = uploading_content(creator, title="Mine")
    set_content_price(creator.user, content, Amount.parse("9", Token.BTT))
    rival = logged_in(other_creator().user)

    # when: another creator reads, edits, publishes and reads the stats of it
    reads = [
        rival.get(f"/studio/content/{content.pk}/"),
        rival.get(f"/studio/content/{content.pk}/upload/"),
        rival.get(f"/studio/content/{content.pk}/stats/"),
    ]
    edit = rival.post(f"/studio/content/{content.pk}/", details(title="Theirs", price="1"))
    publish = rival.post(f"/studio/content/{content.pk}/publish/")

    # then
    assert [r.status_code for r in reads] == [404, 404, 404]
    assert edit.status_code == 404
    assert publish.status_code == 404
    content.refresh_from_db()
    assert content.title == "Mine"
    assert content.state == Content.State.UPLOADING
    assert price_of(content) == Amount.parse("9", Token.BTT)


def test_a_fan_cannot_edit_or_publish(creator: Creator, fan: User) -> None:
    content = uploading_content(creator, title="Mine")
    client = logged_in(fan)

    edit = client.post(f"/studio/content/{content.pk}/", details(title="Theirs"))
    publish = client.post(f"/studio/content/{content.pk}/publish/")

    assert edit.status_code == 403
    assert publish.status_code == 403
    content.refresh_from_db()
    assert content.title == "Mine"
    assert content.state == Content.State.UPLOADING
    assert price_of(content) is None


def test_publish_without_files_says_why_and_publishes_nothing(creator: Creator) -> None:
    content = uploading_content(creator)
    client = logged_in(creator.user)

    response = client.post(f"/studio/content/{content.pk}/publish/", follow=True)

    assert b"Nothing to publish: upload at least one file first." in response.content
    content.refresh_from_db()
    assert content.state == Content.State.UPLOADING


def test_the_stats_of_own_content_come_as_json(creator: Creator) -> None:
    content = uploading_content(creator)
    Content.objects.filter(pk=content.pk).update(
        state=Content.State.SEEDING, peers=3, seeds=2, upload_rate=1000, bytes_uploaded=10**12
    )
    # The web seed's counter lives in Redis, which outlives test databases (ids come again).
    redis.Redis.from_url(settings.REDIS_URL).set(served_key(content.pk), 4321)

    response = logged_in(creator.user).get(f"/studio/content/{content.pk}/stats/")

    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    stats = response.json()
    assert stats["state"] == "seeding"
    assert (stats["peers"], stats["seeds"], stats["upload_rate"]) == (3, 2, 1000)
    assert stats["bytes_uploaded"] == 10**12
    assert stats["webseed_bytes"] == 4321
