"""Creator operations: onboarding, profile changes, and a creator's own content in the studio.

Forms and the API both validate through the model (``full_clean``), so a bad handle or TRON
address is refused the same way on every path and nothing is saved.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import User
from creators.models import Creator
from payments.money import Amount
from purchases import services as purchases
from swarm import ingest
from swarm.models import Content

EDITABLE_FIELDS = ("display_name", "bio", "payout_address")


class AlreadyCreator(Exception):
    pass


@transaction.atomic
def become_creator(user: User, *, handle: str, display_name: str, payout_address: str,
                   bio: str = "", avatar: Any = None) -> Creator:  # fmt: skip
    """Give ``user`` a creator profile. Raises ``ValidationError`` or ``AlreadyCreator``."""
    if Creator.objects.filter(user=user).exists():
        raise AlreadyCreator(user.pk)
    creator = Creator(
        user=user,
        handle=handle.strip().lower(),
        display_name=display_name.strip(),
        payout_address=payout_address.strip(),
        bio=bio.strip(),
    )
    if avatar:
        creator.avatar = avatar
    creator.full_clean()
    creator.save()
    return creator


@transaction.atomic
def update_profile(creator: Creator, **changes: str) -> Creator:
    """Change editable fields of a profile. Raises ``ValidationError``; nothing is saved then."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    fresh = Creator.objects.select_for_update().get(pk=creator.pk)
    for field, value in changes.items():
        setattr(fresh, field, value.strip())
    fresh.full_clean()
    fresh.save(update_fields=[*changes])
    return fresh


# --- the studio: a creator's own content ------------------------------------------------------


def own_content(user: User, content_id: int) -> Content:
    """``user``'s content (staff included: no). Raises ``ingest.NotFound`` for anyone else's,
    so another creator or a fan learns nothing about it."""
    content = Content.objects.select_related("creator").filter(pk=content_id).first()
    if content is None or content.creator.user_id != user.pk:
        raise ingest.NotFound("No such content of yours.")
    return content


@transaction.atomic
def new_content(
    user: User,
    *,
    title: str,
    description: str = "",
    access: str = Content.Access.PAID,
    unlisted: bool = False,
    amount: Amount | None = None,
) -> Content:
    """A content in state ``uploading``, priced if paid. Raises ``ingest.Refused`` (not a
    creator), ``ValidationError``, ``payments.services.PaymentRefused``; nothing is saved then."""
    content = ingest.create_content(user, title=title, description=description, access=access)
    if unlisted:
        Content.objects.filter(pk=content.pk).update(unlisted=True)
        content.unlisted = True
    if amount is not None and access == Content.Access.PAID:
        purchases.set_content_price(user, content, amount)
    return content


@transaction.atomic
def update_content(
    user: User,
    content_id: int,
    *,
    title: str,
    description: str,
    access: str,
    unlisted: bool,
    cover: Any = None,
    amount: Amount | None = None,
) -> Content:
    """Change a content's details and price together, or nothing.

    ``cover``: an uploaded image, ``False`` to remove it, ``None`` to keep it. Access can change
    only while the content is still uploading: after that it is in the torrent. Raises
    ``ingest.NotFound``, ``ingest.Conflict``, ``ValidationError``,
    ``payments.services.PaymentRefused``.
    """
    own_content(user, content_id)  # 404 before any lock for anyone else's
    content = Content.objects.select_for_update().select_related("creator").get(pk=content_id)
    if access != content.access and content.state != Content.State.UPLOADING:
        raise ingest.Conflict("Access is fixed once the content is published.")
    old_cover = content.cover.name if content.cover else ""
    content.title = title.strip()
    content.description = description
    content.access = access
    content.unlisted = unlisted
    if cover is False:
        content.cover = None
    elif cover is not None:
        content.cover = cover
    content.full_clean(exclude=["name"])
    content.save()
    if amount is not None and access == Content.Access.PAID:
        purchases.set_content_price(user, content, amount)
    new_cover = content.cover.name if content.cover else ""
    if old_cover and old_cover != new_cover:
        # Only once the change is committed: a rollback must find the old file still there.
        storage = content.cover.storage
        transaction.on_commit(lambda: storage.delete(old_cover))
    return content
