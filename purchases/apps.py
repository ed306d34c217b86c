from django.apps import AppConfig


class PurchasesConfig(AppConfig):
    name = "purchases"
    verbose_name = "Purchases: content sold for a price"

    def ready(self) -> None:
        from payments import outcomes
        from payments.models import Invoice
        from purchases.services import purchase_outcome

        outcomes.listen(Invoice.Kind.PURCHASE, purchase_outcome)
