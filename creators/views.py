from __future__ import annotations

import csv
import functools
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Concatenate, ParamSpec, TypeVar

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import User
from creators import reports, services
from creators.forms import (
    ContentDetailsForm,
    CreatorProfileEditForm,
    CreatorProfileForm,
    NewContentForm,
    WebhookForm,
)
from creators.models import Creator
from payments import webhooks as payment_webhooks
from payments.models import (
    ContentPrice,
    Invoice,
    Webhook,
    WebhookDelivery,
    every_webhook_event,
)
from payments.money import Amount
from payments.services import PaymentRefused
from purchases.services import price_of
from swarm import ingest, webseed
from swarm.models import Content

P = ParamSpec("P")
R = TypeVar("R", bound=HttpResponseBase)
CREATOR_PAGE_SIZE = 24
LATE_SHOWN = 50  # late payments listed for review; more wait until these are handled


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # behind login_required
    return request.user


def home(request: HttpRequest) -> HttpResponse:
    creators = Creator.objects.select_related("user").filter(user__is_active=True)
    return render(request, "creators/home.html", {"creators": creators})


def creator_page(request: HttpRequest, handle: str) -> HttpResponse:
    creator = get_object_or_404(Creator, handle=handle.lower(), user__is_active=True)
    contents = (
        Content.objects.listed()
        .filter(creator=creator)
        .select_related("price")
        .order_by("-published_at", "-pk")
    )
    page = Paginator(contents, CREATOR_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "creators/creator_page.html", {"creator": creator, "page": page})


@login_required
def become_creator(request: HttpRequest) -> HttpResponse:
    if Creator.objects.filter(user=_user(request)).exists():
        return redirect("creator-profile")
    form = CreatorProfileForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        creator = services.become_creator(_user(request), **form.cleaned_data)
        messages.success(request, f"You are now a creator: your page is @{creator.handle}.")
        return redirect("creator", handle=creator.handle)
    return render(request, "creators/become_creator.html", {"form": form})


@login_required
def edit_profile(request: HttpRequest) -> HttpResponse:
    creator = Creator.objects.filter(user=_user(request)).first()
    if creator is None:
        return redirect("become-creator")
    form = CreatorProfileEditForm(request.POST or None, request.FILES or None, instance=creator)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Profile saved.")
        return redirect("creator-profile")
    return render(request, "creators/edit_profile.html", {"form": form, "creator": creator})


# --- the studio: a creator's own pages ---------------------------------------------------------


def _creator(request: HttpRequest) -> Creator | None:
    return Creator.objects.filter(user=_user(request)).first()


def creator_required(
    view: Callable[Concatenate[HttpRequest, Creator, P], R],
) -> Callable[Concatenate[HttpRequest, P], R | HttpResponse]:
    """Logged in and a creator; anyone else gets a 403 page that says how to become one."""

    def wrapper(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> R | HttpResponse:
        creator = _creator(request)
        if creator is None:
            return render(request, "creators/studio/not_creator.html", status=403)
        return view(request, creator, *args, **kwargs)

    functools.update_wrapper(wrapper, view)
    return login_required(wrapper)


def _own_content_or_404(request: HttpRequest, content_id: int) -> Content:
    try:
        return services.own_content(_user(request), content_id)
    except ingest.NotFound:
        raise Http404("No such content of yours.") from None


def _price_map(contents: list[Content]) -> dict[int, Amount]:
    prices = ContentPrice.objects.filter(content__in=contents)
    return {price.content_id: price.amount for price in prices}


@creator_required
def dashboard(request: HttpRequest, creator: Creator) -> HttpResponse:
    totals = reports.totals_by_kind(creator)
    dates, series = reports.earnings_by_day(creator)
    chart = {
        "labels": [day.isoformat() for day in dates],
        # Exact decimal strings; the chart script turns them into numbers only to draw them.
        "series": [
            {"token": token.value, "values": [amount.decimal_string() for amount in amounts]}
            for token, amounts in series.items()
        ],
    }
    recent = list(reports.sales(creator)[:5])
    contents = Content.objects.filter(creator=creator)
    return render(
        request,
        "creators/studio/dashboard.html",
        {
            "creator": creator,
            "sales": totals[Invoice.Kind.PURCHASE],
            "tips": totals[Invoice.Kind.TIP],
            "pledges": totals[Invoice.Kind.PLEDGE],
            "chart": chart,
            "has_earnings": bool(series),
            "earnings_days": reports.EARNINGS_DAYS,
            "earnings_rows": [
                (day, [amounts[i] for amounts in series.values()]) for i, day in enumerate(dates)
            ],
            "earnings_tokens": list(series),
            "swarm": reports.swarm_totals(creator),
            "recent_sales": recent,
            "content_count": contents.count(),
            "uploading_count": contents.filter(state=Content.State.UPLOADING).count(),
        },
    )


@creator_required
def content_list(request: HttpRequest, creator: Creator) -> HttpResponse:
    contents = list(Content.objects.filter(creator=creator).order_by("-created_at"))
    prices = _price_map(contents)
    sold: dict[int, int] = dict(
        reports.settled(creator, Invoice.Kind.PURCHASE)
        .values("content_id")
        .annotate(n=Count("pk"))
        .values_list("content_id", "n")
    )
    rows = [(content, prices.get(content.pk), sold.get(content.pk, 0)) for content in contents]
    return render(request, "creators/studio/content_list.html", {"rows": rows})


@creator_required
def new_content(request: HttpRequest, creator: Creator) -> HttpResponse:
    form = NewContentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            content = services.new_content(
                _user(request),
                title=data["title"],
                description=data["description"],
                access=data["access"],
                unlisted=data["unlisted"],
                amount=data["amount"],
            )
        except (ingest.Refused, PaymentRefused) as error:
            form.add_error(None, error.message)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return redirect("studio-upload", content_id=content.pk)
    return render(request, "creators/studio/new_content.html", {"form": form})


@creator_required
def content_edit(request: HttpRequest, creator: Creator, content_id: int) -> HttpResponse:
    content = _own_content_or_404(request, content_id)
    locked = content.state != Content.State.UPLOADING
    form = ContentDetailsForm(
        request.POST or None, request.FILES or None, instance=content, access_locked=locked
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.update_content(
                _user(request),
                content.pk,
                title=data["title"],
                description=data["description"],
                access=data["access"],
                unlisted=data["unlisted"],
                cover=data["cover"] if "cover" in form.changed_data else None,
                amount=data["amount"],
            )
        except (ingest.Refused, PaymentRefused) as error:
            form.add_error(None, error.message)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Saved.")
            return redirect("studio-content", content_id=content.pk)
        content.refresh_from_db()
    return render(
        request,
        "creators/studio/content_edit.html",
        {
            "content": content,
            "form": form,
            "price": price_of(content),
            "files": list(content.files.all()),
            "webseed_bytes": webseed.bytes_served([content.pk]).get(content.pk, 0),
            "public_url": _public_url(content),
        },
    )


def _public_url(content: Content) -> str | None:
    """Where fans see the content, once the fan pages name such a route."""
    try:
        return reverse("content-page", args=[content.pk])
    except NoReverseMatch:
        return None


@creator_required
def content_upload(request: HttpRequest, creator: Creator, content_id: int) -> HttpResponse:
    content = _own_content_or_404(request, content_id)
    uploads = list(content.uploads.order_by("position"))
    return render(
        request,
        "creators/studio/upload.html",
        {
            "content": content,
            "uploads": uploads,
            "files": list(content.files.all()),
            "price": price_of(content),
            "max_bytes": settings.UPLOAD_MAX_BYTES,
        },
    )


@require_POST
@creator_required
def content_publish(request: HttpRequest, creator: Creator, content_id: int) -> HttpResponse:
    """The upload page's Publish without scripts (with scripts it calls the JSON API)."""
    content = _own_content_or_404(request, content_id)
    try:
        ingest.publish_content(_user(request), content.pk)
    except ingest.Refused as error:
        messages.error(request, error.message)
    except OSError as error:
        messages.error(request, f"Publishing failed, nothing was published: {error.strerror}.")
    return redirect("studio-upload", content_id=content.pk)


@creator_required
def content_stats(request: HttpRequest, creator: Creator, content_id: int) -> HttpResponse:
    """The swarm panel's numbers (the socket brings the engine's every second; this also has
    the web seed's, and is the fallback when the socket is down)."""
    content = _own_content_or_404(request, content_id)
    return JsonResponse(
        {
            "state": content.state,
            "hash_progress": content.hash_progress,
            "state_detail": content.state_detail,
            "peers": content.peers,
            "seeds": content.seeds,
            "upload_rate": content.upload_rate,
            "bytes_uploaded": content.bytes_uploaded,
            "webseed_bytes": webseed.bytes_served([content.pk]).get(content.pk, 0),
            "stats_updated_at": (
                content.stats_updated_at.isoformat() if content.stats_updated_at else None
            ),
        },
        headers={"Cache-Control": "private, no-store"},
    )


SALES_PER_PAGE = 50


@creator_required
def sales(request: HttpRequest, creator: Creator) -> HttpResponse:
    paginator = Paginator(reports.sales(creator), SALES_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "creators/studio/sales.html",
        {
            "page": page,
            "totals": reports.totals_by_kind(creator)[Invoice.Kind.PURCHASE],
            "late": list(reports.late_to_review(creator)[:LATE_SHOWN]),
        },
    )


class _Echo:
    """A file-like that hands back what csv.writer writes, so rows stream as they are made."""

    def write(self, value: str) -> str:
        return value


@creator_required
def sales_csv(request: HttpRequest, creator: Creator) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    rows = reports.sales_csv_rows(reports.sales(creator).iterator(chunk_size=500))
    filename = f"sales-{creator.handle}-{timezone.localdate().isoformat()}.csv"
    return StreamingHttpResponse(
        (writer.writerow(row) for row in rows),
        content_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )


# --- webhooks (on top of payments.webhooks) ---------------------------------------------------


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
def webhooks_page(request: HttpRequest, creator: Creator) -> HttpResponse:
    form = WebhookForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            webhook = payment_webhooks.create_webhook(
                _user(request), data["url"], data["events"], data["description"]
            )
        except payment_webhooks.WebhookRefused as error:
            form.add_error("url" if error.status == 422 else None, error.message)
        else:
            messages.success(request, "Webhook added. Copy its secret now: it is shown once.")
            # Rendered, not redirected: the secret must not sit in the session or a URL.
            return _webhooks_page(
                request, creator, WebhookForm(), new_secret=(webhook, webhook.secret)
            )
    return _webhooks_page(request, creator, form, status=400 if form.errors else 200)


def _webhook_action(
    request: HttpRequest, creator: Creator, webhook_id: int, action: str
) -> HttpResponse:
    user = _user(request)
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
    except payment_webhooks.NotFound:
        raise Http404("No such webhook of yours.") from None
    return redirect("studio-webhooks")


@require_POST
@creator_required
def webhook_delete(request: HttpRequest, creator: Creator, webhook_id: int) -> HttpResponse:
    return _webhook_action(request, creator, webhook_id, "delete")


@require_POST
@creator_required
def webhook_rotate(request: HttpRequest, creator: Creator, webhook_id: int) -> HttpResponse:
    return _webhook_action(request, creator, webhook_id, "rotate")


@require_POST
@creator_required
def webhook_toggle(request: HttpRequest, creator: Creator, webhook_id: int) -> HttpResponse:
    return _webhook_action(request, creator, webhook_id, "toggle")


@require_POST
@creator_required
def webhook_resume(request: HttpRequest, creator: Creator, webhook_id: int) -> HttpResponse:
    return _webhook_action(request, creator, webhook_id, "resume")


@creator_required
def webhook_deliveries(request: HttpRequest, creator: Creator, webhook_id: int) -> HttpResponse:
    """A webhook's deliveries, newest first, a page at a time, filtered by state and event."""
    state = request.GET.get("state", "")
    event = request.GET.get("event", "")
    try:
        webhook = payment_webhooks.webhook_of(_user(request), webhook_id)
        deliveries = payment_webhooks.deliveries_of(
            _user(request), webhook_id, state=state, event=event
        )
    except payment_webhooks.NotFound:
        raise Http404("No such webhook of yours.") from None
    except payment_webhooks.WebhookRefused as error:
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


# --- covers (public once published) -----------------------------------------------------------

COVER_TYPES = {
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".gif": "image/gif",
}


def content_cover(request: HttpRequest, content_id: int, name: str) -> FileResponse:
    """A content's cover image: public once published, its creator's (and staff's) before.

    Served here rather than as public media: whether it may be seen depends on the content's
    state, and each new cover gets a new name, so it can be cached for good.
    """
    content = Content.objects.select_related("creator").filter(pk=content_id).first()
    if content is None or not content.cover or PurePosixPath(content.cover.name).name != name:
        raise Http404("No such cover.")
    published = content.state in (Content.State.SEEDING, Content.State.UNHEALTHY)
    viewer = request.user
    if not published and not (
        viewer.is_authenticated and (viewer.pk == content.creator.user_id or viewer.is_staff)
    ):
        raise Http404("No such cover.")
    content_type = COVER_TYPES.get(PurePosixPath(name).suffix.lower())
    if content_type is None:
        raise Http404("No such cover.")
    try:
        handle = content.cover.open("rb")
    except FileNotFoundError:
        raise Http404("No such cover.") from None
    response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = (
        "public, max-age=31536000, immutable" if published else "private, no-cache"
    )
    return response
