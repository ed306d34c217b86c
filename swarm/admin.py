from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from btt_platform.readonly_admin import ReadOnlyAdmin
from swarm import placement
from swarm.models import (
    Content,
    ContentFile,
    EngineNode,
    NodeSeeding,
    Passkey,
    PeerBytes,
    PeerSharing,
    Placement,
    TransferTotal,
    Upload,
)


@admin.register(EngineNode)
class EngineNodeAdmin(ReadOnlyAdmin[EngineNode]):
    list_display = ("name", "listen_address", "last_heartbeat", "stopped_at", "draining_at",
                    "torrents", "peers", "upload_rate", "free_bytes")  # fmt: skip
    search_fields = ("name", "listen_address")
    actions = ["drain", "stop_draining"]

    def has_drain_permission(self, request: HttpRequest) -> bool:
        # Moving every content of a node is the operators' call, not a staff role's.
        return bool(request.user.is_superuser)

    @admin.action(description="Drain: move their contents to other nodes", permissions=["drain"])
    def drain(self, request: HttpRequest, queryset: QuerySet[EngineNode]) -> None:
        for node in queryset:
            placement.start_draining(node.name)
        self.message_user(
            request,
            "Draining. `manage.py drainnode <name>` says when a node is safe to stop.",
            messages.SUCCESS,
        )

    @admin.action(description="Stop draining", permissions=["drain"])
    def stop_draining(self, request: HttpRequest, queryset: QuerySet[EngineNode]) -> None:
        for node in queryset:
            placement.stop_draining(node.name)


@admin.register(Placement)
class PlacementAdmin(ReadOnlyAdmin[Placement]):
    """Written by the placement job only (swarm.placement)."""

    list_display = ("content", "node", "assigned_at")
    list_filter = ("node",)
    search_fields = ("content__title", "node__name")
    list_select_related = ("content", "node")


@admin.register(NodeSeeding)
class NodeSeedingAdmin(ReadOnlyAdmin[NodeSeeding]):
    """Written by each node's engine only (swarm.node_seeding)."""

    list_display = ("content", "node", "state", "detail", "peers", "seeds", "upload_rate",
                    "bytes_on_disk", "updated_at")  # fmt: skip
    list_filter = ("state", "node")
    search_fields = ("content__title", "node__name")
    list_select_related = ("content", "node")


class ContentFileInline(admin.TabularInline[ContentFile, Content]):
    model = ContentFile
    fields = ("position", "path", "original_name", "size")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(Content)
class ContentAdmin(ReadOnlyAdmin[Content]):
    """Takedowns go through the staff moderation page (reason, audit log, creator told)."""

    list_display = ("title", "creator", "state", "access", "unlisted", "total_size", "peers",
                    "seeds", "published_at")  # fmt: skip
    list_filter = ("state", "access", "unlisted", "hybrid")
    search_fields = ("title", "creator__handle", "infohash", "name")
    date_hierarchy = "created_at"
    exclude = ("metainfo",)
    inlines = [ContentFileInline]


@admin.register(ContentFile)
class ContentFileAdmin(ReadOnlyAdmin[ContentFile]):
    list_display = ("path", "content", "size", "position")
    search_fields = ("path", "original_name", "content__title")


@admin.register(Upload)
class UploadAdmin(ReadOnlyAdmin[Upload]):
    list_display = ("path", "content", "offset", "length", "updated_at", "expires_at")
    search_fields = ("path", "original_name", "content__title")
    list_filter = ("expires_at",)


@admin.register(Passkey)
class PasskeyAdmin(ReadOnlyAdmin[Passkey]):
    list_display = ("__str__", "user", "engine", "created_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("user__username", "engine__name")
    exclude = ("key",)  # a secret: whoever reads it can announce as its owner


@admin.register(TransferTotal)
class TransferTotalAdmin(ReadOnlyAdmin[TransferTotal]):
    list_display = ("user", "content", "uploaded", "downloaded", "updated_at")
    search_fields = ("user__username", "content__title")


@admin.register(PeerSharing)
class PeerSharingAdmin(ReadOnlyAdmin[PeerSharing]):
    """Each fan's P2P choice, theirs to change (settings page and API), not staff's."""

    list_display = ("user", "enabled", "paid", "updated_at")
    search_fields = ("user__username",)


@admin.register(PeerBytes)
class PeerBytesAdmin(ReadOnlyAdmin[PeerBytes]):
    """Bytes fans' pages say they received from peers: self-reported, so never edited."""

    list_display = ("content", "user", "received", "updated_at")
    search_fields = ("content__title", "user__username")
    list_select_related = ("content", "user")
