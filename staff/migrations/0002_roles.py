"""The moderator and finance groups with the permissions of ``staff.roles``."""

from __future__ import annotations

from typing import Any

from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

# A copy, not an import: a migration must keep meaning what it meant when written.
ROLE_PERMISSIONS = {
    "moderator": (
        "staff.moderate_content",
        "staff.view_auditentry",
        "staff.view_swarm_health",
        "accounts.view_user",
        "creators.view_creator",
        "swarm.view_content",
        "swarm.view_contentfile",
        "swarm.view_enginenode",
    ),
    "finance": (
        "staff.reconcile_payments",
        "staff.view_auditentry",
        "accounts.view_user",
        "creators.view_creator",
        "payments.view_contentprice",
        "payments.view_invoice",
        "payments.view_invoiceevent",
        "payments.view_payment",
        "payments.view_txclaim",
        "payments.view_unmatchedtransfer",
        "payments.view_chaincursor",
    ),
}


def create_roles(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    # Permissions are normally made after the whole migrate run (post_migrate); the groups
    # need them now. (The state's app configs are stubs without models: the real ones say
    # which models there are, the state's models write the rows.)
    for label in ("accounts", "creators", "swarm", "payments", "staff"):
        create_permissions(global_apps.get_app_config(label), apps=apps, verbosity=0)
    group_model: Any = apps.get_model("auth", "Group")
    permission_model: Any = apps.get_model("auth", "Permission")
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role)
        for name in names:
            app_label, codename = name.split(".")
            group.permissions.add(
                permission_model.objects.get(content_type__app_label=app_label, codename=codename)
            )


def remove_roles(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_PERMISSIONS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("staff", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("accounts", "0001_initial"),
        ("creators", "0001_initial"),
        ("swarm", "0004_content_unlisted_cover"),
        ("payments", "0004_unmatched_transfer"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
