from django.contrib import admin

from btt_platform.readonly_admin import ReadOnlyInline
from support.models import (
    Alert,
    Campaign,
    LiveSession,
    Pledge,
    PledgeEvent,
    RewardTier,
    Tip,
    TipSettings,
)


@admin.register(Tip)
class TipAdmin(admin.ModelAdmin[Tip]):
    list_display = ("created_at", "creator", "name", "message", "invoice")
    search_fields = ("name", "message", "creator__handle")
    raw_id_fields = ("creator", "invoice", "content", "live_session")


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin[Alert]):
    list_display = ("creator", "seq", "name", "message", "units", "tier", "test", "created_at",
                    "withdrawn_at")  # fmt: skip
    raw_id_fields = ("creator", "tip")


@admin.register(TipSettings)
class TipSettingsAdmin(admin.ModelAdmin[TipSettings]):
    list_display = ("creator", "minimum_units", "alert_on", "goal_title", "last_alert_seq")
    # The overlay key is a secret of the creator's: never shown, only rotated by them.
    exclude = ("overlay_key",)
    raw_id_fields = ("creator",)


@admin.register(LiveSession)
class LiveSessionAdmin(admin.ModelAdmin[LiveSession]):
    list_display = ("title", "creator", "player", "started_at", "ended_at")
    raw_id_fields = ("creator",)


class RewardTierInline(admin.TabularInline[RewardTier, Campaign]):
    model = RewardTier
    extra = 0


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin[Campaign]):
    list_display = ("title", "creator", "mode", "state", "goal_units", "deadline")
    list_filter = ("state", "mode")
    raw_id_fields = ("creator",)
    inlines = [RewardTierInline]


class PledgeEventInline(ReadOnlyInline[PledgeEvent]):
    """The pledge's log: it is never changed."""

    model = PledgeEvent
    fields = ("created_at", "from_state", "to_state", "actor", "invoice", "reason")
    readonly_fields = fields


@admin.register(Pledge)
class PledgeAdmin(admin.ModelAdmin[Pledge]):
    list_display = ("campaign", "backer", "tier", "units", "state", "created_at")
    list_filter = ("state",)
    raw_id_fields = ("campaign", "backer", "tier", "invoice")
    inlines = [PledgeEventInline]
