"""A published content's page for visitors not logged in is kept in the cache and is never
staler than the database: a change to anything it shows is on the next request, whichever way
it was written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis
from django.conf import settings
from django.db import transaction
from django.test import Client
from django.utils import timezone

from accounts.models import User
from creators.models import Creator
from creators.services import update_profile
from payments.money import Amount, Token
from purchases.services import set_content_price
from support.models import TipSettings
from support.services import start_live, update_tip_settings
from swarm import public_page
from swarm.models import Content, ContentFile
from swarm.services import take_down_content

pytestmark = pytest.mark.django_db


@pytest.fixture
def album(creator: Creator) -> Content:
    content = Content.objects.create(
        creator=creator, title="Night Songs", description="Twelve songs.", name="night-songs",
        state=Content.State.SEEDING, total_size=4000, infohash="ab" * 20, piece_length=2**18,
        published_at=timezone.now(),
    )  # fmt: skip
    ContentFile.objects.create(
        content=content, path="one.flac", original_name="one.flac", size=4000
    )
    return content


def page(content: Content, client: Client | None = None) -> str:
    response = (client or Client()).get(f"/content/{content.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def kept_articles() -> list[str]:
    client = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    try:
        return [str(key) for key in client.keys("*swarm:content-page:*:*")]
    finally:
        client.close()


def test_a_kept_page_is_served_without_a_query(
    album: Content, django_assert_num_queries: Callable[..., Any]
) -> None:
    first = page(album)

    with django_assert_num_queries(0):
        again = page(album)

    assert again == first
    assert "<title>Night Songs · BTT Creators</title>" in again
    assert "Twelve songs." in again
    assert "one.flac" in again
    assert "Log in to buy" in again
    assert len(kept_articles()) == 1


def tip_minimum(user: User, minimum: str) -> None:
    update_tip_settings(
        user, minimum=Amount.parse(minimum, "BTT"), blocked="", alert_on="settled",
        goal_title="", goal=Amount(0, Token.BTT),
    )  # fmt: skip


def save_description(content: Content) -> None:
    content.description = "Thirteen songs."
    content.save()


CHANGES: dict[str, tuple[Callable[[Content], object], str]] = {
    "a new title": (
        lambda c: Content.objects.filter(pk=c.pk).update(title="Day Songs"),
        "Day Songs",
    ),
    "a saved description": (save_description, "Thirteen songs."),
    "a price": (
        lambda c: set_content_price(c.creator.user, c, Amount.parse("42.5", "BTT")),
        "42.5 BTT",
    ),
    "another file": (
        lambda c: ContentFile.objects.create(
            content=c, path="two.flac", original_name="two.flac", size=1, position=1
        ),
        "two.flac",
    ),
    "the creator's name": (
        lambda c: update_profile(c.creator, display_name="The Night Maker"),
        "The Night Maker",
    ),
    "the smallest tip": (lambda c: tip_minimum(c.creator.user, "7.5"), "from 7.5 BTT"),
    "a live session": (
        lambda c: start_live(c.creator.user, "Studio night", "https://example.com/a.m3u8"),
        "Studio night",
    ),
}


@pytest.mark.parametrize("change", CHANGES)
def test_a_change_shows_on_the_next_request(album: Content, change: str) -> None:
    make, shown = CHANGES[change]
    assert shown not in page(album)

    make(album)

    assert shown in page(album)


def test_a_takedown_answers_410_on_the_next_request(album: Content, staff: User) -> None:
    page(album)

    take_down_content(staff, album.pk, "not the uploader's to share")

    response = Client().get(f"/content/{album.pk}/")
    assert response.status_code == 410
    assert b"not the uploader&#x27;s to share" in response.content


def test_an_unpublished_content_is_neither_shown_nor_kept(album: Content) -> None:
    Content.objects.filter(pk=album.pk).update(state=Content.State.HASHING)

    assert Client().get(f"/content/{album.pk}/").status_code == 404
    assert Client().get("/content/999999/").status_code == 404
    assert kept_articles() == []


def test_the_swarms_numbers_and_a_tip_goal_forget_nothing(album: Content) -> None:
    tip_minimum(album.creator.user, "5")
    page(album)
    kept = kept_articles()

    Content.objects.filter(pk=album.pk).update(peers=3, seeds=2, hash_progress=1.0)
    settings_row = TipSettings.objects.get(creator=album.creator)
    settings_row.goal_raised_units += 10
    settings_row.save(update_fields=["goal_raised_units"])
    page(album)

    assert kept_articles() == kept


def test_a_logged_in_visitor_gets_their_own_page(album: Content, fan: User) -> None:
    set_content_price(album.creator.user, album, Amount.parse("3", "BTT"))
    anonymous = page(album)
    as_fan = Client()
    as_fan.force_login(fan)

    own = page(album, as_fan)

    assert "Log in to buy" in anonymous
    assert "csrfmiddlewaretoken" not in anonymous
    assert "Log in to buy" not in own
    assert "data-buy>Buy</button>" in own
    assert "csrfmiddlewaretoken" in own
    assert f"Log out {fan.username}" in own


def test_a_rendering_that_read_before_a_commit_is_not_served_after_it(
    album: Content, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    page(album)

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        Content.objects.filter(pk=album.pk).update(title="Day Songs")
        # A request on another connection, between the write and its commit, reads the
        # database as it was and keeps that under the generation the write moved to.
        stale = ("Night Songs", "<article>Night Songs, as it was</article>")
        public_page.articles.get_or_render(str(album.pk), lambda: stale)

    assert "Day Songs" in page(album)


def test_without_redis_the_page_is_rendered_for_each_request(album: Content, settings: Any) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2},
        },
    }

    first = page(album)
    Content.objects.filter(pk=album.pk).update(title="Day Songs")

    assert "Night Songs" in first
    assert "Day Songs" in page(album)
