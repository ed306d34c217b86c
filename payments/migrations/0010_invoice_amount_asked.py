# The price or tip asked, kept beside the amount due (which carries the unique-amount tag).

from typing import Any

from django.db import migrations

import payments.fields


def backfill_asked(apps: Any, schema_editor: Any) -> None:
    # Every invoice's "created" event recorded the price it was made for; an invoice without
    # one (none is known) keeps 0, which ``Invoice.asked`` reads as "what is due".
    from payments.money import Amount, AmountError

    Invoice = apps.get_model("payments", "Invoice")
    InvoiceEvent = apps.get_model("payments", "InvoiceEvent")
    created = InvoiceEvent.objects.filter(kind="created").values_list("invoice_id", "detail")
    for invoice_id, detail in created.iterator():
        price = (detail or {}).get("price")
        if not isinstance(price, str):
            continue
        token = Invoice.objects.filter(pk=invoice_id).values_list("token", flat=True).first()
        if token is None:
            continue
        try:
            units = Amount.parse(price, token).units
        except (AmountError, ValueError):
            continue
        Invoice.objects.filter(pk=invoice_id).update(amount_asked=units)


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0009_invoice_kind_rental"),
    ]

    operations = [
        migrations.AddField(
            model_name="invoice",
            name="amount_asked",
            field=payments.fields.BaseUnitsField(
                default=0, help_text="base units asked, without the tag"
            ),
        ),
        migrations.RunPython(backfill_asked, migrations.RunPython.noop),
    ]
