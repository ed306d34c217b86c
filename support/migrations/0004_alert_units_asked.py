# An alert shows the tip as asked, not the exact amount that paid it (the unique-amount tag in
# its low digits named the invoice, and is nobody's business on a stream). Alerts raised before
# take their tip's asked amount. The goal's running total is left as it was: it was reset-able
# by the creator, so it cannot be recomputed from the alerts.

from typing import Any

from django.db import migrations


def alerts_show_asked(apps: Any, schema_editor: Any) -> None:
    Alert = apps.get_model("support", "Alert")
    rows = Alert.objects.filter(tip__isnull=False).values_list("pk", "tip__invoice__amount_asked")
    for alert_id, asked in rows.iterator():
        if asked:
            Alert.objects.filter(pk=alert_id).update(units=asked)


class Migration(migrations.Migration):
    dependencies = [
        ("support", "0003_pledge_events_withdrawn_alerts"),
        ("payments", "0010_invoice_amount_asked"),
    ]

    operations = [
        migrations.RunPython(alerts_show_asked, migrations.RunPython.noop),
    ]
