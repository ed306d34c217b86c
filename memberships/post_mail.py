"""Post emails, batched: the digest sweep (beat, every ``MEMBERSHIP_POST_DIGEST_MINUTES``)
claims the posts published since it last ran and owes each entitled member one email listing
theirs, through the outbox (``accounts.mail``), so a lost queue or a killed worker loses none.

A member is entitled to a post when they hold a tier of its creator and ``posts.may_read`` says
so, both at the sweep (a lapsed member gets nothing, not even of a public post); a fan who opted
out of the creator, or of every creator, gets nothing of it. The email names posts and links to
them, never their text: a mailbox outlives a membership. Opting out needs no login: each email
carries signed links (``opt_out_token``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.conf import settings
from django.core import signing
from django.db import transaction

from accounts.mail import queue_email
from accounts.models import User
from btt_platform import clock
from creators.models import Creator
from memberships.models import Membership
from memberships.post_models import Post, PostMailOptOut
from memberships.posts import is_member, may_read, post_url

_SALT = "memberships.post-mail-opt-out"


def opt_out_token(fan: User, creator: Creator | None) -> str:
    """A signed token that stops post emails to ``fan`` from ``creator`` (None: from all)."""
    return signing.dumps({"f": fan.pk, "c": None if creator is None else creator.pk}, salt=_SALT)


def read_opt_out_token(token: str) -> tuple[User, Creator | None]:
    """Raises signing.BadSignature (tampered or not ours) or User/Creator.DoesNotExist."""
    data = signing.loads(token, salt=_SALT)
    creator_id = data.get("c")
    creator = None if creator_id is None else Creator.objects.get(pk=int(creator_id))
    return User.objects.get(pk=int(data["f"])), creator


def opt_out(fan: User, creator: Creator | None) -> None:
    """No more post emails from ``creator`` (None: from anyone). Safe to call twice."""
    PostMailOptOut.objects.get_or_create(fan=fan, creator=creator)


def opt_in(fan: User, creator: Creator | None) -> None:
    """Post emails again from ``creator`` (None: lift the opt-out from everyone)."""
    PostMailOptOut.objects.filter(fan=fan, creator=creator).delete()


def opted_out(fan: User, creator: Creator) -> bool:
    return PostMailOptOut.objects.filter(fan=fan, creator__in=[creator]).exists() or (
        PostMailOptOut.objects.filter(fan=fan, creator__isnull=True).exists()
    )


def send_digests(now: datetime | None = None) -> int:
    """Email each entitled member the posts published since the last sweep; how many emails.
    Safe to run twice or concurrently: the posts are claimed in the transaction that writes
    the emails (a second run finds nothing unclaimed)."""
    now = now or clock.now()
    with transaction.atomic():
        unsent = Post.objects.filter(
            notices_sent_at__isnull=True, deleted_at__isnull=True, published_at__lte=now
        ).select_for_update(skip_locked=True, of=("self",))
        posts = list(unsent.select_related("tier", "creator").order_by("published_at", "pk"))
        claimed = Post.objects.filter(
            pk__in=[p.pk for p in posts], notices_sent_at__isnull=True
        ).update(notices_sent_at=now)
        if claimed != len(posts):  # another sweep got there first: it tells them
            transaction.set_rollback(True)
            return 0
        return sum(_email(fan, owed) for fan, owed in _owed(posts, now).items())


def _owed(posts: list[Post], now: datetime) -> dict[User, list[Post]]:
    by_creator: dict[int, list[Post]] = defaultdict(list)
    for post in posts:
        by_creator[post.creator_id].append(post)
    owed: dict[User, list[Post]] = defaultdict(list)
    # Candidates are the creators' members of any state; the ledger decides who reads what.
    members = Membership.objects.filter(tier__creator_id__in=by_creator).select_related(
        "fan", "tier__creator"
    )
    seen: set[tuple[int, int]] = set()
    for membership in members.order_by("pk"):
        fan, creator = membership.fan, membership.tier.creator
        if (fan.pk, creator.pk) in seen or not fan.email or not fan.is_active:
            continue
        seen.add((fan.pk, creator.pk))
        # A public post is anyone's to read, but only members are emailed about it.
        if opted_out(fan, creator) or not is_member(fan, creator, now).allowed:
            continue
        owed[fan].extend(p for p in by_creator[creator.pk] if may_read(fan, p, now).allowed)
    return {fan: listed for fan, listed in owed.items() if listed}


def _email(fan: User, posts: list[Post]) -> int:
    creators = {post.creator for post in posts}
    lines = [f"- {post.title} ({post.creator.display_name}): {post_url(post)}" for post in posts]
    noun = "post" if len(posts) == 1 else "posts"
    stop = [
        f"No more post emails from {creator.display_name}: "
        f"{settings.SITE_URL}/posts/emails/{opt_out_token(fan, creator)}/"
        for creator in sorted(creators, key=lambda c: c.pk)
    ]
    stop.append(
        f"No post emails from anyone: {settings.SITE_URL}/posts/emails/{opt_out_token(fan, None)}/"
    )
    body = "\n".join(
        [f"{len(posts)} new {noun} for you as a member:", "", *lines, "", *stop,
         f"Or choose on {settings.SITE_URL}/memberships/"]
    )  # fmt: skip
    queue_email(f"{len(posts)} new {noun} from creators you support", body, [fan.email])
    return 1
