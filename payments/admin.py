from django.contrib import admin

from btt_platform.readonly_admin import ReadOnlyAdmin, ReadOnlyInline
from payments.models import (
    ChainCursor,
    ContentPrice,
    Invoice,
    InvoiceEvent,
    Payment,
    TxClaim,
    UnmatchedTransfer,
    Webhook,
    WebhookDelivery,
)

# Money is read-only here for everyone: amounts and states move only through
# payments.invoices and payments.crediting (conditional UPDATEs, the InvoiceEvent log) and
# reconciliation (the audit log). A settled invoice's amounts can therefore never be edited
# through the site.


@admin.register(ContentPrice)
class ContentPriceAdmin(ReadOnlyAdmin[ContentPrice]):
    list_display = ("content", "token", "units", "updated_at")
    list_filter = ("token",)
    search_fields = ("content__title",)


class PaymentInline(ReadOnlyInline[Payment]):
    model = Payment
    fields = ("txid", "log_index", "units", "sender", "block_number", "matched_by", "late",
              "solidified_at", "dropped_at")  # fmt: skip
    readonly_fields = fields


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin[Invoice]):
    list_display = ("id", "kind", "state", "creator", "payer", "token", "amount_due",
                    "amount_paid", "partial", "over", "late", "created_at")  # fmt: skip
    list_filter = ("state", "kind", "token", "partial", "over", "late")
    search_fields = ("id", "memo", "recipient", "payer_address", "creator__handle",
                     "payer__username", "payments__txid")  # fmt: skip
    date_hierarchy = "created_at"
    inlines = [PaymentInline]


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin[Payment]):
    list_display = ("txid", "log_index", "invoice", "token", "units", "sender", "block_number",
                    "matched_by", "late", "solidified_at", "dropped_at")  # fmt: skip
    list_filter = ("token", "matched_by", "late")
    search_fields = ("txid", "sender", "recipient", "invoice__id")


@admin.register(TxClaim)
class TxClaimAdmin(ReadOnlyAdmin[TxClaim]):
    list_display = ("txid", "invoice", "claimed_by", "state", "created_at", "checked_at")
    list_filter = ("state",)
    search_fields = ("txid", "invoice__id", "claimed_by__username")


@admin.register(InvoiceEvent)
class InvoiceEventAdmin(ReadOnlyAdmin[InvoiceEvent]):
    list_display = ("created_at", "invoice", "kind", "from_state", "to_state", "actor", "txid")
    list_filter = ("kind", "to_state")
    search_fields = ("invoice__id", "txid", "actor__username")
    date_hierarchy = "created_at"


@admin.register(UnmatchedTransfer)
class UnmatchedTransferAdmin(ReadOnlyAdmin[UnmatchedTransfer]):
    list_display = ("seen_at", "state", "token", "units", "recipient", "sender", "txid",
                    "block_number", "invoice", "handled_by")  # fmt: skip
    list_filter = ("state", "token")
    search_fields = ("txid", "sender", "recipient", "note")


@admin.register(Webhook)
class WebhookAdmin(ReadOnlyAdmin[Webhook]):
    list_display = ("url", "creator", "active", "created_at", "secret_rotated_at")
    list_filter = ("active",)
    search_fields = ("url", "creator__handle")
    exclude = ("secret",)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin[WebhookDelivery]):
    list_display = ("delivery_id", "webhook", "event", "state", "attempts", "last_status_code",
                    "next_attempt_at", "delivered_at")  # fmt: skip
    list_filter = ("state", "event")
    search_fields = ("delivery_id", "webhook__url")


@admin.register(ChainCursor)
class ChainCursorAdmin(ReadOnlyAdmin[ChainCursor]):
    list_display = ("network", "head_block", "solid_block", "updated_at")
