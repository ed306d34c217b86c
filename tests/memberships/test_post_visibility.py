"""Who reads a members-only post, at every door (the access decision, the post page, the
creator's page, the API): members of its tier or higher in full; a lower tier, a stranger and
the signed-out see its title, tier and the way to join, and never its text."""

from __future__ import annotations

import pytest

from creators.models import Creator
from ledger.access import may_fetch
from ledger.models import Grant
from memberships import posts
from memberships.models import Tier
from memberships.post_models import Post
from payments.models import WebhookDelivery
from payments.webhooks.services import create_webhook
from tests.fixtures.personas import make_user
from tests.memberships.posting import api, member, tiers
from tests.payments.factories import paid_content, with_wallet

pytestmark = pytest.mark.django_db
SECRET = "The secret chord is D minor"


@pytest.fixture
def setup(creator: Creator) -> dict[str, object]:
    low, high = tiers(creator)
    people = {name: make_user(name) for name in ("low_fan", "high_fan")}
    member(people["low_fan"], low)
    member(people["high_fan"], high)
    return {"low": low, "high": high, **people}


def write(creator: Creator, tier: Tier | None, title: str = "For patrons") -> Post:
    return posts.publish_post(creator, title=title, body=SECRET, tier=tier)


def test_a_post_is_read_by_its_tier_and_higher_only(creator, setup, stranger):
    # given
    for_low = write(creator, setup["low"], "For supporters")
    for_high = write(creator, setup["high"])
    public = write(creator, None, "Hello all")
    low_fan, high_fan = setup["low_fan"], setup["high_fan"]
    # then
    matrix = {
        (who, post.title): posts.may_read(user, post).allowed
        for who, user in (("low", low_fan), ("high", high_fan), ("stranger", stranger),
                          ("anonymous", None), ("creator", creator.user))
        for post in (for_low, for_high, public)
    }  # fmt: skip
    assert matrix == {
        ("low", "For supporters"): True, ("low", "For patrons"): False,
        ("low", "Hello all"): True,
        ("high", "For supporters"): True, ("high", "For patrons"): True,
        ("high", "Hello all"): True,
        ("stranger", "For supporters"): False, ("stranger", "For patrons"): False,
        ("stranger", "Hello all"): True,
        ("anonymous", "For supporters"): False, ("anonymous", "For patrons"): False,
        ("anonymous", "Hello all"): True,
        ("creator", "For supporters"): True, ("creator", "For patrons"): True,
        ("creator", "Hello all"): True,
    }  # fmt: skip
    decision = posts.may_read(high_fan, for_high)
    assert decision.reason == Grant.Source.MEMBERSHIP
    assert decision.until is not None
    assert posts.may_read(creator.user, for_high).reason == posts.OWN


def test_a_lower_tier_fan_asking_for_the_post_by_id_gets_no_text(client, creator, setup):
    # given: a supporter knows the id of a patrons' post
    post = write(creator, setup["high"])
    client.force_login(setup["low_fan"])
    # when: the page, the creator's page, and the API
    page = client.get(f"/posts/{post.pk}/")
    listing = client.get(f"/c/{creator.handle}/")
    one = api(setup["low_fan"]).get(f"/api/v1/posts/{post.pk}")
    many = api(setup["low_fan"]).get(f"/api/v1/creators/{creator.handle}/posts")
    # then: title, tier and a way to join; the text nowhere
    assert page.status_code == 403
    assert "For patrons" in page.text
    assert "Patron" in page.text
    assert "Join to read" in page.text
    assert SECRET not in page.text
    assert one.status_code == 403
    assert one.json()["readable"] is False
    assert one.json()["text"] is None
    assert one.json()["html"] is None
    assert one.json()["tier"]["name"] == "Patron"
    assert [p["text"] for p in many.json()] == [None]
    assert SECRET not in many.text
    assert SECRET not in listing.text


def test_members_and_the_creator_read_it_in_full_everywhere(client, creator, setup):
    post = write(creator, setup["low"])
    for reader in (setup["low_fan"], setup["high_fan"], creator.user):
        client.force_login(reader)
        assert SECRET in client.get(f"/posts/{post.pk}/").text
        assert api(reader).get(f"/api/v1/posts/{post.pk}").json()["text"] == SECRET


def test_signed_out_readers_see_public_posts_and_titles_only(client, creator, setup):
    locked = write(creator, setup["low"], "Members news")
    public = posts.publish_post(creator, title="Open letter", body="Hello world", tier=None)
    assert client.get(f"/posts/{locked.pk}/").status_code == 403
    assert SECRET not in client.get(f"/posts/{locked.pk}/").text
    assert "Hello world" in client.get(f"/posts/{public.pk}/").text
    listed = api(None).get(f"/api/v1/creators/{creator.handle}/posts").json()
    assert [(p["title"], p["readable"]) for p in listed] == [
        ("Open letter", True),
        ("Members news", False),
    ]


def test_a_deleted_post_is_gone_for_everyone(client, creator, setup):
    post = write(creator, setup["low"])
    posts.delete_post(post)
    client.force_login(setup["low_fan"])
    assert client.get(f"/posts/{post.pk}/").status_code == 404
    assert api(setup["low_fan"]).get(f"/api/v1/posts/{post.pk}").status_code == 404
    assert api(creator.user).get("/api/v1/studio/posts").json() == []
    assert not posts.may_read(creator.user, post).allowed


def test_another_creators_tier_does_not_open_a_post(creator, setup):
    # given: the fan is a patron of another creator, whose tier has a higher rank
    other = Creator.objects.create(
        user=make_user("other"), handle="other", display_name="Other", payout_address=""
    )
    with_wallet(other)
    _, other_high = tiers(other)
    fan = make_user("wanderer")
    member(fan, other_high)
    post = write(creator, setup["low"])
    # then
    assert not posts.may_read(fan, post).allowed
    assert api(fan).get(f"/api/v1/posts/{post.pk}").status_code == 403


def test_the_studio_api_writes_edits_and_deletes_only_its_own_posts(creator, setup):
    # given
    content = paid_content(creator, "Stems")
    creator_api = api(creator.user)
    # when
    made = creator_api.post(
        "/api/v1/studio/posts",
        {"title": "New", "text": "**Hi**", "tier_id": setup["high"].pk,
         "attachments": [content.pk]},
        content_type="application/json",
    )  # fmt: skip
    # then
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["html"] == "<p><strong>Hi</strong></p>"
    assert body["attachments"] == [content.pk]
    # attaching grants nothing: the supporter cannot fetch the attached content
    assert not may_fetch(setup["low_fan"], content)
    post_id = body["id"]
    edited = creator_api.put(
        f"/api/v1/studio/posts/{post_id}",
        {"title": "Renamed", "text": "x", "tier_id": None, "attachments": []},
        content_type="application/json",
    )
    assert edited.json()["title"] == "Renamed"
    assert edited.json()["tier"] is None
    # a fan cannot touch it
    intruder = api(setup["high_fan"])
    assert intruder.delete(f"/api/v1/studio/posts/{post_id}").status_code == 404
    assert Post.objects.get(pk=post_id).deleted_at is None
    assert creator_api.delete(f"/api/v1/studio/posts/{post_id}").status_code == 204
    assert Post.objects.get(pk=post_id).deleted_at is not None


def test_another_creators_content_cannot_be_attached(creator, setup):
    other = Creator.objects.create(
        user=make_user("other"), handle="other", display_name="Other", payout_address=""
    )
    theirs = paid_content(other, "Not yours")
    answer = api(creator.user).post(
        "/api/v1/studio/posts",
        {"title": "Steal", "text": "x", "attachments": [theirs.pk]},
        content_type="application/json",
    )
    assert answer.status_code == 404
    assert Post.objects.count() == 0


def test_publishing_tells_the_creators_webhook_without_the_text(settings, creator, setup):
    settings.PAYMENTS_WEBHOOK_ALLOW_PRIVATE = True
    create_webhook(creator.user, "http://127.0.0.1:9/posts", events=["post.published"])
    post = write(creator, setup["high"])
    delivery = WebhookDelivery.objects.get(event="post.published")
    assert delivery.payload["post"]["id"] == post.pk
    assert delivery.payload["post"]["tier"]["name"] == "Patron"
    assert SECRET not in str(delivery.payload)
