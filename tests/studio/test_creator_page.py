"""A creator's public page: what they published and listed, newest first, with prices."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from creators.models import Creator
from payments.money import Amount, Token
from purchases import services as purchases
from swarm.models import Content

pytestmark = pytest.mark.django_db


def content(creator: Creator, title: str, **fields: object) -> Content:
    defaults: dict[str, object] = {
        "name": f"{title.lower()}.bin",
        "state": Content.State.SEEDING,
        "published_at": timezone.now(),
    }
    return Content.objects.create(creator=creator, title=title, **(defaults | fields))


def test_the_page_lists_what_is_published_and_listed_with_prices(creator: Creator) -> None:
    # given: a priced album, a free single, an unlisted extra, a draft, and another's content
    album = content(creator, "Album", access=Content.Access.PAID)
    purchases.set_content_price(creator.user, album, Amount.parse("250.5", Token.BTT))
    single = content(creator, "Single", access=Content.Access.FREE)
    content(creator, "Extra", unlisted=True)
    content(creator, "Draft", state=Content.State.HASHING, published_at=None)

    # when
    page = Client().get(f"/c/{creator.handle}/").content.decode()

    # then: newest first; nothing unlisted or unpublished
    assert page.index(f'href="/content/{single.pk}/"') < page.index(f'href="/content/{album.pk}/"')
    assert "250.5 BTT" in page
    assert '<span class="badge badge-free">Free</span>' in page
    assert "Extra" not in page
    assert "Draft" not in page
    assert "Nothing published yet." not in page
    assert "Tip The Maker" in page  # the tip box


def test_an_empty_page_says_so(creator: Creator) -> None:
    page = Client().get(f"/c/{creator.handle}/").content.decode()

    assert "Nothing published yet." in page


def test_hostile_titles_are_text(creator: Creator) -> None:
    content(creator, '<img src=x onerror="alert(1)">')

    page = Client().get(f"/c/{creator.handle}/").content.decode()

    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page


def test_the_api_tells_unlisted_and_cover(creator: Creator) -> None:
    extra = content(creator, "Extra", unlisted=True)

    answer = Client().get(f"/api/v1/contents/{extra.pk}").json()

    assert (answer["unlisted"], answer["cover_url"]) == (True, "")


def test_an_unknown_page_is_a_helpful_404() -> None:
    response = Client().get("/c/nobody-here/")

    assert response.status_code == 404
    assert "There is nothing here, or it is not yours to see." in response.content.decode()
