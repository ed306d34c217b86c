"""Who sees what: every staff and admin URL, for each persona (stranger, staff without a role,
moderator, finance, superuser), and the roles the migration makes."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group
from django.test import Client

from accounts.models import User
from staff import roles

pytestmark = pytest.mark.django_db

LOGIN = "login"
OK, DENIED = 200, 403

# GET pages: (url, stranger, staff without a role, moderator, finance, superuser). Django's
# admin sends everyone who is not staff to its login page.
PAGES = [
    ("/staff/", DENIED, DENIED, OK, OK, OK),
    ("/staff/moderation/", DENIED, DENIED, OK, DENIED, OK),
    ("/staff/reconciliation/", DENIED, DENIED, DENIED, OK, OK),
    ("/staff/audit/", DENIED, DENIED, OK, OK, OK),
    ("/staff/health/", DENIED, DENIED, OK, DENIED, OK),
    ("/admin/", LOGIN, OK, OK, OK, OK),
    ("/admin/swarm/content/", LOGIN, DENIED, OK, DENIED, OK),
    ("/admin/swarm/enginenode/", LOGIN, DENIED, OK, DENIED, OK),
    ("/admin/payments/invoice/", LOGIN, DENIED, DENIED, OK, OK),
    ("/admin/payments/unmatchedtransfer/", LOGIN, DENIED, DENIED, OK, OK),
    ("/admin/payments/webhook/", LOGIN, DENIED, DENIED, DENIED, OK),
    ("/admin/staff/auditentry/", LOGIN, DENIED, OK, OK, OK),
    ("/admin/accounts/user/", LOGIN, DENIED, OK, OK, OK),
    ("/admin/auth/group/", LOGIN, DENIED, DENIED, DENIED, OK),
]

PERSONAS = ["stranger", "staff", "moderator", "finance", "superuser"]


def outcome(response: object) -> object:
    status = response.status_code  # type: ignore[attr-defined]
    if status == 302:
        location = response["Location"]  # type: ignore[index]
        return LOGIN if "login/?next=" in location else location
    return status


@pytest.mark.parametrize(("url", "allowed"), [(page[0], page[1:]) for page in PAGES])
def test_each_persona_gets_exactly_what_its_role_allows(
    url: str, allowed: tuple[object, ...], request: pytest.FixtureRequest
) -> None:
    expected = dict(zip(PERSONAS, allowed, strict=True))
    for persona in PERSONAS:
        # given
        user: User = request.getfixturevalue(persona)
        client = Client()
        client.force_login(user)
        # when
        response = client.get(url)
        # then
        assert (persona, outcome(response)) == (persona, expected[persona])


@pytest.mark.parametrize("url", [page[0] for page in PAGES])
def test_anonymous_visitors_are_sent_to_a_login_page(url: str) -> None:
    response = Client().get(url)

    assert response.status_code == 302
    assert "login/?next=" in response["Location"]


def test_an_inactive_staff_member_loses_every_staff_page(moderator: User) -> None:
    client = Client()
    client.force_login(moderator)
    User.objects.filter(pk=moderator.pk).update(is_active=False)

    assert client.get("/staff/moderation/").status_code in (302, 403)


def test_the_migration_made_each_role_with_exactly_its_permissions(db: None) -> None:
    migration = importlib.import_module("staff.migrations.0002_roles")

    # The migration keeps its own copy; it must say what staff.roles says.
    assert migration.ROLE_PERMISSIONS == roles.ROLE_PERMISSIONS
    # Its rows, made again as it makes them (it is idempotent): a transactional test that ran
    # earlier on this worker flushed the database, taking the rows the migration had made.
    migration.create_roles(django_apps, None)
    for role, names in roles.ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=role)
        held = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
        assert held == set(names)


def test_every_model_of_the_platform_is_in_the_admin_and_none_of_money_is_editable() -> None:
    from django.apps import apps
    from django.contrib import admin

    from btt_platform.readonly_admin import ReadOnlyAdmin

    ours = ["accounts", "creators", "swarm", "payments", "staff"]
    models = [model for label in ours for model in apps.get_app_config(label).get_models()]

    assert [m._meta.label for m in models if not admin.site.is_registered(m)] == []
    read_only = {
        m._meta.label for m in models if isinstance(admin.site.get_model_admin(m), ReadOnlyAdmin)
    }
    # Accounts and creator profiles stay editable by superusers (roles are given there); the
    # rest changes only through services.
    assert read_only == {m._meta.label for m in models} - {
        "accounts.User",
        "accounts.ApiToken",
        "creators.Creator",
    }
