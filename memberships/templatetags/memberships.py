"""``{% membership_tiers creator %}``: the creator's open tiers with Join on their page;
``{% content_members_form content %}``: the studio's choice of the tier a content is for."""

from __future__ import annotations

from typing import Any

from django import template

from creators.models import Creator
from memberships.models import MemberContent, Tier
from swarm.models import Content

register = template.Library()


@register.inclusion_tag("memberships/_tiers.html", takes_context=True)
def membership_tiers(context: template.Context, creator: Creator) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    return {
        "tiers": list(creator.tiers.filter(retired_at__isnull=True)),
        "user": user,
        "own": user is not None and user.is_authenticated and user.pk == creator.user_id,
        "next": request.path if request is not None else "/",
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("memberships/_content_members.html", takes_context=True)
def content_members_form(context: template.Context, content: Content) -> dict[str, Any]:
    """The studio's "for members" choice on a paid content's edit page: which tier (or higher)
    it is for, if any. Free content is open to everyone, so it has none."""
    marked = MemberContent.objects.filter(content=content).select_related("tier").first()
    tiers = list(Tier.objects.filter(creator_id=content.creator_id, retired_at__isnull=True))
    if marked is not None and marked.tier not in tiers:
        tiers.append(marked.tier)  # a retired tier it is still for stays shown as chosen
    return {
        "content": content,
        "tiers": tiers,
        "chosen": None if marked is None else marked.tier_id,
        "paid": content.access == Content.Access.PAID,
        "csrf_token": context.get("csrf_token"),
    }
