"""Members-only posts: writing, editing and deleting them (the creator), and who may read one.

Who may read a post now is the ledger's decision (``ledger.access.decide_standing``): a paid or
grace period of tier T grants the standing ``tier:T`` over its dates (``services.grant_period``),
so a post for tier X is readable by whoever holds the standing of X or of any tier that covers X
(``Tier.covers``: same creator, rank at least X's). Paid, grace, lapsed, cancelled-then-ended and
restored memberships therefore read posts exactly as they fetch member contents.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction

from accounts.models import User
from btt_platform import clock
from creators.models import Creator
from ledger.access import Access, decide_standing
from memberships.models import Tier
from memberships.post_models import Post
from memberships.services import tier_scope
from payments.errors import NotFound, PaymentRefused
from payments.webhooks.events import queue_event
from swarm.models import Content

# Reasons beside the ledger's, stable strings (asserted by tests).
PUBLIC = "public post"
OWN = "own post"
DELETED = "deleted"


def covering_tiers(tier: Tier) -> list[Tier]:
    """Tiers whose members read what is for ``tier`` (retired ones too: their members keep
    them to the end of what they paid)."""
    tiers = Tier.objects.filter(creator_id=tier.creator_id, rank__gte=tier.rank)
    return [t for t in tiers if t.covers(tier)]


def may_read(user: User | None, post: Post, now: datetime | None = None) -> Access:
    """Whether ``user`` (None: anonymous) may read ``post`` at ``now``, and why."""
    if post.deleted_at is not None:
        return Access(False, DELETED)
    if post.tier is None:
        return Access(True, PUBLIC)
    if user is not None and user.is_active and post.creator.user_id == user.pk:
        return Access(True, OWN)
    return decide_standing(user, [tier_scope(t) for t in covering_tiers(post.tier)], now)


def is_member(user: User, creator: Creator, now: datetime | None = None) -> Access:
    """Whether ``user`` holds any tier of ``creator`` now (whom a public post is emailed to)."""
    return decide_standing(user, [tier_scope(t) for t in creator.tiers.all()], now)


@dataclass(frozen=True)
class ListedPost:
    """A post as a listing shows it: in full when readable, else its title and tier only."""

    post: Post
    readable: bool


def creator_posts(creator: Creator, user: User | None) -> list[ListedPost]:
    posts = Post.objects.filter(creator=creator, deleted_at__isnull=True)
    now = clock.now()
    listed = posts.select_related("tier", "creator").prefetch_related("attachments")
    return [ListedPost(post, may_read(user, post, now).allowed) for post in listed]


def live_post(post_id: int) -> Post:
    """A post not deleted. Raises NotFound."""
    post = Post.objects.select_related("tier", "creator").filter(pk=post_id).first()
    if post is None or post.deleted_at is not None:
        raise NotFound("No such post.")
    return post


def own_post(user: User, post_id: int) -> Post:
    """The creator's own post, not deleted. Raises NotFound (another's, deleted, unknown)."""
    post = live_post(post_id)
    if post.creator.user_id != user.pk:
        raise NotFound("No such post.")
    return post


def _check(creator: Creator, tier: Tier | None, attachments: Iterable[Content]) -> list[Content]:
    if tier is not None and tier.creator_id != creator.pk:
        raise NotFound("No such tier.")
    chosen = list(attachments)
    if any(content.creator_id != creator.pk for content in chosen):
        raise NotFound("No such content.")
    if any(content.removed_at is not None for content in chosen):
        raise PaymentRefused("A content taken down cannot be attached.")
    return chosen


def publish_post(
    creator: Creator,
    *,
    title: str,
    body: str,
    tier: Tier | None,
    attachments: Iterable[Content] = (),
) -> Post:
    """Publish a post for members of ``tier`` or higher (None: everyone). Its members are
    emailed by the next digest (``post_mail.send_digests``), and the creator's webhooks told
    ``post.published``. Attaching a content grants nothing: it keeps its own access. Raises
    NotFound (another creator's tier or content), PaymentRefused (a content taken down)."""
    chosen = _check(creator, tier, attachments)
    with transaction.atomic():
        post = Post.objects.create(
            creator=creator, tier=tier, title=title, body=body, published_at=clock.now()
        )
        post.attachments.set(chosen)
        queue_event(creator.pk, "post.published", {"post": post_payload(post)})
    return post


def edit_post(
    post: Post,
    *,
    title: str,
    body: str,
    tier: Tier | None,
    attachments: Iterable[Content] = (),
) -> Post:
    """Change a post (no new email: its members were told when it appeared). Raises as
    ``publish_post``."""
    chosen = _check(post.creator, tier, attachments)
    with transaction.atomic():
        post.title, post.body, post.tier, post.edited_at = title, body, tier, clock.now()
        post.save(update_fields=["title", "body", "tier", "edited_at"])
        post.attachments.set(chosen)
    return post


def delete_post(post: Post) -> None:
    """Soft delete: gone from every listing and door. Safe to call twice."""
    now = clock.now()
    if Post.objects.filter(pk=post.pk, deleted_at__isnull=True).update(deleted_at=now):
        post.deleted_at = now


def post_url(post: Post) -> str:
    return f"{settings.SITE_URL}/posts/{post.pk}/"


def post_payload(post: Post) -> dict[str, object]:
    """What a webhook says of a post: never its text (a receiver may show it publicly)."""
    tier = post.tier
    return {
        "id": post.pk,
        "title": post.title,
        "tier": None if tier is None else {"id": tier.pk, "name": tier.name, "rank": tier.rank},
        "published_at": post.published_at.isoformat(),
        "url": post_url(post),
    }
