"""Members' post emails: one email per member per digest window listing every post they may
read, written to the outbox; nothing to a fan who opted out (from the email's signed link,
without logging in, or from the memberships page), nothing to a lapsed member, nothing twice."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from accounts.models import OutgoingEmail, User
from memberships import post_mail, posts, renewals, services
from memberships.post_models import PostMailOptOut
from tests.fixtures.memberships import settle
from tests.fixtures.personas import make_user
from tests.memberships.posting import member, tiers

pytestmark = pytest.mark.django_db


def opt_out_links(body: str) -> list[str]:
    return re.findall(r"https?://[^/\s]+(/posts/emails/[^/\s]+/)", body)


def test_three_posts_in_a_window_are_one_email_per_member(clock, creator):
    # given: two supporters, a patron, a member who opted out, and one who lapsed
    low, high = tiers(creator)
    readers = {name: make_user(name) for name in ("ann", "bob", "pat", "quiet", "gone")}
    for name in ("ann", "bob", "quiet", "gone"):
        member(readers[name], low)
    member(readers["pat"], high)
    post_mail.opt_out(readers["quiet"], creator)
    gone = services.cancel(readers["gone"], readers["gone"].memberships.get())
    assert gone.paid_until is not None
    clock.advance(gone.paid_until - clock.now() + timedelta(days=1))
    for name in ("ann", "bob", "quiet", "pat"):  # the others paid again in time
        settle_renewal(readers[name])
    OutgoingEmail.objects.all().delete()
    # when: three posts in one window (two for supporters, one for patrons)
    titles = ["First news", "Second news", "Patrons only"]
    posts.publish_post(creator, title=titles[0], body="a", tier=low)
    posts.publish_post(creator, title=titles[1], body="b", tier=None)
    posts.publish_post(creator, title=titles[2], body="c", tier=high)
    sent = post_mail.send_digests(clock.now())
    # then
    emails = {tuple(e.to): e for e in OutgoingEmail.objects.all()}
    assert sent == 3
    assert set(emails) == {("ann@example.com",), ("bob@example.com",), ("pat@example.com",)}
    ann = emails[("ann@example.com",)]
    assert ann.subject == "2 new posts from creators you support"
    assert [t for t in titles if t in ann.body] == titles[:2]
    pat = emails[("pat@example.com",)]
    assert [t for t in titles if t in pat.body] == titles
    assert "a\n" not in pat.body  # titles and links, never the text
    # a second sweep sends nothing more
    assert post_mail.send_digests(clock.now()) == 0
    assert OutgoingEmail.objects.count() == 3


def settle_renewal(fan: User) -> None:
    renewals.renew_memberships()
    membership = fan.memberships.get()
    settle(services.pay_now(fan, membership))


def test_the_emails_link_stops_the_emails_without_logging_in(client, creator):
    # given
    low, _ = tiers(creator)
    fan = make_user("reader")
    member(fan, low)
    posts.publish_post(creator, title="One", body="x", tier=low)
    post_mail.send_digests()
    email = OutgoingEmail.objects.get(to=[fan.email])
    for_creator, for_all = opt_out_links(email.body)
    # when: a link scanner follows it, nothing changes; the fan's click on the button does
    assert client.get(for_creator).status_code == 200
    assert not PostMailOptOut.objects.exists()
    assert client.post(for_creator).status_code == 200
    # then
    assert list(PostMailOptOut.objects.values_list("fan_id", "creator_id")) == [
        (fan.pk, creator.pk)
    ]
    posts.publish_post(creator, title="Two", body="y", tier=low)
    assert post_mail.send_digests() == 0
    # the link for every creator, and a forged one
    client.post(for_all)
    assert PostMailOptOut.objects.filter(fan=fan, creator__isnull=True).exists()
    assert client.post(for_creator[:-3] + "xx/").status_code == 404


def test_the_memberships_page_turns_post_emails_off_and_on(client, creator):
    low, _ = tiers(creator)
    fan = make_user("reader")
    member(fan, low)
    client.force_login(fan)
    assert "Post emails" in client.get("/memberships/").text
    client.post("/memberships/post-emails/", {"creator": creator.pk, "emails": "off"})
    posts.publish_post(creator, title="One", body="x", tier=low)
    assert post_mail.send_digests() == 0
    client.post("/memberships/post-emails/", {"creator": creator.pk, "emails": "on"})
    posts.publish_post(creator, title="Two", body="x", tier=low)
    assert post_mail.send_digests() == 1
    assert "Two" in OutgoingEmail.objects.get(to=[fan.email]).body
    assert "One" not in OutgoingEmail.objects.get(to=[fan.email]).body


def test_a_deleted_post_is_not_emailed(creator):
    low, _ = tiers(creator)
    fan = make_user("reader")
    member(fan, low)
    posts.delete_post(posts.publish_post(creator, title="Oops", body="x", tier=low))
    assert post_mail.send_digests() == 0
