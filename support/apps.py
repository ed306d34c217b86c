from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "support"
    verbose_name = "Support: tips, live sessions and the overlay"

    def ready(self) -> None:
        from payments import outcomes
        from payments.models import Invoice
        from support.services import invoice_moved

        # Tips raise alerts, pledges count toward their campaign, as their invoices move.
        outcomes.listen(Invoice.Kind.TIP, invoice_moved)
        outcomes.listen(Invoice.Kind.PLEDGE, invoice_moved)
