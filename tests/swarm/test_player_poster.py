"""A video player shows the content's cover until it plays, not a black strip."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from accounts.models import User
from creators.models import Creator
from swarm.models import Content
from tests.fixtures.content import Site, with_cover

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_video_player_wears_the_cover_as_its_poster(
    site: Site, publish: Callable[..., Content], creator: Creator, fan: User
) -> None:
    # given: a free video, first without a cover
    content = publish(creator, {"clip.mp4": b"\x00" * 4000}, title="Clip")
    client = Client()
    client.force_login(fan)
    bare = client.get(f"/content/{content.pk}/").content.decode()
    assert "<video" in bare
    assert "poster=" not in bare

    # when: it gets a cover
    with_cover(content, (20, 160, 90))
    content.refresh_from_db()
    page = client.get(f"/content/{content.pk}/").content.decode()

    # then
    assert f'poster="{content.cover_url}"' in page
