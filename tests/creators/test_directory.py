"""The home page's creator directory is kept in the cache for every visitor, and is never
staler than the database: a change to a listed creator or account shows on the next request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis
from django.conf import settings
from django.test import Client
from pytest_django.fixtures import Settings

from accounts.models import User
from creators.models import Creator
from tests.fixtures.personas import TRON_ADDRESS

pytestmark = pytest.mark.django_db


def home(query: str = "") -> str:
    response = Client().get(f"/{query}")
    assert response.status_code == 200
    return response.content.decode()


def a_creator(name: str) -> Creator:
    handle = name.lower().replace(" ", "")
    user = User.objects.create_user(username=handle, email=f"{handle}@example.com", password=None)
    return Creator.objects.create(
        user=user, handle=handle, display_name=name, payout_address=TRON_ADDRESS
    )


def kept_pages() -> list[str]:
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        return sorted(
            key.decode() if isinstance(key, bytes) else key
            for key in client.keys("*creators:directory:*:*")
        )
    finally:
        client.close()


def test_a_kept_directory_is_served_without_a_query(
    django_assert_num_queries: Callable[..., Any],
) -> None:
    # given: a creator, and the home page asked for once
    a_creator("Night Owl")
    first = home()

    # when: it is asked for again
    with django_assert_num_queries(0):
        again = home()

    # then: the same page, listing the creator, from the cache
    assert again == first
    assert "Night Owl" in again


@pytest.mark.parametrize(
    "change",
    ["a new creator", "a new name", "a deactivated account", "a deleted account", "no creator"],
)
def test_a_change_shows_on_the_next_request(change: str) -> None:
    # given: a listed creator, the directory kept
    owl = a_creator("Night Owl")
    assert "Night Owl" in home()

    # when
    if change == "a new creator":
        a_creator("Early Bird")
    elif change == "a new name":
        owl.display_name = "Day Owl"
        owl.save()
    elif change == "a deactivated account":
        owl.user.is_active = False
        owl.user.save()
    elif change == "a deleted account":
        owl.user.delete()
    else:
        owl.delete()

    # then
    page = home()
    expected = {
        "a new creator": ["Early Bird", "Night Owl"],
        "a new name": ["Day Owl"],
    }.get(change, [])
    assert [name for name in ("Day Owl", "Early Bird", "Night Owl") if name in page] == expected
    if not expected:
        assert "No creators yet." in page


def test_a_log_in_keeps_the_directory(django_assert_num_queries: Callable[..., Any]) -> None:
    # given: the directory kept
    owl = a_creator("Night Owl")
    home()

    # when: the creator logs in (the account's last_login is saved)
    Client().force_login(owl.user)

    # then: the next visitor still gets the kept page
    with django_assert_num_queries(0):
        assert "Night Owl" in home()


def test_odd_page_numbers_are_answered_and_only_plain_ones_kept() -> None:
    # given
    a_creator("Night Owl")

    # when: a visitor asks for pages by number, by garbage and far beyond the last
    plain = [home(), home("?page=1"), home("?page=2")]
    odd = [home(f"?page={number}") for number in ("abc", "-1", "1.5", "99999", "9" * 400)]

    # then: every answer lists the creator; only the plain page numbers were kept
    assert all("Night Owl" in page for page in plain + odd)
    assert [key.rsplit(":", 1)[1] for key in kept_pages()] == ["1", "2"]


def test_without_redis_the_directory_is_rendered_for_each_request(
    settings: Settings,
) -> None:
    # given: a creator, and a Redis that cannot be reached
    a_creator("Night Owl")
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:9/0"},
    }

    # when / then: the home page still lists the creator
    assert "Night Owl" in home()
    assert "Early Bird" not in home()
    a_creator("Early Bird")
    assert "Early Bird" in home()
