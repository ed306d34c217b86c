"""The cover picker in Chromium: the current cover as a picture, a button that says what it
picks, the chosen file's name, and a removal checkbox that says what it does and works."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from playwright.sync_api import FilePayload, expect

from creators.models import Creator
from swarm.models import Content
from tests.fixtures.browser import Chromium, assert_page_clean, outside_browser_loop
from tests.fixtures.content import uploaded, with_cover
from tests.fixtures.servers import AsgiServer

pytestmark = pytest.mark.django_db(transaction=True)


def png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), colour).save(out, "PNG")
    return out.getvalue()


def test_the_cover_picker_shows_the_cover_picks_a_new_one_and_removes_it(
    browser: Chromium, asgi_server: AsgiServer, creator: Creator
) -> None:
    # given: a content with a cover
    content = uploaded(creator, {"a.bin": b"a" * 100}, title="Night Walks", access="free")
    with_cover(content, (10, 120, 200))
    page = browser.open(asgi_server.url, creator.user)

    # when
    page.goto(f"/studio/content/{content.pk}/")

    # then: the cover as a picture, plain words, none of the raw widget's
    cover = page.get_by_role("group", name="Cover")
    expect(cover.get_by_role("img", name="Current cover of Night Walks")).to_be_visible()
    expect(cover.locator("label.button")).to_have_text("Choose a new cover…")
    body = page.locator("main").inner_text()
    assert "Currently:" not in body
    assert "Change:" not in body

    # when: a new file is chosen, the page says which, and removal is unticked
    remove = page.get_by_label("Remove the cover (the page shows the title's first letter instead)")
    remove.check()
    new: FilePayload = {
        "name": "sunrise.png",
        "mimeType": "image/png",
        "buffer": png((250, 200, 0)),
    }
    page.get_by_label("Choose a new cover…").set_input_files([new])
    expect(cover.locator("[data-cover-chosen]")).to_have_text(
        "Chosen: sunrise.png (saved with the form)."
    )
    expect(remove).not_to_be_checked()

    # when: instead the cover is removed and the form saved
    remove.check()
    expect(cover.locator("[data-cover-chosen]")).to_have_text("")
    page.get_by_role("button", name="Save").click()

    # then
    expect(page.get_by_text("Saved.")).to_be_visible()
    expect(page.get_by_role("group", name="Cover").locator(".cover-now")).to_have_text(
        "No cover yet."
    )
    expect(page.get_by_label("Choose a cover…")).to_be_attached()
    with outside_browser_loop():
        assert not Content.objects.get(pk=content.pk).cover
    assert_page_clean(page)
