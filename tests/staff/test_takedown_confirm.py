"""A takedown goes through a confirmation that names the content and asks for the public
reason; on a phone the moderation list keeps its action on screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.models import User
from creators.models import Creator
from staff.models import AuditEntry
from swarm.models import Content
from tests.fixtures.browser import Chromium, assert_page_clean, outside_browser_loop
from tests.fixtures.content import published
from tests.fixtures.servers import AsgiServer
from tests.fixtures.sessions import logged_in


@pytest.mark.django_db
def test_the_confirmation_names_the_content_and_changes_nothing(
    moderator: User, creator: Creator, fan: User
) -> None:
    content = published(creator, title="Concert <live>")
    staff = logged_in(moderator)

    listing = staff.get("/staff/moderation/").content.decode()
    page = staff.get(f"/staff/moderation/{content.pk}/takedown/confirm")

    body = page.content.decode()
    assert f'href="/staff/moderation/{content.pk}/takedown/confirm"' in listing
    assert 'name="reason"' not in listing  # the reason is asked on the confirmation only
    assert page.status_code == 200
    assert "Take down “Concert &lt;live&gt;”?" in body
    assert f"@{creator.handle}" in body
    assert content.infohash is not None
    assert content.infohash in body
    assert 'aria-describedby="id_reason_helptext"' in body
    assert "Public: shown to the creator" in body
    # Looking is not doing; fans and removed content get no confirmation.
    content.refresh_from_db()
    assert (content.state, AuditEntry.objects.count()) == (Content.State.SEEDING, 0)
    assert logged_in(fan).get(f"/staff/moderation/{content.pk}/takedown/confirm").status_code == 403
    Content.objects.filter(pk=content.pk).update(state=Content.State.REMOVED)
    assert staff.get(f"/staff/moderation/{content.pk}/takedown/confirm").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_moderator_on_a_phone_confirms_a_takedown_with_its_reason(
    browser: Chromium, asgi_server: AsgiServer, moderator: User, creator: Creator
) -> None:
    browser.allow_console_error(r"status of 400 .*/takedown\)$", "no reason is refused")
    # given: two contents, the list open on a phone
    content = published(creator, title="Concert")
    published(creator, title="Rehearsal with a very long title that goes on and on and on")
    page = browser.open(asgi_server.url, moderator)
    page.set_viewport_size({"width": 360, "height": 800})
    page.goto("/staff/moderation/")

    # then: every row's action is on screen, not cut off
    actions = page.locator(".moderation-action .button")
    expect(actions).to_have_count(2)
    for index in range(2):
        box = actions.nth(index).bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= 360
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    # when: the moderator takes down "Concert", without a reason first
    page.get_by_role("link", name="Take down… “Concert”").click()
    expect(page.get_by_role("heading", name="Take down “Concert”?")).to_be_visible()
    page.get_by_role("button", name="Take down “Concert”").click()

    # then: refused, nothing changed
    expect(page.locator("[data-refusal]")).to_contain_text("reason")
    with outside_browser_loop():
        assert Content.objects.get(pk=content.pk).state == Content.State.SEEDING

    # when: with the public reason
    page.go_back()
    page.get_by_label("Public reason").fill("Copyright claim #41")
    page.get_by_role("button", name="Take down “Concert”").click()

    # then
    expect(page.get_by_text("“Concert” was taken down.")).to_be_visible()
    with outside_browser_loop():
        taken = Content.objects.get(pk=content.pk)
        assert (taken.state, taken.state_detail) == (Content.State.REMOVED, "Copyright claim #41")
    assert_page_clean(page)
