from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import ApiToken, OutgoingEmail, User, VerifiedWallet, WalletChallenge
from btt_platform.readonly_admin import ReadOnlyAdmin


@admin.register(User)
class PlatformUserAdmin(UserAdmin[User]):
    list_display = ("username", "email", "is_staff", "is_active", "date_joined")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "user__username", "prefix")
    readonly_fields = ("user", "prefix", "digest", "created_at", "last_used_at")


@admin.register(VerifiedWallet)
class VerifiedWalletAdmin(ReadOnlyAdmin[VerifiedWallet]):
    """Verified only by the owner's signature (``accounts.wallets``); never added here."""

    list_display = ("address", "user", "verified_at")
    search_fields = ("address", "user__username")
    readonly_fields = ("user", "address", "verified_at")


@admin.register(WalletChallenge)
class WalletChallengeAdmin(ReadOnlyAdmin[WalletChallenge]):
    """Open one-time messages to sign; used up by a verification, gone after 10 minutes."""

    list_display = ("user", "created_at", "expires_at")
    search_fields = ("user__username",)


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(ReadOnlyAdmin[OutgoingEmail]):
    """The outbox: written by the request that asked for an email, sent by the worker or the
    sweep; shown so staff can see what is owed or failing, never edited (its body may hold a
    password-reset link, so it is not listed)."""

    list_display = ("subject", "created_at", "attempts", "sent_at", "next_attempt_at")
    list_filter = ("sent_at",)
    search_fields = ("subject",)
    exclude = ("body", "html")
