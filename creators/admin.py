from django.contrib import admin

from creators.models import Creator


@admin.register(Creator)
class CreatorAdmin(admin.ModelAdmin[Creator]):
    list_display = ("handle", "display_name", "user", "payout_address", "created_at")
    search_fields = ("handle", "display_name", "user__username", "user__email", "payout_address")
    raw_id_fields = ("user",)
