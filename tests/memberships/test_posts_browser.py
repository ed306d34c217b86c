"""The creator's page in Chromium: a member reads a post in full (its Markdown-lite shown, its
markup escaped); a stranger sees its title, the tier it needs and Join, and the page source
holds none of its text; the creator writes a post from the studio."""

from __future__ import annotations

from playwright.sync_api import expect

from accounts.models import User
from creators.models import Creator
from memberships import posts
from memberships.post_models import Post
from tests.fixtures.browser import Chromium, assert_page_clean, outside_browser_loop
from tests.fixtures.servers import AsgiServer
from tests.memberships.posting import member, tiers

SECRET = "Backstage at dawn"


def test_a_member_reads_the_post_and_a_stranger_sees_how_to_join(
    browser: Chromium, asgi_server: AsgiServer, creator: Creator, fan: User, stranger: User
) -> None:
    # given: a supporter, and a post for supporters with a little markup in it
    low, _ = tiers(creator)
    member(fan, low)
    posts.publish_post(
        creator, title="Tour diary", body=f"**{SECRET}** <script>x()</script>", tier=low
    )
    # when: the member opens the creator's page
    page = browser.open(asgi_server.url, fan)
    page.goto(f"/c/{creator.handle}/")
    # then: the post in full, its markup escaped
    post = page.locator(".post-list .post").first
    expect(post.locator("strong")).to_have_text(SECRET)
    expect(post).to_contain_text("<script>x()</script>")
    assert_page_clean(page)
    # when: a stranger opens it
    other = browser.open(asgi_server.url, stranger)
    other.goto(f"/c/{creator.handle}/")
    # then: title, tier, Join; the text is nowhere in the page
    locked = other.locator(".post-list .post").first
    expect(locked.locator("h3")).to_have_text("Tour diary")
    expect(locked).to_contain_text("For members of Supporter or a higher tier.")
    expect(locked.get_by_role("link", name="Join to read")).to_be_visible()
    assert SECRET not in other.content()
    assert_page_clean(other)


def test_the_creator_writes_a_post_from_the_studio(
    browser: Chromium, asgi_server: AsgiServer, creator: Creator
) -> None:
    tiers(creator)
    page = browser.open(asgi_server.url, creator.user)
    page.goto("/studio/posts/")
    page.get_by_label("Title").fill("Hello members")
    page.get_by_label("Text").fill("First *post*")
    page.get_by_label("Who may read it").select_option(label="Patron and higher tiers")
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("link", name="Hello members")).to_be_visible()
    assert_page_clean(page)
    with outside_browser_loop():
        tiers_named = list(Post.objects.values_list("tier__name", flat=True))
    assert tiers_named == ["Patron"]
