"""The studio: a creator's dashboard, contents (details, upload, publish, swarm numbers) and
sales, under ``/studio/``."""

from __future__ import annotations

import csv

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.http import AuthenticatedHttpRequest
from btt_platform.errors import Refused
from creators.access import creator_required
from creators.models import Creator
from payments.models import ContentPrice, Invoice
from payments.money import Amount
from purchases.services import price_of
from studio import reports, services
from studio.forms import ContentDetailsForm, NewContentForm
from swarm import publishing
from swarm.contents import NotFound
from swarm.models import Content
from swarm.peer_sharing import saving_for
from swarm.webseed import serve as webseed


def _own_content_or_404(request: AuthenticatedHttpRequest, content_id: int) -> Content:
    try:
        return services.own_content(request.user, content_id)
    except NotFound:
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
def new_content(request: AuthenticatedHttpRequest, creator: Creator) -> HttpResponse:
    form = NewContentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            content = services.new_content(
                request.user,
                title=data["title"],
                description=data["description"],
                access=data["access"],
                unlisted=data["unlisted"],
                amount=data["amount"],
            )
        except Refused as error:
            form.add_error(None, error.message)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return redirect("studio-upload", content_id=content.pk)
    return render(request, "creators/studio/new_content.html", {"form": form})


@creator_required
def content_edit(
    request: AuthenticatedHttpRequest, creator: Creator, content_id: int
) -> HttpResponse:
    content = _own_content_or_404(request, content_id)
    locked = content.state != Content.State.UPLOADING
    form = ContentDetailsForm(
        request.POST or None, request.FILES or None, instance=content, access_locked=locked
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.update_content(
                request.user,
                content.pk,
                title=data["title"],
                description=data["description"],
                access=data["access"],
                unlisted=data["unlisted"],
                cover=data["cover"] if "cover" in form.changed_data else None,
                amount=data["amount"],
                rental=data["rental"],
            )
        except Refused as error:
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
            "saving": saving_for([content.pk]),
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
def content_upload(
    request: AuthenticatedHttpRequest, creator: Creator, content_id: int
) -> HttpResponse:
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
def content_publish(
    request: AuthenticatedHttpRequest, creator: Creator, content_id: int
) -> HttpResponse:
    """The upload page's Publish without scripts (with scripts it calls the JSON API)."""
    content = _own_content_or_404(request, content_id)
    try:
        publishing.publish_content(request.user, content.pk)
    except Refused as error:
        messages.error(request, error.message)
    except OSError as error:
        messages.error(request, f"Publishing failed, nothing was published: {error.strerror}.")
    return redirect("studio-upload", content_id=content.pk)


@creator_required
def content_stats(
    request: AuthenticatedHttpRequest, creator: Creator, content_id: int
) -> HttpResponse:
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
LATE_SHOWN = 50  # late payments listed for review; more wait until these are handled


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
