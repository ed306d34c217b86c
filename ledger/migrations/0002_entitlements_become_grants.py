from django.db import migrations


def copy_entitlements(apps, schema_editor):
    # Each standing or revoked entitlement becomes a grant of its own source; a purchase's
    # reference (the invoice id) becomes the grant's source reference, so revoking that invoice
    # takes back exactly this grant.
    Entitlement = apps.get_model("swarm", "Entitlement")
    Grant = apps.get_model("ledger", "Grant")
    sources = {"purchase": "purchase", "grant": "staff"}
    Grant.objects.bulk_create(
        [
            Grant(
                user_id=entitlement.user_id,
                content_id=entitlement.content_id,
                source=sources.get(entitlement.source, "staff"),
                source_ref=entitlement.reference,
                starts_at=entitlement.created_at,
                created_at=entitlement.created_at,
                revoked_at=entitlement.revoked_at,
                revoke_reason="revoked before the ledger" if entitlement.revoked_at else "",
            )
            for entitlement in Entitlement.objects.all()
        ]
    )


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0001_grants"),
        ("swarm", "0004_content_unlisted_cover"),
    ]

    operations = [migrations.RunPython(copy_entitlements, migrations.RunPython.noop)]
