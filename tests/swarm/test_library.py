"""The fan's pages in Chromium: the library, the content page, playback from the web seed."""

from __future__ import annotations

import io
import json
import math
import re
import struct
import wave
from collections.abc import Callable

import pytest
from django.test import Client
from playwright.sync_api import Page, expect

from accounts.models import User
from creators.models import Creator
from ledger import services as ledger
from ledger.models import Grant
from payments.money import Amount, Token
from purchases.services import set_content_price
from swarm.events import StatsEvent, send_stats
from swarm.models import Content
from tests.fixtures.browser import Chromium, assert_page_clean, outside_browser_loop, screenshots
from tests.fixtures.content import Site, with_cover
from tests.fixtures.processes import wait_for

# Each page the journey leaves open is put through axe at the end (tests/fixtures/browser.py).
pytestmark = pytest.mark.audit_pages

Publish = Callable[..., Content]


def wav_tone(seconds: float, rate: int = 8000) -> bytes:
    """A mono 16-bit WAV of a 440 Hz tone: media every Chromium build plays."""
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / rate)))
        for n in range(int(seconds * rate))
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(frames)
    return out.getvalue()


def stats_event(peers: int, seeds: int) -> StatsEvent:
    return {
        "type": "stats",
        "state": Content.State.SEEDING,
        "peers": peers,
        "seeds": seeds,
        "upload_rate": 1000,
        "bytes_uploaded": 5000,
    }


def test_library_lists_what_the_fan_may_download(
    site: Site, publish: Publish, browser: Chromium, creator: Creator, fan: User
) -> None:
    # given: two paid releases, one granted to the fan, and a free one the fan never chose
    bought = publish(
        creator,
        {"01-intro.wav": wav_tone(2.0), "notes.txt": b"liner notes\n" * 100},
        title="Field Recordings",
        access=Content.Access.PAID,
    )
    not_bought = publish(creator, {"other.bin": b"x" * 5000}, title="Other", access="paid")
    publish(creator, {"free.bin": b"y" * 5000}, title="Free sampler")
    ledger.grant(fan, bought, Grant.Source.PURCHASE)
    with_cover(bought, (40, 110, 90))
    page = browser.open(site.url, fan)

    # when
    page.goto("/library/")

    # then
    items = page.locator(".library-item")
    expect(items).to_have_count(1)
    item = items.first
    expect(item.get_by_role("heading", name="Field Recordings")).to_be_visible()
    expect(item.get_by_role("button", name="Download")).to_be_enabled()
    torrent = item.get_by_role("link", name=".torrent file")
    expect(torrent).to_have_attribute("href", f"/api/v1/contents/{bought.pk}/torrent")
    # a paid release has no magnet (no client can fetch a private torrent's details from one)
    expect(item.get_by_role("link", name="Open magnet link")).to_have_count(0)
    assert "magnet:" not in item.inner_html()
    expect(item.locator("[data-no-magnet]")).to_have_text(
        "Paid downloads come as a .torrent file: magnet links cannot fetch a private torrent's"
        " details."
    )
    expect(item.locator("audio")).to_have_count(1)
    expect(item.locator("[data-swarm-counters]")).to_have_attribute("data-live", "live")
    assert f"/content/{not_bought.pk}/" not in page.content()
    assert_page_clean(page)
    screenshots(page, "library")


def test_empty_library_says_what_goes_there(site: Site, browser: Chromium, fan: User) -> None:
    page = browser.open(site.url, fan)

    page.goto("/library/")

    expect(page.get_by_role("heading", name="Nothing here yet")).to_be_visible()
    expect(page.get_by_role("link", name="Browse creators")).to_be_visible()
    assert_page_clean(page)
    screenshots(page, "library-empty")


def test_library_needs_a_log_in(page: Page) -> None:
    page.goto("/library/")

    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/library/$"))
    expect(page.get_by_role("button", name="Log in")).to_be_visible()


def test_content_page_of_paid_content_offers_buy_and_no_download(
    site: Site, publish: Publish, browser: Chromium, creator: Creator, stranger: User
) -> None:
    content = publish(
        creator,
        {"movie.bin": b"z" * 300_000},
        title="Behind the Scenes",
        access=Content.Access.PAID,
    )
    with_cover(content, (150, 60, 40))
    Content.objects.filter(pk=content.pk).update(description="Two hours of\nunseen footage.")
    set_content_price(creator.user, content, Amount.parse("42.5", Token.BTT))
    page = browser.open(site.url, stranger)
    frames: list[str | bytes] = []
    page.on(
        "websocket", lambda socket: socket.on("framereceived", lambda frame: frames.append(frame))
    )

    page.goto(f"/content/{content.pk}/")

    expect(page.get_by_role("heading", name="Behind the Scenes", level=1)).to_be_visible()
    cover = page.locator("img.content-cover")
    expect(cover).to_have_attribute("src", content.cover_url)
    assert cover.evaluate("image => image.complete && image.naturalWidth") == 320
    expect(page.get_by_text("unseen footage.")).to_be_visible()
    expect(page.get_by_role("cell", name="movie.bin")).to_be_visible()
    expect(page.get_by_role("button", name="Buy")).to_be_enabled()
    expect(page.locator(".price")).to_have_text("42.5 BTT")
    expect(page.locator("[data-webseed-download]")).to_have_count(0)
    html = page.content()
    assert "/webseed/" not in html
    assert "/torrent" not in html
    assert "magnet:" not in html
    counters = page.locator("[data-swarm-counters]")
    expect(counters).to_have_attribute("data-live", "live")
    # the engine's stats reach the page live; someone not the creator is told what they mean,
    # not the swarm's numbers
    expect(counters).to_have_text("Available — served by the platform.")
    with outside_browser_loop():
        send_stats(content.pk, stats_event(peers=3, seeds=2))
    expect(counters).to_have_text(
        "Available — served by the platform, and shared by other fans too."
    )

    def frame_seen() -> bool:
        page.wait_for_timeout(50)  # Playwright delivers its events while the thread waits in it
        return bool(frames)

    wait_for(frame_seen, what="the stats frame")
    assert [json.loads(frame) for frame in frames] == [
        {"type": "stats", "state": "seeding", "peers": 3, "seeds": 2}
    ]
    assert_page_clean(page)
    screenshots(page, "content-buy")


def test_content_page_of_free_content_asks_visitors_to_log_in(
    site: Site, publish: Publish, browser: Chromium, creator: Creator
) -> None:
    content = publish(creator, {"sampler.bin": b"s" * 1000}, title="Sampler")
    page = browser.open(site.url)

    page.goto(f"/content/{content.pk}/")

    login = page.get_by_role("link", name="Log in to download")
    expect(login).to_have_attribute("href", f"/accounts/login/?next=/content/{content.pk}/")
    expect(page.locator("[data-webseed-download]")).to_have_count(0)
    assert_page_clean(page)


def test_unpublished_content_is_only_for_its_creator(
    site: Site, creator: Creator, fan: User
) -> None:
    from tests.fixtures.content import uploaded

    content = uploaded(creator, {"draft.bin": b"d" * 100}, title="Draft")
    as_creator, as_fan = Client(), Client()
    as_creator.force_login(creator.user)
    as_fan.force_login(fan)

    assert as_fan.get(f"/content/{content.pk}/").status_code == 404
    assert Client().get(f"/content/{content.pk}/").status_code == 404
    response = as_creator.get(f"/content/{content.pk}/")
    assert response.status_code == 200
    assert b"Only you can see this page" in response.content
    assert b"data-webseed-download" not in response.content


def test_audio_plays_from_the_web_seed_and_seeks(
    site: Site, publish: Publish, browser: Chromium, creator: Creator, fan: User
) -> None:
    content = publish(
        creator, {"tone.wav": wav_tone(4.0)}, title="A Tone", access=Content.Access.PAID
    )
    ledger.grant(fan, content, Grant.Source.PURCHASE)
    page = browser.open(site.url, fan)
    page.goto(f"/content/{content.pk}/")
    audio = page.get_by_label("Play tone.wav")

    # when: it loads its metadata, seeks near the end (a Range request) and plays
    audio.evaluate("element => { element.currentTime = 3.0; return element.play(); }")

    # then
    page.wait_for_function(
        "element => element.currentTime > 3.05 && !element.error", arg=audio.element_handle()
    )
    duration = audio.evaluate("element => element.duration")
    assert abs(duration - 4.0) < 0.01
    assert_page_clean(page)
