"""A creator's own content in the studio: creating it, and changing its details and price
together. Onboarding and profiles are ``creators.services``."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import User
from payments.money import Amount
from purchases import rentals
from purchases import services as purchases
from purchases.rentals import RentalOffer
from swarm import contents
from swarm.models import Content


def own_content(user: User, content_id: int) -> Content:
    """``user``'s content (staff included: no). Raises ``contents.NotFound`` for anyone else's,
    so another creator or a fan learns nothing about it."""
    content = Content.objects.select_related("creator").filter(pk=content_id).first()
    if content is None or content.creator.user_id != user.pk:
        raise contents.NotFound("No such content of yours.")
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
    """A content in state ``uploading``, priced if paid. Raises ``swarm.contents.NotCreator`` (not a
    creator), ``ValidationError``, ``payments.errors.PaymentRefused``; nothing is saved then."""
    content = contents.create_content(user, title=title, description=description, access=access)
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
    rental: RentalOffer | None = None,
) -> Content:
    """Change a content's details, price and rental terms (None: not for rent) together, or
    nothing.

    ``cover``: an uploaded image, ``False`` to remove it, ``None`` to keep it. Access can change
    only while the content is still uploading: after that it is in the torrent. Raises
    ``contents.NotFound``, ``contents.Conflict``, ``ValidationError``,
    ``payments.errors.PaymentRefused``.
    """
    own_content(user, content_id)  # 404 before any lock for anyone else's
    content = Content.objects.select_for_update().select_related("creator").get(pk=content_id)
    if access != content.access and content.state != Content.State.UPLOADING:
        raise contents.Conflict("Access is fixed once the content is published.")
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
    if access == Content.Access.PAID:
        rentals.offer_for_rent(user, content, rental)
    new_cover = content.cover.name if content.cover else ""
    if old_cover and old_cover != new_cover:
        # Only once the change is committed: a rollback must find the old file still there.
        storage = content.cover.storage
        transaction.on_commit(lambda: storage.delete(old_cover))
    return content
