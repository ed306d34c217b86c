# A backer is listed by a name they choose, or as anonymous: every pledge made before the choice
# existed is anonymous (the default), since its backer never agreed to be named.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("support", "0004_alert_units_asked"),
    ]

    operations = [
        migrations.AddField(
            model_name="pledge",
            name="public_name",
            field=models.CharField(blank=True, max_length=40),
        ),
    ]
