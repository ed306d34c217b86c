"""``{% tip_box creator %}``: the tip form on a creator's or a content's page."""

from __future__ import annotations

from typing import Any

from django import template

from creators.models import Creator
from support import services
from support.campaigns import open_campaigns
from support.forms import TipForm
from swarm.models import Content

register = template.Library()


@register.inclusion_tag("support/_tip_box.html", takes_context=True)
def tip_box(
    context: template.Context,
    creator: Creator,
    content: Content | None = None,
    live: bool = False,
    form: TipForm | None = None,
) -> dict[str, Any]:
    """``form``: a bound form to show again with its errors (the live page after a refusal)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    minimum = services.tip_settings_to_show(creator).minimum
    if form is None:
        initial = {"content": content.pk if content else None, "live": live}
        form = TipForm(initial=initial, minimum=minimum)
    return {
        "creator": creator,
        "form": form,
        "minimum": minimum,
        "user": user,
        "own": user is not None and user.is_authenticated and user.pk == creator.user_id,
        "next": request.path if request is not None else "/",
        "csrf_token": context.get("csrf_token"),
        "session": None if live else services.current_session(creator),
        "campaigns": [] if content or live else list(open_campaigns(creator)),
    }
