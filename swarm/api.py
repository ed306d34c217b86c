"""Contents in the JSON API: create, list, detail, publish, and per-user .torrent and magnet.

Paid contents have no magnet (``magnet`` is null): their torrents are private, and no client
serves a private torrent's metadata, so a magnet of one never starts. Their .torrent is the way.

Files are uploaded with tus at /api/v1/uploads (``swarm.uploads``), naming the content in the
upload's metadata; ``POST /contents/{id}/publish`` then turns the finished uploads into the
content's files and queues the hashing. The content's ``state`` tells the rest.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from typing import Annotated, Any, Literal

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Field, Router, Schema
from ninja.errors import AuthenticationError
from typing_extensions import TypedDict

from accounts.http import AuthenticatedHttpRequest
from accounts.models import User
from accounts.services import authenticate_token
from ledger import access
from swarm import contents as content_services
from swarm import publishing, torrents
from swarm.models import Content, ContentFile, Upload, cover_url
from swarm.uploads import UPLOAD_URL_NAME

router = Router(tags=["contents"])

PUBLISHED = (Content.State.SEEDING, Content.State.UNHEALTHY)


class ContentIn(Schema):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=10_000)
    access: Literal["free", "paid"] = "paid"
    hybrid: bool | None = Field(
        None, description="v1+v2 torrent; default v1-only (what every client reads)"
    )


# The output shapes are TypedDicts, not ninja Schemas: ninja wraps every Schema it validates
# in a getter meant for model instances, a Python call per field that made the list of 100
# contents spend more CPU on validation than on everything else. pydantic validates these in
# its core, and the OpenAPI schema is the same.
class FileOut(TypedDict):
    path: Annotated[
        str, Field(description="ASCII-safe path in the torrent (below its name if a bundle)")
    ]
    original_name: str
    size: int


class UploadOut(TypedDict):
    id: uuid.UUID
    path: str
    original_name: str
    length: int
    offset: int
    url: str


class ContentOut(TypedDict):
    id: int
    creator: str
    title: str
    description: str
    access: str
    state: Annotated[
        str, Field(description="uploading, hashing, seeding, unhealthy, failed or removed")
    ]
    name: str
    total_size: int
    hybrid: bool
    piece_length: int | None
    infohash: str | None
    hash_progress: float
    created_at: datetime
    published_at: datetime | None
    unlisted: Annotated[
        bool, Field(description="reachable by its link, left off the creator's page")
    ]
    cover_url: Annotated[
        str, Field(description="the cover image's path on this site, '' without one")
    ]
    files: list[FileOut]
    # For the content's creator (and staff) only; null for everyone else.
    state_detail: str | None
    uploads: list[UploadOut] | None


class Error(Schema):
    detail: str


class Removed(Schema):
    """A content staff took down (410 Gone): the public reason and when, for pages left open."""

    detail: str
    code: Literal["removed"] = "removed"
    reason: str
    removed_at: datetime | None


def removed_answer(content: Content) -> tuple[int, dict[str, Any]]:
    """410 with the takedown's public reason (the one the content page and tracker show)."""
    reason = content.state_detail or "no reason was given"
    return 410, {
        "detail": f"Removed by the platform's moderators: {reason}",
        "code": "removed",
        "reason": reason,
        "removed_at": content.removed_at,
    }


class MagnetOut(Schema):
    magnet: str | None = Field(
        description="null for paid content: a private torrent's details cannot be fetched from "
        "a magnet link by any client, so paid downloads use the .torrent file"
    )


def _viewer(request: HttpRequest) -> User | None:
    """The user of a request on a public route: a token's, the session's, or None."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        user = authenticate_token(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise AuthenticationError(401, "Invalid or revoked API token.")
        return user
    user = getattr(request, "user", None)
    return user if isinstance(user, User) and user.is_active else None


def _is_owner(user: User | None, content: Content) -> bool:
    return user is not None and (content.creator.user_id == user.pk or user.is_staff)


_ROW = (
    "id", "creator__handle", "title", "description", "access", "state", "name", "total_size",
    "hybrid", "piece_length", "infohash", "hash_progress", "created_at", "published_at",
    "unlisted", "cover", "state_detail",
)  # fmt: skip


def _contents_out(
    request: HttpRequest, contents: QuerySet[Content], full: bool
) -> list[ContentOut]:
    """The contents of a query as the API shows them, in two or three queries whatever their
    number: rows as plain values, not models (the list of 100 is the API's busiest answer)."""
    rows = list(contents.values(*_ROW))
    # The same contents as a subquery, not a list of ids: a hundred ids were a hundred
    # parameters to adapt, in Python, on each side of the driver.
    ids = contents.values("pk")
    files: dict[int, list[FileOut]] = defaultdict(list)
    # In their position order, as in the torrent (not by the content's ordering: a join).
    for content_id, path, original_name, size in (
        ContentFile.objects.filter(content__in=ids)
        .order_by("content_id", "position")
        .values_list("content_id", "path", "original_name", "size")
    ):
        files[content_id].append(FileOut(path=path, original_name=original_name, size=size))
    uploads: dict[int, list[UploadOut]] = defaultdict(list)
    if full:
        for content_id, pk, path, original_name, length, offset in (
            Upload.objects.filter(content__in=ids)
            .order_by("content_id", "position")
            .values_list("content_id", "id", "path", "original_name", "length", "offset")
        ):
            url = request.build_absolute_uri(reverse(UPLOAD_URL_NAME, args=[pk]))
            uploads[content_id].append(
                UploadOut(
                    id=pk,
                    path=path,
                    original_name=original_name,
                    length=length,
                    offset=offset,
                    url=url,
                )
            )
    return [
        ContentOut(
            id=row["id"],
            creator=row["creator__handle"],
            title=row["title"],
            description=row["description"],
            access=row["access"],
            state=row["state"],
            name=row["name"],
            total_size=row["total_size"],
            hybrid=row["hybrid"],
            piece_length=row["piece_length"],
            infohash=row["infohash"],
            hash_progress=row["hash_progress"],
            created_at=row["created_at"],
            published_at=row["published_at"],
            unlisted=row["unlisted"],
            cover_url=cover_url(row["id"], row["cover"]),
            files=files[row["id"]],
            state_detail=row["state_detail"] if full else None,
            uploads=uploads[row["id"]] if full else None,
        )
        for row in rows
    ]


def _content_out(request: HttpRequest, content: Content, full: bool) -> ContentOut:
    """One content as the API shows it, read again as the list reads it (after a change made
    through ``content``, the answer is what is stored)."""
    return _contents_out(request, Content.objects.filter(pk=content.pk), full)[0]


def _visible(user: User | None, content_id: int) -> Content | None:
    """The content if ``user`` may know it exists: published, or theirs (or staff)."""
    content = Content.objects.select_related("creator").filter(pk=content_id).first()
    if content is None or (content.state not in PUBLISHED and not _is_owner(user, content)):
        return None
    return content


@router.post("", response={201: ContentOut, 403: Error})
def create_content(request: AuthenticatedHttpRequest, payload: ContentIn) -> tuple[int, Any]:
    """A new content in state ``uploading``; upload its files next (tus, /api/v1/uploads)."""
    content = content_services.create_content(request.user, **payload.dict())
    return 201, _content_out(request, content, full=True)


class ContentPage(TypedDict):
    items: list[ContentOut]
    count: int


@router.get("", response=ContentPage)
def list_contents(
    request: AuthenticatedHttpRequest, limit: int = 100, offset: int = 0
) -> ContentPage:
    """Your own contents, newest first; ``limit`` at most 100."""
    limit, offset = min(max(limit, 1), 100), max(offset, 0)
    mine = Content.objects.filter(creator__user=request.user)
    items = _contents_out(request, mine[offset : offset + limit], full=True)
    return ContentPage(items=items, count=mine.count())


@router.get("/{content_id}", response={200: ContentOut, 404: Error, 410: Removed}, auth=None)
def content_detail(request: HttpRequest, content_id: int) -> tuple[int, Any]:
    """Public for published content; with state detail and uploads for its creator. A content
    taken down answers 410 with the public reason (its creator and staff still see it)."""
    viewer = _viewer(request)
    content = _visible(viewer, content_id)
    if content is None:
        return _missing(content_id)
    return 200, _content_out(request, content, full=_is_owner(viewer, content))


@router.post(
    "/{content_id}/publish", response={202: ContentOut, 404: Error, 409: Error, 500: Error}
)
def publish(request: AuthenticatedHttpRequest, content_id: int) -> tuple[int, Any]:
    """Publish the finished uploads: state ``hashing`` now, ``seeding`` once hashed.

    All or nothing: when it fails, the content stays ``uploading`` with its uploads.
    """
    try:
        content = publishing.publish_content(request.user, content_id)
    except OSError as error:
        reason = error.strerror or str(error)
        return 500, {"detail": f"Publishing failed, nothing was published: {reason}."}
    return 202, _content_out(request, content, full=True)


def _missing(content_id: int) -> tuple[int, dict[str, Any]]:
    """404, or 410 with the reason for a content taken down: the reason is public already (the
    content page shows it), and a fan's page left open must say why the download stopped."""
    removed = Content.objects.filter(pk=content_id, state=Content.State.REMOVED).first()
    if removed is not None:
        return removed_answer(removed)
    return 404, {"detail": "No such content."}


def _downloadable(
    request: AuthenticatedHttpRequest, content_id: int
) -> Content | tuple[int, dict[str, Any]]:
    user = request.user
    content = _visible(user, content_id)
    if content is None or content.state == Content.State.REMOVED:
        # Taken down: its creator (and staff) are refused like everyone else, by the reason.
        return _missing(content_id)
    if content.metainfo is None:
        return 409, {"detail": f"Not published yet: the content is {content.state}."}
    if not access.decide_for_use(user, content):
        return 403, {"detail": "You have no access to this content; buy it first."}
    return content


@router.get(
    "/{content_id}/torrent",
    response={200: None, 403: Error, 404: Error, 409: Error, 410: Removed},
    openapi_extra={
        "responses": {200: {"content": {"application/x-bittorrent": {}}, "description": "OK"}}
    },
)
def torrent_file(
    request: AuthenticatedHttpRequest, content_id: int
) -> HttpResponse | tuple[int, Any]:
    """Your .torrent: your passkey in the announce URL and your web-seed URL."""
    content = _downloadable(request, content_id)
    if not isinstance(content, Content):
        return content
    response = HttpResponse(
        torrents.personal_metainfo(content, request.user),
        content_type="application/x-bittorrent",
    )
    response["Content-Disposition"] = f'attachment; filename="{content.name}.torrent"'
    # It holds the user's passkey: never cached by anyone.
    response["Cache-Control"] = "private, no-store"
    return response


@router.get(
    "/{content_id}/magnet",
    response={200: MagnetOut, 403: Error, 404: Error, 409: Error, 410: Removed},
)
def magnet(request: AuthenticatedHttpRequest, content_id: int) -> tuple[int, Any]:
    """Your magnet link: infohash, name, your tracker URL and your web seed (``ws``).

    Null for paid content: use its .torrent (see ``MagnetOut``)."""
    content = _downloadable(request, content_id)
    if not isinstance(content, Content):
        return content
    if content.is_private:
        return 200, {"magnet": None}
    return 200, {"magnet": torrents.magnet_uri(content, request.user)}
