"""Staff pages: moderation, reconciliation, the audit log and swarm health.

Thin: each view checks the role (``staff.access``), parses a form, calls the domain service
(``swarm.services`` for moderation, ``payments.reconciliation`` for money) and renders. The
services write the audit log in the same transaction as the change.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.http import AuthenticatedHttpRequest
from accounts.models import User
from payments import reconciliation
from payments.models import Invoice, InvoiceEvent, UnmatchedTransfer
from staff import roles
from staff.access import may, staff_page
from staff.forms import AttachForm, AuditFilter, ResolveForm, RestoreForm, TakedownForm
from staff.models import AuditEntry
from swarm import node_seeding
from swarm import services as swarm_services
from swarm.models import Content, EngineNode

LIST_LIMIT = 200


def _refused(request: HttpRequest, message: str, status: int = 400) -> HttpResponse:
    """A refused action: the reason, and nothing changed."""
    return render(request, "staff/refused.html", {"message": message}, status=status)


def _form_errors(form: Any) -> str:
    return "; ".join(f"{field}: {' '.join(errors)}" for field, errors in form.errors.items())


@require_GET
@staff_page(None)
def index(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    return render(
        request,
        "staff/index.html",
        {
            "can_moderate": may(user, roles.MODERATE),
            "can_reconcile": may(user, roles.RECONCILE),
            "can_audit": may(user, roles.VIEW_AUDIT),
            "can_health": may(user, roles.VIEW_HEALTH),
            "open_transfers": reconciliation.open_transfers().count()
            if may(user, roles.RECONCILE)
            else None,
            "removed": Content.objects.filter(state=Content.State.REMOVED).count()
            if may(user, roles.MODERATE)
            else None,
        },
    )


# --- moderation -------------------------------------------------------------------------------


@require_GET
@staff_page(roles.MODERATE)
def moderation(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:100]
    state = request.GET.get("state", "")
    contents = Content.objects.select_related("creator").exclude(
        state__in=[Content.State.UPLOADING, Content.State.HASHING]
    )
    if query:
        contents = contents.filter(
            Q(title__icontains=query)
            | Q(creator__handle__icontains=query)
            | Q(infohash__iexact=query.lower())
        )
    if state in Content.State.values:
        contents = contents.filter(state=state)
    return render(
        request,
        "staff/moderation.html",
        {
            "contents": contents.order_by("-created_at")[:LIST_LIMIT],
            "query": query,
            "state": state,
            "states": Content.State.choices,
        },
    )


@require_GET
@staff_page(roles.MODERATE)
def confirm_take_down(request: AuthenticatedHttpRequest, content_id: int) -> HttpResponseBase:
    """The step before a takedown: names the content (a row of a long table is easy to
    mistake) and asks for the public reason, which ``take_down`` then needs."""
    content = (
        Content.objects.select_related("creator")
        .filter(pk=content_id, state__in=[Content.State.SEEDING, Content.State.UNHEALTHY])
        .first()
    )
    if content is None:
        return _refused(request, "No such content to take down.", status=404)
    return render(
        request, "staff/takedown_confirm.html", {"content": content, "form": TakedownForm()}
    )


@require_POST
@staff_page(roles.MODERATE)
def take_down(request: AuthenticatedHttpRequest, content_id: int) -> HttpResponseBase:
    form = TakedownForm(request.POST)
    if not form.is_valid():
        return _refused(request, _form_errors(form))
    try:
        content = swarm_services.take_down_content(
            request.user, content_id, form.cleaned_data["reason"]
        )
    except Content.DoesNotExist:
        return _refused(request, "No such content.", status=404)
    except swarm_services.ModerationRefused as exc:
        return _refused(request, exc.message, status=exc.status)
    messages.success(request, f"“{content.title}” was taken down.")
    return redirect("staff-moderation")


@require_POST
@staff_page(roles.MODERATE)
def restore(request: AuthenticatedHttpRequest, content_id: int) -> HttpResponseBase:
    form = RestoreForm(request.POST)
    if not form.is_valid():
        return _refused(request, _form_errors(form))
    try:
        content = swarm_services.restore_content(
            request.user, content_id, form.cleaned_data["note"]
        )
    except Content.DoesNotExist:
        return _refused(request, "No such content.", status=404)
    except swarm_services.ModerationRefused as exc:
        return _refused(request, exc.message, status=exc.status)
    messages.success(request, f"“{content.title}” was restored.")
    return redirect("staff-moderation")


# --- reconciliation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TransferRow:
    transfer: UnmatchedTransfer
    candidates: list[Invoice]  # invoices on the same address and token that could take it


def _candidates(transfer: UnmatchedTransfer) -> list[Invoice]:
    return list(
        Invoice.objects.filter(
            recipient=transfer.recipient,
            token=transfer.token,
            state__in=[Invoice.State.NEW, Invoice.State.EXPIRED, Invoice.State.PROCESSING],
        ).order_by("-created_at")[:5]
    )


@require_GET
@staff_page(roles.RECONCILE)
def reconciliation_list(request: HttpRequest) -> HttpResponse:
    transfers = reconciliation.open_transfers()[:LIST_LIMIT]
    return render(
        request,
        "staff/reconciliation.html",
        {
            "rows": [TransferRow(t, _candidates(t)) for t in transfers],
            "invoices": reconciliation.flagged_invoices()[:LIST_LIMIT],
            "handled": UnmatchedTransfer.objects.exclude(state=UnmatchedTransfer.State.OPEN)
            .select_related("handled_by")
            .order_by("-handled_at")[:50],
        },
    )


@require_POST
@staff_page(roles.RECONCILE)
def attach(request: AuthenticatedHttpRequest, transfer_id: int) -> HttpResponseBase:
    form = AttachForm(request.POST)
    if not form.is_valid():
        return _refused(request, _form_errors(form))
    try:
        payment = reconciliation.attach_transfer(
            request.user,
            transfer_id,
            str(form.cleaned_data["invoice"]),
            form.cleaned_data["note"],
        )
    except UnmatchedTransfer.DoesNotExist:
        return _refused(request, "No such transfer.", status=404)
    except reconciliation.ReconciliationRefused as exc:
        return _refused(request, exc.message, status=exc.status)
    messages.success(request, f"{payment.amount} credited to invoice {payment.invoice_id}.")
    return redirect("staff-reconciliation")


@require_POST
@staff_page(roles.RECONCILE)
def resolve_transfer(request: AuthenticatedHttpRequest, transfer_id: int) -> HttpResponseBase:
    form = ResolveForm(request.POST)
    if not form.is_valid():
        return _refused(request, _form_errors(form))
    try:
        reconciliation.resolve_transfer(request.user, transfer_id, form.cleaned_data["note"])
    except UnmatchedTransfer.DoesNotExist:
        return _refused(request, "No such transfer.", status=404)
    except reconciliation.ReconciliationRefused as exc:
        return _refused(request, exc.message, status=exc.status)
    messages.success(request, "Transfer resolved.")
    return redirect("staff-reconciliation")


@require_POST
@staff_page(roles.RECONCILE)
def resolve_invoice(request: AuthenticatedHttpRequest, invoice_id: str) -> HttpResponseBase:
    form = ResolveForm(request.POST)
    if not form.is_valid():
        return _refused(request, _form_errors(form))
    try:
        reconciliation.resolve_invoice(request.user, invoice_id, form.cleaned_data["note"])
    except reconciliation.ReconciliationRefused as exc:
        return _refused(request, exc.message, status=exc.status)
    messages.success(request, "Invoice resolved.")
    return redirect("staff-reconciliation")


# --- audit log --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditRow:
    at: datetime
    source: str  # "staff", "money" or "admin"
    actor: str  # a username, or "platform" for the watcher and expiry
    action: str
    target: str
    why: str


def _staff_rows(form: AuditFilter) -> list[AuditRow]:
    entries = AuditEntry.objects.select_related("actor")
    data = form.cleaned_data
    if data["actor"]:
        entries = entries.filter(actor__username=data["actor"])
    if data["action"]:
        entries = entries.filter(action=data["action"])
    if data["target"]:
        entries = entries.filter(target_id=data["target"])
    if data["since"]:
        entries = entries.filter(created_at__date__gte=data["since"])
    if data["until"]:
        entries = entries.filter(created_at__date__lte=data["until"])
    return [
        AuditRow(
            e.created_at,
            "staff",
            e.actor.username,
            e.action,
            f"{e.target} {e.target_label}",
            e.reason,
        )
        for e in entries[:LIST_LIMIT]
    ]


def _money_rows(form: AuditFilter) -> list[AuditRow]:
    data = form.cleaned_data
    events = InvoiceEvent.objects.select_related("actor").filter(
        kind__in=[InvoiceEvent.Kind.STATE, InvoiceEvent.Kind.REVIEWED]
    )
    if data["actor"]:
        if data["actor"] == "platform":
            events = events.filter(actor__isnull=True)
        else:
            events = events.filter(actor__username=data["actor"])
    if data["action"]:
        wanted = data["action"].removeprefix("invoice.")
        events = events.filter(Q(to_state=wanted) | Q(kind=wanted))
    if data["target"]:
        events = events.filter(invoice_id__in=_uuid_or_none(data["target"]))
    if data["since"]:
        events = events.filter(created_at__date__gte=data["since"])
    if data["until"]:
        events = events.filter(created_at__date__lte=data["until"])
    rows = []
    for event in events.order_by("-created_at", "-pk")[:LIST_LIMIT]:
        if event.kind == InvoiceEvent.Kind.STATE:
            action = f"invoice.{event.to_state}"
            why = str(event.detail.get("reason", "")) or (
                f"from {event.from_state}" + (f", tx {event.txid}" if event.txid else "")
            )
        else:
            action, why = "invoice.reviewed", str(event.detail.get("note", ""))
        rows.append(
            AuditRow(
                event.created_at,
                "money",
                event.actor.username if event.actor else "platform",
                action,
                f"payments.invoice#{event.invoice_id}",
                why,
            )
        )
    return rows


_ADMIN_ACTIONS = {ADDITION: "admin.addition", CHANGE: "admin.change", DELETION: "admin.deletion"}


def _admin_rows(form: AuditFilter) -> list[AuditRow]:
    """What staff changed through the Django admin (users, groups, creators): Django's own log
    of it, which nothing on the site can edit."""
    data = form.cleaned_data
    entries = LogEntry.objects.select_related("user", "content_type")
    if data["actor"]:
        entries = entries.filter(user__username=data["actor"])
    if data["action"]:
        flags = [flag for flag, name in _ADMIN_ACTIONS.items() if name == data["action"]]
        entries = entries.filter(action_flag__in=flags)
    if data["target"]:
        entries = entries.filter(object_id=data["target"])
    if data["since"]:
        entries = entries.filter(action_time__date__gte=data["since"])
    if data["until"]:
        entries = entries.filter(action_time__date__lte=data["until"])
    rows = []
    for entry in entries.order_by("-action_time", "-pk")[:LIST_LIMIT]:
        content_type = cast("ContentType | None", entry.content_type)
        model = f"{content_type.app_label}.{content_type.model}" if content_type else ""
        actor = cast(User, entry.user)
        rows.append(
            AuditRow(
                entry.action_time,
                "admin",
                actor.username,
                _ADMIN_ACTIONS.get(entry.action_flag, "admin"),
                f"{model}#{entry.object_id} {entry.object_repr}",
                entry.get_change_message(),
            )
        )
    return rows


def _uuid_or_none(value: str) -> list[str]:
    try:
        return [str(uuid.UUID(value))]
    except ValueError:
        return []


@require_GET
@staff_page(roles.VIEW_AUDIT)
def audit_log(request: HttpRequest) -> HttpResponse:
    form = AuditFilter(request.GET or None)
    rows: list[AuditRow] = []
    if form.is_bound and not form.is_valid():
        return render(request, "staff/audit.html", {"form": form, "rows": []}, status=400)
    if not form.is_bound:
        form = AuditFilter({})
        form.is_valid()
    source = form.cleaned_data["source"]
    if source in ("", "staff"):
        rows += _staff_rows(form)
    if source in ("", "money"):
        rows += _money_rows(form)
    if source in ("", "admin"):
        rows += _admin_rows(form)
    rows.sort(key=lambda row: row.at, reverse=True)
    return render(
        request,
        "staff/audit.html",
        {"form": form, "rows": rows[:LIST_LIMIT], "limit": LIST_LIMIT},
    )


# --- swarm health -----------------------------------------------------------------------------


@require_GET
@staff_page(roles.VIEW_HEALTH)
def swarm_health(request: HttpRequest) -> HttpResponse:
    nodes = list(EngineNode.objects.order_by("name"))
    return render(
        request,
        "staff/health.html",
        {
            "nodes": nodes,
            # Per content, what each node does with it: the contents some node does not seed.
            "matrix": node_seeding.seeding_matrix(nodes, LIST_LIMIT),
            "live": {node.pk for node in swarm_services.live_engines()},
            "stale_seconds": settings.SWARM_HEARTBEAT_STALE_SECONDS,
            "unhealthy": Content.objects.filter(state=Content.State.UNHEALTHY)
            .select_related("creator")
            .order_by("-created_at")[:LIST_LIMIT],
        },
    )
