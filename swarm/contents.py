"""A creator's contents: making one, finding one's own, and how content operations refuse.

The life of a content: ``create_content`` (state uploading) -> its files uploaded
(``swarm.uploads_store``, spoken through tus by ``swarm.uploads``) -> ``publishing`` (files into
``CONTENT_ROOT/<id>/``, state hashing) -> ``hashing`` in the worker (state seeding, or failed
with a reason). The engine picks up what is seeding.

Every one of those steps refuses with a ``Refused`` (``btt_platform.errors``): an HTTP status
and a message for the user, which the tus server, the API and the studio pass on as they are.
"""

from __future__ import annotations

from django.conf import settings

from accounts.models import User
from btt_platform.errors import Refused
from creators.models import Creator
from swarm.models import Content

# --- errors ----------------------------------------------------------------------------------


class NotCreator(Refused):
    status = 403


class NotFound(Refused):
    status = 404


class Gone(Refused):
    status = 410


class Conflict(Refused):
    status = 409


class TooLarge(Refused):
    status = 413


class Locked(Refused):
    status = 423


# --- contents --------------------------------------------------------------------------------


def creator_of(user: User) -> Creator:
    creator = Creator.objects.filter(user=user).first()
    if creator is None or not user.is_active:
        raise NotCreator(
            "Only creators can upload content: set up a creator profile first "
            "(POST /api/v1/creators/me)."
        )
    return creator


def create_content(
    user: User, title: str, description: str = "", access: str = "paid", hybrid: bool | None = None
) -> Content:
    creator = creator_of(user)
    content = Content(
        creator=creator,
        title=title.strip(),
        description=description,
        access=access,
        hybrid=settings.TORRENT_HYBRID_DEFAULT if hybrid is None else hybrid,
    )
    content.full_clean(exclude=["name"])
    content.save()
    return content


def own_content(user: User, content_id: int, *, for_update: bool = False) -> Content:
    queryset = Content.objects.select_related("creator")
    if for_update:
        queryset = queryset.select_for_update()
    content = queryset.filter(pk=content_id, creator__user=user).first()
    if content is None:
        raise NotFound("No such content of yours.")
    return content
