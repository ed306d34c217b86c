from django.apps import AppConfig


class PurchasesConfig(AppConfig):
    name = "purchases"
    verbose_name = "Purchases: content sold or rented for a price"

    def ready(self) -> None:
        from ledger import access
        from ledger.models import Grant
        from payments import outcomes
        from payments.models import Invoice
        from purchases.refunds import refund_offers
        from purchases.rentals import rental_outcome, start_window
        from purchases.services import open_purchase_invoice, purchase_outcome
        from swarm import checkout

        outcomes.listen(Invoice.Kind.PURCHASE, purchase_outcome)
        outcomes.listen(Invoice.Kind.RENTAL, rental_outcome)
        # A rental's window runs from its first use at any door.
        access.on_use(Grant.Source.RENTAL, start_window)
        # The content page links a fan to their unfinished purchase.
        checkout.find_open_invoices_with(open_purchase_invoice)
        # The library tells a buyer of removed content how to ask for a refund, and its state.
        checkout.find_refund_offers_with(refund_offers)
