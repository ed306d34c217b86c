"""The site's header: a favicon on every page, and "API tokens" only for those who use them."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from accounts.models import User
from accounts.services import issue_token
from creators.models import Creator

pytestmark = pytest.mark.django_db


def header_of(user: User) -> str:
    client = Client()
    client.force_login(user)
    return client.get("/").content.decode()


def test_a_fan_without_tokens_is_not_offered_api_tokens(fan: User) -> None:
    assert 'href="/settings/tokens/"' not in header_of(fan)
    assert "API tokens" not in header_of(fan)


def test_a_creator_and_a_fan_with_a_token_are(fan: User, creator: Creator) -> None:
    assert "API tokens" in header_of(creator.user)
    issue_token(fan, "my script")
    assert "API tokens" in header_of(fan)


def test_every_page_names_a_favicon_that_exists() -> None:
    page = Client().get("/").content.decode()
    link = re.search(
        r'<link rel="icon" href="/static/(favicon[.\w]*\.svg)" type="image/svg\+xml">', page
    )
    assert link is not None
    found = finders.find("favicon.svg")
    assert isinstance(found, str)
    with open(found, encoding="utf-8") as svg:
        assert svg.read().startswith("<svg ")
