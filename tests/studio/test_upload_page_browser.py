"""The upload page in Chromium: "Drag and drop" only where dragging is possible (a fine
pointer), and a disabled Publish says why in visible text linked to the button."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from creators.models import Creator
from swarm import contents
from tests.fixtures.browser import Chromium, assert_page_clean
from tests.fixtures.content import uploaded
from tests.fixtures.servers import AsgiServer

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_phone_is_not_told_to_drag_and_a_mouse_is(
    browser: Chromium, asgi_server: AsgiServer, creator: Creator
) -> None:
    content = contents.create_content(creator.user, title="Draft")
    on_phone = browser.open(
        asgi_server.url,
        creator.user,
        viewport={"width": 360, "height": 800},
        has_touch=True,
        is_mobile=True,
    )
    on_phone.goto(f"/studio/content/{content.pk}/upload/")
    expect(on_phone.get_by_text("Drag and drop files here, or")).to_be_hidden()
    expect(on_phone.locator("label[for=file-input]")).to_be_visible()
    on_phone.context.close()

    desk = browser.open(asgi_server.url, creator.user)
    desk.goto(f"/studio/content/{content.pk}/upload/")
    expect(desk.get_by_text("Drag and drop files here, or")).to_be_visible()
    assert_page_clean(desk)


def test_a_disabled_publish_says_why_beside_it(
    browser: Chromium, asgi_server: AsgiServer, creator: Creator
) -> None:
    # given: a draft with no file
    content = contents.create_content(creator.user, title="Draft")
    page = browser.open(asgi_server.url, creator.user)

    # when
    page.goto(f"/studio/content/{content.pk}/upload/")

    # then: disabled, with the reason on screen and linked to the button
    publish = page.get_by_role("button", name="Publish")
    expect(publish).to_be_disabled()
    why = page.locator("#publish-why")
    expect(why).to_be_visible()
    expect(why).to_have_text("Add a file first: Publish waits for every file to be uploaded.")
    expect(publish).to_have_attribute("aria-describedby", "publish-why")
    expect(publish).not_to_have_attribute("title", "Add a file first")
    assert_page_clean(page)


def test_publish_enabled_says_nothing(
    browser: Chromium, asgi_server: AsgiServer, creator: Creator
) -> None:
    content = uploaded(creator, {"a.bin": b"a" * 100}, title="Ready")
    page = browser.open(asgi_server.url, creator.user)
    page.goto(f"/studio/content/{content.pk}/upload/")
    expect(page.get_by_role("button", name="Publish")).to_be_enabled()
    expect(page.locator("#publish-why")).to_be_hidden()
    expect(page.locator("#publish-why")).to_have_text("")
    assert_page_clean(page)
