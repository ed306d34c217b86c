"""The database cache's table (``btt_cache``): where rate limits count while Redis is away
(``btt_platform.cache.FailoverCache``)."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.db import migrations

TABLE = "btt_cache"


def create(apps: Any, schema_editor: Any) -> None:
    call_command("createcachetable", TABLE, database=schema_editor.connection.alias, verbosity=0)


def drop(apps: Any, schema_editor: Any) -> None:
    schema_editor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(TABLE)}")


class Migration(migrations.Migration):
    dependencies = [("btt_platform", "0001_heartbeats")]

    operations = [migrations.RunPython(create, drop)]
