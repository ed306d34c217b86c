from django.contrib import admin

from swarm.models import EngineNode


@admin.register(EngineNode)
class EngineNodeAdmin(admin.ModelAdmin[EngineNode]):
    list_display = ("name", "listen_address", "last_heartbeat", "stopped_at", "torrents",
                    "peers", "upload_rate")  # fmt: skip
    readonly_fields = [f.name for f in EngineNode._meta.fields]
