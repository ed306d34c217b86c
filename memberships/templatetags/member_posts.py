"""``{% member_posts creator %}``: the creator's posts on their page, in full for who may read
each, else title, tier and the way to join (no text: a locked post's body never reaches the
HTML). ``{% post_email_choices %}``: the fan's post-email switches on the memberships page."""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings

from accounts.models import User
from creators.models import Creator
from memberships import posts
from memberships.models import Membership
from memberships.post_models import PostMailOptOut
from memberships.post_text import render

register = template.Library()


def _user(context: template.Context) -> User | None:
    request = context.get("request")
    user = getattr(request, "user", None)
    return user if isinstance(user, User) else None


@register.inclusion_tag("memberships/_posts.html", takes_context=True)
def member_posts(context: template.Context, creator: Creator) -> dict[str, Any]:
    listed = [
        {"post": item.post, "readable": item.readable,
         "body": render(item.post.body) if item.readable else ""}
        for item in posts.creator_posts(creator, _user(context))
    ]  # fmt: skip
    return {"listed": listed}


@register.inclusion_tag("memberships/_post_email_choices.html", takes_context=True)
def post_email_choices(context: template.Context) -> dict[str, Any]:
    user = _user(context)
    if user is None:
        return {"choices": [], "all_off": False}
    off = set(PostMailOptOut.objects.filter(fan=user).values_list("creator_id", flat=True))
    creators: dict[int, Creator] = {}
    for membership in Membership.objects.filter(fan=user).select_related("tier__creator"):
        creators.setdefault(membership.tier.creator_id, membership.tier.creator)
    return {
        "choices": [(c, c.pk not in off) for c in creators.values()],
        "all_off": None in off,
        "digest_minutes": settings.MEMBERSHIP_POST_DIGEST_MINUTES,
        "csrf_token": context.get("csrf_token"),
    }
