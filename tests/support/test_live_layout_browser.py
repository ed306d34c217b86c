"""The live page's order in Chromium: on a phone the stream comes first (above the fold), then
the tip box, then the feed; on a desktop the stream leads the main column beside the tip box.
Before its first frames an HLS player shows the creator's picture, not a black strip."""

from __future__ import annotations

import io

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from PIL import Image
from playwright.sync_api import FloatRect, Locator, Page, expect

from accounts.models import User
from creators.models import Creator
from support import services
from tests.fixtures.browser import Chromium, assert_page_clean
from tests.fixtures.servers import AsgiServer
from tests.support.tipping import tipping_creator

pytestmark = pytest.mark.django_db(transaction=True)


def box(locator: Locator) -> FloatRect:
    found = locator.bounding_box()
    assert found is not None, "not rendered"
    return found


def open_live(page: Page, creator: Creator, width: int, height: int) -> None:
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"/c/{creator.handle}/live/")
    expect(page.locator("[data-live-socket]")).to_have_attribute("data-socket", "live")


@pytest.mark.parametrize("user", ["fan", None])
def test_on_a_phone_the_stream_comes_first_then_the_tip_box_then_the_feed(
    browser: Chromium, asgi_server: AsgiServer, creator: Creator, fan: User, user: str | None
) -> None:
    # given: the creator is live; a fan (the tip form) or a visitor (the log-in button)
    tipping_creator(creator)
    services.start_live(creator.user, "Late show", "https://www.youtube-nocookie.com/embed/x")
    page = browser.open(asgi_server.url, fan if user else None)

    # when: the page opens at 360 x 800
    open_live(page, creator, 360, 800)

    # then: the player starts above the fold, above the tip box, which is above the feed
    player = box(page.locator("[data-live-player]"))
    tip_box = box(page.locator(".tip-box"))
    feed = box(page.locator("[data-tip-feed]"))
    assert player["y"] < 800
    assert player["y"] + player["height"] <= tip_box["y"]
    assert tip_box["y"] + tip_box["height"] <= feed["y"]
    assert player["width"] <= 360
    assert_page_clean(page)


def test_on_a_desktop_the_stream_is_above_the_fold_beside_the_tip_box(
    browser: Chromium, asgi_server: AsgiServer, creator: Creator, fan: User
) -> None:
    tipping_creator(creator)
    services.start_live(creator.user, "Late show", "https://www.youtube-nocookie.com/embed/x")
    page = browser.open(asgi_server.url, fan)
    open_live(page, creator, 1280, 800)
    player = box(page.locator("[data-live-player]"))
    tip_box = box(page.locator(".tip-box"))
    feed = box(page.locator("[data-tip-feed]"))
    assert player["y"] < 800
    assert player["y"] + player["height"] <= feed["y"]  # the feed under the stream
    assert player["x"] + player["width"] <= tip_box["x"]  # the tip box beside it
    assert tip_box["y"] < 800
    assert_page_clean(page)


@pytest.mark.django_db
def test_the_hls_player_wears_the_creators_picture_until_the_stream_starts(
    creator: Creator,
) -> None:
    # given: a live HLS session, first by a creator with no picture
    tipping_creator(creator)
    services.start_live(creator.user, "HLS", "https://127.0.0.1/live/stream.m3u8")
    bare = Client().get(f"/c/{creator.handle}/live/").content.decode()
    assert "data-hls-src" in bare
    assert "poster=" not in bare

    # when: the creator has a picture
    out = io.BytesIO()
    Image.new("RGB", (96, 96), (200, 40, 90)).save(out, "PNG")
    creator.avatar.save("me.png", ContentFile(out.getvalue()))

    # then
    page = Client().get(f"/c/{creator.handle}/live/").content.decode()
    assert f'poster="{creator.avatar.url}"' in page
