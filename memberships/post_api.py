"""Posts in the JSON API: a creator's posts and one post, with the same visibility as the pages
(a post the caller may not read comes with its title and tier, never its text), and the
studio's posts (write, edit, delete)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.security import django_auth

from accounts.http import AuthenticatedHttpRequest
from accounts.models import User
from btt_platform.api import PersonalTokenAuth
from creators.models import Creator
from memberships import posts
from memberships.models import Tier
from memberships.post_models import Post
from memberships.post_text import render
from payments.api import Error
from payments.errors import NotFound
from swarm.models import Content

router = Router(tags=["posts"])


def _anyone(request: HttpRequest) -> bool:
    return True  # signed-out readers see public posts and the titles of the others


# A token or a session when given, else anonymous (tried in order; the last always passes).
OPTIONAL = [PersonalTokenAuth(), django_auth, _anyone]


class TierRef(Schema):
    id: int
    name: str
    rank: int


class PostOut(Schema):
    id: int
    creator: str
    title: str
    tier: TierRef | None = Field(description="null: public")
    published_at: str
    edited_at: str | None
    readable: bool
    text: str | None = Field(description="the text as written; null unless readable")
    html: str | None = Field(description="the text rendered (escaped); null unless readable")
    attachments: list[int] | None = Field(description="content ids; null unless readable")


class PostIn(Schema):
    title: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=20000)
    tier_id: int | None = Field(None, description="null: public")
    attachments: list[int] = Field(default_factory=list, description="your content ids")


def _viewer(request: HttpRequest) -> User | None:
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, User) and auth.is_active else None


def post_out(post: Post, readable: bool) -> dict[str, Any]:
    tier = post.tier
    return {
        "id": post.pk,
        "creator": post.creator.handle,
        "title": post.title,
        "tier": None if tier is None else {"id": tier.pk, "name": tier.name, "rank": tier.rank},
        "published_at": post.published_at.isoformat(),
        "edited_at": post.edited_at.isoformat() if post.edited_at else None,
        "readable": readable,
        "text": post.body if readable else None,
        "html": str(render(post.body)) if readable else None,
        "attachments": [c.pk for c in post.attachments.all()] if readable else None,
    }


@router.get("/creators/{handle}/posts", response={200: list[PostOut], 404: Error}, auth=OPTIONAL)
def creator_posts(request: HttpRequest, handle: str) -> tuple[int, Any]:
    """A creator's posts, newest first: in full where the caller may read them."""
    creator = Creator.objects.filter(handle=handle, user__is_active=True).first()
    if creator is None:
        return 404, {"detail": "No such creator."}
    listed = posts.creator_posts(creator, _viewer(request))
    return 200, [post_out(item.post, item.readable) for item in listed]


@router.get("/posts/{post_id}", response={200: PostOut, 403: PostOut, 404: Error}, auth=OPTIONAL)
def read_post(request: HttpRequest, post_id: int) -> tuple[int, Any]:
    """One post: 200 in full, or 403 with its title and the tier it needs."""
    post = posts.live_post(post_id)
    readable = posts.may_read(_viewer(request), post).allowed
    return (200 if readable else 403), post_out(post, readable)


def _creator(request: AuthenticatedHttpRequest) -> Creator:
    creator = Creator.objects.filter(user=request.user).first()
    if creator is None:
        raise NotFound("You are not a creator.")
    return creator


def _fields(creator: Creator, payload: PostIn) -> dict[str, Any]:
    tier = None
    if payload.tier_id is not None:
        tier = Tier.objects.filter(pk=payload.tier_id, creator=creator).first()
        if tier is None:
            raise NotFound("No such tier.")
    attachments = list(Content.objects.filter(pk__in=payload.attachments, creator=creator))
    if len(attachments) != len(set(payload.attachments)):
        raise NotFound("No such content.")
    return {"title": payload.title, "body": payload.text, "tier": tier, "attachments": attachments}


@router.get("/studio/posts", response={200: list[PostOut], 404: Error})
def studio_posts(request: AuthenticatedHttpRequest) -> tuple[int, Any]:
    creator = _creator(request)
    mine = Post.objects.filter(creator=creator, deleted_at__isnull=True).select_related("tier")
    return 200, [post_out(post, True) for post in mine]


@router.post("/studio/posts", response={201: PostOut, 404: Error, 409: Error})
def create_post(request: AuthenticatedHttpRequest, payload: PostIn) -> tuple[int, Any]:
    """Publish a post; its members are emailed in the next digest."""
    creator = _creator(request)
    return 201, post_out(posts.publish_post(creator, **_fields(creator, payload)), True)


@router.put("/studio/posts/{post_id}", response={200: PostOut, 404: Error, 409: Error})
def update_post(
    request: AuthenticatedHttpRequest, post_id: int, payload: PostIn
) -> tuple[int, Any]:
    post = posts.own_post(request.user, post_id)
    return 200, post_out(posts.edit_post(post, **_fields(post.creator, payload)), True)


@router.delete("/studio/posts/{post_id}", response={204: None, 404: Error})
def delete_post(request: AuthenticatedHttpRequest, post_id: int) -> tuple[int, None]:
    posts.delete_post(posts.own_post(request.user, post_id))
    return 204, None
