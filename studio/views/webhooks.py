"""The studio's webhook settings, on top of ``payments.webhooks``: add, delete, switch, resume,
rotate the secret, and the deliveries of each."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.http import AuthenticatedHttpRequest
from creators.access import creator_required
from creators.models import Creator
from payments.models import Webhook, WebhookDelivery, every_webhook_event
from payments.webhooks import errors as webhook_errors
from payments.webhooks import services as payment_webhooks
from studio.forms import WebhookForm


def _webhooks_page(
    request: HttpRequest,
    creator: Creator,
    form: WebhookForm,
    new_secret: tuple[Webhook, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    own = list(Webhook.objects.filter(creator=creator).order_by("created_at", "pk"))
    return render(
        request,
        "creators/studio/webhooks.html",
        {"form": form, "webhooks": own, "new_secret": new_secret},
        status=status,
    )


@creator_required
def webhooks_page(request: AuthenticatedHttpRequest, creator: Creator) -> HttpResponse:
    form = WebhookForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            webhook = payment_webhooks.create_webhook(
                request.user, data["url"], data["events"], data["description"]
            )
        except webhook_errors.WebhookRefused as error:
            form.add_error("url" if error.status == 422 else None, error.message)
        else:
            messages.success(request, "Webhook added. Copy its secret now: it is shown once.")
            # Rendered, not redirected: the secret must not sit in the session or a URL.
            return _webhooks_page(
                request, creator, WebhookForm(), new_secret=(webhook, webhook.secret)
            )
    return _webhooks_page(request, creator, form, status=400 if form.errors else 200)


def _webhook_action(
    request: AuthenticatedHttpRequest, creator: Creator, webhook_id: int, action: str
) -> HttpResponse:
    user = request.user
    try:
        if action == "delete":
            payment_webhooks.delete_webhook(user, webhook_id)
            messages.success(request, "Webhook deleted.")
        elif action == "resume":
            payment_webhooks.resume_webhook(user, webhook_id)
            messages.success(request, "Webhook resumed: its waiting deliveries go out now.")
        elif action == "rotate":
            webhook = payment_webhooks.rotate_secret(user, webhook_id)
            messages.success(request, "New secret made; the old one no longer signs anything.")
            return _webhooks_page(request, creator, WebhookForm(), (webhook, webhook.secret))
        else:
            current = payment_webhooks.webhook_of(user, webhook_id)
            payment_webhooks.update_webhook(user, webhook_id, active=not current.active)
            messages.success(request, "Webhook switched " + ("off." if current.active else "on."))
    except webhook_errors.NotFound:
        raise Http404("No such webhook of yours.") from None
    return redirect("studio-webhooks")


@require_POST
@creator_required
def webhook_delete(
    request: AuthenticatedHttpRequest, creator: Creator, webhook_id: int
) -> HttpResponse:
    return _webhook_action(request, creator, webhook_id, "delete")


@require_POST
@creator_required
def webhook_rotate(
    request: AuthenticatedHttpRequest, creator: Creator, webhook_id: int
) -> HttpResponse:
    return _webhook_action(request, creator, webhook_id, "rotate")


@require_POST
@creator_required
def webhook_toggle(
    request: AuthenticatedHttpRequest, creator: Creator, webhook_id: int
) -> HttpResponse:
    return _webhook_action(request, creator, webhook_id, "toggle")


@require_POST
@creator_required
def webhook_resume(
    request: AuthenticatedHttpRequest, creator: Creator, webhook_id: int
) -> HttpResponse:
    return _webhook_action(request, creator, webhook_id, "resume")


@creator_required
def webhook_deliveries(
    request: AuthenticatedHttpRequest, creator: Creator, webhook_id: int
) -> HttpResponse:
    """A webhook's deliveries, newest first, a page at a time, filtered by state and event."""
    state = request.GET.get("state", "")
    event = request.GET.get("event", "")
    try:
        webhook = payment_webhooks.webhook_of(request.user, webhook_id)
        deliveries = payment_webhooks.deliveries_of(
            request.user, webhook_id, state=state, event=event
        )
    except webhook_errors.NotFound:
        raise Http404("No such webhook of yours.") from None
    except webhook_errors.WebhookRefused as error:
        return HttpResponseBadRequest(error.message)
    page = Paginator(deliveries, payment_webhooks.RECENT_DELIVERIES).get_page(
        request.GET.get("page")
    )
    filters = request.GET.copy()
    filters.pop("page", None)
    return render(
        request,
        "creators/studio/webhook_deliveries.html",
        {
            "webhook": webhook,
            "page": page,
            "state": state,
            "event": event,
            "states": [value for value, _ in WebhookDelivery.State.choices],
            "events": [*every_webhook_event(), WebhookDelivery.PING],
            "filters": filters.urlencode(),
        },
    )
