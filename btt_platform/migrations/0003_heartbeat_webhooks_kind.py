"""The webhooks worker beats as a kind of its own (``webhooks``), so that /healthz tells it from
the default worker."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("btt_platform", "0002_cache_table"),
    ]

    operations = [
        migrations.AlterField(
            model_name="heartbeat",
            name="kind",
            field=models.CharField(
                choices=[
                    ("web", "Web"),
                    ("worker", "Worker"),
                    ("webhooks", "Webhooks"),
                    ("beat", "Beat"),
                    ("watcher", "Watcher"),
                ],
                max_length=16,
            ),
        ),
    ]
