"""Creator operations: onboarding and profile changes (a creator's own content is
``studio.services``).

Forms and the API both validate through the model (``full_clean``), so a bad handle or TRON
address is refused the same way on every path and nothing is saved.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import User
from btt_platform.errors import Refused
from creators.models import Creator

EDITABLE_FIELDS = ("display_name", "bio", "payout_address")


class AlreadyCreator(Refused):
    status = 409


@transaction.atomic
def become_creator(user: User, *, handle: str, display_name: str, payout_address: str,
                   bio: str = "", avatar: Any = None) -> Creator:  # fmt: skip
    """Give ``user`` a creator profile. Raises ``ValidationError`` or ``AlreadyCreator``."""
    if Creator.objects.filter(user=user).exists():
        raise AlreadyCreator("You already have a creator profile.")
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
