"""The audit log is append-only and read-only everywhere; money in the admin is read-only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import User
from creators.models import Creator
from payments import crediting
from payments.models import Invoice, InvoiceEvent
from staff import audit, roles
from staff.models import AppendOnly, AuditEntry
from tests.fixtures.personas import role_group
from tests.payments.factories import paying, proven, purchase

pytestmark = pytest.mark.django_db


def settled_invoice(fan: User, creator: Creator) -> Invoice:
    invoice = purchase(fan, creator)
    crediting.record_transfer(proven(*paying(invoice)), solidified=True)
    invoice.refresh_from_db()
    assert invoice.state == Invoice.State.SETTLED
    return invoice


def test_an_audit_entry_cannot_be_changed_or_deleted_in_code(superuser: User, fan: User) -> None:
    entry = audit.record(superuser, AuditEntry.Action.TAKEDOWN, fan, reason="spam")

    entry.reason = "nothing happened"
    with pytest.raises(AppendOnly):
        entry.save()
    with pytest.raises(AppendOnly):
        entry.delete()
    with pytest.raises(AppendOnly):
        AuditEntry.objects.filter(pk=entry.pk).update(reason="rewritten")
    with pytest.raises(AppendOnly):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.get(pk=entry.pk).reason == "spam"


def test_not_even_a_superuser_edits_or_deletes_an_audit_entry_in_the_admin(
    superuser: User, fan: User
) -> None:
    entry = audit.record(superuser, AuditEntry.Action.TAKEDOWN, fan, reason="spam")
    client = Client()
    client.force_login(superuser)

    change = client.post(
        f"/admin/staff/auditentry/{entry.pk}/change/", {"reason": "rewritten", "action": "x"}
    )
    delete = client.post(f"/admin/staff/auditentry/{entry.pk}/delete/", {"post": "yes"})
    bulk = client.post(
        "/admin/staff/auditentry/",
        {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"},
    )
    add = client.post("/admin/staff/auditentry/add/", {"reason": "forged"})

    assert (change.status_code, delete.status_code, add.status_code) == (403, 403, 403)
    # The changelist has no delete action at all: the POST only shows the list again.
    assert bulk.status_code == 200
    assert list(AuditEntry.objects.values_list("pk", "reason")) == [(entry.pk, "spam")]


def test_a_settled_invoice_amounts_cannot_be_edited_through_the_admin(
    superuser: User, fan: User, creator: Creator
) -> None:
    # given
    invoice = settled_invoice(fan, creator)
    before = Invoice.objects.filter(pk=invoice.pk).values().get()
    events = InvoiceEvent.objects.count()
    client = Client()
    client.force_login(superuser)
    # when
    page = client.get(f"/admin/payments/invoice/{invoice.pk}/change/")
    response = client.post(
        f"/admin/payments/invoice/{invoice.pk}/change/",
        {
            "amount_due": "1",
            "amount_paid": "999999999999999999999999",
            "state": "new",
            "token": invoice.token,
            "kind": invoice.kind,
        },
    )
    deleted = client.post(f"/admin/payments/invoice/{invoice.pk}/delete/", {"post": "yes"})
    # then: shown read-only, the POSTs refused, nothing changed
    assert page.status_code == 200
    assert b'name="amount_due"' not in page.content
    assert str(invoice.amount_due).encode() in page.content
    assert (response.status_code, deleted.status_code) == (403, 403)
    assert Invoice.objects.filter(pk=invoice.pk).values().get() == before
    assert InvoiceEvent.objects.count() == events


def test_the_audit_page_filters_staff_actions_and_money_transitions(
    superuser: User, moderator: User, fan: User, creator: Creator
) -> None:
    # given: a staff action and an invoice that went new -> processing -> settled
    audit.record(moderator, AuditEntry.Action.TAKEDOWN, fan, reason="spam account")
    invoice = settled_invoice(fan, creator)
    client = Client()
    client.force_login(superuser)
    # when
    everything = client.get("/staff/audit/").content.decode()
    money = client.get("/staff/audit/", {"source": "money"}).content.decode()
    by_moderator = client.get("/staff/audit/", {"actor": "moderator"}).content.decode()
    settled = client.get("/staff/audit/", {"action": "invoice.settled"}).content.decode()
    one_invoice = client.get("/staff/audit/", {"target": str(invoice.pk)}).content.decode()
    today = timezone.localdate()
    this_day = client.get(
        "/staff/audit/", {"since": today.isoformat(), "until": today.isoformat()}
    ).content.decode()
    tomorrow = client.get(
        "/staff/audit/", {"since": (today + timedelta(days=1)).isoformat()}
    ).content.decode()
    hostile = client.get("/staff/audit/", {"source": "<script>"})
    bad_date = client.get("/staff/audit/", {"since": "2026-13-45"})
    # then
    assert "spam account" in everything
    assert f"payments.invoice#{invoice.pk}" in everything
    assert "spam account" not in money
    assert money.count('data-action="invoice.processing"') == 1
    assert money.count('data-action="invoice.settled"') == 1
    assert "spam account" in by_moderator
    assert "invoice#" not in by_moderator
    assert settled.count("<tr data-source") == 1
    assert one_invoice.count('data-source="money"') == 2
    assert this_day.count("<tr data-source") == 3
    assert "<tr data-source" not in tomorrow
    assert bad_date.status_code == 400
    assert hostile.status_code == 400
    assert b"<script>" not in hostile.content


def test_a_role_given_in_the_admin_shows_in_the_audit_log(superuser: User, fan: User) -> None:
    # given
    client = Client()
    client.force_login(superuser)
    moderators = role_group(roles.MODERATOR)
    form = client.get(f"/admin/accounts/user/{fan.pk}/change/")
    assert form.status_code == 200
    # when: the superuser makes the fan a moderator, as the user form posts it
    response = client.post(
        f"/admin/accounts/user/{fan.pk}/change/",
        {
            "username": fan.username,
            "email": fan.email,
            "first_name": "",
            "last_name": "",
            "is_active": "on",
            "is_staff": "on",
            "groups": [str(moderators.pk)],
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
            "initial-date_joined_0": "2026-01-01",
            "initial-date_joined_1": "00:00:00",
        },
    )
    # then
    assert response.status_code == 302, response.content.decode()[:2000]
    assert fan.groups.filter(name=roles.MODERATOR).exists()
    page = client.get("/staff/audit/", {"source": "admin", "target": str(fan.pk)})
    rows = page.content.decode()
    assert rows.count('data-source="admin"') == 1
    assert 'data-action="admin.change"' in rows
    assert "accounts.user#" in rows
    assert "Groups" in rows
    assert "root" in rows
